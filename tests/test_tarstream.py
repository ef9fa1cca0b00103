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


# ---- odd but valid tars --------------------------------------------------------------------


def _scan(data: bytes):
    return scan_layer(io.BytesIO(data), "layer", len(data))


def test_a_tar_ending_right_after_the_last_member_data_is_read_with_a_warning() -> None:
    """umoci 0.4 never closes its tar writer: no padding after the last file, no end blocks."""
    whole = layer_tar(Layer(ENTRIES))
    cut = layer_tar(Layer(ENTRIES, padded_end=False))
    assert len(cut) == len(whole) - 1024 - 1  # "last" holds 1,023 bytes: one byte of padding
    for sizes in ([len(cut)], [511], [1 << 20], [4096]):
        reader = TarReader(_chunked(cut, sizes), "layer")
        assert list(reader.rows()) == _rows([whole])
        assert reader.warnings == ["ends without tar padding/end blocks"]
    assert _scan(cut).warnings == ["layer: ends without tar padding/end blocks"]
    with pytest.raises(CorruptBlob, match="truncated inside last"):
        _rows([cut[:-1]])  # a cut inside the data stays an error


def _header(name: bytes, size: int = 0, typeflag: bytes = b"0", **fields: bytes) -> bytes:
    from tests.hostile.fuzz import fix_checksum, raw_header

    h = bytearray(raw_header(name, size, typeflag))
    for field, value in fields.items():
        start, end = {"mtime": (136, 148), "uid": (108, 116)}[field]
        h[start:end] = value
    fix_checksum(h)
    return bytes(h)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def test_a_v7_directory_is_a_directory() -> None:
    data = _header(b"dir/", 0, b"\0") + _header(b"dir/file", 3, b"\0") + _pad(b"abc") + bytes(1024)
    rows = _rows([data])
    assert [(r[0], r[1], r[2]) for r in rows] == [("dir", "d", 0), ("dir/file", "f", 3)]


def test_negative_base_256_numbers_are_twos_complement() -> None:
    minus_one = b"\xff" * 12
    minus_two = b"\xff" * 11 + b"\xfe"
    big = b"\x80" + (1 << 33).to_bytes(11, "big")  # 2**33 s: past what 11 octal digits hold
    data = b"".join(
        _header(name, 0, mtime=mtime) for name, mtime in ((b"a", minus_one), (b"b", minus_two), (b"c", big))
    )
    assert [r[6] for r in _rows([data + bytes(1024)])] == [-1, -2, 1 << 33]
    uid = _header(b"u", 0, uid=b"\xff" * 8)
    assert _rows([uid + bytes(1024)])[0][4] == -1


def test_a_lone_zero_block_is_read_past_with_a_warning() -> None:
    first = _header(b"a", 2) + _pad(b"aa")
    later = _header(b"b", 4000) + _pad(b"b" * 4000)
    reader = TarReader([first + bytes(512) + later + bytes(1024)], "layer")
    assert [(r[0], r[2]) for r in reader.rows()] == [("a", 2), ("b", 4000)]
    assert reader.warnings == ["a lone zero block at byte 1024: read on past it"]
    for end in (bytes(1024), bytes(512), b"", bytes(512) + b"not a header".ljust(512, b"!")):
        reader = TarReader([first + end], "layer")  # two zero blocks, or one and no header: the end
        assert [r[0] for r in reader.rows()] == ["a"] and reader.warnings == []


def test_pax_global_headers_are_ignored_with_a_warning() -> None:
    from tests.hostile.fuzz import pax_block

    data = (
        pax_block([(b"path", b"evil"), (b"uid", b"666")], b"g")
        + _header(b"a", 1)
        + _pad(b"1")
        + pax_block([(b"mtime", b"7")])
        + _header(b"b", 0)
        + bytes(1024)
    )
    reader = TarReader([data], "layer")
    assert [(r[0], r[4], r[6]) for r in reader.rows()] == [("a", 0, 0), ("b", 0, 7)]
    assert reader.warnings == ["PAX global header ignored (as containerd and Docker ignore it)"]


@pytest.mark.parametrize("name", [b".wh.", b"dir/.wh.", b".wh..", b"dir/.wh...", b"./dir/.wh./"])
def test_a_whiteout_without_a_name_is_ignored_with_a_warning(name: bytes) -> None:
    reader = TarReader([_header(b"dir/", 0, b"5") + _header(name, 0) + bytes(1024)], "layer")
    assert [(r[0], r[1]) for r in reader.rows()] == [("dir", "d")]
    assert len(reader.warnings) == 1 and reader.warnings[0].startswith("whiteout without a name ignored: ")


def test_zstd_starting_with_a_skippable_frame() -> None:
    import struct

    import zstandard

    tar = layer_tar(Layer(ENTRIES))
    skippable = struct.pack("<II", 0x184D2A5E, 6) + b"extras"
    blob = skippable + zstandard.ZstdCompressor().compress(tar) + skippable
    scan = _scan(blob)
    assert scan.compression == "zstd" and scan.rows == _rows([tar]) and scan.tar_size == len(tar)


# ---- sparse files, as GNU tar writes them ----------------------------------------------------

SPARSE_FORMATS = {
    "gnu-old": ["--format=gnu"],
    "pax-0.0": ["--format=pax", "--sparse-version=0.0"],
    "pax-0.1": ["--format=pax", "--sparse-version=0.1"],
    "pax-1.0": ["--format=pax", "--sparse-version=1.0"],
}


@pytest.fixture(scope="module")
def sparse_tars(tmp_path_factory) -> dict[str, bytes]:
    """A sparse file of 40 MiB with 30 data regions (the old GNU format needs extension blocks
    for more than 4), then a plain file: read past the sparse one, the reader must stay in step."""
    import shutil
    import subprocess
    import tarfile

    if (
        shutil.which("tar") is None
        or b"GNU tar" not in subprocess.run(["tar", "--version"], capture_output=True).stdout
    ):
        pytest.skip("needs GNU tar (Debian package tar)")
    root = tmp_path_factory.mktemp("sparse")
    (root / "d").mkdir()
    with open(root / "d" / "sparse", "wb") as f:
        for i in range(30):
            f.seek(i << 20)
            f.write(bytes([65 + i % 26]) * (100 + i))
        f.truncate(40 << 20)
    (root / "d" / "after").write_bytes(b"after the sparse file\n")
    tars = {}
    for fmt, options in SPARSE_FORMATS.items():
        out = root / f"{fmt}.tar"
        subprocess.run(["tar", *options, "--sparse", "-cf", str(out), "d/sparse", "d/after"], cwd=root, check=True)
        with tarfile.open(out) as tf:
            if not tf.getmember("d/sparse").issparse():
                pytest.skip(f"{root}: this file system keeps no holes, so GNU tar wrote no sparse file")
        tars[fmt] = out.read_bytes()
    return tars


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_gnu_sparse_files_are_read(fmt, sparse_tars) -> None:
    import tarfile

    data = sparse_tars[fmt]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        regions = tf.getmember("d/sparse").sparse
    stored = sum(size for _, size in regions)
    scan = _scan(data)
    assert [(r[0], r[1], r[2]) for r in scan.rows] == [("d/sparse", "f", stored), ("d/after", "f", 22)]
    assert scan.sparse == {"d/sparse": 40 << 20}
    assert scan.rows[1][8] == xxhash.xxh3_64_intdigest(b"after the sparse file\n")
    assert scan.warnings == []


def test_sparse_formats_agree_on_the_content(sparse_tars) -> None:
    digests = {fmt: _scan(data).rows[0][8] for fmt, data in sparse_tars.items()}
    assert len(set(digests.values())) == 1, digests
    plain = _scan(layer_tar(Layer([F("d/sparse", b"A" * 100)])))
    assert plain.rows[0][8] not in digests.values()  # the holes are part of the content


def test_sparse_files_in_the_report(sparse_tars, tmp_path) -> None:
    import tarfile

    from explorer.analysis import load
    from explorer.present.report import report_dict
    from tests.hostile.corpus import docker_archive

    tar = sparse_tars["pax-1.0"]
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        stored = sum(size for _, size in tf.getmember("d/sparse").sparse)
    img = load(str(docker_archive(tmp_path / "image.tar", [tar])))
    data = report_dict(img, None)
    assert data["layers"][0]["sparse_files"] == {"d/sparse": 40 << 20}
    assert data["summary"]["stored_bytes"] == stored + 22  # stored bytes, not 40 MiB
    img.close()


@pytest.mark.parametrize(
    "records",
    [
        [(b"GNU.sparse.size", b"")],
        [(b"GNU.sparse.realsize", b"x")],
        [(b"GNU.sparse.size", b"5"), (b"GNU.sparse.map", b"1,2,3")],
        [(b"GNU.sparse.realsize", b"5"), (b"GNU.sparse.major", b"1")],  # no map in the data
    ],
)
def test_a_malformed_sparse_file_is_an_error(records) -> None:
    from tests.hostile.fuzz import pax_block

    with pytest.raises(CorruptBlob, match="malformed sparse"):
        _rows([pax_block(records) + _header(b"f", 0) + bytes(1024)])


def test_an_old_gnu_sparse_header_with_a_bad_number_is_an_error() -> None:
    h = bytearray(_header(b"s", 0, b"S"))
    h[386:398] = b"not octal!!\0"
    from tests.hostile.fuzz import fix_checksum

    fix_checksum(h)
    with pytest.raises(CorruptBlob, match="malformed sparse header"):
        _rows([bytes(h) + bytes(1024)])
