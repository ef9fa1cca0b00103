"""Hand-derived expectations for ../shared/testdata/real images (see comments for the derivation).

Derived from dockerfiles/small-bloat.Dockerfile + README.md semantics; tar listings were used only
for sizes the Dockerfile does not state (base-layer files) and to confirm. Layers are indexed from 0
(0 = busybox base). Paths have no leading "/". Directories are not listed unless deleted.
"""

# ---------------------------------------------------------------------------------------------
# Base layer (layer 0, "ADD busybox-static_1:1.35.0-4+deb12u1+b1_amd64 rootfs in /"), identical
# blob in both builds (same diffID b37e3201...). 66 entries, no "./" entry, no hard links.
BASE_LAYER = {"files": 20, "symlinks": 21, "content_bytes": 2_043_344, "dirs": 25}

# 21 symlinks bin/<applet> -> busybox
BASE_APPLETS = [
    *("ash", "awk", "base64", "cat", "chmod", "cp", "echo", "env", "head", "ln", "ls"),
    *("mkdir", "mkfifo", "mv", "printf", "rm", "rmdir", "seq", "sh", "sleep", "touch"),
]

EXAMPLES = "usr/share/doc/busybox-static/examples"
# Base-layer regular files and their sizes (from the base listing; the Dockerfile does not state them).
BASE_FILES: dict[str, int] = {
    "bin/busybox": 1_982_256,
    "etc/group": 10,
    "etc/passwd": 30,
    "usr/share/doc/busybox-static/changelog.Debian.amd64.gz": 259,
    "usr/share/doc/busybox-static/changelog.Debian.gz": 3153,
    "usr/share/doc/busybox-static/copyright": 1110,
    f"{EXAMPLES}/mdev.conf": 914,
    f"{EXAMPLES}/mdev.conf.change_blockdev.sh": 625,
    f"{EXAMPLES}/mdev_fat.conf": 5798,
    f"{EXAMPLES}/udhcp/sample.bound": 1055,
    f"{EXAMPLES}/udhcp/sample.deconfig": 71,
    f"{EXAMPLES}/udhcp/sample.nak": 68,
    f"{EXAMPLES}/udhcp/sample.renew": 1055,
    f"{EXAMPLES}/udhcp/sample.script": 271,
    f"{EXAMPLES}/udhcp/simple.script": 2076,
    f"{EXAMPLES}/udhcp/udhcpd.conf": 5636,
    "usr/share/initramfs-tools/conf-hooks.d/busybox": 16,
    "usr/share/initramfs-tools/hooks/zz-busybox": 1015,
    "usr/share/lintian/overrides/busybox-static": 114,
    "usr/share/man/man1/busybox.1.gz": 37_812,
}
# Files under examples/ (all deleted by layer 12): 3 + 7 files = 17569 bytes.
EXAMPLES_FILES = {p: n for p, n in BASE_FILES.items() if p.startswith(EXAMPLES + "/")}

# Layer 0: everything is "added" (nothing below).
BASE_CHANGES: dict[str, str] = {
    **{p: "added" for p in BASE_FILES},
    **{f"bin/{a}": "added" for a in BASE_APPLETS},
}

# ---------------------------------------------------------------------------------------------
# Odd names of layer 4. The latin1 name is the raw byte 0xE9 in a PAX path (not UTF-8); as a str
# it is given the way Python's tarfile decodes it by default (utf-8 + surrogateescape -> \udce9).
LATIN1_PATH_BYTES = b"bloat/names/latin1-caf\xe9.txt"
# = "bloat/names/latin1-caf\udce9.txt"
LATIN1_PATH = LATIN1_PATH_BYTES.decode("utf-8", "surrogateescape")
LONG_DIR = "bloat/long/" + "a" * 63 + "/" + "b" * 73 + "/" + "c" * 67
# PAX path; content "long\n" (5 bytes)
LONG_FILE = LONG_DIR + "/file-with-a-very-long-name-" + "x" * 100 + ".txt"

# Layer 4 (the big "set -e; cd /bloat; gen-random 12000 2 > chmod-me.bin; ..." RUN): everything new,
# so every non-directory entry is "added": 19 regular files (101038 bytes), 1 hard link
# (hardlink-b.bin -> hardlink-a.bin, same layer, content stored once), 5 symlinks, 1 fifo.
LAYER4_ADDED: dict[str, int] = {  # regular files and their sizes
    "bloat/chmod-me.bin": 12_000,
    "bloat/rewrite-same.bin": 12_345,
    "bloat/touch-me.bin": 10_240,
    "bloat/overwrite-me.bin": 20_000,
    "bloat/tree/a.bin": 10_001,
    "bloat/tree/b.bin": 10_002,
    "bloat/tree/sub/c.bin": 10_003,
    "bloat/hardlink-a.bin": 16_384,
    LONG_FILE: 5,
    LATIN1_PATH: 7,  # "latin1\n"
    "bloat/names/unicode-\u00fc-\u65e5\u672c.txt": 5,  # "utf8\n", PAX path (UTF-8)
    "bloat/names/name with spaces.txt": 6,
    "bloat/names/dir with spaces/inner file.txt": 6,
    "bloat/names/[bold red]not-bold.txt": 7,
    "bloat/names/[@click=app.quit]quit.txt": 7,
    "bloat/names/[bold red]not-bold[/]": 8,  # file "]" in dir "[bold red]not-bold["
    "bloat/names/ansi-\x1b[31mred\x1b[0m.txt": 5,
    "bloat/empty-file": 0,
    "bloat/setuid-file": 7,  # mode 04755
}
LAYER4_OTHER = (
    "bloat/hardlink-b.bin",  # tar hardlink (typeflag 1) to bloat/hardlink-a.bin
    "bloat/sym-rel",  # -> chmod-me.bin
    "bloat/sym-abs",  # -> /etc/passwd
    "bloat/sym-dangling",  # -> /does/not/exist
    "bloat/sym-dir",  # -> /usr/share
    "bloat/sym-long-target",  # -> "/" + LONG_DIR (PAX linkpath)
    "bloat/fifo",  # typeflag 6
)
LAYER4_CHANGES = {p: "added" for p in (*LAYER4_ADDED, *LAYER4_OTHER)}  # 26 paths

# Layer 5 (RUN mkdir /bloat/many ...): 2000 new files; f0000, f0100, ..., f1900 hold 10 bytes
# ("fNNNN.txt\n"), the other 1980 are empty -> 200 bytes.
MANY_CHANGES = {f"bloat/many/f{i:04d}.txt": "added" for i in range(2000)}

# Layer 11 (rm -rf /bloat/tree && mkdir -p /bloat/tree && echo v2 > /bloat/tree/new.txt): the whole
# old content of tree/ is deleted (vfs: .wh.a.bin .wh.b.bin .wh.sub; overlay: tree/.wh..wh..opq),
# the directory sub counts as a deleted path, new.txt (3 bytes "v2\n") was not below -> added.
TREE_CHANGES = {
    "bloat/tree/a.bin": "deleted",
    "bloat/tree/b.bin": "deleted",
    "bloat/tree/sub": "deleted",
    "bloat/tree/sub/c.bin": "deleted",
    "bloat/tree/new.txt": "added",
}

# Layer 12 (rm -rf .../examples && mkdir .../examples && echo replaced > .../examples/README):
# a base-layer directory; all its lower children are deleted (vfs: 4 .wh. entries for mdev.conf,
# mdev.conf.change_blockdev.sh, mdev_fat.conf, udhcp; overlay: examples/.wh..wh..opq), incl. the
# dir udhcp and its 7 files. README (9 bytes "replaced\n") did not exist in the base -> added.
EXAMPLES_CHANGES = {
    **{p: "deleted" for p in EXAMPLES_FILES},
    f"{EXAMPLES}/udhcp": "deleted",
    f"{EXAMPLES}/README": "added",
}

# ---------------------------------------------------------------------------------------------
# vfs build (small-bloat.*)
SMALL_BLOAT_CHANGES: dict[int, dict[str, str]] = {
    0: BASE_CHANGES,
    # COPY gen-random /usr/local/bin/gen-random: 840-byte script, new path.
    1: {"usr/local/bin/gen-random": "added"},
    # RUN mkdir -p /bloat && gen-random 50000 1 > /bloat/gone.bin: gone.bin (50000) added, plus
    # buildah's three 0-byte mount stubs (mode 0755) in the first RUN layer; the base has no such files.
    2: {
        "bloat/gone.bin": "added",
        "etc/hosts": "added",
        "etc/hostname": "added",
        "etc/resolv.conf": "added",
    },
    # RUN rm /bloat/gone.bin: bloat/.wh.gone.bin -> deleted; the 50000-byte copy of layer 2 is waste.
    3: {"bloat/gone.bin": "deleted"},
    4: LAYER4_CHANGES,
    5: MANY_CHANGES,
    # (ENV PHASE=modify: history only, no layer)
    # RUN chmod 0600 /bloat/chmod-me.bin: same 12000 bytes stored again, mode 0644 -> 0600 -> restored;
    # layer 4's copy hidden by layer 6, cause restored.
    6: {"bloat/chmod-me.bin": "restored"},
    # RUN chmod 0600 .../busybox.1.gz: base file (37812 bytes) stored again, mode 0644 -> 0600.
    7: {"usr/share/man/man1/busybox.1.gz": "restored"},
    # RUN cp rewrite-same.bin .tmp-copy && cat .tmp-copy > rewrite-same.bin && rm .tmp-copy:
    # same 12345 bytes rewritten -> restored. .tmp-copy is created and removed inside one RUN and was
    # never below, so it leaves no entry and no whiteout (confirmed: the layer has only bloat/ + file).
    8: {"bloat/rewrite-same.bin": "restored"},
    # RUN touch -d '2001-02-03 04:05:06' /bloat/touch-me.bin: mtime only -> restored (10240).
    9: {"bloat/touch-me.bin": "restored"},
    # RUN printf 'small\n' > /bloat/overwrite-me.bin: 6 different bytes -> modified; the 20000-byte
    # copy of layer 4 is overwritten.
    10: {"bloat/overwrite-me.bin": "modified"},
    11: TREE_CHANGES,
    12: EXAMPLES_CHANGES,
    # RUN ln /bloat/chmod-me.bin /bloat/hardlink-to-lower.bin: vfs's naive diff sees only a new
    # name and stores it as a full 12000-byte regular file (mode 0600); chmod-me.bin itself is not
    # in the layer. Both names visible with their own copy -> no waste.
    13: {"bloat/hardlink-to-lower.bin": "added"},
    # RUN mkdir /bloat/copies && cp ... /bloat/copies/rewrite-same.bin: new path (12345, duplicate
    # content of bloat/rewrite-same.bin but both visible -> not waste).
    14: {"bloat/copies/rewrite-same.bin": "added"},
}

# overlay build (small-bloat-ovl.*): same as vfs except
#  - every RUN layer also carries a `run/` directory entry (a dir that exists in the base: unchanged,
#    not listed); layers 11/12 use an opaque marker DIR/.wh..wh..opq (regular-file entry, mode 0755,
#    size 0, mtime 0 - not a path, stores nothing) instead of per-child whiteouts: same changes.
#  - layer 13 (ln): overlay copies chmod-me.bin up (12000 bytes stored again, identical content and
#    mode 0600 -> restored; layer 6's copy becomes waste) and adds hardlink-to-lower.bin as a tar
#    hardlink entry to bloat/chmod-me.bin (added, stores no bytes).
SMALL_BLOAT_OVL_CHANGES: dict[int, dict[str, str]] = {
    **SMALL_BLOAT_CHANGES,
    13: {"bloat/chmod-me.bin": "restored", "bloat/hardlink-to-lower.bin": "added"},
}

# Regular-file content bytes per layer (tar header sizes; identical for both builds).
LAYER_CONTENT_BYTES: list[int] = [
    2_043_344,
    840,
    50_000,
    0,
    101_038,
    200,
    12_000,
    37_812,
    12_345,
    10_240,
    6,
    3,
    9,
    12_000,
    12_345,
]

# ---------------------------------------------------------------------------------------------
# Waste items (path, bytes, stored_in, hidden_by, cause), sorted by (stored_in, path); 0-byte items
# omitted (there are none anyway: the 0-byte etc/ stubs, empty-file and the empty many/ files are
# never hidden).
SMALL_BLOAT_WASTE: list[tuple[str, int, int, int, str]] = [
    # base examples/ removed by layer 12's rm -rf (17569 bytes in all)
    *((p, n, 0, 12, "deleted") for p, n in sorted(EXAMPLES_FILES.items())),
    ("usr/share/man/man1/busybox.1.gz", 37_812, 0, 7, "restored"),  # chmod in layer 7
    ("bloat/gone.bin", 50_000, 2, 3, "deleted"),  # rm in layer 3
    ("bloat/chmod-me.bin", 12_000, 4, 6, "restored"),  # chmod in layer 6
    ("bloat/overwrite-me.bin", 20_000, 4, 10, "overwritten"),  # printf in layer 10
    ("bloat/rewrite-same.bin", 12_345, 4, 8, "restored"),  # cat > in layer 8
    ("bloat/touch-me.bin", 10_240, 4, 9, "restored"),  # touch -d in layer 9
    ("bloat/tree/a.bin", 10_001, 4, 11, "deleted"),  # rm -rf tree in layer 11
    ("bloat/tree/b.bin", 10_002, 4, 11, "deleted"),
    ("bloat/tree/sub/c.bin", 10_003, 4, 11, "deleted"),
]  # 19 items

# overlay: plus layer 6's chmod-me.bin copy, re-stored by the copy-up of layer 13 (identical bytes).
SMALL_BLOAT_OVL_WASTE: list[tuple[str, int, int, int, str]] = [
    *SMALL_BLOAT_WASTE,
    ("bloat/chmod-me.bin", 12_000, 6, 13, "restored"),
]  # 20 items (already sorted: stored_in 6 is last)

# stored = sum(LAYER_CONTENT_BYTES) = 2292182 for both builds (checked against `tar -tvv` header sizes).
# vfs: wasted = 50000 + 12000 + 37812 + 12345 + 10240 + 20000 + 30006 + 17569 = 189972
SMALL_BLOAT_TOTALS = {"stored": 2_292_182, "visible": 2_102_210, "wasted": 189_972}
# overlay: wasted = 189972 + 12000 (layer 6 copy of chmod-me.bin) = 201972
SMALL_BLOAT_OVL_TOTALS = {"stored": 2_292_182, "visible": 2_090_210, "wasted": 201_972}

# ---------------------------------------------------------------------------------------------
# History: 20 entries, 5 empty_layer. Layer i = i-th non-empty entry. Same text for both builds.
SMALL_BLOAT_CREATED_BY: list[str] = [
    "ADD busybox-static",  # 0 (buildah config --created-by of the base image)
    "COPY file:",  # 1 "/bin/sh -c #(nop) COPY file:<sha256> in /usr/local/bin/gen-random "
    "gen-random 50000 1",  # 2
    "rm /bloat/gone.bin",  # 3
    "gen-random 12000 2 > chmod-me.bin",  # 4
    "mkdir /bloat/many",  # 5
    "chmod 0600 /bloat/chmod-me.bin",  # 6 (after the ENV PHASE=modify history-only row)
    "chmod 0600 /usr/share/man/man1/busybox.1.gz",  # 7
    "cp rewrite-same.bin .tmp-copy",  # 8
    "touch -d '2001-02-03 04:05:06'",  # 9
    "printf 'small\\n' > /bloat/overwrite-me.bin",  # 10
    "rm -rf /bloat/tree",  # 11
    "rm -rf /usr/share/doc/busybox-static/examples",  # 12
    "ln /bloat/chmod-me.bin /bloat/hardlink-to-lower.bin",  # 13
    "mkdir /bloat/copies",  # 14
]
# empty_layer rows in order (history indices 1, 2, 8, 18, 19)
SMALL_BLOAT_EMPTY_HISTORY: list[str] = [
    "LABEL",
    "ENV SMALL_BLOAT",
    "ENV PHASE",
    "WORKDIR",
    "CMD",
]
SMALL_BLOAT_HISTORY_LEN = 20

# scratch-empty (FROM scratch + LABEL/ENV/CMD): zero layers, diff_ids [], 3 history-only rows.
SCRATCH_EMPTY = {"layers": 0, "history": ["LABEL", "ENV EMPTY=1", "CMD"]}

# multi (OCI index -> nested index -> 3 manifests). Per platform 2 layers (0-based index here; the
# README calls them layer 1 and layer 2): layer 0 = "ADD busybox-static_<debarch> rootfs in /" with
# dirs bin, etc + bin/busybox + 5 symlinks (cat echo ls sh uname -> busybox); layer 1 =
# "COPY platform.txt /etc/platform.txt" with etc/ + etc/platform.txt ("platform=<p>\nbusybox=1:1.35.0-4+deb12u1+b1\n").
MULTI: dict[str, dict] = {
    "linux/amd64": {"busybox_bytes": 1_982_256, "platform_txt_bytes": 51},
    "linux/arm64/v8": {"busybox_bytes": 1_846_504, "platform_txt_bytes": 54},
    "linux/arm/v7": {"busybox_bytes": 1_284_688, "platform_txt_bytes": 52},
}
for _p in MULTI.values():
    _p.update(
        {
            "layer0": {"files": 1, "symlinks": 5, "dirs": 2},
            "layer1_changes": {"etc/platform.txt": "added"},
        }
    )
MULTI_APPLETS = ["cat", "echo", "ls", "sh", "uname"]
