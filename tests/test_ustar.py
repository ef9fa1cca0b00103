"""The compiled header reader (`explorer/archive/_ustar.c`) reads exactly what the Python reader
reads: every layer read both ways, on real and built images, on the structured fuzzer's
mutated layer tars and on hostile header fields, with chunk edges anywhere, must give the same
rows, file offsets, warnings, kept package metadata, error and trailing bytes."""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import pytest

from explorer.archive import tarstream
from explorer.archive.capture import Capture
from explorer.archive.errors import CorruptBlob
from explorer.archive.limits import DEFAULT_LIMITS
from tests.hostile import fuzz
from tests.imagebuilder import F, Layer, layer_tar

COMPILED = tarstream._ustar
pytestmark = pytest.mark.skipif(COMPILED is None, reason="the C header reader is not built (pip install -e .)")
REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata"


def _chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """`data` cut at random places: whole, in blocks, at odd sizes, or a byte at a time near the start."""
    style = rng.randrange(4)
    if style == 0:
        return [data]
    chunks, pos = [], 0
    while pos < len(data):
        n = rng.choice([512, 1024, 4096, 1 << 20]) if style == 1 else rng.randrange(1, 3000)
        chunks.append(data[pos : pos + n])
        pos += n
    return chunks


def _read(chunks: list[bytes], compiled: object, max_entries: int) -> tuple:
    """Everything a scan keeps of one read of a layer tar."""
    old = tarstream._ustar
    tarstream._ustar = compiled  # type: ignore[assignment]
    try:
        offsets, capture = array("Q"), Capture(DEFAULT_LIMITS.capture)
        reader = tarstream.TarReader(chunks, "layer", max_entries=max_entries, capture=capture, file_offsets=offsets)
        error = None
        batches = []
        try:
            batches = [list(batch) for batch in reader.batches(7)]
            rest = b"".join(reader.rest())
        except CorruptBlob as exc:
            error, rest = str(exc), None
        return (
            batches,
            list(offsets),
            reader.warnings,
            reader.sparse,
            capture.files,
            capture.heads,
            capture.used,
            capture.skipped,
            error,
            rest,
            reader.offset,
        )
    finally:
        tarstream._ustar = old  # type: ignore[assignment]


def _same_both_ways(tar: bytes, rng: random.Random, max_entries: int = DEFAULT_LIMITS.max_entries) -> tuple:
    chunks = _chunked(tar, rng)
    compiled = _read(chunks, COMPILED, max_entries)
    assert compiled == _read(chunks, None, max_entries)
    return compiled


def _layer_tars() -> list[bytes]:
    """The uncompressed layer tars of the fuzzer's seed images (every writer and format)."""
    return [m.tar for seed in fuzz.build_seeds() for m in seed.members if m.tar is not None]


def test_the_compiled_reader_takes_plain_headers() -> None:
    """It is used at all: a run of plain entries is read by it, up to what it leaves to Python."""
    entries = [F("etc/", kind="dir"), F("etc/hosts", b"x" * 600), F("link", kind="symlink", link="etc/hosts")]
    tar = layer_tar(Layer([*entries, F("etc/.wh.old", b""), F("later", b"")]))
    consts = tarstream._fast_consts((), ())
    rows, pos, offsets = COMPILED.rows(tar, 0, 0, 100, consts)
    assert [row[0] for row in rows] == ["etc", "etc/hosts", "link"]  # stopped before the whiteout
    assert rows[2][7] == "etc/hosts" and array("Q", offsets).tolist() == [1024]
    assert pos == 512 * 5 and tar[pos : pos + 11] == b"etc/.wh.old"
    assert COMPILED.rows(tar, 0, 0, 2, consts)[1] == 1024 + 1024  # at most `limit` rows
    assert COMPILED.rows(tar, pos, 0, 100, consts) is None  # nothing read: the header is Python's


def test_layers_of_every_format_read_the_same() -> None:
    rng = random.Random(1)
    tars = _layer_tars()
    for path in sorted(REAL.glob("*/*.tar")):
        tars += _docker_layers(path)
    assert len(tars) > 20
    for tar in tars:
        for _ in range(3):
            _same_both_ways(tar, rng)


def _docker_layers(path: Path) -> list[bytes]:
    import json
    import tarfile

    with tarfile.open(path) as archive:
        try:
            manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        except (KeyError, TypeError):
            return []
        return [archive.extractfile(name).read() for image in manifest for name in image["Layers"]]  # type: ignore[union-attr]


def test_mutated_layers_read_the_same() -> None:
    """The structured fuzzer's layer mutations (hostile names, PAX and GNU records, lying sizes,
    broken checksums, truncations), each read both ways."""
    rng = random.Random(18)
    tars = _layer_tars()
    for _ in range(1500):
        tar = rng.choice(tars)
        for _ in range(rng.randint(1, 3)):
            tar = fuzz.mutate_layer_tar(rng, tar)
        _same_both_ways(tar, rng, max_entries=rng.choice([3, DEFAULT_LIMITS.max_entries]))


NUMBERS = [
    b"0000644\0",
    b"  644 \0\0",
    b"644     ",
    b"\0\0\0\0\0\0\0\0",
    b"        ",
    b"+0000644",
    b"-0000644",
    b"0o000644",
    b"0000_644",
    b"00006448",
    b"0644\0 12",
    b"\t0000644",
    b"\x80\0\0\0\0\0\x01\xa4",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"77777777",
]


NAMES = [b"a/b", b"./a", b"a/", b"a//", b"/a", b"a//b", b"a/./b", b"a/../b", b".a", b"a/.b", b"", b".", b"./",
         b"a/.wh.b", b"a.wh.b", b"a/.wh..wh..opq", b"var/lib/dpkg/status", b"x/METADATA", b"x.pem",
         b"\xff\xfe/\xc3\xa9", b"a" * 100, b"a/" * 50]  # fmt: skip
BASE = layer_tar(Layer([F("d/", kind="dir"), F("d/f", b"data"), F("e", b"")]))


def test_names_prefixes_and_types_read_the_same() -> None:
    """Each name, ustar prefix and type flag the C path reads or leaves to Python."""
    rng = random.Random(3)
    for name in NAMES:
        for prefix in (b"", b"pre", b"pre/", b"./x", b"p" * 155):
            for typeflag in fuzz.TYPEFLAGS:
                header = bytearray(BASE[512:1024])
                header[0:100] = name.ljust(100, b"\0")
                header[345:500] = prefix.ljust(155, b"\0")
                header[156:157] = typeflag
                fuzz.fix_checksum(header)
                _same_both_ways(BASE[:512] + bytes(header) + BASE[1024:], rng)


def test_numeric_fields_read_the_same() -> None:
    """Every numeric field (checksum too) set to plain, odd and invalid forms, with names,
    prefixes and types the C path leaves to Python: the same either way."""
    rng = random.Random(7)
    names, base = NAMES, BASE
    for _ in range(3000):
        tar = bytearray(base)
        at = rng.choice([0, 512, 1536])  # one of the three headers
        header = tar[at : at + 512]
        field, width = rng.choice([(100, 8), (108, 8), (116, 8), (124, 12), (136, 12)])
        header[field : field + width] = rng.choice(NUMBERS).ljust(width, b"\0")[:width]
        if rng.random() < 0.5:
            header[0:100] = rng.choice(names).ljust(100, b"\0")[:100]
        if rng.random() < 0.3:
            header[345:500] = rng.choice([b"pre", b"pre/", b"", b"./x"]).ljust(155, b"\0")
        if rng.random() < 0.3:
            header[156:157] = rng.choice(fuzz.TYPEFLAGS)
        if rng.random() < 0.9:
            fuzz.fix_checksum(header)
        else:
            header[148:156] = rng.choice(NUMBERS)
        tar[at : at + 512] = header
        _same_both_ways(bytes(tar), rng)
