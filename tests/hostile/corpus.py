"""The hostile corpus: broken and malicious archives, each generated on demand with its expected outcome.

Every case writes its input into a fresh directory (no binaries are committed) and says what
`layerscope report` must do with it: exit 2 with one stderr line "layerscope: ..." matching
`error`, or exit 0 with a correct partial view (`check` on the --json report) and, where the
archive is odd, a visible `warning`. A case the model gets wrong carries `bug`
("BUG: ...", with a diagnosis): the test marks it xfail(strict=True) with the *correct*
expectation, so fixing the bug turns it into a failure until the mark goes. None stand today.

Resource bombs have a size knob: small in CI, full size with LAYERSCOPE_FULL_BOMBS=1
(`python -m tests.hostile.corpus --full` runs just the bombs and prints time and peak RSS).

`run_cli` runs the CLI the way the tests do: in its own session and empty working directory,
under an address-space limit and a timeout, measuring peak RSS (the sum over the process
group, polled from /proc, and the kernel's high-water mark of the largest process).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zstandard
from isal import isal_zlib

from tests import imagebuilder as ib
from tests.hostile.fuzz import EOF_BLOCKS, entry, fix_checksum, pad, pax_block, raw_header

FULL = os.environ.get("LAYERSCOPE_FULL_BOMBS") == "1"
ROOT = Path(__file__).resolve().parents[2]
GiB, MiB = 1 << 30, 1 << 20

# --------------------------------------------------------------------------- the case record


@dataclass
class Case:
    name: str
    build: Callable[[Path, bool], Path]  # (directory to write in, full size?) -> the IMAGE argument
    exit: int
    error: str | None = None  # exit 2: a regex the stderr line must match (after "layerscope: ")
    args: tuple[str, ...] = ()
    warning: str | None = None  # exit 0: a regex one --json warning must match
    check: Callable[[dict], None] | None = None  # exit 0: asserts on the --json report
    human: Callable[[str], None] | None = None  # exit 0: asserts on the human report
    bug: str | None = None  # "BUG: ..." when the model fails the expectation today
    app: tuple[str, ...] = ()  # the app, run headless, must show these texts (and keep running)
    timeout: float = 30.0
    max_rss_mb: int = 400
    full_timeout: float = 600.0
    full_rss_mb: int = 4096
    bomb: bool = False
    notes: str = ""

    def limits(self, full: bool) -> tuple[float, int]:
        return (self.full_timeout, self.full_rss_mb) if full and self.bomb else (self.timeout, self.max_rss_mb)


CASES: list[Case] = []


def case(name: str, exit: int, **kw: object) -> Callable[[Callable[[Path, bool], Path]], Callable]:
    def register(build: Callable[[Path, bool], Path]) -> Callable:
        CASES.append(Case(name, build, exit, **kw))  # type: ignore[arg-type]
        return build

    return register


# --------------------------------------------------------------------------- archive helpers


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def member(name: str | bytes, data: bytes = b"", typeflag: bytes = b"0", link: bytes = b"") -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    return entry(raw, data, typeflag, link)


def layer(*entries: bytes, eof: bool = True) -> bytes:
    """An uncompressed layer tar from `entry()` pieces."""
    return b"".join(entries) + (EOF_BLOCKS if eof else b"")


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def zst(data: bytes, checksum: bool = False) -> bytes:
    return zstandard.ZstdCompressor(level=3, write_checksum=checksum).compress(data)


def _diff_id(blob: bytes) -> str | None:
    try:
        if blob.startswith(b"\x1f\x8b"):
            return sha256(gzip.decompress(blob))
        if blob.startswith(b"\x28\xb5\x2f\xfd"):
            return sha256(zstandard.ZstdDecompressor().decompressobj().decompress(blob))
    except Exception:
        return None
    return sha256(blob)


def config_json(diff_ids: list[str] | None = None, **extra: object) -> bytes:
    cfg: dict = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids or []}}
    cfg.update(extra)
    return json.dumps(cfg).encode()


def docker_archive(
    out: Path,
    blobs: list[bytes],
    *,
    config: bytes | None = None,
    manifest: bytes | None = None,
    tags: list[str] | None = None,
    extra: tuple[bytes, ...] = (),
    history: list[dict] | None = None,
) -> Path:
    """A `docker save` archive of raw layer blobs: config.json, <i>/layer.tar, manifest.json."""
    names = [f"{i}/layer.tar" for i in range(len(blobs))]
    if config is None:
        diff_ids = [_diff_id(b) or sha256(b) for b in blobs]
        config = config_json(diff_ids, **({"history": history} if history is not None else {}))
    if manifest is None:
        manifest = json.dumps(
            [{"Config": "config.json", "RepoTags": tags or ["hostile:latest"], "Layers": names}]
        ).encode()
    parts = [member("config.json", config)]
    parts += [member(n, b) for n, b in zip(names, blobs, strict=True)]
    parts += list(extra)
    parts += [member("manifest.json", manifest)]
    out.write_bytes(b"".join(parts) + EOF_BLOCKS)
    return out


def oci_archive(out: Path, blobs: list[bytes], index: dict | bytes, extra: tuple[bytes, ...] = ()) -> Path:
    parts = [member("blobs/sha256/" + hashlib.sha256(b).hexdigest(), b) for b in blobs]
    parts += list(extra)
    parts.append(member("index.json", index if isinstance(index, bytes) else json.dumps(index).encode()))
    parts.append(member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
    out.write_bytes(b"".join(parts) + EOF_BLOCKS)
    return out


def descriptor(media_type: str, data: bytes, **kw: object) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **kw}


def oci_image(layers: list[bytes], config: bytes | None = None) -> tuple[list[bytes], dict]:
    """Blobs and the index.json of a one-image OCI layout holding `layers` (gzip blobs)."""
    config = config if config is not None else config_json([_diff_id(b) or sha256(b) for b in layers])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": ib.MT_MANIFEST,
            "config": descriptor(ib.MT_CONFIG, config),
            "layers": [descriptor(ib.MT_LAYER_GZIP, b) for b in layers],
        }
    ).encode()
    index = {"schemaVersion": 2, "mediaType": ib.MT_INDEX, "manifests": [descriptor(ib.MT_MANIFEST, manifest)]}
    return [config, manifest, *layers], index


def valid_image() -> ib.Image:
    """A small image with two layers (the base for truncation and corruption)."""
    return ib.Image(
        [
            ib.Layer([ib.F("etc/", kind="dir"), ib.F("etc/passwd", b"root:x:0:0\n" * 20), ib.F("bin/sh", b"S" * 3000)]),
            ib.Layer([ib.F("etc/passwd", b"root:x:0:0::/root:/bin/bash\n"), ib.whiteout("bin/sh")]),
        ],
        history=[{"created_by": "ADD rootfs /"}, {"created_by": "RUN passwd"}],
    )


def members_of(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tf:
        return {m.name: m for m in tf.getmembers()}


def cut(path: Path, at: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:at])
    return path


def simple_blob() -> bytes:
    return layer(member("etc/passwd", b"root:x:0:0\n" * 30), member("bin/sh", bytes(range(256)) * 20))


# --------------------------------------------------------------------------- report checks


def waste_paths(report: dict) -> set[str]:
    return {w["path"] for w in report["waste"]}


def human_has(*texts: str) -> Callable[[str], None]:
    def check(text: str) -> None:
        for t in texts:
            assert t in text, f"{t!r} not in the human report"

    return check


# --------------------------------------------------------------------------- truncated


@case("truncated-inside-first-outer-header", 2, error=r"not a readable tar archive \(truncated header\)")
def _(d: Path, full: bool) -> Path:
    return cut(ib.write_docker_archive(valid_image(), d / "image.tar"), 300)


@case(
    "truncated-inside-a-later-outer-header",
    2,
    error=r"truncated",
)
def _(d: Path, full: bool) -> Path:
    path = ib.write_docker_archive(valid_image(), d / "image.tar")
    return cut(path, members_of(path)["manifest.json"].offset + 200)


@case("truncated-inside-manifest-json", 2, error=r"not a readable tar archive \(unexpected end of data\)")
def _(d: Path, full: bool) -> Path:
    path = ib.write_docker_archive(valid_image(), d / "image.tar")
    m = members_of(path)["manifest.json"]
    return cut(path, m.offset_data + m.size // 2)


@case("truncated-inside-index-json", 2, error=r"not a readable tar archive \(unexpected end of data\)")
def _(d: Path, full: bool) -> Path:
    path = ib.write_oci(valid_image(), d / "image.tar")
    m = members_of(path)["index.json"]
    return cut(path, m.offset_data + m.size // 2)


@case("truncated-inside-config", 2, error=r"not a readable tar archive \(unexpected end of data\)")
def _(d: Path, full: bool) -> Path:
    path = ib.write_kaniko_archive(valid_image(), d / "image.tar")
    config = next(m for m in members_of(path).values() if m.name.startswith("sha256:"))
    return cut(path, config.offset_data + config.size // 2)


@case("truncated-inside-layer-blob", 2, error=r"not a readable tar archive \(unexpected end of data\)")
def _(d: Path, full: bool) -> Path:
    path = ib.write_docker_archive(valid_image(), d / "image.tar")
    blob = next(m for m in members_of(path).values() if m.name.endswith("layer.tar"))
    return cut(path, blob.offset_data + blob.size // 2)


@case("truncated-gzip-layer-stream", 2, error=r"^0/layer\.tar: corrupt gzip data \(.*ended before")
def _(d: Path, full: bool) -> Path:
    blob = gz(simple_blob())
    return docker_archive(d / "image.tar", [blob[: len(blob) // 2]], config=config_json())


@case(
    "truncated-zstd-layer-stream",
    2,
    error=r"^0/layer\.tar: (corrupt zstd data|.*truncated)",
)
def _(d: Path, full: bool) -> Path:
    blob = zst(simple_blob())
    return docker_archive(d / "image.tar", [blob[: len(blob) - 3]], config=config_json())


@case("truncated-gzip-outer-stream", 2, error=r"corrupt gzip data \(.*ended before")
def _(d: Path, full: bool) -> Path:
    tar = docker_archive(d / "plain.tar", [simple_blob()]).read_bytes()
    (d / "plain.tar").unlink()
    data = gz(tar)
    out = d / "image.tar.gz"
    out.write_bytes(data[: len(data) * 2 // 3])
    return out


@case(
    "truncated-zstd-outer-stream",
    2,
    error=r"(truncated|corrupt zstd data|unexpected end of data)",
)
def _(d: Path, full: bool) -> Path:
    tar = docker_archive(d / "plain.tar", [simple_blob()]).read_bytes()
    (d / "plain.tar").unlink()
    data = zst(tar, checksum=True)
    out = d / "image.tar.zst"
    out.write_bytes(data[: len(data) - 2])
    return out


@case("truncated-inside-a-layer-tar-header", 2, error=r"^0/layer\.tar: layer tar truncated inside a header")
def _(d: Path, full: bool) -> Path:
    tar = layer(member("a", b"x" * 10), member("b", b"y"))
    return docker_archive(d / "image.tar", [tar[: 1024 + 100]], config=config_json())


@case("truncated-inside-a-layer-file", 2, error=r"^0/layer\.tar: layer tar truncated inside big")
def _(d: Path, full: bool) -> Path:
    tar = layer(member("big", b"B" * 5000))
    return docker_archive(d / "image.tar", [tar[:3000]], config=config_json())


# --------------------------------------------------------------------------- corrupt


@case("corrupt-gzip-crc", 2, error=r"^0/layer\.tar: corrupt gzip data \(CRC check failed")
def _(d: Path, full: bool) -> Path:
    blob = bytearray(gz(simple_blob()))
    blob[-6] ^= 0xFF
    return docker_archive(d / "image.tar", [bytes(blob)], config=config_json())


@case(
    "corrupt-gzip-deflate-block",
    2,
    error=r"^0/layer\.tar: corrupt gzip data \(.*[Ii]nvalid",
    notes="an IsalError, a traceback until c2df2b7",
)
def _(d: Path, full: bool) -> Path:
    blob = gz(simple_blob())
    bad = blob[:10] + b"\x07" + blob[11:]  # BFINAL=1, BTYPE=11: a reserved block type
    return docker_archive(d / "image.tar", [bad], config=config_json())


@case("corrupt-zstd-data", 2, error=r"^0/layer\.tar: corrupt zstd data")
def _(d: Path, full: bool) -> Path:
    blob = bytearray(zst(simple_blob(), checksum=True))
    blob[len(blob) // 2] ^= 0x55
    return docker_archive(d / "image.tar", [bytes(blob)], config=config_json())


@case("blob-that-is-not-a-tar", 2, error=r"^0/layer\.tar: not a tar archive \(bad header checksum at byte 0\)")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [b"this is a text file, not a tar archive\n" * 40], config=config_json())


@case("gzip-blob-that-is-not-a-tar", 2, error=r"^0/layer\.tar: not a tar archive \(bad header checksum at byte 0\)")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [gz(b"hello, world\n" * 200)], config=config_json())


@case("layer-header-bad-checksum", 2, error=r"^0/layer\.tar: not a tar archive \(bad header checksum at byte 1024\)")
def _(d: Path, full: bool) -> Path:
    tar = bytearray(layer(member("a", b"1"), member("b", b"2")))
    tar[1024 + 148 : 1024 + 156] = b"0000001\0"  # the second header
    return docker_archive(d / "image.tar", [bytes(tar)], config=config_json())


@case("empty-file", 2, error=r"empty file")
def _(d: Path, full: bool) -> Path:
    out = d / "empty.tar"
    out.write_bytes(b"")
    return out


@case("plain-tar-not-an-image", 2, error=r"not an image archive \(no manifest\.json or index\.json\)")
def _(d: Path, full: bool) -> Path:
    out = d / "files.tar"
    out.write_bytes(member("README", b"hello\n") + member("src/main.c", b"int main(){}\n") + EOF_BLOCKS)
    return out


@case("zip-file", 2, error=r"not a readable tar archive")
def _(d: Path, full: bool) -> Path:
    out = d / "image.zip"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("manifest.json", json.dumps([{"Config": "c.json", "Layers": []}]))
        z.writestr("c.json", "{}" + " " * 2000)
    return out


@case("gzip-file-of-text", 2, error=r"not a readable tar archive")
def _(d: Path, full: bool) -> Path:
    out = d / "notes.gz"
    out.write_bytes(gz(b"just some notes\n" * 100))
    return out


@case(
    "outer-pax-header-of-enormous-size",
    2,
    error=r"not a readable tar archive",
)
def _(d: Path, full: bool) -> Path:
    h = bytearray(raw_header(b"PaxHeaders/x", 0, b"x"))
    h[124:136] = b"\x80" + b"\xff" * 11
    fix_checksum(h)
    valid = ib.write_docker_archive(valid_image(), d / "v.tar")
    out = d / "image.tar"
    out.write_bytes(bytes(h) + valid.read_bytes())
    valid.unlink()
    return out


@case("outer-member-of-negative-size", 2, error=r"not a readable tar archive.*negative size")
def _(d: Path, full: bool) -> Path:
    """A base-256 size field may be negative; a reader that slices by it must refuse it."""
    h = bytearray(raw_header(b"manifest.json", 0, b"0"))
    h[124:136] = b"\xff" * 12  # base-256 -1
    fix_checksum(h)
    valid = ib.write_docker_archive(valid_image(), d / "v.tar")
    out = d / "image.tar"
    out.write_bytes(valid.read_bytes()[:-1024] + bytes(h) + EOF_BLOCKS)
    valid.unlink()
    return out


@case("outer-pax-size-negative", 2, error=r"not a readable tar archive.*negative size")
def _(d: Path, full: bool) -> Path:
    """tarfile applies a PAX size record after the header's own checks."""
    valid = ib.write_docker_archive(valid_image(), d / "v.tar")
    pax = pax_block([(b"size", b"-5")])
    out = d / "image.tar"
    out.write_bytes(valid.read_bytes()[:-1024] + pax + bytes(raw_header(b"extra", 0, b"0")) + EOF_BLOCKS)
    valid.unlink()
    return out


@case(
    "outer-gnu-long-name-of-8-gib",
    2,
    error=r"not a readable tar archive",
)
def _(d: Path, full: bool) -> Path:
    h = bytearray(raw_header(b"././@LongLink", 0, b"L"))
    h[124:136] = b"77777777777\0"
    fix_checksum(h)
    valid = ib.write_docker_archive(valid_image(), d / "v.tar")
    out = d / "image.tar"
    out.write_bytes(bytes(h) + valid.read_bytes())
    valid.unlink()
    return out


@case("layer-extended-header-too-large", 2, error=r"^0/layer\.tar: extended tar header of 2097152 bytes")
def _(d: Path, full: bool) -> Path:
    body = b"2097152 path=" + b"a" * (2097152 - 14) + b"\n"
    tar = raw_header(b"PaxHeaders/x", len(body), b"x") + pad(body) + member("a", b"x") + EOF_BLOCKS
    return docker_archive(d / "image.tar", [gz(tar)], config=config_json())


@case("layer-negative-size", 2, error=r"^0/layer\.tar: negative size in tar header")
def _(d: Path, full: bool) -> Path:
    h = bytearray(raw_header(b"neg", 0))
    h[124:136] = b"\xff" * 12
    fix_checksum(h)
    return docker_archive(d / "image.tar", [bytes(h) + EOF_BLOCKS], config=config_json())


@case(
    "layer-header-mode-not-octal",
    2,
    error=r"^0/layer\.tar: malformed",
)
def _(d: Path, full: bool) -> Path:
    h = bytearray(raw_header(b"file", 0))
    h[100:108] = b"rwxr-x\0\0"
    fix_checksum(h)
    return docker_archive(d / "image.tar", [bytes(h) + EOF_BLOCKS], config=config_json())


@case(
    "layer-pax-uid-not-a-number",
    2,
    error=r"^0/layer\.tar: malformed",
)
def _(d: Path, full: bool) -> Path:
    tar = pax_block([(b"uid", b"root")]) + member("file", b"x") + EOF_BLOCKS
    return docker_archive(d / "image.tar", [tar], config=config_json())


@case(
    "layer-pax-mtime-infinite",
    2,
    error=r"^0/layer\.tar: malformed",
)
def _(d: Path, full: bool) -> Path:
    tar = pax_block([(b"mtime", b"1e400")]) + member("file", b"x") + EOF_BLOCKS
    return docker_archive(d / "image.tar", [tar], config=config_json())


@case(
    "layer-pax-size-not-a-number",
    2,
    error=r"^0/layer\.tar: malformed",
)
def _(d: Path, full: bool) -> Path:
    tar = pax_block([(b"size", b"12 bytes")]) + member("file", b"x") + EOF_BLOCKS
    return docker_archive(d / "image.tar", [tar], config=config_json())


# --------------------------------------------------------------------------- JSON


@case("manifest-malformed-json", 2, error=r"^manifest\.json: malformed JSON")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()], manifest=b'[{"Config": "config.json", "Layers": [')


@case("manifest-layers-not-a-list", 2, error=r"manifest\.json entry 0 Layers: expected a JSON list")
def _(d: Path, full: bool) -> Path:
    manifest = json.dumps([{"Config": "config.json", "Layers": "0/layer.tar"}]).encode()
    return docker_archive(d / "image.tar", [simple_blob()], manifest=manifest)


@case("manifest-config-a-number", 2, error=r"manifest\.json entry 0 Config: expected a string")
def _(d: Path, full: bool) -> Path:
    manifest = json.dumps([{"Config": 7, "Layers": ["0/layer.tar"]}]).encode()
    return docker_archive(d / "image.tar", [simple_blob()], manifest=manifest)


@case("config-not-an-object", 2, error=r"config\.json: image config is not a JSON object")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()], config=b'["os", "linux"]')


@case("diff-ids-numbers", 2, error=r"rootfs\.diff_ids is not a list of digests")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()], config=json.dumps({"rootfs": {"diff_ids": [1]}}).encode())


def _numbers_as_strings(report: dict) -> None:
    assert report["layers"][0]["blob_bytes"] > 0
    assert report["summary"]["layers"] == 1
    assert report["layers"][0]["entries"] == {"f": 2}


@case("numbers-as-strings", 0, check=_numbers_as_strings)
def _(d: Path, full: bool) -> Path:
    blob = gz(simple_blob())
    blobs, index = oci_image([blob])
    manifest = json.loads(blobs[1])
    manifest["schemaVersion"] = "2"
    manifest["layers"][0]["size"] = str(len(blob))
    manifest["config"]["size"] = "12"
    new_manifest = json.dumps(manifest).encode()
    index["manifests"][0] = descriptor(ib.MT_MANIFEST, new_manifest, size=str(len(new_manifest)))
    index["schemaVersion"] = "2"
    return oci_archive(d / "image.tar", [blobs[0], new_manifest, blob], index)


@case(
    "repo-tags-a-number",
    0,
    check=lambda r: r["image"]["names"] == [],
)
def _(d: Path, full: bool) -> Path:
    manifest = json.dumps([{"Config": "config.json", "RepoTags": 5, "Layers": ["0/layer.tar"]}]).encode()
    return docker_archive(d / "image.tar", [simple_blob()], manifest=manifest)


@case(
    "config-history-a-number",
    0,
    check=lambda r: r["history"] == [],
)
def _(d: Path, full: bool) -> Path:
    blob = simple_blob()
    return docker_archive(d / "image.tar", [blob], config=config_json([sha256(blob)], history=12))


@case(
    "index-media-type-a-list",
    0,
    check=lambda r: r["summary"]["layers"] == 1,
)
def _(d: Path, full: bool) -> Path:
    blobs, index = oci_image([gz(simple_blob())])
    index["manifests"][0]["mediaType"] = ["application/vnd.oci.image.index.v1+json"]
    return oci_archive(d / "image.tar", blobs, index)


@case("manifest-names-missing-config", 2, error=r"^gone\.json: missing from the archive")
def _(d: Path, full: bool) -> Path:
    manifest = json.dumps([{"Config": "gone.json", "Layers": ["0/layer.tar"]}]).encode()
    return docker_archive(d / "image.tar", [simple_blob()], manifest=manifest)


@case("manifest-names-missing-layer", 2, error=r"layer blob 7/layer\.tar is missing from the archive")
def _(d: Path, full: bool) -> Path:
    manifest = json.dumps([{"Config": "config.json", "Layers": ["0/layer.tar", "7/layer.tar"]}]).encode()
    return docker_archive(d / "image.tar", [simple_blob()], manifest=manifest)


MISSING_DIGEST = "sha256:" + "ab" * 32


@case("index-names-missing-manifest", 2, error=rf"blob {MISSING_DIGEST} is not in the archive")
def _(d: Path, full: bool) -> Path:
    index = {"schemaVersion": 2, "manifests": [{"mediaType": ib.MT_MANIFEST, "digest": MISSING_DIGEST, "size": 9}]}
    return oci_archive(d / "image.tar", [], index)


@case("index-refers-to-itself", 2, error=r"image index refers to itself \(sha256:[0-9a-f]{64}\)")
def _(d: Path, full: bool) -> Path:
    # blob names are not checked against content, so an index blob can list its own name
    name = "aa" * 32
    body = json.dumps({"mediaType": ib.MT_INDEX, "manifests": [{"mediaType": ib.MT_INDEX, "digest": "sha256:" + name}]})
    index = {"manifests": [{"mediaType": ib.MT_INDEX, "digest": "sha256:" + name}]}
    return oci_archive(d / "image.tar", [], index, extra=(member("blobs/sha256/" + name, body.encode()),))


@case("index-nested-1000-deep", 2, error=r"image indexes nested more than 32 deep")
def _(d: Path, full: bool) -> Path:
    blobs, index = oci_image([gz(simple_blob())])
    top = index
    chain = []
    for _ in range(1000):
        body = json.dumps({"schemaVersion": 2, "mediaType": ib.MT_INDEX, "manifests": top["manifests"]}).encode()
        chain.append(body)
        top = {"manifests": [descriptor(ib.MT_INDEX, body)]}
    return oci_archive(d / "image.tar", blobs + chain, top)


@case(
    "json-nested-100000-deep",
    2,
    error=r"^manifest\.json: (malformed JSON|.*nested)",
)
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()], manifest=b"[" * 100_000 + b"]" * 100_000)


@case("manifest-lists-no-images", 2, error=r"the archive lists no images")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()], manifest=b"[]")


@case("index-malformed-digest", 2, error=r"malformed digest 'sha256:\.\./\.\./manifest\.json'")
def _(d: Path, full: bool) -> Path:
    index = {"manifests": [{"mediaType": ib.MT_MANIFEST, "digest": "sha256:../../manifest.json"}]}
    return oci_archive(d / "image.tar", [], index)


@case(
    "stream-json-member-over-512-bytes",
    0,
    check=lambda r: r["summary"]["layers"] == 1,
    notes="a ValueError from the tar-header sniffing, a traceback until c2df2b7",
)
def _(d: Path, full: bool) -> Path:
    blob = gz(simple_blob())
    config = config_json([_diff_id(blob)], config={"Env": [f"VAR{i}=value" for i in range(60)]})
    blobs, index = oci_image([blob], config)
    tar = oci_archive(d / "plain.tar", blobs, index).read_bytes()
    (d / "plain.tar").unlink()
    out = d / "image.tar.gz"
    out.write_bytes(gz(tar))
    return out


# --------------------------------------------------------------------------- digests


def _swapped_blob(d: Path) -> Path:
    """An OCI image whose layer blob was replaced: its name (digest) is stale, its diff_id is right."""
    original = gz(simple_blob())
    replacement = gz(layer(member("etc/passwd", b"evil:x:0:0\n"), member("bin/sh", b"#!/evil\n")))
    config = config_json([_diff_id(replacement)])
    blobs, index = oci_image([original], config)
    manifest = json.loads(blobs[1])
    manifest["layers"][0]["size"] = len(replacement)  # the size fits: only the digest is wrong
    blobs[1] = json.dumps(manifest).encode()
    index["manifests"][0] = descriptor(ib.MT_MANIFEST, blobs[1])
    parts = [
        member("blobs/sha256/" + hashlib.sha256(b).hexdigest(), replacement if b is original else b) for b in blobs
    ]
    parts += [member("index.json", json.dumps(index).encode())]
    out = d / "image.tar"
    out.write_bytes(b"".join(parts) + EOF_BLOCKS)
    (d / "digest").write_text(sha256(original))
    return out


def _stale_diff_id(d: Path) -> Path:
    blob = gz(simple_blob())
    blobs, index = oci_image([blob], config_json(["sha256:" + "0" * 64]))
    out = oci_archive(d / "image.tar", blobs, index)
    (d / "digest").write_text(sha256(blob))
    return out


def _has_evil(report: dict) -> None:
    assert report["layers"][0]["content_bytes"] == len(b"evil:x:0:0\n#!/evil\n")


@case("blob-content-does-not-match-digest", 0, check=_has_evil)
def _(d: Path, full: bool) -> Path:
    return _swapped_blob(d)


@case(
    "blob-content-does-not-match-digest-verify",
    2,
    args=("--verify",),
    error=r"^sha256:[0-9a-f]{64}: blob content does not match its digest \(sha256:[0-9a-f]{64}\)",
)
def _(d: Path, full: bool) -> Path:
    return _swapped_blob(d)


@case("diff-id-does-not-match", 0, check=lambda r: r["layers"][0]["diff_id"] == "sha256:" + "0" * 64)
def _(d: Path, full: bool) -> Path:
    return _stale_diff_id(d)


@case(
    "diff-id-does-not-match-verify",
    2,
    args=("--verify",),
    error=r"^sha256:[0-9a-f]{64}: uncompressed layer does not match its diff_id sha256:0{64}",
)
def _(d: Path, full: bool) -> Path:
    return _stale_diff_id(d)


# --------------------------------------------------------------------------- names


def _overwritten(d: Path, names: list[bytes], **kw: object) -> Path:
    """Layer 0 stores a file under each name, layer 1 stores it again: each name is a waste item."""
    first = layer(*(member(n, b"old content " * 10) for n in names))
    second = layer(*(member(n, b"new") for n in names))
    return docker_archive(d / "image.tar", [first, second], **kw)  # type: ignore[arg-type]


def _expect_waste(expected: set[str]) -> Callable[[dict], None]:
    def check(report: dict) -> None:
        assert waste_paths(report) == expected, waste_paths(report)

    return check


@case(
    "names-dot-dot-and-absolute",
    0,
    check=_expect_waste({"etc/passwd", "etc/shadow", "b", "tmp/x"}),
    human=human_has("/etc/passwd", "/etc/shadow", "/tmp/x"),
)
def _(d: Path, full: bool) -> Path:
    return _overwritten(d, [b"../../etc/passwd", b"/etc/shadow", b"./a/../../b", b"tmp/../../../../tmp/x"])


def _empty_names(report: dict) -> None:
    assert report["summary"]["stored_bytes"] == 5
    assert waste_paths(report) == set()


@case("names-empty", 0, check=_empty_names)
def _(d: Path, full: bool) -> Path:
    tar = layer(member(b"", b"nameless"), member(b"/", b"root?"), member(b"./", b"dot"), member("ok", b"12345"))
    return docker_archive(d / "image.tar", [tar])


LONG = "p" * 65536


@case("names-64-kib-pax-path", 0, check=_expect_waste({LONG}))
def _(d: Path, full: bool) -> Path:
    return _overwritten(d, [LONG.encode()])


MARKUP = ["[bold]bold", "[link=https://x]link", "[@click=app.quit]click", "[red]red[/red]", "[/]close", "\\[esc]"]


@case(
    "names-rich-and-textual-markup",
    0,
    check=_expect_waste({"/".join(p for p in n.split("/") if p) for n in MARKUP}),
    human=human_has("/[bold]bold", "/[@click=app.quit]click", "/[red]red[/red]", "/[link=https:/x]link", "/\\[esc]"),
    app=("[bold]bold", "[@click=app.quit]click", "\\[esc]"),
)
def _(d: Path, full: bool) -> Path:
    return _overwritten(d, [n.encode() for n in MARKUP])


CONTROL_NAMES = [
    "\x1b[31mred",
    "\x1b]0;title\x07",
    "\x1b]8;;https:x\x07hyper\x1b]8;;\x07",
    "csi\u009b2J",
    "bel\x07bs\x08",
    "cr\rlf\nx",
    "tab\tdel\x7f",
    "\u202eevil",
    "nul-free\x01\x02\x1f",
]


@case(
    "names-ansi-osc-and-control-bytes",
    0,
    check=_expect_waste(set(CONTROL_NAMES)),
    human=human_has("/\\x1b[31mred", "/\\x1b]0;title\\x07", "/cr\\x0dlf\\x0ax", "/csi\\x9b2J", "/\\u202eevil"),
    app=("\\x1b[31mred", "\\x1b]0;title\\x07", "cr\\x0dlf\\x0ax"),
)
def _(d: Path, full: bool) -> Path:
    return _overwritten(d, [n.encode() for n in CONTROL_NAMES])


BAD_UTF8 = [b"\xff\xfe", b"caf\xe9", b"\xc0\xaf-overlong", b"\xed\xa0\x80-surrogate"]


@case(
    "names-invalid-utf8",
    0,
    check=_expect_waste({n.decode("utf-8", "surrogateescape") for n in BAD_UTF8}),
    human=human_has("/\\xff\\xfe", "/caf\\xe9", "/\\xc0\\xaf-overlong"),
    app=("\\xff\\xfe", "caf\\xe9"),
)
def _(d: Path, full: bool) -> Path:
    return _overwritten(d, BAD_UTF8)


@case(
    "hostile-tags-and-history",
    0,
    check=lambda r: r["image"]["names"] == ["\x1b]0;pwned\x07[bold]tag"],
    human=human_has("\\x1b]0;pwned\\x07[bold]tag", "RUN \\x1b[2Jrm -rf [bold]/"),
)
def _(d: Path, full: bool) -> Path:
    blob = simple_blob()
    return docker_archive(
        d / "image.tar",
        [blob],
        tags=["\x1b]0;pwned\x07[bold]tag"],
        history=[{"created_by": "/bin/sh -c \x1b[2Jrm -rf [bold]/"}],
    )


@case(
    "hostile-platform-in-config",
    0,
    check=lambda r: r["image"]["platform"] == "\x1b[31mlinux/[bold]amd64",
    human=human_has("\\x1b[31mlinux/[bold]amd64"),
)
def _(d: Path, full: bool) -> Path:
    blob = simple_blob()
    config = json.dumps(
        {"os": "\x1b[31mlinux", "architecture": "[bold]amd64", "rootfs": {"type": "layers", "diff_ids": [sha256(blob)]}}
    ).encode()
    return docker_archive(d / "image.tar", [blob], config=config)


@case(
    "error-message-with-hostile-config-name",
    2,
    error=r"missing from the archive",
)
def _(d: Path, full: bool) -> Path:
    manifest = json.dumps([{"Config": "\x1b]0;owned\x07\x1b[2J\nfake: line", "Layers": []}]).encode()
    return docker_archive(d / "image.tar", [], manifest=manifest)


@case(
    "error-message-with-hostile-entry-name",
    2,
    error=r"layer tar truncated inside",
)
def _(d: Path, full: bool) -> Path:
    tar = member("\x1b[31mevil\x07", b"E" * 4000)
    return docker_archive(d / "image.tar", [tar[:2000]], config=config_json())


def _layout_dir(d: Path, config_name: str) -> Path:
    """An unpacked `docker save` directory whose manifest names `config_name`."""
    root = d / "layout"
    (root / "0").mkdir(parents=True)
    (root / "0" / "layer.tar").write_bytes(simple_blob())
    (root / "config.json").write_bytes(config_json())
    manifest = [{"Config": config_name, "Layers": ["0/layer.tar"]}]
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@case(
    "directory-config-name-with-nul",
    2,
    error=r"(missing from the archive|not a valid)",
)
def _(d: Path, full: bool) -> Path:
    return _layout_dir(d, "config\u0000.json".encode().decode("unicode_escape"))


@case(
    "directory-config-name-too-long",
    2,
    error=r"(missing from the archive|not a valid)",
)
def _(d: Path, full: bool) -> Path:
    return _layout_dir(d, "c" * 5000 + ".json")


# --------------------------------------------------------------------------- links and whiteouts


@case("hard-link-loop", 0, warning=r"hard link (a|b|c) -> (a|b|c): target is not a regular file")
def _(d: Path, full: bool) -> Path:
    tar = layer(
        member("a", typeflag=b"1", link=b"b"),
        member("b", typeflag=b"1", link=b"a"),
        member("c", typeflag=b"1", link=b"c"),
    )
    return docker_archive(d / "image.tar", [tar])


@case("hard-link-to-missing-target", 0, warning=r"hard link bin/ls -> bin/busybox: target is not a regular file")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [layer(member("bin/ls", typeflag=b"1", link=b"bin/busybox"))])


def _symlinks(report: dict) -> None:
    assert report["layers"][0]["entries"] == {"l": 4}
    assert report["warnings"] == []


@case("symlink-loops", 0, check=_symlinks)
def _(d: Path, full: bool) -> Path:
    tar = layer(
        member("a", typeflag=b"2", link=b"b"),
        member("b", typeflag=b"2", link=b"a"),
        member("self", typeflag=b"2", link=b"self"),
        member("up", typeflag=b"2", link=b"../../../../up"),
    )
    return docker_archive(d / "image.tar", [tar])


def _through_symlinks(report: dict) -> None:
    # the files replace the symlinks with (implicit) directories: nothing is followed
    assert report["layers"][1]["changes"] == {
        "added": 2, "modified": 0, "restored": 0, "type_changed": 2, "deleted": 0
    }  # fmt: skip
    assert report["warnings"] == []


@case("symlink-escapes-then-files-through-them", 0, check=_through_symlinks)
def _(d: Path, full: bool) -> Path:
    """`extract` of layer 0 then of layer 1's changes into one DIR must write nowhere else."""
    first = layer(member("abs", typeflag=b"2", link=b"/tmp"), member("rel", typeflag=b"2", link=b"../../../.."))
    second = layer(member("abs/escaped-abs", b"pwned\n"), member("rel/escaped-rel", b"pwned\n"))
    return docker_archive(d / "image.tar", [first, second])


def _nothing_deleted(report: dict) -> None:
    assert report["layers"][1]["changes"]["deleted"] == 0
    assert report["summary"]["wasted_bytes"] == 0


@case("whiteout-of-a-path-that-never-existed", 0, check=_nothing_deleted)
def _(d: Path, full: bool) -> Path:
    first = layer(member("etc/passwd", b"root\n"))
    second = layer(member("nope/.wh.ghost", b""), member(".wh.phantom", b""), member("etc/.wh.shadow", b""))
    return docker_archive(d / "image.tar", [first, second])


def _root_opaque(report: dict) -> None:
    assert report["summary"]["visible_bytes"] == 3
    assert report["summary"]["wasted_by_cause"]["deleted"] == 5 + 3000
    assert waste_paths(report) == {"etc/passwd", "bin/sh"}


@case("opaque-marker-at-the-root", 0, check=_root_opaque)
def _(d: Path, full: bool) -> Path:
    first = layer(member("etc/passwd", b"root\n"), member("bin/sh", b"S" * 3000))
    second = layer(member(".wh..wh..opq", b""), member("new", b"new"))
    return docker_archive(d / "image.tar", [first, second])


def _file_dir_file(report: dict) -> None:
    layers = report["layers"]
    assert layers[1]["changes"]["type_changed"] == 1
    assert layers[2]["changes"]["type_changed"] == 1
    assert {(w["path"], w["bytes"], w["stored_in"], w["hidden_by"]) for w in report["waste"]} == {
        ("a", 100, 0, 1),
        ("a/x", 50, 1, 2),
    }
    assert report["summary"]["visible_bytes"] == 10


@case("file-replaced-by-a-directory-and-back", 0, check=_file_dir_file)
def _(d: Path, full: bool) -> Path:
    return docker_archive(
        d / "image.tar",
        [
            layer(member("a", b"A" * 100)),
            layer(member("a/", typeflag=b"5"), member("a/x", b"X" * 50)),
            layer(member("a", b"B" * 10)),
        ],
    )


@case("outer-symlink-loop-for-a-layer", 2, error=r"layer blob 0/layer\.tar is missing from the archive")
def _(d: Path, full: bool) -> Path:
    extra = [member("1/layer.tar", typeflag=b"2", link=b"../0/layer.tar")]
    manifest = json.dumps([{"Config": "config.json", "Layers": ["0/layer.tar", "1/layer.tar"]}]).encode()
    parts = [member("config.json", config_json()), member("0/layer.tar", typeflag=b"2", link=b"../1/layer.tar")]
    out = d / "image.tar"
    out.write_bytes(b"".join(parts + extra) + member("manifest.json", manifest) + EOF_BLOCKS)
    return out


# --------------------------------------------------------------------------- resource bombs


def _gzip_zeros(size: int) -> bytes:
    """A gzip member holding `size` zero bytes, made without compressing them all:
    one 16 MiB raw-deflate block (flushed, so it needs no history) repeated."""
    chunk = 16 * MiB
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, chunk)
    tail_comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = tail_comp.compress(bytes(rest)) + tail_comp.flush()
    crc, zeros = 0, bytes(chunk)
    for _ in range(count):
        crc = isal_zlib.crc32(zeros, crc)
    crc = isal_zlib.crc32(bytes(rest), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + block * count + tail + trailer


def _zstd_zeros(size: int) -> bytes:
    chunk = 64 * MiB
    comp = zstandard.ZstdCompressor(level=1)
    count, rest = divmod(size, chunk)
    return comp.compress(bytes(chunk)) * count + comp.compress(bytes(rest))


def zero_file_layer(size: int, compression: str) -> bytes:
    """The realistic bomb: one tar entry of `size` zero bytes, compressed (gzip members / zstd frames)."""
    head = raw_header(b"zeros", size)
    tail = b"\0" * (-size % 512) + EOF_BLOCKS
    if compression == "gzip":
        return gz(head) + _gzip_zeros(size) + gz(tail)
    return zst(head) + _zstd_zeros(size) + zst(tail)


BOMB_CI, BOMB_FULL = GiB + 256 * MiB, 16 * GiB


def _bomb(d: Path, full: bool, compression: str) -> Path:
    size = BOMB_FULL if full else BOMB_CI
    (d / "size").write_text(str(size))
    return docker_archive(d / "image.tar", [zero_file_layer(size, compression)], config=config_json())


def _zeros_read(report: dict) -> None:
    layer0 = report["layers"][0]
    assert layer0["content_bytes"] == layer0["tar_bytes"] - 512 - 1024 - (-layer0["content_bytes"] % 512)
    assert layer0["content_bytes"] in (BOMB_CI, BOMB_FULL)


@case("gzip-bomb-of-zeros", 0, check=_zeros_read, bomb=True, timeout=60, notes="gzip inflates ~1030x: under 2000x")
def _(d: Path, full: bool) -> Path:
    return _bomb(d, full, "gzip")


@case("gzip-bomb-ratio-limit", 2, args=("--max-ratio", "100"), error=r"inflates more than 100x", bomb=True, timeout=60)
def _(d: Path, full: bool) -> Path:
    return _bomb(d, full, "gzip")


@case(
    "zstd-bomb-of-zeros",
    2,
    error=r"^0/layer\.tar: inflates more than 2000x \(a decompression bomb",
    bomb=True,
    timeout=60,
)
def _(d: Path, full: bool) -> Path:
    return _bomb(d, full, "zstd")


def tiny_entries(names: list[bytes] | None, count: int, prefix: bytes = b"f") -> bytes:
    """A tar of `count` empty files, headers made from one template (fast at a million)."""
    template = bytearray(raw_header(b"", 0))
    template[148:156] = b" " * 8
    base = sum(template)
    parts = []
    for i in range(count):
        name = names[i] if names else prefix + b"%07d" % i
        h = bytearray(template)
        h[0 : len(name)] = name
        h[148:156] = b"%06o\0 " % (base + sum(name))
        parts.append(bytes(h))
    parts.append(EOF_BLOCKS)
    return b"".join(parts)


def _compress_fast(tar: bytes) -> bytes:
    from isal import igzip

    return igzip.compress(tar, compresslevel=1)


def _entries(n: int) -> Callable[[dict], None]:
    def check(report: dict) -> None:
        assert report["layers"][0]["entries"] == {"f": n}

    return check


MANY_CI, MANY_FULL = 30_000, 1_000_000


@case(
    "million-tiny-entries-limit",
    2,
    args=("--max-entries", "10000"),
    error=r"more than 10000 entries \(raise it with --max-entries\)",
    bomb=True,
)
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [_compress_fast(tiny_entries(None, MANY_FULL if full else MANY_CI))])


@case(
    "million-tiny-entries",
    0,
    check=lambda r: sum(r["layers"][0]["entries"].values()) in (MANY_CI, MANY_FULL),
    bomb=True,
    timeout=60,
)
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [_compress_fast(tiny_entries(None, MANY_FULL if full else MANY_CI))])


WIDE_CI, WIDE_FULL = 20_000, 200_000


@case(
    "directory-with-200000-children",
    0,
    check=lambda r: r["layers"][0]["changes"]["added"] in (WIDE_CI + 1, WIDE_FULL + 1),
    bomb=True,
    timeout=60,
)
def _(d: Path, full: bool) -> Path:
    return docker_archive(
        d / "image.tar", [_compress_fast(tiny_entries(None, WIDE_FULL if full else WIDE_CI, b"wide/c"))]
    )


def _many_layers(d: Path, count: int) -> Path:
    blobs = [layer(member("f", b"%d" % i)) for i in range(count)]
    return docker_archive(d / "image.tar", blobs)


LAYERS_CI, LAYERS_FULL = 600, 10_000


@case(
    "ten-thousand-layers-limit",
    2,
    args=("--max-layers", "500"),
    error=r"^\d+ layers, more than 500 \(raise it with --max-layers\)",
    bomb=True,
)
def _(d: Path, full: bool) -> Path:
    return _many_layers(d, LAYERS_FULL if full else LAYERS_CI)


@case(
    "ten-thousand-layers", 0, check=lambda r: r["summary"]["layers"] in (LAYERS_CI, LAYERS_FULL), bomb=True, timeout=60
)
def _(d: Path, full: bool) -> Path:
    return _many_layers(d, LAYERS_FULL if full else LAYERS_CI)


@case(
    "negative-size-extended-header-in-a-bomb",
    2,
    error=r"^0/layer\.tar: (malformed|negative|extended)",
    bomb=True,
    timeout=60,
)
def _(d: Path, full: bool) -> Path:
    h = bytearray(raw_header(b"PaxHeaders/x", 0, b"x"))
    h[124:136] = b"\xff" * 12  # base-256 -1
    fix_checksum(h)
    size = 8 * GiB if full else 600 * MiB
    blob = gz(bytes(h)) + zero_file_layer(size, "gzip")
    return docker_archive(d / "image.tar", [blob], config=config_json())


@case(
    "stream-with-many-large-members",
    0,
    check=lambda r: r["summary"]["layers"] == 1,
    bomb=True,
    timeout=60,
    full_rss_mb=1024,
)
def _(d: Path, full: bool) -> Path:
    blob = simple_blob()
    count = 64 if full else 12
    junk_size = 60 * MiB
    valid = docker_archive(d / "plain.tar", [blob]).read_bytes()
    (d / "plain.tar").unlink()
    out = d / "image.tar.gz"
    with out.open("wb") as f:
        f.write(gz(valid[: -len(EOF_BLOCKS)]))
        for i in range(count):
            f.write(gz(raw_header(b"junk/%d" % i, junk_size)))
            f.write(_gzip_of_repeated(b"0", junk_size))
        f.write(gz(EOF_BLOCKS))
    return out


def _gzip_of_repeated(byte: bytes, size: int) -> bytes:
    chunk = 4 * MiB
    data = byte * chunk
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(data) + comp.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, chunk)
    tail_comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = tail_comp.compress(byte * rest) + tail_comp.flush()
    crc = 0
    for _ in range(count):
        crc = isal_zlib.crc32(data, crc)
    crc = isal_zlib.crc32(byte * rest, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * count + tail + crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")


OUTER_CHAIN_CI, OUTER_CHAIN_FULL = 30_000, 100_000


@case(
    "outer-symlink-chain",
    0,
    check=lambda r: r["summary"]["layers"] == 1,
    bomb=True,
    timeout=10,
    full_timeout=120,
)
def _(d: Path, full: bool) -> Path:
    count = OUTER_CHAIN_FULL if full else OUTER_CHAIN_CI
    links = [member(f"l{i}", typeflag=b"2", link=(f"l{i - 1}" if i else "0/layer.tar").encode()) for i in range(count)]
    return docker_archive(d / "image.tar", [simple_blob()], extra=tuple(links))


CHAIN_CI, CHAIN_FULL = 20_000, 100_000


@case(
    "hard-link-chain",
    0,
    check=lambda r: r["layers"][0]["entries"] in ({"f": 1, "h": CHAIN_CI - 1}, {"f": 1, "h": CHAIN_FULL - 1}),
    bomb=True,
    timeout=10,
    full_timeout=120,
)
def _(d: Path, full: bool) -> Path:
    count = CHAIN_FULL if full else CHAIN_CI
    names = [b"f0"] + [b"h%d" % i for i in range(1, count)]
    parts = [member("f0", b"data")]
    parts += [entry(names[i], typeflag=b"1", link=names[i - 1]) for i in range(1, count)]
    return docker_archive(d / "image.tar", [_compress_fast(b"".join(parts) + EOF_BLOCKS)])


@case(
    "deep-path",
    0,
    warning=r"a path deeper than 256 directories skipped",
    check=lambda r: r["summary"]["stored_bytes"] == 1,
    bomb=True,
    timeout=30,
)
def _(d: Path, full: bool) -> Path:
    """No runtime could create it (PATH_MAX is 4096): the deep file is skipped, the rest is read."""
    depth = 100_000 if full else 30_000
    return docker_archive(d / "image.tar", [layer(member(b"a/" * depth + b"f", b"x"), member(b"ok", b"y"))])


# --------------------------------------------------------------------------- odd but valid tars (issue 10)


def _stored(total: int) -> Callable[[dict], None]:
    def check(report: dict) -> None:
        assert report["summary"]["stored_bytes"] == total, report["summary"]

    return check


@case(
    "umoci-layer-without-padding-or-end-blocks",
    0,
    warning=r"^0/layer\.tar: ends without tar padding/end blocks$",
    check=_stored(3 + 1000),
)
def _(d: Path, full: bool) -> Path:
    """umoci 0.4 never closes its tar writer: the layer ends right after the last file's data."""
    tar = member("etc/a", b"abc") + raw_header(b"etc/b", 1000) + b"B" * 1000
    return docker_archive(d / "image.tar", [gz(tar)])


def _nothing_whited_out(report: dict) -> None:
    assert report["waste"] == [] and report["summary"]["visible_bytes"] == 5
    assert report["layers"][1]["changes"]["deleted"] == 0


@case(
    "whiteout-with-an-empty-name",
    0,
    warning=r"^1/layer\.tar: whiteout without a name ignored: (dir/)?\.wh\.$",
    check=_nothing_whited_out,
)
def _(d: Path, full: bool) -> Path:
    """`.wh.` alone would whiteout the root, `dir/.wh.` its directory: malformed, ignored."""
    lower = layer(member("dir/", typeflag=b"5"), member("dir/x", b"12"), member("y", b"345"))
    return docker_archive(d / "image.tar", [lower, layer(member(".wh."), member("dir/.wh."))])


@case(
    "lone-zero-block-then-more-entries",
    0,
    warning=r"^0/layer\.tar: a lone zero block at byte 1024: read on past it$",
    check=_stored(1 + 4000),
)
def _(d: Path, full: bool) -> Path:
    """GNU tar warns and reads on; what follows the lone block (4,000 bytes) counts."""
    return docker_archive(d / "image.tar", [member("a", b"1") + bytes(512) + layer(member("b", b"b" * 4000))])


def _names_kept(report: dict) -> None:
    assert report["layers"][0]["entries"] == {"f": 2}
    assert report["summary"]["stored_bytes"] == 3


@case(
    "pax-global-header-with-a-path",
    0,
    warning=r"^0/layer\.tar: PAX global header ignored \(as containerd and Docker ignore it\)$",
    check=_names_kept,
)
def _(d: Path, full: bool) -> Path:
    """A global `path` would rename every following entry; runtimes ignore global headers."""
    tar = pax_block([(b"path", b"etc/shadow")], b"g") + layer(member("a", b"1"), member("b", b"22"))
    return docker_archive(d / "image.tar", [tar])


@case("zstd-layer-starting-with-a-skippable-frame", 0, check=_stored(len(b"root:x:0:0\n" * 30) + 256 * 20))
def _(d: Path, full: bool) -> Path:
    skippable = (0x184D2A50).to_bytes(4, "little") + (8).to_bytes(4, "little") + b"metadata"
    return docker_archive(d / "image.tar", [skippable + zst(simple_blob())])


@case("zstd-frame-stating-a-wrong-content-size", 2, error=r"^0/layer\.tar: corrupt zstd data")
def _(d: Path, full: bool) -> Path:
    """The frame index trusts each frame's stated content size; the decompressor checks it."""
    blob = simple_blob()
    first = bytearray(zst(blob[:2048]))
    assert first[4] >> 6 == 1 and first[4] >> 5 & 1  # one segment, a 2-byte size (minus 256)
    first[5:7] = (int.from_bytes(first[5:7], "little") + 100).to_bytes(2, "little")
    return docker_archive(d / "image.tar", [bytes(first) + zst(blob[2048:])])


def _v7_dir(report: dict) -> None:
    assert report["layers"][0]["entries"] == {"d": 1, "f": 1}


@case("v7-directory", 0, check=_v7_dir)
def _(d: Path, full: bool) -> Path:
    """Typeflag NUL with a name ending in "/": a directory, as tarfile, Go and GNU tar read it."""
    return docker_archive(d / "image.tar", [layer(member("dir/", typeflag=b"\0"), member("dir/f", b"x", b"\0"))])


def _minus_one(report: dict) -> None:
    assert report["summary"]["stored_bytes"] == 1


@case("negative-base-256-mtime", 0, check=_minus_one)
def _(d: Path, full: bool) -> Path:
    h = bytearray(raw_header(b"old", 1))
    h[136:148] = b"\xff" * 12  # -1, two's complement
    fix_checksum(h)
    return docker_archive(d / "image.tar", [bytes(h) + pad(b"x") + EOF_BLOCKS])


def _docker25_disagreeing(d: Path) -> Path:
    """Docker 25+ archive whose index.json manifest lists the layers in another order."""
    one, two = layer(member("a", b"1" * 700)), layer(member("b", b"2" * 1500), member("c", b"3"))
    config = config_json([sha256(one), sha256(two)])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": ib.MT_MANIFEST,
            "config": descriptor(ib.MT_CONFIG, config),
            "layers": [descriptor(ib.MT_LAYER_TAR, two), descriptor(ib.MT_LAYER_TAR, one)],
        }
    ).encode()
    index = {"schemaVersion": 2, "manifests": [descriptor(ib.MT_MANIFEST, manifest)]}
    hexes = {name: hashlib.sha256(data).hexdigest() for name, data in (("config", config), ("one", one), ("two", two))}
    docker = [
        {
            "Config": f"blobs/sha256/{hexes['config']}",
            "RepoTags": ["d25:latest"],
            "Layers": [f"blobs/sha256/{hexes['one']}", f"blobs/sha256/{hexes['two']}"],
        }
    ]
    extra = (member("manifest.json", json.dumps(docker).encode()),)
    return oci_archive(d / "image.tar", [config, manifest, one, two], index, extra)


def _manifest_json_order(report: dict) -> None:
    assert [layer["entries"] for layer in report["layers"]] == [{"f": 1}, {"f": 2}]
    assert [layer["media_type"] for layer in report["layers"]] == [ib.MT_LAYER_TAR] * 2
    assert not any("descriptor says" in w for w in report["warnings"])


DISAGREE = r"^manifest\.json and index\.json list different layers for d25:latest; manifest\.json's are used"


@case("docker25-manifest-and-index-disagree", 0, warning=DISAGREE, check=_manifest_json_order)
def _(d: Path, full: bool) -> Path:
    """Sizes and media types are matched by digest, not by position; docker load uses manifest.json."""
    return _docker25_disagreeing(d)


@case("docker25-manifest-and-index-disagree-verified", 0, args=("--verify",), warning=DISAGREE)
def _(d: Path, full: bool) -> Path:
    return _docker25_disagreeing(d)


def _two_images(d: Path) -> Path:
    return ib.write_docker_archive(
        [
            ib.Image([ib.Layer([ib.F("who", b"alpha")])], tags=["alpha:1"]),
            ib.Image([ib.Layer([ib.F("who", b"beta!")])], tags=["beta:2", "beta:latest"]),
        ],
        d / "image.tar",
    )


@case(
    "two-images-and-no-image-option",
    0,
    warning=r"^the archive holds 2 images: showing alpha:1 \(choose with --image\); the others: beta:2, beta:latest$",
    check=lambda r: r["image"]["names"] == ["alpha:1"],
)
def _(d: Path, full: bool) -> Path:
    return _two_images(d)


@case("two-images-one-chosen", 0, args=("--image", "beta:2"), check=lambda r: r["warnings"] == [])
def _(d: Path, full: bool) -> Path:
    return _two_images(d)


@case("top-negative", 2, args=("--top", "-1"), error=r"^--top must be 0 or more, not -1$")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()])


@case("max-entries-negative", 2, args=("--max-entries", "-5"), error=r"^--max-entries must be 1 or more, not -5$")
def _(d: Path, full: bool) -> Path:
    return docker_archive(d / "image.tar", [simple_blob()])


def _reused(report: dict) -> None:
    layers = report["layers"]
    assert [layer["content_bytes"] for layer in layers] == [3, 0, 3]
    assert layers[0]["digest"] is None and layers[1]["blob_bytes"] == 0
    assert report["waste"] == [{"path": "a", "bytes": 3, "cause": "restored", "stored_in": 0, "hidden_by": 2}]


@case("blob-used-twice-and-an-empty-blob", 0, check=_reused)
def _(d: Path, full: bool) -> Path:
    """The same layer tar twice (a symlink, as `docker save` writes it) and a 0-byte layer."""
    blob = layer(member("a", b"abc"))
    names = ["0/layer.tar", "1/layer.tar", "2/layer.tar"]
    config = config_json([sha256(blob), sha256(b""), sha256(blob)])
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["reuse:1"], "Layers": names}]).encode()
    parts = [member("config.json", config), member("0/layer.tar", blob), member("1/layer.tar", b"")]
    parts += [member("2/layer.tar", typeflag=b"2", link=b"../0/layer.tar"), member("manifest.json", manifest)]
    out = d / "image.tar"
    out.write_bytes(b"".join(parts) + EOF_BLOCKS)
    return out


# --------------------------------------------------------------------------- running the CLI


_RUNNER = (
    "import atexit, os, resource, runpy, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "def hwm():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kb = next(line.split()[1] for line in f if line.startswith('VmHWM:'))\n"
    "    with open(os.environ['LAYERSCOPE_HWM_FILE'], 'w') as f:\n"
    "        f.write(kb)\n"
    "atexit.register(hwm)\n"
    "sys.argv[0] = 'layerscope'\n"
    "runpy.run_module('explorer', run_name='__main__', alter_sys=True)\n"
)


@dataclass
class Run:
    argv: list[str]
    code: int | None  # None: killed at the timeout
    stdout: bytes
    stderr: bytes
    seconds: float
    peak_rss_kb: int  # the larger of: the group's summed RSS (polled), the main process's VmHWM at exit
    timed_out: bool = False


def _group_rss_kb(pgid: int) -> int:
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[2]) == pgid:  # field 5: pgrp
                total += int(fields[21]) * (resource.getpagesize() // 1024)  # field 24: rss in pages
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_cli(args: list[str], cwd: Path, timeout: float, as_limit: int, env: dict | None = None) -> Run:
    """`python -m explorer ARGS` in its own session, with stdout/stderr to files, killed at the timeout."""
    out_path, err_path = cwd.parent / f"{cwd.name}.out", cwd.parent / f"{cwd.name}.err"
    hwm_path = cwd.parent / f"{cwd.name}.hwm"
    hwm_path.unlink(missing_ok=True)
    full_env = dict(
        os.environ, NO_COLOR="1", COLUMNS="200", TERM="dumb", PYTHONPATH=str(ROOT), LAYERSCOPE_HWM_FILE=str(hwm_path)
    )
    full_env.update(env or {})
    argv = [sys.executable, "-c", _RUNNER, str(as_limit), *args]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        began = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=full_env, start_new_session=True
        )
        peak, status, timed_out = 0, None, False
        interval = 0.01
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _group_rss_kb(proc.pid))
            if time.monotonic() - began > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, _ = os.wait4(proc.pid, 0)
                break
            time.sleep(interval)
            interval = min(interval * 1.5, 0.1)
        seconds = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        with_children = _group_rss_kb(proc.pid)  # any worker left behind still counts
        if with_children:
            os.killpg(proc.pid, signal.SIGKILL)
    code = None if timed_out else proc.returncode
    # (not wait4's ru_maxrss: it keeps the high-water mark from before exec, i.e. pytest's own RSS)
    hwm = int(hwm_path.read_text()) if hwm_path.exists() else 0
    peak = max(peak, hwm, with_children)
    return Run(argv[3:], code, out_path.read_bytes(), err_path.read_bytes(), seconds, peak, timed_out)


def fingerprint(path: Path) -> dict[str, tuple[str, int, int]]:
    """sha256, size and mtime of the input (every file, for a directory)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = {}
    for f in files:
        h = hashlib.sha256()
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        st = f.stat()
        out[str(f)] = (h.hexdigest(), st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Outcome:
    case: Case
    image: Path
    before: dict
    after: dict
    cwd_left: list[str]
    runs: dict[str, Run] = field(default_factory=dict)  # "human", "json"
    build_seconds: float = 0.0


def run_case(c: Case, workdir: Path, full: bool = False) -> Outcome:
    """Build the case's input and run the CLI on it (human report; also --json for exit 0)."""
    timeout, rss_mb = c.limits(full)
    d = workdir / c.name
    (d / "in").mkdir(parents=True, exist_ok=True)
    cwd = d / "cwd"
    cwd.mkdir(exist_ok=True)
    began = time.monotonic()
    image = c.build(d / "in", full and c.bomb)
    build_seconds = time.monotonic() - began
    before = fingerprint(image)
    as_limit = max(4 * GiB, 3 * rss_mb * MiB)
    outcome = Outcome(c, image, before, {}, [], build_seconds=build_seconds)
    modes = ["human", "json"] if c.exit == 0 else ["human"]
    for mode in modes:
        args = ["report", str(image), *c.args] + (["--json"] if mode == "json" else [])
        outcome.runs[mode] = run = run_cli(args, cwd, timeout, as_limit)
        if run.timed_out and c.bug:
            break  # a known hang: once is enough
    outcome.after = fingerprint(image)
    outcome.cwd_left = sorted(os.listdir(cwd))
    return outcome


# --------------------------------------------------------------------------- the checks

_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def check_outcome(o: Outcome, full: bool = False) -> None:
    """Every property of a case's runs; raises AssertionError naming the first that fails."""
    c = o.case
    timeout, rss_mb = c.limits(full)
    assert o.after == o.before, "the input changed"
    assert o.cwd_left == [], f"files appeared in the working directory: {o.cwd_left}"
    for mode, run in o.runs.items():
        stderr = run.stderr.decode("utf-8", "replace")
        assert not run.timed_out, f"{mode}: still running after {timeout} s"
        assert "Traceback" not in stderr, f"{mode}: traceback:\n{stderr[-3000:]}"
        assert run.peak_rss_kb < rss_mb * 1024, f"{mode}: peak RSS {run.peak_rss_kb // 1024} MiB over {rss_mb} MiB"
        assert b"\x1b" not in run.stdout, f"{mode}: ESC on stdout"
        stdout = run.stdout.decode("utf-8", "replace")
        bad = _CONTROL.search(stdout)
        assert not bad, f"{mode}: control character {bad.group()!r} on stdout"
        if c.exit == 2:
            assert run.code == 2, f"{mode}: exit {run.code}, expected 2; stderr: {stderr[-2000:]}"
            assert run.stdout == b"", f"{mode}: stdout not empty"
            lines = stderr.splitlines()
            assert len(lines) == 1, f"{mode}: expected one stderr line, got {lines!r}"
            line = lines[0]
            assert line.startswith("layerscope: "), line
            bad = _CONTROL.search(line)
            assert not bad, f"{mode}: control character {bad.group()!r} in the error line {line!r}"
            assert c.error and re.search(c.error, line.removeprefix("layerscope: ")), f"{line!r} !~ {c.error!r}"
        else:
            assert run.code == 0, f"{mode}: exit {run.code}, expected 0; stderr: {stderr[-2000:]}"
            assert stderr == "", f"{mode}: stderr: {stderr[-2000:]}"
            if mode == "json":
                report = json.loads(run.stdout)
                if c.warning:
                    assert any(re.search(c.warning, w) for w in report["warnings"]), report["warnings"]
                if c.check:
                    c.check(report)
            elif c.human:
                c.human(stdout)


# --------------------------------------------------------------------------- full-size bombs, by hand


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run corpus cases through the CLI; print outcome, time and peak RSS.")
    parser.add_argument("names", nargs="*", help="case names (default: every bomb)")
    parser.add_argument("--full", action="store_true", help="full sizes (as LAYERSCOPE_FULL_BOMBS=1)")
    parser.add_argument("--workdir", default=None, help="where inputs go (default: a temporary directory)")
    args = parser.parse_args(argv)
    import tempfile

    chosen = [c for c in CASES if (c.name in args.names if args.names else c.bomb)]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for c in chosen:
            o = run_case(c, Path(tmp), args.full)
            try:
                check_outcome(o, args.full)
                verdict = "as expected"
            except AssertionError as exc:
                verdict = f"NOT as expected: {str(exc).splitlines()[0][:200]}"
            for mode, run in o.runs.items():
                err = run.stderr.decode("utf-8", "replace").strip().splitlines()
                print(
                    f"{c.name:45} {mode:5} exit={run.code} {run.seconds:7.1f}s peak={run.peak_rss_kb / 1024:8.0f} MiB"
                    f" input={o.image.stat().st_size / MiB:8.1f} MiB build={o.build_seconds:5.1f}s"
                    f"  {(err[-1] if err else '')[:110]}",
                    flush=True,
                )
            print(f"{'':45} -> {verdict}" + (f"  [{c.bug[:60]}...]" if c.bug else ""), flush=True)
            for p in Path(tmp, c.name).rglob("*"):
                if p.is_file():
                    p.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
