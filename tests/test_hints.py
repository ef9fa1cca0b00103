"""Hints and largest files: each kind on an archive built here, with exact bytes; none on a clean image."""

from __future__ import annotations

import pytest

from explorer.analysis import hints as hints_module
from explorer.analysis import waste as waste_module
from explorer.analysis.hints import (
    BUILD_ONLY,
    CACHE_ORDER,
    DELETED_LATER,
    DUPLICATE,
    METADATA,
    OVERWRITTEN,
    PACKAGE_CACHE,
    REWRITTEN,
    SECRET,
    Hint,
    Hints,
    LargeFile,
    compute_hints,
    largest_files,
)
from explorer.analysis.image import Image as Analysed
from explorer.analysis.image import load
from explorer.archive.config import short_instruction
from tests.conftest import REAL, needs_shared
from tests.imagebuilder import F, Image, Layer, opaque, whiteout, write_oci


def data(n: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed * 7 + 1) % 251 for i in range(n))


def analyse(tmp_path, *layers: Layer, history: list[dict] | None = None) -> Analysed:
    path = write_oci(Image(list(layers), history=history), tmp_path / "image.tar")
    return load(str(path))


def hints_of(tmp_path, *layers: Layer, history: list[dict] | None = None) -> Hints:
    return compute_hints(analyse(tmp_path, *layers, history=history))


def only(hints: Hints, kind: str) -> list[Hint]:
    return [h for h in hints.hints if h.kind == kind]


BASE = Layer([F("bin/app", data(3000, 1), mode=0o755), F("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")], "COPY app /")


def test_a_clean_image_gives_no_hint(tmp_path):
    final = Layer(
        [F("app/server", data(5000, 2), mode=0o755), F("etc/ssl/certs/ca-certificates.crt", data(900, 3))],
        "COPY --from=build /out/server /app/server",
    )
    hints = hints_of(tmp_path, BASE, final)
    assert hints.hints == []
    assert hints.reclaimable == 0


def test_deleted_later_one_hint_per_adding_and_deleting_pair(tmp_path):
    hints = hints_of(
        tmp_path,
        BASE,
        Layer([F("build/obj/a.o", data(1000, 4)), F("build/obj/b.o", data(500, 5))], "RUN make"),
        Layer([F("src/big.tar", data(300, 6))], "COPY big.tar /src/"),
        Layer([whiteout("build")], "RUN rm -rf /build"),
        Layer([whiteout("src/big.tar"), F("bin/app", data(10, 7))], "RUN rm /src/big.tar && echo > /bin/app"),
    )
    deleted = only(hints, DELETED_LATER)
    assert [(h.layers, h.bytes_saved, h.paths) for h in deleted] == [
        ((1, 3), 1500, ("build/obj/a.o", "build/obj/b.o")),
        ((2, 4), 300, ("src/big.tar",)),
    ]
    run, copy = deleted
    assert run.instructions == ("RUN make", "RUN rm -rf /build")
    assert "rm -rf /build/obj" in run.fix and ".dockerignore" in copy.fix
    assert [(h.layers, h.bytes_saved) for h in only(hints, OVERWRITTEN)] == [((0, 4), 3000)]
    assert hints.reclaimable == 1500 + 300 + 3000


def test_opaque_directory_and_type_change_are_deletions(tmp_path):
    hints = hints_of(
        tmp_path,
        Layer([F("docs/a.txt", data(700, 1)), F("cfg", data(40, 2))], "RUN fetch-docs"),
        Layer([opaque("docs"), F("docs/README", b"web\n"), F("cfg/x", b"")], "RUN reset"),
    )
    assert [(h.layers, h.bytes_saved, h.paths) for h in only(hints, DELETED_LATER)] == [
        ((0, 1), 740, ("cfg", "docs/a.txt"))
    ]


def test_metadata_restore_rewrite_and_overwrite(tmp_path):
    model, conf, stamp, same = data(7000, 1), data(900, 2), data(250, 3), data(120, 4)
    hints = hints_of(
        tmp_path,
        Layer([F("m.bin", model), F("app.conf", conf), F("t", stamp), F("same", same)], "COPY . /"),
        Layer([F("m.bin", model, mode=0o600)], "RUN chmod 0600 /m.bin"),
        Layer([F("t", stamp, mtime=99)], "RUN touch /t"),
        Layer([F("same", same, mtime=5)], "RUN cp /same /tmp/x && cat /tmp/x > /same"),
        Layer([F("app.conf", b"small\n")], "COPY app.conf /app.conf"),
    )
    metadata = only(hints, METADATA)
    assert [(h.layers, h.bytes_saved, h.paths) for h in metadata] == [((0, 1), 7000, ("m.bin",)), ((0, 2), 250, ("t",))]
    assert "RUN chmod 0600 /m.bin" in metadata[0].fix and "--chmod" in metadata[0].fix
    assert [(h.layers, h.bytes_saved) for h in only(hints, REWRITTEN)] == [((0, 3), 120)]
    assert [(h.layers, h.bytes_saved, h.paths) for h in only(hints, OVERWRITTEN)] == [((0, 4), 900, ("app.conf",))]
    assert hints.hints[0].bytes_saved == 7000  # most bytes saved first


@pytest.mark.parametrize(
    ("tool", "path", "idiom"),
    [
        ("apt", "var/lib/apt/lists/deb.debian.org_dists_bookworm_main_Packages.lz4", "rm -rf /var/lib/apt/lists/*"),
        ("apt", "var/cache/apt/archives/curl_7.88_amd64.deb", "apt-get clean"),
        ("apt", "var/cache/apt/pkgcache.bin", "apt-get clean"),
        ("apk", "var/cache/apk/APKINDEX.1a2b.tar.gz", "--no-cache"),
        ("dnf/yum", "var/cache/dnf/fedora-1/packages/x.rpm", "dnf clean all"),
        ("dnf/yum", "var/cache/yum/x86_64/7/base/gen/primary_db.sqlite", "yum clean all"),
        ("pip", "root/.cache/pip/http-v2/a/b/c", "--no-cache-dir"),
        ("pip", "home/app/.cache/pip/wheels/ab/x.whl", "--no-cache-dir"),
        ("npm", "root/.npm/_cacache/content-v2/sha512/ab/cd", "npm cache clean --force"),
        ("yarn", "usr/local/share/.cache/yarn/v6/npm-left-pad/index.js", "yarn cache clean"),
        ("pnpm", "root/.local/share/pnpm/store/v3/files/00/abc", "pnpm store prune"),
        ("go", "root/.cache/go-build/ab/abcdef-d", "go clean -cache"),
        ("go", "go/pkg/mod/cache/download/golang.org/x/net/@v/v0.1.0.zip", "go clean"),
        ("cargo", "usr/local/cargo/registry/cache/index.crates.io/serde-1.0.0.crate", "COPY --from"),
        ("cargo", "root/.cargo/git/db/x/pack", "COPY --from"),
        ("conda", "opt/conda/pkgs/numpy-1.26.tar.bz2", "conda clean --all"),
    ],
)
def test_package_manager_leftovers(tmp_path, tool, path, idiom):
    hints = hints_of(tmp_path, BASE, Layer([F(path, data(1234, 5)), F("usr/bin/tool", data(77, 6))], "RUN install"))
    (hint,) = only(hints, PACKAGE_CACHE)
    assert (hint.bytes_saved, hint.paths, hint.layers) == (1234, (path,), (1,))
    assert hint.title.startswith(f"{tool} cache")
    assert idiom in hint.fix
    assert only(hints, BUILD_ONLY) == []


def test_a_cache_deleted_later_counts_once_in_the_total(tmp_path):
    lists, deb, keep = data(2000, 1), data(3000, 2), data(500, 3)
    hints = hints_of(
        tmp_path,
        BASE,
        Layer(
            [F("var/lib/apt/lists/x_Packages", lists), F("var/cache/apt/archives/c.deb", deb), F("usr/bin/c", keep)],
            "RUN apt-get update && apt-get install -y c",
        ),
        Layer([whiteout("var/cache/apt/archives/c.deb")], "RUN apt-get clean"),
    )
    (cache,) = only(hints, PACKAGE_CACHE)
    (deleted,) = only(hints, DELETED_LATER)
    assert cache.bytes_saved == 5000  # visible lists + the deleted .deb's copy
    assert deleted.bytes_saved == 3000
    assert cache.layers == (1,)
    assert hints.reclaimable == 5000  # the .deb once, not twice


def test_a_cache_file_stored_twice_is_listed_once(tmp_path):
    lists = "var/lib/apt/lists/x_Packages"
    hints = hints_of(
        tmp_path,
        BASE,
        Layer([F(lists, data(2000, 1)), F("var/lib/apt/lists/lock", b"")], "RUN apt-get update"),
        Layer([F(lists, data(2100, 2))], "RUN apt-get update"),
    )
    (cache,) = only(hints, PACKAGE_CACHE)
    assert cache.paths == ("var/lib/apt/lists/lock", lists)  # each path once, both copies counted
    assert (cache.bytes_saved, cache.layers) == (4100, (1, 2))


def test_build_only_content(tmp_path):
    hints = hints_of(
        tmp_path,
        BASE,
        Layer(
            [
                F("usr/lib/gcc/x86_64-linux-gnu/12/cc1", data(5000, 1)),
                F("usr/libexec/gcc/x86_64-linux-gnu/12/collect2", data(400, 2)),
                F("usr/bin/x86_64-linux-gnu-gcc-12", data(900, 3)),
                F("usr/bin/ld.bfd", data(600, 4)),
                F("usr/bin/gcc-ar", data(30, 5)),  # not a compiler
                F("usr/share/bash-completion/completions/gcc", data(40, 12)),  # a compiler's name, not in a bin/
                F("usr/include/stdio.h", data(100, 6)),
                F("usr/src/linux-headers-6.1.0-18-amd64/Makefile", data(60, 7)),
                F("usr/lib/x86_64-linux-gnu/libc.a", data(800, 8)),
                F("app/.git/objects/pack/p.pack", data(50, 9)),
                F("opt/src/python-3.12.tar.xz", data(600, 10)),
                F("usr/share/doc/x/copyright", data(20, 11)),
            ],
            "RUN apt-get install -y build-essential",
        ),
        Layer([whiteout("usr/lib/x86_64-linux-gnu/libc.a")], "RUN rm /usr/lib/x86_64-linux-gnu/libc.a"),
    )
    got = {h.title.split(" in the final")[0]: (h.bytes_saved, h.paths) for h in only(hints, BUILD_ONLY)}
    assert got == {
        "Compilers and linkers": (
            6900,
            (
                "usr/bin/ld.bfd",
                "usr/bin/x86_64-linux-gnu-gcc-12",
                "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
                "usr/libexec/gcc/x86_64-linux-gnu/12/collect2",
            ),
        ),
        "Header files": (160, ("usr/include/stdio.h", "usr/src/linux-headers-6.1.0-18-amd64/Makefile")),
        "Git repositories (.git)": (50, ("app/.git/objects/pack/p.pack",)),
        "Source archives": (600, ("opt/src/python-3.12.tar.xz",)),
    }  # the deleted libc.a is no longer visible: not build-only content of the final image
    assert all("heuristic" in h.title and "multi-stage" in h.fix for h in only(hints, BUILD_ONLY))


def test_duplicates(tmp_path):
    blob = data(4096, 1)
    hints = hints_of(
        tmp_path,
        BASE,
        Layer(
            [
                F("a/lib.so", blob),
                F("b/lib.so", blob),
                F("c/lib.so", blob),
                F("a/link", kind="hardlink", link="a/lib.so"),
            ]
        ),
    )
    (dup,) = only(hints, DUPLICATE)
    assert (dup.bytes_saved, dup.paths) == (8192, ("a/lib.so", "b/lib.so", "c/lib.so"))
    assert "ln -s /a/lib.so" in dup.fix
    assert hints.reclaimable == 8192


def test_the_groups_beyond_the_largest_share_one_hint(tmp_path):
    # ten groups big enough for a hint each (their second copies alone in layer 4), then three
    # small ones in one hint; a copy there is also a package cache's, counted once in the total
    big = [data(5000 + i, i) for i in range(10)]
    small = [data(100 + i, 20 + i) for i in range(3)]
    hints = hints_of(
        tmp_path,
        BASE,
        Layer(
            [F(f"big/{i}/a", blob) for i, blob in enumerate(big)]
            + [F(f"small/{i}/a", blob) for i, blob in enumerate(small)]
        ),
        Layer([F(f"small/{i}/b", blob) for i, blob in enumerate(small)]),
        Layer([F("small/2/c", small[2]), F("var/cache/apt/dup", small[0])]),
        Layer([F(f"big/{i}/b", blob) for i, blob in enumerate(big)]),
    )
    *top, rest = only(hints, DUPLICATE)
    assert [h.bytes_saved for h in top] == list(range(5009, 4999, -1)) and all(h.layers == (1, 4) for h in top)
    assert rest.title == "3 more groups of identical files (8 files)"
    assert rest.layers == (1, 2, 3) and rest.bytes_saved == 100 * 2 + 101 + 102 * 2
    assert rest.paths == (*(f"small/{i}/{n}" for i in range(3) for n in "ab" + "c" * (i == 2)), "var/cache/apt/dup")
    assert only(hints, PACKAGE_CACHE)[0].bytes_saved == 100
    assert hints.reclaimable == sum(range(5000, 5010)) + 505


def _history(*steps: str) -> list[dict]:
    rows = []
    for step in steps:
        empty = short_instruction(step).startswith(("ENV", "WORKDIR", "CMD"))
        rows.append({"created_by": step, **({"empty_layer": True} if empty else {})})
    return rows


def _layers(n: int) -> list[Layer]:
    return [Layer([F(f"l{i}/f", data(100 * (i + 1), i))]) for i in range(n)]


@pytest.mark.parametrize(
    "steps",
    [
        # BuildKit
        (
            "ADD rootfs.tar / # buildkit",
            "WORKDIR /app",
            "COPY . . # buildkit",
            "ENV X=1",
            "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
            "RUN /bin/sh -c python -m compileall . # buildkit",
        ),
        # classic builder
        (
            "/bin/sh -c #(nop) ADD file:abc in / ",
            "/bin/sh -c #(nop) WORKDIR /app",
            "/bin/sh -c #(nop) COPY dir:0123456789abcdef in /app ",
            "/bin/sh -c #(nop)  ENV X=1",
            "/bin/sh -c pip install --no-cache-dir -r requirements.txt",
            "/bin/sh -c python -m compileall .",
        ),
    ],
)
def test_build_cache_order(tmp_path, steps):
    image = analyse(tmp_path, *_layers(4), history=_history(*steps))
    (hint,) = only(compute_hints(image), CACHE_ORDER)
    rebuilt = sum(image.layers[i].tar_size for i in (1, 2, 3))
    assert hint.layers == (1, 2, 3)
    assert hint.bytes_saved == 0
    assert f"3 layers, {rebuilt:,} bytes" in hint.title and "layer 2" in hint.title
    assert "COPY requirements.txt ./" in hint.fix


@pytest.mark.parametrize(
    "steps",
    [
        ("COPY requirements.txt . # buildkit", "RUN pip install -r requirements.txt", "COPY . . # buildkit"),
        ("COPY . . # buildkit", "RUN python setup.py build", "RUN make"),
        ("COPY --from=build . /app # buildkit", "RUN npm ci", "RUN true"),
    ],
)
def test_no_build_cache_hint_when_the_order_is_right(tmp_path, steps):
    assert only(hints_of(tmp_path, *_layers(3), history=_history(*steps)), CACHE_ORDER) == []


def test_no_build_cache_hint_without_history(tmp_path):
    assert only(hints_of(tmp_path, *_layers(3), history=[]), CACHE_ORDER) == []


def test_apt_install_after_copying_the_context(tmp_path):
    history = _history("COPY . /src # buildkit", "RUN apt-get update && apt-get install -y curl")
    (hint,) = only(hints_of(tmp_path, *_layers(2), history=history), CACHE_ORDER)
    assert hint.title.startswith("apt-get install") and "Move `RUN apt-get update" in hint.fix


def test_secrets_by_name_especially_deleted_ones(tmp_path):
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n"
    hints = hints_of(
        tmp_path,
        BASE,
        Layer(
            [
                F("root/.ssh/id_rsa", key),
                F("root/.ssh/id_rsa.pub", b"ssh-rsa AAAA\n"),
                F("root/.ssh/known_hosts", b"github.com ssh-rsa AAAA\n"),
                F("app/.env", b"TOKEN=x\n"),
                F("app/.env.example", b"TOKEN=\n"),
                F("app/.venv/.env/bin/python", b"#!\n"),
                F("root/.aws/credentials", b"[default]\n"),
                F("root/.git-credentials", b"https://u:p@example.com\n"),
                F("root/.docker/config.json", b'{"auths":{}}\n'),
                F("etc/ssh/ssh_host_ed25519_key", b"k\n"),
                F("etc/ssh/ssh_host_ed25519_key.pub", b"k\n"),
                F("etc/ssl/certs/ca.pem", b"-----BEGIN CERTIFICATE-----\n"),
                F("usr/share/doc/pkg/README.key", b"keys\n"),
                F("app/node_modules/x/.npmrc", b"registry=https://registry.npmjs.org/\n"),
                F("usr/lib/python3/dist-packages/paramiko/tests/id_rsa", b"test key\n"),
                F("app/config.json", b"{}\n"),
                F("app/tls/server.key", b"-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n"),
                F("app/tls/server.pem", b"-----BEGIN CERTIFICATE-----\nMIIC\n"),
                F("app/tls/putty.ppk", b"PuTTY-User-Key-File-3: ssh-ed25519\n"),
                F("etc/ssl/private/big.key", b"-----BEGIN PRIVATE KEY-----\n" + b"A" * (70 << 10)),
                F("usr/lib/python3/dist-packages/x/tests/test.key", b"-----BEGIN PRIVATE KEY-----\n"),
                F("srv/notes\n.env", b"a name holding a secret's name after a line break\n"),
                F("srv/.env\nnotes", b"and before one\n"),
            ],
            "COPY . /",
        ),
        Layer([whiteout("root/.ssh/id_rsa")], "RUN rm /root/.ssh/id_rsa"),
    )
    secrets = {h.paths[0]: h for h in only(hints, SECRET)}
    # a .key/.pem/.ppk counts by its first bytes (a private-key header), kept by the scan for files
    # of at most 64 KiB: a public certificate, a vendored test key and a bigger file are not listed
    assert sorted(secrets) == [
        "app/.env",
        "app/tls/putty.ppk",
        "app/tls/server.key",
        "etc/ssh/ssh_host_ed25519_key",
        "root/.aws/credentials",
        "root/.docker/config.json",
        "root/.git-credentials",
        "root/.ssh/id_rsa",
    ]
    key_hint = secrets["root/.ssh/id_rsa"]
    assert key_hint.layers == (1, 2) and key_hint.bytes_saved == len(key)
    assert "hidden by layer 2: still in the image" in key_hint.title
    assert "--mount=type=secret" in key_hint.fix
    assert "still" not in secrets["app/.env"].title
    assert all("fake" not in h.title + h.fix + h.why for h in hints.hints)  # never the content


def test_hints_are_deterministic(tmp_path):
    layers = [
        BASE,
        Layer([F("var/cache/apk/x", data(100, 1)), F("a", data(50, 2)), F("b", data(50, 2))], "RUN apk add x"),
        Layer([whiteout("a"), F("bin/app", data(3000, 1), mode=0o700)], "RUN chmod 700 /bin/app && rm /a"),
    ]
    first = hints_of(tmp_path, *layers)
    (tmp_path / "again").mkdir()
    assert hints_of(tmp_path / "again", *layers) == first


def test_the_largest_files_kept_by_the_waste_are_the_largest(tmp_path, monkeypatch):
    """`compute_waste` keeps the largest visible copies as it passes them (here 3, pruned from 6
    at a time): the same files, ties broken the same way, as a look at every copy."""
    monkeypatch.setattr(waste_module, "LARGEST_KEPT", 3)
    monkeypatch.setattr(hints_module, "LARGEST_KEPT", 3)
    sizes = [5, 9, 1, 9, 3, 7, 7, 2, 9, 8, 1, 7, 6, 8, 4, 9, 0, 5]  # ties at every cut
    files = [F(f"f{n:02}", data(size, n)) for n, size in enumerate(sizes)]
    image = analyse(tmp_path, Layer(files, "COPY . /"), Layer([whiteout("f05"), F("f13", data(2, 99))], "RUN x"))
    waste = image.waste
    assert [c.where.name for c in waste.largest] == ["f01", "f03", "f08"]
    for n in range(len(sizes) + 2):
        assert largest_files(image.fs, n, waste=waste) == largest_files(image.fs, n)
    assert [f.path for f in largest_files(image.fs, 6)] == ["f01", "f03", "f08", "f15", "f09", "f06"]


def test_largest_files(tmp_path):
    image = analyse(
        tmp_path,
        Layer([F("big", data(9000, 1)), F("mid", data(5000, 2)), F("small", data(10, 3))], "COPY . /"),
        Layer([F("mid", data(4000, 4)), F("z/link", kind="hardlink", link="big")], "RUN x"),
        Layer([whiteout("big")], "RUN rm /big"),
    )
    assert largest_files(image.fs, 2) == [LargeFile("z/link", 9000, 0, True), LargeFile("mid", 4000, 1, True)]
    assert largest_files(image.fs, 5, layer=0) == [
        LargeFile("big", 9000, 0, True),
        LargeFile("mid", 5000, 0, False),
        LargeFile("small", 10, 0, True),
    ]


@needs_shared
@pytest.mark.parametrize("name", ["small-bloat.oci-gzip.tar", "small-bloat-ovl.docker-archive.tar"])
def test_hints_add_up_with_the_waste_figures(name):
    image = load(str(REAL / name))
    hints = compute_hints(image)
    waste = image.waste
    total = {kind: sum(h.bytes_saved for h in only(hints, kind)) for kind in (DELETED_LATER, METADATA, REWRITTEN)}
    assert total[DELETED_LATER] == waste.by_cause["deleted"]
    assert total[METADATA] + total[REWRITTEN] == waste.by_cause["restored"]
    assert sum(h.bytes_saved for h in only(hints, OVERWRITTEN)) == waste.by_cause["overwritten"]
    assert sum(h.bytes_saved for h in only(hints, DUPLICATE)) == sum(d.extra_bytes for d in waste.duplicates)
    assert {h.kind for h in hints.hints} == {DELETED_LATER, METADATA, REWRITTEN, OVERWRITTEN, DUPLICATE}
    assert hints.reclaimable == waste.wasted + sum(d.extra_bytes for d in waste.duplicates)
    # the Dockerfile's steps, by name: chmod and touch re-store for metadata, `cat >` rewrites identical
    assert {h.instructions[1].split()[1] for h in only(hints, METADATA)} == {"chmod", "touch"}
    rewritten = {h.paths: h for h in only(hints, REWRITTEN)}
    assert "not again in" in rewritten[("bloat/rewrite-same.bin",)].fix
    if "ovl" in name:  # overlayfs copies chmod-me.bin up for `ln` to it: stored again, nothing changed
        assert "copies a file up" in rewritten[("bloat/chmod-me.bin",)].fix
    assert len(rewritten) == (2 if "ovl" in name else 1)


def test_the_demo_shows_every_kind(tmp_path):
    from explorer.analysis.hints import KINDS
    from explorer.demo import write_demo

    hints = compute_hints(load(str(write_demo(tmp_path / "demo.tar"))))
    assert {h.kind for h in hints.hints} == set(KINDS)
    assert hints.hints[0].kind == SECRET  # a credential first, whatever its size
    saved = [h.bytes_saved for h in hints.hints[1:]]
    assert saved == sorted(saved, reverse=True)
    (key,) = only(hints, SECRET)
    assert key.paths == ("root/.ssh/id_rsa",) and "still in the image" in key.title


def test_text_report_what_to_change(tmp_path):
    import io

    from rich.console import Console

    from explorer.demo import write_demo
    from explorer.present.report import report_dict
    from explorer.present.report_text import render_report

    out = io.StringIO()
    render_report(report_dict(load(str(write_demo(tmp_path / "demo.tar"))), 20), Console(file=out, width=120))
    text = out.getvalue()
    what = text[text.index("What to change (11 of 17 hints") : text.index("Layers (")]
    assert what.index("secret · Credential-like file /root/.ssh/id_rsa") < what.index("3.0 MB")
    assert "build-cache order · pip install (layer 10)" in what  # past the first ten: shown all the same
    assert "fix: `apk add --no-cache …`" in what
    assert "Largest files of the final image" in text


def test_paths_grouped_by_directory_for_display(tmp_path):
    from explorer.present.hints import HintPathRow, file_rows, group_paths, paths_line

    paths = ("a/b/x", "a/b/y", "a/b/z", "a/b/w", "c", "d/\x1b[31mred")
    assert group_paths(paths) == [("/a/b/", ["w", "x", "y", "z"]), ("/", ["c"]), ("/d/", ["\x1b[31mred"])]
    assert paths_line(paths) == "/a/b/{w, x, y, …}  /c  (+2 more)"
    assert paths_line(paths, groups=3, names=4) == "/a/b/{w, x, y, z}  /c  /d/\\x1b[31mred"
    image = analyse(tmp_path, BASE, Layer([F("tmp/a", data(10, 1)), F("tmp/b", data(20, 2))]), Layer([whiteout("tmp")]))
    (hint,) = only(compute_hints(image), DELETED_LATER)
    assert file_rows(image.fs, hint, 1) == [
        HintPathRow("/tmp/"),
        HintPathRow("  a", "tmp/a", 1),  # shown in the layer that added it
        HintPathRow("… and 1 more (all of them: report --json)"),
    ]


def test_layers_without_history_are_named_by_number(tmp_path):
    blob = data(600, 1)
    hints = hints_of(tmp_path, Layer([F("a", blob)]), Layer([F("a", blob, mode=0o600)]), history=[])
    (hint,) = hints.hints
    assert (hint.kind, hint.instructions) == (METADATA, ("", ""))
    assert hint.fix.endswith("not later in layer 1.")


def test_an_image_without_layers(tmp_path):
    image = analyse(tmp_path, history=[{"created_by": 'CMD ["/x"]', "empty_layer": True}])
    assert compute_hints(image) == Hints([], 0)
    assert largest_files(image.fs, 5) == []


def test_text_report_of_many_layers_keeps_its_order(tmp_path):
    import io

    from rich.console import Console

    from explorer.demo import write_demo
    from explorer.present.report import report_dict
    from explorer.present.report_text import TABLE_LAYERS, render_report
    from explorer.present.text import human_size

    data = report_dict(load(str(write_demo(tmp_path / "demo.tar"))), 20)
    data["layers"] = data["layers"] * (TABLE_LAYERS // len(data["layers"]) + 1)  # printed as lines
    out = io.StringIO()
    render_report(data, Console(file=out, width=120))
    text = out.getvalue()
    assert text.index("Efficiency") < text.index("What to change") < text.index("Layers (")
    assert text.index("Layers (") < text.index("Top wasted") < text.index("Largest files")
    lines = text[text.index("Layers (") :].splitlines()[2:15]  # the demo's 13 layers, sized by their file content
    for line, layer in zip(lines, data["layers"][:13], strict=True):
        assert line.split()[:3] == [str(layer["index"]), *human_size(layer["content_bytes"]).split()], line
