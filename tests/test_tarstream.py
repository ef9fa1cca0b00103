"""The chunked tar reader gives the same entries wherever the chunk boundaries fall."""

from __future__ import annotations

import io
import random

import pytest
import xxhash

from explorer.archive.errors import CorruptBlob
from explorer.archive.layerscan import scan_layer
from explorer.archive.tarstream import TarReader
from tests.imagebuilder import F, Layer, layer_tar, opaque, whiteout

ENTRIES = [
    F("etc/", kind="dir", mode=0o755, mtime=1_700_000_000),
    F("etc/hosts", b"127.0.0.1 localhost\n", uid=1000, gid=1000),
    F("big.bin", bytes(range(256)) * 5000),  # 1.28 MB: spans chunks
    F("empty", b""),
    F("exactly-a-block", b"x" * 512),
    F("d/" + "long-name-" * 30, b"pax long name"),
    F("pax-meta", b"m", pax={"mtime": "1700000000.5", "uid": "70000"}),
    F("bin/sh", kind="symlink", link="/bin/busybox"),
    F("bin/hard", kind="hardlink", link="./etc/hosts"),
    whiteout("old.txt"),
    opaque("var/cache"),
    F("last", b"z" * 1023),
]


def _chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        chunks.append(data[pos : pos + n])
        pos, i = pos + n, i + 1
    return chunks


def _rows(chunks: list[bytes]) -> list:
    return list(TarReader(chunks, "layer").rows())


def test_rows_are_the_same_for_every_chunking() -> None:
    data = layer_tar(Layer(ENTRIES))
    whole = _rows([data])
    assert [r[0] for r in whole] == [
        "etc",
        "etc/hosts",
        "big.bin",
        "empty",
        "exactly-a-block",
        "d/" + "long-name-" * 30,
        "pax-meta",
        "bin/sh",
        "bin/hard",
        "old.txt",
        "var/cache",
        "last",
    ]
    by_path = {r[0]: r for r in whole}
    assert by_path["big.bin"][8] == xxhash.xxh3_64_intdigest(bytes(range(256)) * 5000)
    assert by_path["pax-meta"][4] == 70000 and by_path["pax-meta"][6] == 1_700_000_000
    assert by_path["bin/hard"][7] == "etc/hosts"
    assert by_path["old.txt"][1] == "w" and by_path["var/cache"][1] == "o"
    rng = random.Random(7)
    for sizes in ([1], [3], [511], [512], [513], [4096], [1 << 20], [rng.randrange(1, 3000) for _ in range(50)]):
        assert _rows(_chunked(data, sizes)) == whole, sizes


@pytest.mark.parametrize("cut", [100, 512 + 300, 2000, 700_000])
def test_a_cut_anywhere_is_an_error_or_a_clean_end(cut: int) -> None:
    data = layer_tar(Layer(ENTRIES))[:cut]
    with pytest.raises(CorruptBlob, match="truncated"):
        _rows(_chunked(data, [777]))


def test_scan_counts_the_trailer_and_the_whole_tar() -> None:
    data = layer_tar(Layer(ENTRIES)) + bytes(10_000)
    scan = scan_layer(io.BytesIO(data), "layer", len(data))
    assert scan.tar_size == len(data)
    assert len(scan.rows) == len(ENTRIES)


def test_a_mapped_layer_gives_what_a_read_one_gives(tmp_path) -> None:
    """An uncompressed blob inside an archive is read through memory-mapped windows."""
    from explorer.archive.layerscan import MAP_WINDOW, Location, scan_location
    from explorer.archive.limits import DEFAULT_LIMITS

    files = [F(f"d/{i}", bytes([i % 251]) * (i * 9_973 % 300_000)) for i in range(60)]
    data = layer_tar(Layer([*ENTRIES, *files]))
    assert len(data) > 2 * MAP_WINDOW
    path = tmp_path / "archive"
    path.write_bytes(b"x" * 12_345 + data + b"tail")  # an offset that is not page-aligned
    location = Location(str(path), 12_345, len(data))
    seen: list[int] = []
    mapped = scan_location(location, "layer", seen.append, False, DEFAULT_LIMITS)
    read = scan_layer(io.BytesIO(data), "layer", len(data))
    assert mapped.rows == read.rows and mapped.tar_size == read.tar_size == len(data)
    assert seen and seen == sorted(seen) and seen[-1] <= len(data)
    short = Location(str(path), 12_345, len(data) + 10_000)  # the file ends before the blob does
    with pytest.raises(CorruptBlob, match="truncated"):
        scan_location(short, "layer", None, False, DEFAULT_LIMITS)
