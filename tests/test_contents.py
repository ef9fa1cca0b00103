"""`layerscope cat` and `extract`: bytes read back from every layer format and archive kind,
deleted and linked files, and extraction that never writes outside its directory."""

from __future__ import annotations

import bisect
import io
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.analysis.contents import extract_plan, file_copy, read_copies
from explorer.analysis.image import Image as Model
from explorer.analysis.image import load
from explorer.archive.errors import ImageError
from tests.hostile import corpus

from .conftest import DIVE, REAL, needs_shared
from .imagebuilder import (
    F,
    Image,
    Layer,
    whiteout,
    write_docker25_archive,
    write_docker_archive,
    write_gzip,
    write_kaniko_archive,
    write_oci,
)

ROOT = Path(__file__).resolve().parents[1]
COMPRESSIONS = ("none", "gzip", "gzip-multi", "zstd", "zstd-multi")
BINARY = random.Random(7).randbytes(1_500_000)  # spans several read chunks
TEXT = b"#!/bin/sh\necho hello\n" * 50


def _layers() -> list[Layer]:
    """One layer per compression, each with a text file, a binary file, a symlink and a hard link."""
    layers = []
    for i, kind in enumerate(COMPRESSIONS):
        layers.append(
            Layer(
                [
                    F(f"l{i}/run.sh", TEXT + kind.encode(), mode=0o755),
                    F(f"l{i}/blob.bin", BINARY[i:]),
                    F(f"l{i}/link", kind="symlink", link="run.sh"),
                    F(f"l{i}/hard", kind="hardlink", link=f"l{i}/blob.bin"),
                ],
                created_by=f"RUN {kind}",
                compression=kind,
            )
        )
    layers.append(
        Layer(
            [
                whiteout("l0/run.sh"),
                F("l1/blob.bin", b"overwritten"),
                F("dup", b"first copy"),
                F("dup", b"last copy wins"),
                F("l2/lower-hard", kind="hardlink", link="l3/blob.bin"),
            ],
            created_by="RUN rm",
            compression="gzip",
        )
    )
    return layers


def _expected(i: int, kind: str) -> dict[str, bytes]:
    return {f"l{i}/run.sh": TEXT + kind.encode(), f"l{i}/blob.bin": BINARY[i:], f"l{i}/link": TEXT + kind.encode()}


def _cat(image: Model, path: str, layer: int | None = None) -> bytes:
    layer = len(image.layers) - 1 if layer is None else layer
    _, copy = file_copy(image, path, layer)
    return b"".join(b"".join(chunks) for _, chunks in read_copies(image, [copy]))


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], capture_output=True, cwd=ROOT)


ARCHIVES = {
    "oci": lambda image, p: write_oci(image, p / "oci.tar"),
    "oci-dir": lambda image, p: write_oci(image, p / "layout", as_dir=True),
    "docker-archive": lambda image, p: write_docker_archive(image, p / "docker.tar", symlink_layers=True),
    "docker25": lambda image, p: write_docker25_archive(image, p / "d25.tar"),
    "kaniko": lambda image, p: write_kaniko_archive(image, p / "kaniko.tar"),
}


@pytest.fixture(scope="module", params=sorted(ARCHIVES))
def archive(request, tmp_path_factory) -> Model:
    path = ARCHIVES[request.param](Image(_layers()), tmp_path_factory.mktemp(request.param))
    image = load(str(path))
    yield image
    image.close()


def test_every_layer_format_and_archive_kind(archive):
    for i, kind in enumerate(COMPRESSIONS):
        top = i  # as of the layer that wrote them (later layers change some)
        for path, data in _expected(i, kind).items():
            assert _cat(archive, path, top) == data, (path, kind)
        assert _cat(archive, f"l{i}/hard", top) == BINARY[i:]


def test_deleted_overwritten_duplicated_and_linked(archive):
    with pytest.raises(ImageError, match=r"^/l0/run.sh: deleted by layer 5 .*--layer 4 shows it"):
        _cat(archive, "l0/run.sh")
    assert _cat(archive, "l0/run.sh", 4) == TEXT + b"none"  # the last version below the deletion
    assert _cat(archive, "l1/blob.bin") == b"overwritten" and _cat(archive, "l1/blob.bin", 4) == BINARY[1:]
    assert _cat(archive, "dup") == b"last copy wins"
    assert _cat(archive, "l2/lower-hard") == BINARY[3:]  # a hard link to a lower layer's file
    with pytest.raises(ImageError, match=r"^/dup: not in the image at layer 2 \(added by layer 5\)"):
        _cat(archive, "dup", 2)
    with pytest.raises(ImageError, match="is a directory"):
        _cat(archive, "l2")
    with pytest.raises(ImageError, match="no such file or directory"):
        _cat(archive, "nope/x")


def test_symlinks_followed_inside_the_image(tmp_path):
    image = Image(
        [
            Layer(
                [
                    F("etc/real", b"real\n"),
                    F("abs", kind="symlink", link="/etc"),
                    F("up", kind="symlink", link="../../../etc/real"),
                    F("loop", kind="symlink", link="loop"),
                    F("dangling", kind="symlink", link="/nowhere"),
                ]
            )
        ]
    )
    model = load(str(write_oci(image, tmp_path / "i.tar")))
    assert _cat(model, "abs/real") == b"real\n" and _cat(model, "/up") == b"real\n"
    with pytest.raises(ImageError, match="too many levels of symbolic links"):
        _cat(model, "loop")
    with pytest.raises(ImageError, match="/nowhere: no such file"):
        _cat(model, "dangling")


@needs_shared
def test_estargz_and_real_images():
    readmes = {
        _cat(load(str(DIVE / f"test-oci-{k}-image.tar")), "README.md")
        for k in ("uncompressed", "gzip", "zstd", "estargz")
    }
    assert len(readmes) == 1 and readmes.pop().startswith(b"# dive")
    for name in ("small-bloat.docker-archive.tar", "small-bloat.oci-zstd.tar", "small-bloat-ovl.oci-gzip.tar"):
        image = load(str(REAL / name))
        assert _cat(image, "bloat/hardlink-to-lower.bin") == _cat(image, "bloat/chmod-me.bin")
        assert len(_cat(image, "bloat/hardlink-b.bin")) == 16384
        assert _cat(image, "bloat/gone.bin", 2)[:1] and len(_cat(image, "bloat/gone.bin", 2)) == 50000
        assert _cat(image, "bloat/overwrite-me.bin") == b"small\n"


def test_cat_cli(tmp_path):
    path = write_oci(Image(_layers()), tmp_path / "i.tar")
    proc = _cli("cat", path, "/l3/blob.bin")
    assert proc.returncode == 0 and proc.stdout == BINARY[3:]
    for args, message in (
        (("l0/run.sh", "--layer", "9"), b"layerscope: no layer 9: the image has layers 0 to 5"),
        (("l0",), b"layerscope: /l0: is a directory"),
    ):
        proc = _cli("cat", path, *args)
        assert proc.returncode == 2 and proc.stderr.startswith(message) and b"Traceback" not in proc.stderr


def test_one_pass_inputs_are_refused_at_once(tmp_path):
    path = write_oci(Image(_layers()), tmp_path / "i.tar")
    gz = write_gzip(path, tmp_path / "i.tar.gz")
    for args, stdin in (((gz,), None), (("-",), subprocess.PIPE), (("podman:some/image",), None)):
        proc = subprocess.run(
            [sys.executable, "-m", "explorer", "cat", *map(str, args), "l3/blob.bin"],
            capture_output=True, cwd=ROOT, stdin=stdin, input=None, timeout=30,
        )  # fmt: skip
        assert proc.returncode == 2 and b"save it to a file first" in proc.stderr, proc.stderr  # nothing run


# ---- extract ------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, object]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("symlink", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", stat.S_IMODE(p.lstat().st_mode))
            elif stat.S_ISFIFO(p.lstat().st_mode):
                out[rel] = ("fifo",)
            else:
                out[rel] = (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
    return out


def test_extract_whole_image(tmp_path):
    image = Image(
        [
            Layer(
                [
                    F("app", kind="dir", mode=0o555),
                    F("app/run", b"run", mode=0o4755),
                    F("app/conf", b"conf", mode=0o640, mtime=1_000_000),
                    F("app/link", kind="symlink", link="/etc/passwd"),
                    F("app/hard", kind="hardlink", link="app/conf"),
                    F("app/fifo", kind="fifo"),
                    F("dev/null", kind="char"),
                ]
            )
        ]
    )
    path = write_oci(image, tmp_path / "i.tar")
    out = tmp_path / "out"
    proc = _cli("extract", path, "/", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert b"/dev/null: char device, skipped" in proc.stderr
    assert _tree(out) == {
        "app": ("dir", 0o755),  # u+rwx kept so that DIR can be removed
        "dev": ("dir", 0o755),
        "app/run": (b"run", 0o755),  # no setuid
        "app/conf": (b"conf", 0o640),
        "app/hard": (b"conf", 0o644),  # a hard link entry has its own mode
        "app/link": ("symlink", "/etc/passwd"),
        "app/fifo": ("fifo",),
    }
    assert (out / "app/conf").stat().st_mtime == 1_000_000
    again = _cli("extract", path, "/app/conf", "/app/link", "-o", out)  # over what is there
    assert again.returncode == 0 and (out / "app/conf").read_bytes() == b"conf"


def test_extract_only_changes(tmp_path):
    model_path = write_oci(Image(_layers()), tmp_path / "i.tar")
    model = load(str(model_path))
    plan, notes = extract_plan(model, ["/"], 5, only_changes=True)
    assert [p for p, _, _ in plan] == ["dup", "l1/blob.bin", "l2/lower-hard"]
    assert notes == ["/l0/run.sh: deleted by layer 5; not written"]
    out = tmp_path / "out"
    proc = _cli("extract", model_path, "/", "--layer", "5", "--only-changes", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert {k: v[0] for k, v in _tree(out).items()} == {
        "dup": b"last copy wins",
        "l1": "dir",
        "l1/blob.bin": b"overwritten",
        "l2": "dir",
        "l2/lower-hard": BINARY[3:],
    }


def _built(name: str, tmp_path: Path) -> Path:
    (c,) = [c for c in corpus.CASES if c.name == name]
    (tmp_path / "in").mkdir()
    return c.build(tmp_path / "in", False)


def _outside_untouched(tmp_path: Path, out: Path, before: set) -> None:
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(out)}
    assert after == before


def test_extract_refuses_traversal(tmp_path):
    path = _built("names-dot-dot-and-absolute", tmp_path)
    out = tmp_path / "out"
    before = set(tmp_path.rglob("*"))
    proc = _cli("extract", path, "/", "-o", out)
    assert proc.returncode == 0, proc.stderr
    _outside_untouched(tmp_path, out, before)
    assert {k for k, v in _tree(out).items() if v[0] == b"new"} == {"etc/passwd", "etc/shadow", "b", "tmp/x"}


def test_extract_refuses_symlink_escapes(tmp_path):
    path = _built("symlink-escapes-then-files-through-them", tmp_path)
    out = tmp_path / "out"
    before = set(tmp_path.rglob("*"))
    first = _cli("extract", path, "/", "--layer", "0", "-o", out)  # writes the symlinks themselves
    assert first.returncode == 0 and _tree(out) == {"abs": ("symlink", "/tmp"), "rel": ("symlink", "../../../..")}
    second = _cli("extract", path, "/", "--layer", "1", "--only-changes", "-o", out)  # files "through" them
    assert second.returncode == 0, second.stderr
    assert second.stderr.count(b"skipped") == 4  # the two directories and the two files
    assert not Path("/tmp/escaped-abs").exists()
    _outside_untouched(tmp_path, out, before)
    fresh = tmp_path / "fresh"
    assert _cli("extract", path, "/", "-o", fresh).returncode == 0  # into an empty DIR: plain directories
    assert _tree(fresh)["abs/escaped-abs"] == (b"pwned\n", 0o644)

    loops = _built_into(tmp_path / "loops", "symlink-loops")
    proc = _cli("extract", loops, "/", "-o", tmp_path / "loops-out")
    assert proc.returncode == 0 and _tree(tmp_path / "loops-out")["up"] == ("symlink", "../../../../up")


def _built_into(d: Path, name: str) -> Path:
    d.mkdir()
    return _built(name, d)


def test_extract_every_readable_hostile_case(tmp_path, capsys):
    """Every corpus archive the analysis accepts extracts below DIR and nowhere else (or is
    refused in one line: a compressed archive cannot be read twice)."""
    from explorer.cli import main

    cases = [c for c in corpus.CASES if c.exit == 0 and not c.bomb]
    assert len(cases) >= 20
    for c in cases:
        d = tmp_path / c.name
        image = _built_into(d, c.name)
        out = d / "out"
        rc = main(["extract", str(image), "/", "-o", str(out)])
        err = capsys.readouterr().err
        assert rc == 0 or (rc == 2 and "save it to a file first" in err), (c.name, err)
        assert all(p.is_relative_to(out) or p.is_relative_to(d / "in") for p in d.rglob("*")), c.name


@pytest.mark.parametrize("compression", ["gzip", "gzip-multi"])
def test_gzip_seek_index(tmp_path, monkeypatch, compression):
    """Files read through the seek index (access points every 64 KiB here) are the files."""
    from explorer.archive import gzindex, members

    monkeypatch.setattr(gzindex, "MIN_SPACING", 64 << 10)
    monkeypatch.setattr(members, "INDEXES", members.IndexCache(32 << 20))
    rng = random.Random(5)
    files = {f"d/f{i:03d}": rng.randbytes(rng.randrange(0, 40_000)) for i in range(60)}
    files["d/f007"] = b"z" * 3_000_000  # inflates a lot from little: more than one output chunk a read
    layer = Layer([F(path, data) for path, data in files.items()] + [F("d/f010", b"again")], compression=compression)
    model = load(str(write_oci(Image([layer]), tmp_path / "i.tar")))
    files["d/f010"] = b"again"
    for path in sorted(files, reverse=True):  # against tar order: each read starts from an access point
        _, copy = file_copy(model, path, 0)
        got = b"".join(b"".join(chunks) for _, chunks in read_copies(model, [copy], indexed=True))
        assert got == files[path], path
    (index,) = members.INDEXES._indexes.values()
    assert len(index.points) > 10 and len(index.files["d/f010"]) == 2


def test_index_cache_budget():
    from explorer.archive.gzindex import GzipIndex
    from explorer.archive.layerscan import Location
    from explorer.archive.members import IndexCache

    cache = IndexCache(budget=100 << 10)
    big = GzipIndex()
    big.points = [(0, 0, None)] * 2  # about 80 KB
    cache.put(Location("a", 0, 1), big)
    cache.put(Location("b", 0, 1), big)
    assert cache.get(Location("a", 0, 1)) is None and cache.get(Location("b", 0, 1)) is big


@pytest.mark.parametrize("fmt", ["--format=gnu", "--sparse-version=0.0", "--sparse-version=1.0"])
def test_sparse_files_are_read_with_their_holes(tmp_path, fmt):
    """GNU tar's sparse files (old GNU headers, PAX 0.0 and 1.0): the bytes with holes filled."""
    import shutil

    if (
        shutil.which("tar") is None
        or b"GNU tar" not in subprocess.run(["tar", "--version"], capture_output=True).stdout
    ):
        pytest.skip("needs GNU tar (Debian package tar)")
    (tmp_path / "d").mkdir()
    with open(tmp_path / "d" / "sparse", "wb") as f:
        for i in range(6):
            f.seek(i << 20)
            f.write(bytes([65 + i]) * (5000 + i))
        f.truncate(8 << 20)
    (tmp_path / "d" / "after").write_bytes(b"after\n")
    options = [fmt] if fmt == "--format=gnu" else ["--format=pax", fmt]
    subprocess.run(["tar", *options, "--sparse", "-cf", "layer.tar", "d"], cwd=tmp_path, check=True)
    image = corpus.docker_archive(tmp_path / "image.tar", [(tmp_path / "layer.tar").read_bytes()])
    model = load(str(image))
    if not model.layers[0].scan.sparse:
        pytest.skip(f"{tmp_path}: this file system keeps no holes, so GNU tar wrote no sparse file")
    assert _cat(model, "d/sparse") == (tmp_path / "d" / "sparse").read_bytes()
    assert _cat(model, "d/after") == b"after\n"
    out = tmp_path / "out"
    assert _cli("extract", image, "/d", "-o", out).returncode == 0
    assert (out / "d" / "sparse").read_bytes() == (tmp_path / "d" / "sparse").read_bytes()


def _zstd_cli_frames(tar: bytes, tmp: Path, piece: int) -> bytes:
    """`tar` cut into pieces of `piece` bytes (anywhere in a member), each compressed by the
    zstd command line tool (which states each frame's content size), the frames one after
    another, with a skippable frame between two of them (as zstd:chunked puts its manifest)."""
    frames = []
    for n, at in enumerate(range(0, len(tar), piece)):
        src = tmp / f"piece{n}"
        src.write_bytes(tar[at : at + piece])
        subprocess.run(["zstd", "-q", "-f", str(src), "-o", f"{src}.zst"], check=True)
        frames.append((tmp / f"piece{n}.zst").read_bytes())
    skippable = (0x184D2A5E).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"skip!"
    return b"".join(frames[:2]) + skippable + b"".join(frames[2:])


@pytest.mark.skipif(not shutil.which("zstd"), reason="zstd not installed")
def test_zstd_frame_index(tmp_path, monkeypatch):
    """A zstd layer of several frames (made by the zstd tool) is indexed during the scan; a
    file is read from the frame start before it, not from the start of the blob."""
    from explorer.archive import layerscan, writer, zstdindex
    from explorer.archive.members import BlobWindow

    monkeypatch.setattr(zstdindex, "SPACING", 64 << 10)
    rng = random.Random(9)
    files = {f"d/f{i:03d}": rng.randbytes(rng.randrange(0, 40_000)) for i in range(60)}
    files["d/big"] = b"z" * 2_000_000  # much tar from few compressed bytes
    layer = Layer([F(path, data) for path, data in files.items()] + [F("d/f010", b"again")], compression="none")
    files["d/f010"] = b"again"
    blob_file = tmp_path / "layer.tar.zst"  # sniffed, whatever the media type says
    blob_file.write_bytes(_zstd_cli_frames(writer.layer_tar(layer), tmp_path, 100_000))
    model = load(str(write_oci(Image([writer.LayerFile(blob_file, compression="none")]), tmp_path / "i.tar")))
    index = model.layers[0].scan.zstd_index
    assert index is not None and index.frames == -(-len(writer.layer_tar(layer)) // 100_000)
    assert len(index.tar_offsets) > 10 and len(model.layers[0].scan.file_offsets) == len(files) + 1
    stored = [c for c in model.fs.copies if c.layer == 0]
    reads = []
    real = BlobWindow.pread
    monkeypatch.setattr(BlobWindow, "pread", lambda self, n, at: reads.append(at) or real(self, n, at))
    late = 0
    for name in sorted(files, reverse=True):  # against tar order: each read starts at a frame
        reads.clear()
        _, copy = file_copy(model, name, 0)
        assert b"".join(b"".join(chunks) for _, chunks in read_copies(model, [copy])) == files[name], name
        point = bisect.bisect_right(index.tar_offsets, model.layers[0].scan.file_offsets[stored.index(copy)]) - 1
        assert reads[:2] == [0, index.blob_offsets[point]], name  # the sniff, then the frame start before it
        late += point > 0
    assert late > 40
    model.close()
    blob = blob_file.read_bytes()  # the same index, scanned from a stream
    scan = layerscan.scan_layer(io.BytesIO(blob), "l", len(blob))
    assert scan.zstd_index is not None and list(scan.file_offsets) == list(model.layers[0].scan.file_offsets)


def test_zstd_without_content_sizes_or_in_one_frame_has_no_index(tmp_path):
    import zstandard

    from explorer.archive import layerscan, writer

    tar = writer.layer_tar(Layer([F(f"f{i}", bytes([i]) * 50_000) for i in range(40)]))
    one = zstandard.ZstdCompressor().compress(tar)
    streamed = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(streamed, closefd=False) as w:  # no size told: none stated
        w.write(tar[:300_000])
    with zstandard.ZstdCompressor().stream_writer(streamed, closefd=False) as w:
        w.write(tar[300_000:])
    for blob in (one, streamed.getvalue()):
        scan = layerscan.scan_layer(io.BytesIO(blob), "l", len(blob))
        assert scan.zstd_index is None and len(scan.rows) == 40


def test_plain_layer_files_are_read_where_the_scan_saw_them(tmp_path, monkeypatch):
    """The scan keeps each regular file's tar offset: a file of a plain layer is read there,
    without walking the tar to it."""
    from explorer.archive.members import BlobWindow

    files = {f"f{i:02d}": bytes([i]) * (i * 1000) for i in range(40)}
    layer = Layer([F(p, d) for p, d in files.items()] + [F("f05", b"again")], compression="none")
    files["f05"] = b"again"
    model = load(str(write_oci(Image([layer]), tmp_path / "p.tar")))
    offsets = model.layers[0].scan.file_offsets
    assert len(offsets) == 41 and list(offsets) == sorted(offsets)
    reads = []
    real = BlobWindow.pread
    monkeypatch.setattr(BlobWindow, "pread", lambda self, n, at: reads.append(at) or real(self, n, at))
    for name, data in files.items():
        reads.clear()
        _, copy = file_copy(model, name, 0)
        assert b"".join(b"".join(chunks) for _, chunks in read_copies(model, [copy])) == data, name
        assert reads[1:2] == ([offsets[40 if name == "f05" else int(name[1:])]] if data else []), name
    model.close()
