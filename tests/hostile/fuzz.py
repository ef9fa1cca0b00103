"""Structured fuzzing of the model: mutate valid archives, `load()` them, accept only ImageError.

    python -m tests.hostile.fuzz --count 1000000 --jobs 2        # the long run
    python -m tests.hostile.fuzz --replay 1234 --save case.tar   # one input again, with its traceback

Every input is made from (base seed, index) alone: one of the valid archives that
`tests.imagebuilder` writes in each format (docker save, skopeo, kaniko, Docker 25+, OCI with
gzip/zstd/plain/multi-member layers, nested indexes, attestations, gzip-wrapped), then a few
mutations chosen by a generator seeded with the index:

* JSON members (manifest.json, index.json, configs, manifests): a value replaced by another
  type, a hostile string, a huge number, a digest of another blob or of itself, deep nesting;
  keys deleted or renamed; the text truncated or broken (invalid UTF-8, NaN, a BOM);
* layer tars, decompressed first: a header field set to an interesting value (huge, negative
  base-256, not octal, empty), entries inserted (hostile names, PAX and GNU long-name records
  with hostile values, hard links to themselves or to nothing, whiteouts, opaque markers,
  unknown types, extended headers over the limit), deleted, duplicated, reordered; the tar
  truncated or its end blocks dropped; then compressed again (same or another compression);
* compressed layer streams: bytes flipped, truncated, garbage appended, members repeated;
* the outer archive: members deleted, duplicated, renamed, turned into symlinks or hard links
  (loops included); header fields set, bytes flipped, inserted or deleted, the file truncated
  at a structural point; sometimes gzip- or zstd-wrapped and then damaged.

Each input runs in-process through `load()` (with or without verify, sometimes with tiny
limits, a platform or an image name), then `report_dict()` and, now and then, the human
report (which must not let a control character through). Outcomes: `ok`, `ImageError`,
`CorruptBlob` (accepted), and `crash` (any other exception, a hang past --timeout, a
MemoryError under --max-mem-mb, or unescaped output). A crash is saved to --crash-dir as
`<signature>/<base>-<index>.tar` with a `.txt` of its traceback and options.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import random
import re
import resource
import signal
import sys
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from explorer.analysis.image import load
from explorer.archive.errors import CorruptBlob, ImageError
from explorer.archive.limits import DEFAULT_LIMITS, Limits
from explorer.archive.options import OpenOptions
from explorer.archive.writer import pax_record
from explorer.present.report import report_dict
from explorer.present.report_text import render_report
from tests import imagebuilder as ib

BLOCK = 512
EOF_BLOCKS = b"\0" * 1024
ACCEPTED = ("ok", "ImageError", "CorruptBlob")

# --------------------------------------------------------------------------- hostile values

NAMES: list[bytes] = [
    b"../../etc/passwd",
    b"/etc/shadow",
    b"",
    b".",
    b"..",
    b"./",
    b"a//b/./c",
    b"[bold]bold[/bold]",
    b"[link=https://example.com]link[/link]",
    b"[@click=app.quit]click",
    b"\x1b[31mred\x1b[0m",
    b"\x1b]0;title\x07",
    b"\x1b]8;;https://evil.example\x07text\x1b]8;;\x07",
    "\u009b2J".encode(),
    b"bel\x07bs\x08",
    b"cr\rlf\nnul",
    b"del\x7f",
    "\u202eevil\u2066".encode(),
    "caf\u00e9/\u65e5\u672c".encode(),
    b"\xff\xfe\xc0\xaf",
    b".wh.",
    b".wh..wh..opq",
    b".wh.etc",
    b"etc/.wh.passwd",
    b".wh..wh.plnk/1234",
    b"etc/.wh..wh..opq",
    b"x" * 300,
    b"d/" * 80 + b"f",
    b"etc/passwd",
    b"bin/sh",
    b"a",
    b"a/b",
]

STRINGS: list[str] = [n.decode("utf-8", "surrogateescape") for n in NAMES] + [
    "sha256:",
    "sha256:zz",
    "md5:abc",
    ":",
    "blobs/sha256/../../manifest.json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "linux",
    "amd64",
    "unknown",
    "x" * 5000,
]

NUMBERS: list[object] = [0, 1, -1, 2**31, 2**63, 2**64 + 1, -(2**70), 10**400, 1.5, -0.0, 1e308, True, False, None]

OCTAL_12 = [
    b"00000000000\0",
    b"00000000001\0",
    b"00000001000\0",
    b"77777777777\0",
    b"zzzzzzzzzzz\0",
    b"           \0",
    b"\0" * 12,
    b"-1\0\0\0\0\0\0\0\0\0\0",
    b"\x80" + b"\0" * 7 + b"\x7f\xff\xff\xff",  # base-256, 2 GiB - 1
    b"\x80" + b"\xff" * 11,  # base-256, enormous
    b"\xff" * 12,  # base-256, -1
    b"\xc0" + b"\0" * 10 + b"\x05",  # base-256 with the sign bit: -5
    b"1e10\0\0\0\0\0\0\0\0",
]
OCTAL_8 = [v[:8] for v in OCTAL_12] + [b"0000777\0", b"7777777\0", b"\x80\0\0\0\0\0\0\x01"]

# header fields: (offset, length)
FIELDS = {
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "gid": (116, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "chksum": (148, 8),
    "type": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 8),
    "prefix": (345, 155),
}
TYPEFLAGS = [b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"x", b"g", b"L", b"K", b"S", b"V", b"Z", b"\xff"]


def _field_value(rng: random.Random, name: str) -> bytes:
    offset, length = FIELDS[name]
    if name in ("name", "linkname", "prefix"):
        return rng.choice(NAMES)[:length].ljust(length, b"\0")
    if name == "type":
        return rng.choice(TYPEFLAGS)
    if name == "magic":
        return rng.choice([b"ustar\x0000", b"ustar  \0", b"\0" * 8, b"garbage!"])
    if name == "chksum":
        return rng.choice([b"0000000\0", b"zzzzzz\0 ", b"\0" * 8, b"\xff" * 8, b"177777\0 "])
    values = OCTAL_12 if length == 12 else OCTAL_8
    return rng.choice(values)[:length].ljust(length, b"\0")


# --------------------------------------------------------------------------- tar writing


def _octal(value: int, length: int) -> bytes:
    if 0 <= value < 8 ** (length - 1):
        return b"%0*o\0" % (length - 1, value)
    raw = (value if value >= 0 else (1 << (8 * length - 1)) + value).to_bytes(length, "big", signed=False)
    return bytes([raw[0] | 0x80 | (0x40 if value < 0 else 0)]) + raw[1:]


def fix_checksum(header: bytearray) -> None:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)


def raw_header(
    name: bytes, size: int = 0, typeflag: bytes = b"0", link: bytes = b"", mode: int = 0o644, mtime: int = 0
) -> bytes:
    """One ustar header block, fields cut to fit, checksum right."""
    h = bytearray(BLOCK)
    h[0:100] = name[:100].ljust(100, b"\0")
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[156:157] = typeflag
    h[157:257] = link[:100].ljust(100, b"\0")
    h[257:265] = b"ustar\x0000"
    fix_checksum(h)
    return bytes(h)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def pax_block(records: list[tuple[bytes, bytes]], typeflag: bytes = b"x") -> bytes:
    body = b"".join(pax_record(k, v) for k, v in records)
    return raw_header(b"PaxHeaders/x", len(body), typeflag) + pad(body)


def entry(
    name: bytes, data: bytes = b"", typeflag: bytes = b"0", link: bytes = b"", style: str = "pax", mode: int = 0o644
) -> bytes:
    """Header(s) and data of one tar member; names past 100 bytes go in a PAX or GNU record."""
    pre = b""
    if len(name) > 100 or len(link) > 100:
        if style == "gnu":
            if len(name) > 100:
                pre += raw_header(b"././@LongLink", len(name) + 1, b"L") + pad(name + b"\0")
            if len(link) > 100:
                pre += raw_header(b"././@LongLink", len(link) + 1, b"K") + pad(link + b"\0")
        else:
            records = []
            if len(name) > 100:
                records.append((b"path", name))
            if len(link) > 100:
                records.append((b"linkpath", link))
            pre = pax_block(records)
    return pre + raw_header(name, len(data), typeflag, link, mode) + pad(data)


def walk_tar(tar: bytes) -> list[tuple[int, int]]:
    """(header offset, end offset) of each member of a tar, as far as it parses."""
    out = []
    pos = 0
    while pos + BLOCK <= len(tar):
        header = tar[pos : pos + BLOCK]
        if not header.strip(b"\0"):
            break
        try:
            size = int(header[124:136].strip(b" \0") or b"0", 8)
        except ValueError:
            break
        end = pos + BLOCK + size + (-size % BLOCK)
        out.append((pos, min(end, len(tar))))
        pos = end
    return out


# --------------------------------------------------------------------------- seeds


@dataclass
class Member:
    name: bytes
    data: bytes = b""
    typeflag: bytes = b"0"
    link: bytes = b""
    compression: str | None = None  # set for layers: "none", "gzip", "zstd"
    tar: bytes | None = None  # a layer's uncompressed tar


@dataclass
class Seed:
    label: str
    members: list[Member]
    outer: str = "none"
    eof: bool = True
    style: str = "pax"
    digests: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _sniff_layer(data: bytes) -> tuple[str, bytes] | None:
    try:
        if data.startswith(b"\x1f\x8b"):
            return "gzip", gzip.decompress(data)
        if data.startswith(b"\x28\xb5\x2f\xfd"):
            return "zstd", zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except Exception:
        return None
    if len(data) >= BLOCK and walk_tar(data):
        return "none", data
    return None


def _parse_archive(label: str, raw: bytes, outer: str) -> Seed:
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for info in tf:
            name = info.name.encode("utf-8", "surrogateescape")
            if info.isdir():
                members.append(Member(name + b"/", typeflag=b"5"))
            elif info.issym() or info.islnk():
                members.append(Member(name, typeflag=b"2" if info.issym() else b"1", link=info.linkname.encode()))
            elif info.isreg():
                data = tf.extractfile(info).read()
                layer = _sniff_layer(data) if not name.endswith((b".json", b"manifest.json")) else None
                m = Member(name, data)
                if layer:
                    m.compression, m.tar = layer
                members.append(m)
    digests = []
    for m in members:
        if m.typeflag == b"0":
            digests.append("sha256:" + hashlib.sha256(m.data).hexdigest())
    return Seed(label, members, outer=outer, digests=digests)


def _seed_images() -> dict[str, list[ib.Image]]:
    busybox = b"\x7fELF" + bytes(range(256)) * 3

    def base(compression: str, arch: str = "amd64", variant: str | None = None) -> ib.Image:
        return ib.Image(
            [
                ib.Layer(
                    [
                        ib.F("etc/", kind="dir"),
                        ib.F("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                        ib.F("bin/busybox", busybox, mode=0o755),
                        ib.F("bin/sh", kind="symlink", link="busybox"),
                        ib.F("bin/ls", kind="hardlink", link="bin/busybox"),
                        ib.F("dev/null", kind="char"),
                        ib.F("run/fifo", kind="fifo"),
                        ib.F("var/cache/index", b"I" * 700),
                        ib.F("opt/" + "long-name-" * 12, b"L" * 10),
                        ib.F("srv/caf\u00e9", b"utf8"),
                    ],
                    created_by="/bin/sh -c #(nop) ADD file:abc in / ",
                    compression=compression,
                ),
                ib.Layer(
                    [
                        ib.F("etc/passwd", b"root:x:0:0::/root:/bin/bash\n"),
                        ib.whiteout("var/cache/index"),
                        ib.opaque("opt"),
                        ib.F("opt/new", b"N" * 30),
                        ib.F("bin/busybox", busybox, mode=0o700),
                    ],
                    created_by="RUN /bin/sh -c apk upgrade # buildkit",
                    compression=compression,
                ),
            ],
            config={"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}},
            architecture=arch,
            variant=variant,
            tags=["example.com/fuzz:latest"],
        )

    return {
        "gzip": [base("gzip")],
        "zstd": [base("zstd")],
        "none": [base("none")],
        "gzip-multi": [base("gzip-multi")],
        "zstd-multi": [base("zstd-multi")],
        "multi-platform": [base("gzip"), base("zstd", "arm64", "v8")],
    }


def build_seeds() -> list[Seed]:
    """The valid archives every input starts from (deterministic)."""
    images = _seed_images()
    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a.tar"

        def add(label: str, outer: str = "none") -> None:
            raw = out.read_bytes()
            if outer == "gzip":
                raw = gzip.decompress(raw)
            seeds.append(_parse_archive(label, raw, outer))

        ib.write_docker_archive(images["gzip"], out)
        add("docker-archive")
        ib.write_docker_archive(images["gzip"], out, symlink_layers=True)
        add("docker-skopeo")
        ib.write_docker_archive(images["zstd"], out, gzip_layers=True)
        add("docker-zstd-layers")
        ib.write_kaniko_archive(images["gzip"][0], out)
        add("kaniko")
        ib.write_docker25_archive(images["none"][0], out)
        add("docker25")
        for comp in ("gzip", "zstd", "none", "gzip-multi", "zstd-multi"):
            ib.write_oci(images[comp], out)
            add(f"oci-{comp}")
        ib.write_oci(images["multi-platform"], out, nested_index=True, attestation=True)
        add("oci-nested-multi")
        ib.write_oci(images["multi-platform"], out, omit_platform_blobs={"linux/arm64/v8"}, attestation=True)
        add("oci-omitted")
        ib.write_oci(images["gzip"], out, outer_gzip=True)
        add("oci-outer-gzip", "gzip")
    for seed in seeds:
        seed.tags = ["example.com/fuzz:latest", "latest", "fuzz"]
    return seeds


# --------------------------------------------------------------------------- mutations


def _bytes_mutate(rng: random.Random, data: bytes, structural: list[int] | None = None) -> bytes:
    """A plain byte-level mutation: flip, insert, delete, duplicate, truncate."""
    if not data:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
    buf = bytearray(data)
    op = rng.randrange(7)
    if op == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        i = rng.randrange(len(buf))
        buf[i] = rng.choice([0, 0xFF, 0x7F, 0x80, 0x30, 0x37, 0x20, rng.randrange(256)])
    elif op == 2:
        i = rng.randrange(len(buf) + 1)
        buf[i:i] = rng.choice([b"\0" * rng.randint(1, 1024), bytes([rng.randrange(256)]) * 3])
    elif op == 3:
        i = rng.randrange(len(buf))
        del buf[i : i + rng.randint(1, 700)]
    elif op == 4:
        i = rng.randrange(len(buf))
        j = min(len(buf), i + rng.randint(1, 2048))
        buf[j:j] = buf[i:j]
    elif op == 5 and structural:
        cut = rng.choice(structural) + rng.choice([0, 0, 1, -1, 100, 511, 257])
        del buf[max(0, cut) :]
    else:
        del buf[rng.randrange(len(buf) + 1) :]
    return bytes(buf)


_DEEP = "\x00deep\x00"


def _random_value(rng: random.Random, seed: Seed, own: str | None) -> object:
    r = rng.random()
    if r < 0.25:
        return rng.choice(NUMBERS)
    if r < 0.45:
        return rng.choice(STRINGS)
    if r < 0.6 and seed.digests:
        return rng.choice(seed.digests + ([own] if own else []))
    if r < 0.7:
        return rng.choice([[], {}, [rng.choice(STRINGS)], {"digest": rng.choice(seed.digests or ["x"])}])
    if r < 0.75:
        return _DEEP
    if r < 0.85:
        return rng.choice([m.name.decode("utf-8", "surrogateescape") for m in seed.members] or ["x"])
    return {"mediaType": rng.choice(STRINGS), "digest": rng.choice(seed.digests or ["sha256:00"]), "size": 1}


def _slots(doc: object, limit: int = 400) -> list[tuple[object, object]]:
    """(container, key) pairs of a JSON document, breadth first; (None, None) is the root."""
    out: list[tuple[object, object]] = [(None, None)]
    queue = [doc]
    while queue and len(out) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            out.append((node, key))
            queue.append(value)
    return out


def mutate_json(rng: random.Random, data: bytes, seed: Seed, own: str | None) -> bytes:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return _bytes_mutate(rng, data)
    if rng.random() < 0.15:
        op = rng.randrange(6)
        if op == 0:
            return data[: rng.randrange(len(data) + 1)]
        if op == 1:
            i = rng.randrange(len(data) + 1)
            return data[:i] + rng.choice([b"\xff", b"\xc3(", b"\x00", b"}", b"]", b",", b'"', b"\\"]) + data[i:]
        if op == 2:
            return b"\xef\xbb\xbf" + data
        if op == 3:
            return re.sub(rb"\d+", rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"1"']), data, count=1)
        if op == 4:
            depth = rng.choice([100, 1000, 5000, 100_000])
            return b"[" * depth + b"]" * depth
        return data + rng.choice([b"garbage", b"{}", b"\n\n", b"\0"])
    slots = _slots(doc)
    parent, key = rng.choice(slots)
    op = rng.randrange(6)
    if parent is None:
        doc = _random_value(rng, seed, own) if op < 3 else [doc] if op == 3 else {"manifests": [doc]}
    elif op <= 2:
        parent[key] = _random_value(rng, seed, own)  # type: ignore[index]
    elif op == 3:
        del parent[key]  # type: ignore[attr-defined]
    elif op == 4:
        value = parent[key]  # type: ignore[index]
        if isinstance(parent, list):
            parent.insert(key, copy.deepcopy(value))  # type: ignore[arg-type]
        else:
            swapped = (
                str(value)
                if isinstance(value, int | float)
                else int(value)
                if isinstance(value, str) and value.isdigit()
                else [value]
            )
            parent[key] = swapped  # type: ignore[index]
    elif isinstance(parent, dict):
        value = parent.pop(key)
        parent[rng.choice([str(key).lower(), str(key).upper(), str(key) + "s", rng.choice(STRINGS)])] = value
    try:
        text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    except (ValueError, RecursionError):
        return data
    depth = rng.choice([40, 1000, 50_000])
    return text.replace(json.dumps(_DEEP), "[" * depth + "]" * depth).encode("utf-8", "surrogateescape")


def _inner_entry(rng: random.Random, names: list[bytes]) -> bytes:
    name = rng.choice(NAMES + names)
    other = rng.choice(NAMES + names)
    style = rng.choice(["pax", "gnu"])
    kind = rng.randrange(12)
    if kind == 0:
        return entry(name, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1500))), style=style)
    if kind == 1:
        return entry(name, typeflag=b"5", style=style)
    if kind == 2:
        return entry(name, typeflag=b"2", link=other, style=style)
    if kind == 3:  # hard link: to another entry, to itself, or a pair that loops
        if rng.random() < 0.3:
            return entry(name, typeflag=b"1", link=name) + entry(other, typeflag=b"1", link=name)
        return entry(name, typeflag=b"1", link=other, style=style)
    if kind == 4:
        head, _, base = name.rpartition(b"/")
        return entry((head + b"/" if head else b"") + b".wh." + base)
    if kind == 5:
        return entry(name.rstrip(b"/") + b"/.wh..wh..opq" if name else b".wh..wh..opq")
    if kind == 6:  # PAX records with hostile values
        key = rng.choice([b"path", b"linkpath", b"size", b"uid", b"gid", b"mtime", b"uname", b"hdrcharset", b"x"])
        value = rng.choice(
            [b"", b"abc", b"-1", b"1e400", b"nan", b"inf", b"99999999999999999999999", b"1.5", b"0x10", name, b"\xff"]
        )
        records = [(key, value)]
        if rng.random() < 0.3:
            return pax_block(records, rng.choice([b"x", b"g"])) + entry(name, b"data")
        body = b"".join(pax_record(k, v) for k, v in records)
        body = _bytes_mutate(rng, body) if rng.random() < 0.5 else body
        return raw_header(b"PaxHeaders/x", len(body), b"x") + pad(body) + entry(name, b"data")
    if kind == 7:  # GNU long name/link records, sometimes without the entry that should follow
        rec = raw_header(b"././@LongLink", len(name) + 1, rng.choice([b"L", b"K"])) + pad(name + b"\0")
        return rec if rng.random() < 0.2 else rec + entry(b"short", b"x", typeflag=rng.choice([b"0", b"1", b"2"]))
    if kind == 8:  # unknown type with data
        return entry(name, b"payload" * rng.randrange(100), typeflag=rng.choice([b"S", b"V", b"Z", b"\xff", b"8"]))
    if kind == 9:  # an extended header over the limit, or with a lying size
        size = rng.choice([(1 << 20) + 1, 1 << 40, -1, 3])
        h = bytearray(raw_header(b"PaxHeaders/x", 0, rng.choice([b"x", b"L", b"K", b"g"])))
        h[124:136] = _octal(size, 12)
        fix_checksum(h)
        return bytes(h) + b"12 path=abc\n" + b"\0" * 500
    if kind == 10:  # a file whose size field lies (huge, negative, base-256)
        h = bytearray(raw_header(name[:100], 0))
        h[124:136] = rng.choice(OCTAL_12)
        fix_checksum(h)
        return bytes(h) + b"z" * rng.choice([0, 10, 512, 2048])
    return entry(name, b"", typeflag=rng.choice([b"3", b"4", b"6", b"7"]), style=style)


def mutate_layer_tar(rng: random.Random, tar: bytes) -> bytes:
    spans = walk_tar(tar)
    names = []
    for start, _ in spans[:50]:
        raw = tar[start : start + 100].split(b"\0", 1)[0]
        if raw and b"PaxHeaders" not in raw and b"LongLink" not in raw:
            names.append(raw)
    op = rng.randrange(9)
    buf = bytearray(tar)
    if op <= 2 and spans:  # set one header field
        start, _ = rng.choice(spans)
        fname = rng.choice(list(FIELDS))
        offset, length = FIELDS[fname]
        buf[start + offset : start + offset + length] = _field_value(rng, fname)
        if fname != "chksum" and rng.random() < 0.9:
            header = bytearray(buf[start : start + BLOCK])
            fix_checksum(header)
            buf[start : start + BLOCK] = header
        return bytes(buf)
    if op <= 4:  # insert new entries at an entry boundary
        cut = rng.choice([s for s, _ in spans] + [spans[-1][1] if spans else 0])
        new = b"".join(_inner_entry(rng, names) for _ in range(rng.randint(1, 3)))
        return tar[:cut] + new + tar[cut:]
    if op == 5 and spans:  # delete, duplicate or move an entry
        start, end = rng.choice(spans)
        piece = tar[start:end]
        rest = tar[:start] + tar[end:]
        choice = rng.randrange(3)
        if choice == 0:
            return rest
        if choice == 1:
            return tar[:end] + piece + tar[end:]
        return piece + rest
    if op == 6:  # truncate at or near a structural point, or drop/garble the end blocks
        points = [s for s, _ in spans] + [e for _, e in spans]
        if points and rng.random() < 0.7:
            return tar[: max(0, rng.choice(points) + rng.choice([0, 1, 100, 511, 512, -1]))]
        end = spans[-1][1] if spans else 0
        return tar[:end] + rng.choice([b"", b"\0" * 512, b"garbage" * 100, b"\x01" * 2000])
    if op == 7:
        return _bytes_mutate(rng, tar, [s for s, _ in spans])
    # a crafted tar replaces the layer
    return b"".join(_inner_entry(rng, names) for _ in range(rng.randint(1, 6))) + rng.choice([EOF_BLOCKS, b""])


def compress(data: bytes, compression: str, rng: random.Random) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=1, write_checksum=rng.random() < 0.5).compress(data)
    if compression == "gzip-multi":
        cut = rng.randrange(len(data) + 1)
        return gzip.compress(data[:cut], 1, mtime=0) + gzip.compress(data[cut:], 1, mtime=0)
    if compression == "zstd-multi":
        cut = rng.randrange(len(data) + 1)
        z = zstandard.ZstdCompressor(level=1)
        return z.compress(data[:cut]) + z.compress(data[cut:])
    return data


def mutate_stream(rng: random.Random, data: bytes) -> bytes:
    """Damage a compressed stream where its structure is (header, body, trailer)."""
    op = rng.randrange(6)
    if not data:
        return data
    if op == 0:  # truncate near the end (trailer, last block)
        return data[: max(0, len(data) - rng.choice([1, 2, 4, 8, 9, 20]))]
    if op == 1:
        return data[: rng.randrange(len(data))]
    if op == 2:  # flip a byte of the header, the body or the trailer
        buf = bytearray(data)
        i = rng.choice([rng.randrange(min(20, len(buf))), rng.randrange(len(buf)), len(buf) - 1 - rng.randrange(8)])
        buf[max(0, min(i, len(buf) - 1))] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if op == 3:
        return data + rng.choice([b"\0" * 100, b"garbage", data[:10], data])
    if op == 4:
        return data[:4] + data[4:][::-1] if rng.random() < 0.2 else _bytes_mutate(rng, data)
    return data + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))


def mutate_members(rng: random.Random, seed: Seed) -> None:
    members = seed.members
    if not members:
        return
    op = rng.randrange(6)
    i = rng.randrange(len(members))
    m = members[i]
    if op == 0:
        del members[i]
    elif op == 1:
        members.insert(rng.randrange(len(members) + 1), copy.copy(m))
    elif op == 2:
        members.insert(rng.randrange(len(members) + 1), members.pop(i))
    elif op == 3:
        m.name = rng.choice(NAMES + [o.name for o in members] + [b"manifest.json", b"index.json", b"./manifest.json"])
    elif op == 4:  # a symlink or hard link to another member, to itself, or a loop
        target = rng.choice(members).name
        kind = rng.choice([b"1", b"2"])
        if rng.random() < 0.3:
            members[i] = Member(m.name, typeflag=kind, link=m.name)
        else:
            members[i] = Member(m.name, typeflag=kind, link=target)
            if rng.random() < 0.3:
                members.append(Member(target, typeflag=kind, link=m.name))
    else:  # a junk member
        name = rng.choice([b"blobs/sha256/" + d.split(":")[1].encode() for d in seed.digests] + NAMES)
        data = rng.choice([b"{}", b"[]", b"not json", bytes(rng.randrange(256) for _ in range(rng.randrange(2000)))])
        members.insert(rng.randrange(len(members) + 1), Member(name, data))


def serialize(seed: Seed) -> tuple[bytes, list[int], list[tuple[int, int]]]:
    """Archive bytes, structural offsets, and (header offset, data size) of each member."""
    parts = []
    points = []
    headers = []
    pos = 0
    for m in seed.members:
        data = m.data if m.typeflag in (b"0", b"\0", b"7") else b""
        chunk = entry(m.name, data, m.typeflag, m.link, style=seed.style)
        parts.append(chunk)
        header_at = pos + len(chunk) - BLOCK - len(pad(data))
        headers.append((header_at, len(data)))
        points += [pos, header_at, header_at + BLOCK, header_at + BLOCK + len(data) // 2]
        pos += len(chunk)
    points.append(pos)
    if seed.eof:
        parts.append(EOF_BLOCKS)
    return b"".join(parts), points, headers


def make_input(base: int, index: int, seeds: list[Seed]) -> tuple[bytes, dict]:
    """The input number `index` of the run `base`, and the load() options to use."""
    rng = random.Random(f"{base}:{index}")
    seed = copy.deepcopy(rng.choice(seeds))
    seed.style = rng.choice(["pax", "pax", "gnu"])
    for _ in range(1 + int(rng.expovariate(1.0))):
        r = rng.random()
        json_members = [m for m in seed.members if m.tar is None and m.data[:1] in (b"{", b"[")]
        layers = [m for m in seed.members if m.tar is not None]
        if r < 0.3 and json_members:
            m = rng.choice(json_members)
            own = "sha256:" + m.name.rsplit(b"/", 1)[-1].decode("utf-8", "surrogateescape")
            m.data = mutate_json(rng, m.data, seed, own)
        elif r < 0.6 and layers:
            m = rng.choice(layers)
            m.tar = mutate_layer_tar(rng, m.tar)
            comp = m.compression if rng.random() < 0.8 else rng.choice(["none", "gzip", "zstd", "gzip-multi"])
            m.data = compress(m.tar, comp or "none", rng)
        elif r < 0.72 and layers:
            m = rng.choice(layers)
            m.data = mutate_stream(rng, m.data)
        elif r < 0.85:
            mutate_members(rng, seed)
        else:
            seed.eof = rng.random() < 0.5
    data, points, headers = serialize(seed)
    if rng.random() < 0.3:  # outer byte-level damage
        for _ in range(rng.randint(1, 3)):
            if headers and rng.random() < 0.5:
                at, _ = rng.choice(headers)
                fname = rng.choice(list(FIELDS))
                offset, length = FIELDS[fname]
                buf = bytearray(data)
                if at + BLOCK <= len(buf):
                    buf[at + offset : at + offset + length] = _field_value(rng, fname)
                    if fname != "chksum" and rng.random() < 0.85:
                        header = bytearray(buf[at : at + BLOCK])
                        fix_checksum(header)
                        buf[at : at + BLOCK] = header
                data = bytes(buf)
            else:
                data = _bytes_mutate(rng, data, points)
    outer = seed.outer
    if rng.random() < 0.08:
        outer = rng.choice(["gzip", "zstd", "none"])
    if outer == "gzip":
        data = gzip.compress(data, compresslevel=1, mtime=0)
    elif outer == "zstd":
        data = zstandard.ZstdCompressor(level=1).compress(data)
    if outer != "none" and rng.random() < 0.2:
        data = mutate_stream(rng, data)
    options: dict = {"verify": rng.random() < 0.3}
    if rng.random() < 0.15:
        options["limits"] = Limits(
            max_entries=rng.choice([1, 3, 10, 100]), max_layers=rng.choice([0, 1, 2, 10]), max_ratio=rng.choice([1, 2])
        )
    if rng.random() < 0.1:
        options["platform"] = rng.choice(["linux/amd64", "linux/arm64", "linux/arm64/v8", "windows/amd64", "x"])
    if rng.random() < 0.1:
        options["image"] = rng.choice(seed.tags + ["nope", "[bold]"])
    options["render"] = rng.random() < 0.05
    return data, options


# --------------------------------------------------------------------------- running


class Hang(BaseException):
    """An input ran past the per-input timeout."""


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang()


# A human report line may hold nothing but printable text: no C0 (but newline), DEL or C1.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


class UnescapedOutput(Exception):
    """The human report let a control character from the archive through (`where`: the line's label)."""

    def __init__(self, char: str, where: str) -> None:
        super().__init__(f"control character {char!r} in the human report, line {where!r}")
        self.where = where


def run_input(path: str, data: bytes, options: dict, timeout: float) -> tuple[str, BaseException | None]:
    """Outcome of one input: "ok", "ImageError", "CorruptBlob", "hang" or "crash"."""
    with open(path, "wb") as f:
        f.write(data)
    kwargs = {k: v for k, v in options.items() if k != "render"}
    kwargs.setdefault("limits", DEFAULT_LIMITS)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        image = load(path, OpenOptions(**kwargs))
        try:
            report = report_dict(image, None)
            json.dumps(report, indent=2, ensure_ascii=True)
            if options.get("render"):
                from rich.console import Console

                out = io.StringIO()
                render_report(report, Console(file=out, width=100, color_system=None, force_terminal=False))
                text = out.getvalue()
                bad = _CONTROL.search(text)
                if bad:
                    line = text[text.rfind("\n", 0, bad.start()) + 1 : bad.start()]
                    raise UnescapedOutput(bad.group(), (line.split() or [""])[0])
        finally:
            image.close()
        return "ok", None
    except CorruptBlob:
        return "CorruptBlob", None
    except ImageError:
        return "ImageError", None
    except Hang as exc:
        return "hang", exc
    except (Exception, RecursionError, MemoryError) as exc:
        return "crash", exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def signature(exc: BaseException) -> str:
    """Type and place of a crash: the deepest two frames of the model, and the deepest frame
    ("ValueError at model/tarstream.py:66 _number <- model/tarstream.py:70 _checksum_ok")."""
    if isinstance(exc, UnescapedOutput):
        return f"UnescapedOutput in the report line starting {exc.where!r}"
    frames = traceback.extract_tb(exc.__traceback__)
    model = [f for f in frames if "/explorer/" in f.filename]
    picked = model[-2:] if model else []
    if frames and (not model or frames[-1] is not model[-1]):
        picked.append(frames[-1])

    def where(f: traceback.FrameSummary) -> str:
        name = f.filename.split("/explorer/", 1)[-1] if "/explorer/" in f.filename else os.path.basename(f.filename)
        return f"{name}:{f.lineno} {f.name}"

    return f"{type(exc).__name__} at " + " <- ".join(where(f) for f in reversed(picked))


def _slug(sig: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", sig)[:120] + "-" + hashlib.sha1(sig.encode()).hexdigest()[:8]


@dataclass
class Stats:
    outcomes: Counter = field(default_factory=Counter)
    crashes: dict[str, list] = field(default_factory=dict)  # signature -> [count, first (base, index)]
    inputs: int = 0
    seconds: float = 0.0

    def add(self, other: Stats) -> None:
        self.outcomes.update(other.outcomes)
        self.inputs += other.inputs
        for sig, (count, first) in other.crashes.items():
            mine = self.crashes.setdefault(sig, [0, first])
            mine[0] += count
            mine[1] = min(mine[1], first)

    @property
    def crash_count(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k not in ACCEPTED)


_SEEDS: list[Seed] = []
_TMP = ""


def _worker_init(max_mem_mb: int) -> None:
    global _SEEDS, _TMP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    if max_mem_mb:
        limit = max_mem_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _SEEDS = build_seeds()
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    _TMP = tempfile.mkdtemp(prefix="layerscope-fuzz-", dir=base)


def _save_crash(
    crash_dir: str, sig: str, base: int, index: int, data: bytes, options: dict, exc: BaseException
) -> None:
    folder = Path(crash_dir) / _slug(sig)
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.tar"))) >= 5:
        return
    stem = folder / f"{base}-{index}"
    stem.with_suffix(".tar").write_bytes(data)
    opts = {k: (v.__dict__ if isinstance(v, Limits) else v) for k, v in options.items()}
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stem.with_suffix(".txt").write_text(
        f"signature: {sig}\nseed: --base-seed {base} --replay {index}\noptions: {json.dumps(opts)}\n\n{text}"
    )


def _run_chunk(base: int, start: int, stop: int, timeout: float, crash_dir: str | None) -> Stats:
    stats = Stats()
    path = os.path.join(_TMP, f"input-{os.getpid()}.tar")
    began = time.perf_counter()
    for index in range(start, stop):
        try:
            data, options = make_input(base, index, _SEEDS)
        except Exception as exc:  # the fuzzer's own failure, not the model's
            stats.outcomes["generator-error"] += 1
            print(f"generator error at {index}: {exc!r}", file=sys.stderr)
            continue
        outcome, exc = run_input(path, data, options, timeout)
        stats.inputs += 1
        if exc is None:
            stats.outcomes[outcome] += 1
            continue
        sig = "Hang (past the timeout)" if outcome == "hang" else signature(exc)
        stats.outcomes[outcome] += 1
        entry_ = stats.crashes.setdefault(sig, [0, (base, index)])
        entry_[0] += 1
        if crash_dir:
            _save_crash(crash_dir, sig, base, index, data, options, exc)
    with contextlib.suppress(OSError):
        os.unlink(path)
    stats.seconds = time.perf_counter() - began
    return stats


def run_fuzz(
    count: int,
    base: int = 0,
    jobs: int = 1,
    crash_dir: str | None = None,
    timeout: float = 10.0,
    max_mem_mb: int = 3072,
    start: int = 0,
    chunk: int = 250,
    progress: float = 0.0,
) -> Stats:
    """Run inputs [start, start+count) of run `base` in `jobs` processes; the merged stats."""
    total = Stats()
    began = time.perf_counter()
    pending = [(s, min(s + chunk, start + count)) for s in range(start, start + count, chunk)]
    ctx = multiprocessing.get_context("fork")
    last = began
    while pending:
        pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=(max_mem_mb,))
        futures: dict = {}
        broken: list[tuple[int, int]] = []
        try:
            while (pending or futures) and not broken:
                while pending and len(futures) < 2 * jobs:
                    lo, hi = pending.pop(0)
                    futures[pool.submit(_run_chunk, base, lo, hi, timeout, crash_dir)] = (lo, hi)
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    lo, hi = futures.pop(fut)
                    try:
                        total.add(fut.result())
                    except BrokenProcessPool:
                        broken.append((lo, hi))
                now = time.perf_counter()
                if progress and now - last >= progress:
                    last = now
                    rate = total.inputs / (now - began)
                    line = f"[{now - began:7.0f}s] {total.inputs}/{count} ({rate:.0f}/s) {_outcome_line(total)}"
                    print(line, flush=True)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if broken:
            # A worker died (a crash below Python, or killed): the chunks in flight are lost and
            # reported as such; rerun them with --start/--count to find the input.
            for lo, hi in broken + list(futures.values()):
                total.outcomes["worker-died"] += 1
                total.crashes.setdefault(f"worker died in inputs {lo}..{hi - 1}", [1, (base, lo)])
    total.seconds = time.perf_counter() - began
    return total


def _outcome_line(stats: Stats) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(stats.outcomes.items()))


def print_stats(stats: Stats, crash_dir: str | None) -> None:
    print(f"\n{stats.inputs} inputs in {stats.seconds:.0f} s ({stats.inputs / max(stats.seconds, 1e-9):.0f}/s)")
    for outcome, n in sorted(stats.outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {outcome:16} {n:10}")
    if stats.crashes:
        print(f"\n{len(stats.crashes)} crash signatures (saved under {crash_dir}):")
        for sig, (n, (base, index)) in sorted(stats.crashes.items(), key=lambda kv: -kv[1][0]):
            print(f"  {n:8}  {sig}\n            first: --base-seed {base} --replay {index}")


def replay(base: int, index: int, save: str | None, timeout: float) -> int:
    seeds = build_seeds()
    data, options = make_input(base, index, seeds)
    if save:
        Path(save).write_bytes(data)
        print(f"input written to {save} ({len(data)} bytes)")
    print("options:", {k: (v.__dict__ if isinstance(v, Limits) else v) for k, v in options.items()})
    signal.signal(signal.SIGALRM, _on_alarm)
    with tempfile.TemporaryDirectory() as tmp:
        outcome, exc = run_input(os.path.join(tmp, "input.tar"), data, options, timeout)
    print("outcome:", outcome)
    if exc is not None:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        print("signature:", signature(exc) if outcome != "hang" else "Hang")
    return 0 if outcome in ACCEPTED else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs to run (default %(default)s)")
    parser.add_argument("--start", type=int, default=0, help="first input index (default 0)")
    parser.add_argument("--base-seed", type=int, default=0, help="run seed: input i is made from (base, i) alone")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    parser.add_argument(
        "--crash-dir",
        default=os.path.join(tempfile.gettempdir(), "layerscope-fuzz-crashes"),
        help="where crashing inputs go (default %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it is a hang")
    parser.add_argument("--max-mem-mb", type=int, default=3072, help="address-space limit per worker (0: none)")
    parser.add_argument("--progress", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--replay", type=int, metavar="INDEX", help="run one input in-process, with its traceback")
    parser.add_argument("--save", metavar="FILE", help="with --replay: write the input there")
    args = parser.parse_args(argv)
    if args.replay is not None:
        return replay(args.base_seed, args.replay, args.save, args.timeout)
    stats = run_fuzz(
        args.count,
        args.base_seed,
        args.jobs,
        args.crash_dir,
        args.timeout,
        args.max_mem_mb,
        args.start,
        progress=args.progress,
    )
    print_stats(stats, args.crash_dir)
    return 1 if stats.crash_count else 0


if __name__ == "__main__":
    sys.exit(main())
