"""The layer cache (explorer/archive/layercache.py): a layer seen before is not read again, and
the cache is trusted no further than the digests verified here."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from explorer.analysis.image import Image as Model
from explorer.archive import layercache
from explorer.archive.layercache import FILE_NAME, LayerCache, cache_dir, decode, encode
from explorer.archive.layerscan import scan_blob
from explorer.archive.options import OpenOptions
from explorer.archive.sources import DirSource, TarFileSource
from explorer.present.report import report_dict
from tests.conftest import REAL, needs_shared
from tests.imagebuilder import F, Image, Layer, layer_blob, layer_tar, write_oci

ROOT = Path(__file__).resolve().parents[1]
CACHED = OpenOptions(cache=True)
BLOAT = REAL / "small-bloat.oci-gzip.tar"  # written long before any test: not "just written"


@pytest.fixture
def not_racy(monkeypatch):
    """Archives written by the test itself count as settled (else only after `RACY` seconds)."""
    monkeypatch.setattr(layercache, "RACY", 0.0)


def analysed(path: Path | str, options: OpenOptions = CACHED) -> Model:
    image = Model.open(str(path), options)
    image.analyse()
    image.close()
    return image


def hits(image: Model) -> list[bool]:
    return [layer.from_cache for layer in image.layers]


def comparable(image: Model) -> dict:
    data = report_dict(image, None)
    data["image"].pop("path")
    return data


def layerscope(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], capture_output=True, cwd=ROOT, env=env, timeout=120
    )


def base_layer() -> Layer:
    return Layer([F("base/a", b"A" * 3000), F("base/b", b"b" * 40)], created_by="COPY base /base")


def two_layers(top: bytes = b"top") -> Image:
    """Two layers, uncompressed (so a top of the same length gives a blob of the same size)."""
    top_layer = Layer([F("app/top", top)], created_by="COPY top /app", compression="none")
    return Image([base_layer(), top_layer], tags=["example.com/two:1"])


# ---- records ---------------------------------------------------------------------------------------


def test_a_record_holds_the_whole_scan():
    layer = Layer(
        [
            F("var/lib/dpkg/status", b"Package: x\nStatus: install ok installed\nVersion: 1\n\n"),
            F("etc/ssl/private/site.key", b"-----BEGIN PRIVATE KEY-----\nMIIE" + b"k" * 200),
            F("dir", kind="dir"),
            F("lnk", kind="symlink", link="dir"),
            F("caf\udce9", b"latin-1 name", raw_name=b"caf\xe9"),
            F("big", b"z" * 10_000, mtime=2**40, uid=70000),
        ]
    )
    scan = scan_blob(layer_blob(layer, "gzip"), "sha256:abc", verify=True)
    scan.warnings = ["sha256:abc: something about this layer", "a warning about no layer"]
    record = encode(scan, "sha256:abc")
    assert record is not None
    back = decode(record, "sha256:def", CACHED.limits)
    assert back.rows == scan.rows and all(type(row) is tuple for row in back.rows)
    assert back.warnings == ["sha256:def: something about this layer", "a warning about no layer"]
    for name in ("tar_size", "compression", "blob_size", "blob_sha256", "tar_sha256", "sparse", "file_offsets"):
        assert getattr(back, name) == getattr(scan, name), name
    assert back.file_offsets is not None and len(back.file_offsets) == 4
    assert back.capture.files == scan.capture.files and "var/lib/dpkg/status" in back.capture.files
    assert back.capture.heads == scan.capture.heads and back.capture.heads
    assert back.capture.used == scan.capture.used
    with pytest.raises(ValueError):
        decode(record._replace(nulls=record.nulls[1:]), "x", CACHED.limits)
    with pytest.raises(TypeError):
        decode(record._replace(text=record.text.replace('"kinds": "f', '"kinds": "Z')), "x", CACHED.limits)


def test_a_record_holds_the_zstd_seek_index():
    import zstandard

    tar = layer_tar(Layer([F("a", os.urandom(1 << 20)), F("b", os.urandom(600_000)), F("c", b"c")]))
    frames = [tar[i : i + (400 << 10)] for i in range(0, len(tar), 400 << 10)]
    blob = b"".join(zstandard.ZstdCompressor().compress(frame) for frame in frames)
    scan = scan_blob(blob, "x")
    assert scan.zstd_index is not None and len(scan.zstd_index.tar_offsets) > 1
    back = decode(encode(scan, "x"), "x", CACHED.limits)
    assert vars(back.zstd_index) == vars(scan.zstd_index)
    assert back.file_offsets == scan.file_offsets and back.rows == scan.rows


def test_damaged_records_never_decode_into_anything_but_an_error():
    """Bytes flipped, cut or swapped in any column: `decode` raises (a miss) or gives a scan of
    whole rows; it never crashes otherwise nor hangs."""
    import random

    layer = Layer([F("var/lib/dpkg/status", b"Package: x\n\n"), F("d", kind="dir"), F("f", b"f" * 100)])
    record = encode(scan_blob(layer_blob(layer, "gzip"), "x"), "x")
    rng = random.Random(15)
    for _ in range(2000):
        field = rng.randrange(len(record))
        value = bytearray(record[field].encode() if field == 0 else record[field])
        for _ in range(rng.randint(1, 4)):
            action = rng.randrange(3)
            if action == 0 and value:
                value[rng.randrange(len(value))] = rng.randrange(256)
            elif action == 1:
                del value[rng.randrange(len(value) + 1) :]
            else:
                value[rng.randrange(len(value) + 1) : 0] = bytes([rng.randrange(256)]) * rng.randint(1, 9)
        damaged = record._replace(**{record._fields[field]: value.decode("latin-1") if field == 0 else bytes(value)})
        try:
            scan = decode(damaged, "x", CACHED.limits)
        except (ValueError, KeyError, TypeError, IndexError):  # a miss (CachedScans drops the record)
            continue
        assert all(type(row) is tuple and len(row) == 9 for row in scan.rows)


def test_a_scan_cut_short_by_the_metadata_budget_is_not_stored():
    layer = Layer([F("var/lib/dpkg/status", b"Package: x\n" * 100)])
    limits = CACHED.limits._replace(capture=CACHED.limits.capture._replace(budget=10))
    scan = scan_blob(layer_blob(layer, "gzip"), "x", limits=limits)
    assert scan.capture.skipped
    assert encode(scan, "x") is None


def test_a_record_made_a_batch_at_a_time_is_the_record_made_whole():
    from explorer.archive.layercache import RecordMaker

    layer = Layer([F(f"d{i % 7}/f{i}", b"x" * (i % 5), mtime=2**40 + i, uid=i) for i in range(50)])
    layer.entries += [F("d0", kind="dir"), F("l", kind="symlink", link="d0/f0")]
    layer.entries.append(F("caf\udce9", b"e", raw_name=b"caf\xe9"))
    scan = scan_blob(layer_blob(layer, "gzip"), "x")
    maker = RecordMaker.start(scan, "x")
    for start, end in ((0, 1), (1, 1), (1, 20), (20, 21), (21, len(scan.rows))):
        maker.add(scan.rows[start:end])
    made = maker.record()
    whole = encode(scan, "x")
    assert made.text == whole.text
    assert [b"".join(parts) for parts in made[1:]] == list(whole[1:])
    maker = RecordMaker.start(scan, "x")
    maker.add([(*scan.rows[0][:6], 2**63, *scan.rows[0][7:])])  # an mtime past 64 bits
    assert maker.record() is None


@pytest.mark.parametrize("steps", [False, True], ids=["add_scan", "stack_steps"])
def test_a_layer_from_a_worker_is_recorded_as_it_is_stacked_never_decoded_whole(tmp_path, not_racy, steps):
    """Its rows reach the stacking still packed (decoded there a batch at a time, as without
    the cache); its record, stored once it is stacked (by the commands, or the app's steps),
    is the record of its rows made whole."""
    from explorer.archive.layerscan import ROWS_BATCH, PackedRows
    from explorer.archive.pool import PARALLEL_MIN_BYTES, ScanPool

    many = [F(f"d{i % 50}/f{i}", b"y" * (i % 3), mtime=i, uid=i % 70000) for i in range(2 * ROWS_BATCH + 10)]
    big = Layer([F("big", os.urandom(PARALLEL_MIN_BYTES)), F("no-digest", kind="dir")], compression="none")
    path = str(write_oci(Image([big, Layer(many, compression="none")]), tmp_path / "many.tar"))
    image = Model.open(path, CACHED, pool=ScanPool(2))
    for index, scan in image.scans():
        assert isinstance(scan.rows, PackedRows)  # not a list: no layer's rows held whole
        if steps:
            for _ in image.stack_steps(index, scan):
                pass
        else:
            image.add_scan(index, scan)
    image.finish()
    cached, cache = image.cached_layers(), LayerCache()
    for index, layer in enumerate(image.layers):
        stored = cache.get(cached.used[index], cached.keys[index].diff_id, cached.heads)
        label = image.label(layer)
        assert stored == encode(image.source.scan(layer.ref.blob, label, None, False, CACHED.limits), label)
    image.close()
    again = analysed(path)
    assert hits(again) == [True, True] and comparable(again) == comparable(analysed(path, OpenOptions()))


# ---- hits, and what is never a hit ---------------------------------------------------------------


@needs_shared
def test_a_second_open_reads_no_layer(monkeypatch):
    plain = analysed(BLOAT, OpenOptions())
    first = analysed(BLOAT)
    assert not any(hits(first))

    monkeypatch.setattr(TarFileSource, "scan", no_reading)
    second = analysed(BLOAT)
    assert all(hits(second))
    assert comparable(second) == comparable(first) == comparable(plain)


@needs_shared
def test_the_cli_report_is_the_same_from_the_cache():
    plain = layerscope("report", str(BLOAT), "--json", "--no-cache")
    assert plain.returncode == 0 and not (cache_dir() / FILE_NAME).exists()  # --no-cache: not even made
    first, second = (layerscope("report", str(BLOAT), "--json") for _ in range(2))
    assert first.stdout == second.stdout == plain.stdout
    info = json.loads(layerscope("cache", "info", "--json").stdout)
    layers = len(json.loads(plain.stdout)["layers"])
    assert info["layers"] == layers and info["archive_blobs"] == layers and info["images"] == 1
    assert info["verified_archive_blobs"] == 0  # a first open does not hash: its records serve that file only
    assert b"cleared" in layerscope("cache", "clear").stdout
    assert json.loads(layerscope("cache", "info", "--json").stdout)["layers"] == 0


def test_an_archive_just_written_is_not_remembered(tmp_path, monkeypatch):
    """Its timestamps might survive a rewrite within their granularity: its blobs are hashed
    again on the next open (cheaper than scanning them), never trusted by their file's identity."""
    path = write_oci(two_layers(), tmp_path / "two.tar")
    analysed(path)
    monkeypatch.setattr(TarFileSource, "scan", no_reading)
    monkeypatch.setattr(layercache, "_sha256_at", counted(layercache._sha256_at))
    assert all(hits(analysed(path))) and all(hits(analysed(path)))
    assert layercache._sha256_at.calls == 4
    assert json.loads(layerscope("cache", "info", "--json").stdout)["verified_archive_blobs"] == 0


def no_reading(*args, **kwargs):
    raise AssertionError("a layer was read")


def counted(function):
    def wrapper(*args):
        wrapper.calls += 1
        return function(*args)

    wrapper.calls = 0
    return wrapper


def top_size(image: Model) -> int:
    node = image.fs.lookup("app/top")
    assert node is not None and node.current() is not None
    return node.current().entry.size


def top_blob(folder: Path, top: bytes) -> Path:
    return folder / "blobs" / "sha256" / hashlib.sha256(layer_blob(two_layers(top).layers[1])).hexdigest()


def test_an_archive_rewritten_in_place_is_read_again(tmp_path, not_racy):
    layout = write_oci(two_layers(b"old"), tmp_path / "layout", as_dir=True)
    assert not any(hits(analysed(layout)))
    assert all(hits(analysed(layout)))
    blob = top_blob(layout, b"old")
    new = layer_blob(two_layers(b"NEW").layers[1])
    assert len(new) == blob.stat().st_size
    stat = blob.stat()
    blob.write_bytes(new)  # same size, same mtime: only its ctime and its bytes differ
    os.utime(blob, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = analysed(layout)
    assert hits(again) == [True, False]
    node = again.fs.lookup("app/top")
    assert node is not None and node.current() is not None
    assert node.current().entry.digest == scan_blob(new, "x").rows[-1][8]


def test_a_claimed_digest_alone_is_never_trusted(tmp_path, not_racy):
    """Another archive naming cached digests is hashed before its records are used: a blob
    that holds what it claims comes from the cache, one that does not is read (and not stored
    under its claim)."""
    real = write_oci(two_layers(b"real"), tmp_path / "real", as_dir=True)
    analysed(real)
    assert all(hits(analysed(real)))
    forged = tmp_path / "forged"
    shutil.copytree(real, forged)
    top_blob(forged, b"real").write_bytes(layer_blob(two_layers(b"forged").layers[1]))  # still named by its old digest
    image = analysed(forged)
    assert hits(image) == [True, False]  # the base layer hashes to its claim (as the real one does); the top does not
    assert top_size(image) == len(b"forged")
    again = analysed(forged)  # the forged blob is remembered for its own place only
    assert hits(again) == [True, True] and top_size(again) == len(b"forged")
    again = analysed(real)  # nor stored under the digest it claims
    assert all(hits(again)) and top_size(again) == len(b"real")
    info = json.loads(layerscope("cache", "info", "--json").stdout)
    assert (info["archive_blobs"], info["verified_archive_blobs"]) == (4, 2)  # both bases; neither top


def test_a_first_open_does_not_hash_the_archive(tmp_path, not_racy, monkeypatch):
    """Hashing every blob as it streams would cost a first open up to twice its CPU (plain tar):
    the records are kept by the blob's place instead; an archive just written is hashed."""
    from explorer.archive.pool import ScanPool

    asked = []
    scan = ScanPool.scan

    def recorded(self, source, layers, verify, limits, *args):
        asked.append(limits.hash_blob or verify)
        return scan(self, source, layers, verify, limits, *args)

    monkeypatch.setattr(ScanPool, "scan", recorded)
    path = write_oci(two_layers(), tmp_path / "two.tar")
    assert not any(hits(analysed(path)))
    assert all(hits(analysed(path)))
    assert asked == [False]
    monkeypatch.setattr(layercache, "RACY", 3600.0)
    assert hits(analysed(write_oci(two_layers(b"new"), tmp_path / "new.tar"))) == [True, False]  # base: hashed
    assert asked == [False, True]


def test_an_unverified_record_is_not_used_for_a_registry_blob_it_is_not(tmp_path, not_racy):
    """A registry names a digest an archive claimed: the archive's blob is hashed first, and
    its record serves the registry image only if the blob is that digest."""
    from explorer.archive.layercache import CachedScans, LayerKey
    from explorer.archive.pool import LayerBlob

    class Remote(NamedTuple):
        digest: str

    class Registry:
        def exists(self, name: str) -> bool:
            return True

        def locate(self, name: str) -> Remote:
            return Remote(name)

    real = analysed(write_oci(two_layers(b"real"), tmp_path / "real", as_dir=True), OpenOptions())
    forged = write_oci(two_layers(b"real"), tmp_path / "forged", as_dir=True)
    top_blob(forged, b"real").write_bytes(layer_blob(two_layers(b"forged").layers[1]))
    assert not any(hits(analysed(forged)))  # forged first: both its records are unverified

    def registry_hits(layers) -> list[bool]:
        keys = [LayerKey(layer.digest, layer.diff_id) for layer in layers]
        blobs = [LayerBlob(layer.digest, "layer", 1) for layer in layers]
        cache = LayerCache()
        try:
            cached = CachedScans(cache, Registry(), blobs, keys, ["remote"] * 2, False, CACHED.limits)  # type: ignore[arg-type]
            cached.load()
        finally:
            cache.close()
        return [i in cached.hits for i in range(len(layers))]

    assert registry_hits(real.layers) == [True, False]  # the base is what it claims; the top is not
    info = json.loads(layerscope("cache", "info", "--json").stdout)
    assert (info["archive_blobs"], info["verified_archive_blobs"]) == (2, 1)


def test_another_archive_with_the_same_base_layers_is_hashed_not_read(tmp_path, not_racy, monkeypatch):
    """The first archive's base was not hashed when it was read: it is hashed now, with the
    new archive's, and its record, verified, serves both (no blob is hashed twice)."""
    one = write_oci(two_layers(b"one"), tmp_path / "one.tar")
    two = write_oci(two_layers(b"two"), tmp_path / "two.tar")
    analysed(one)
    monkeypatch.setattr(layercache, "_sha256_at", counted(layercache._sha256_at))
    image = analysed(two)
    assert hits(image) == [True, False] and layercache._sha256_at.calls == 2
    assert hits(analysed(two)) == [True, True] and layercache._sha256_at.calls == 2  # now known by its file
    assert hits(analysed(one)) == [True, True] and layercache._sha256_at.calls == 2
    info = json.loads(layerscope("cache", "info", "--json").stdout)
    assert (info["layers"], info["archive_blobs"], info["verified_archive_blobs"]) == (3, 4, 2)


def test_other_images_sharing_a_layer_are_named(tmp_path, not_racy):
    one = write_oci(two_layers(b"one"), tmp_path / "one.tar")
    two = write_oci(two_layers(b"second"), tmp_path / "two.tar")
    analysed(one)
    analysed(two)
    image = analysed(two)
    [other] = image.layers[0].also_in
    assert other.endswith(f" ({one})")
    assert image.layers[1].also_in == []
    from explorer.tui.widgets.details import _cache_lines

    text = [line.plain for line in _cache_lines(image.layers[0])]
    assert text[0].startswith("cached") and "layer cache" in text[0]
    assert text[1].startswith("also in") and str(one) in text[1]


def test_an_archive_since_deleted_is_not_named(tmp_path, not_racy):
    """Each `--demo` writes its archive to a new temporary folder, removed on exit: the
    earlier runs' archives must not pile up under "also in"."""
    one = write_oci(two_layers(b"one"), tmp_path / "one.tar")
    two = write_oci(two_layers(b"second"), tmp_path / "two.tar")
    analysed(one)
    analysed(two)
    one.unlink()
    image = analysed(two)
    assert image.layers[0].from_cache and image.layers[0].also_in == []


def test_an_archive_is_not_also_in_itself_through_a_symlinked_folder(tmp_path, not_racy):
    """The same file reached through a symlinked folder (`../shared` -> `/work/shared`) is
    one image, not another one sharing its layers."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    one = write_oci(two_layers(b"one"), tmp_path / "real" / "one.tar")
    analysed(tmp_path / "link" / "one.tar")
    image = analysed(one)
    assert image.layers[0].from_cache and image.layers[0].also_in == []
    assert analysed(tmp_path / "link" / "one.tar").layers[0].also_in == []


def test_verify_wants_a_record_whose_tar_was_hashed(tmp_path, not_racy):
    path = write_oci(two_layers(), tmp_path / "two.tar")
    verified = OpenOptions(cache=True, verify=True)
    analysed(path)
    assert not any(hits(analysed(path, verified)))  # stored without the tar's sha256: no diff_id check
    assert all(hits(analysed(path, verified)))  # stored again, with it
    info = json.loads(layerscope("cache", "info", "--json").stdout)
    assert (info["layers"], info["verified_archive_blobs"]) == (2, 2)  # the unverified records went
    assert all(hits(analysed(path)))


def test_a_changed_record_shape_is_a_miss(tmp_path, not_racy, monkeypatch):
    path = write_oci(two_layers(), tmp_path / "two.tar")
    analysed(path)
    monkeypatch.setattr(layercache, "FORMAT", layercache.FORMAT + ";another field")
    assert not any(hits(analysed(path)))


# ---- the file: damaged, foreign, shared, bounded -----------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "foreign", "truncated", "page"])
def test_a_damaged_or_foreign_cache_file_is_rebuilt(tmp_path, not_racy, damage):
    path = write_oci(two_layers(), tmp_path / "two.tar")
    analysed(path)
    file = cache_dir() / FILE_NAME
    if damage == "garbage":
        for suffix in ("-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)
        file.write_bytes(b"not a database at all" * 100)
    elif damage == "foreign":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)
        with sqlite3.connect(file) as db:
            db.execute("CREATE TABLE layers (digest TEXT, secret TEXT)")
            db.execute("INSERT INTO layers VALUES ('x', 'y')")
        db.close()
    else:
        LayerCache().close()  # the last one out checkpoints the WAL into the file
        data = bytearray(file.read_bytes())
        if damage == "truncated":
            del data[1000:]
        else:  # every page after the schema's
            data[4096:] = b"\xa5" * (len(data) - 4096)
        file.write_bytes(data)
    image = analysed(path)
    assert image.fs.lookup("app/top") is not None
    assert not any("layer cache" in w for w in image.warnings)
    if any(hits(image)):
        pytest.fail("a record from a damaged file was used")
    analysed(path)
    assert all(hits(analysed(path)))  # rebuilt, and in use


def test_a_cache_folder_others_can_write_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "shared-cache"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(folder))
    image = analysed(write_oci(two_layers(), tmp_path / "two.tar"))
    assert any("the layer cache is not used" in w and "writable by others" in w for w in image.warnings)
    assert not (folder / FILE_NAME).exists()


def test_least_recently_used_layers_go_first(tmp_path, not_racy, monkeypatch):
    one = write_oci(Image([Layer([F("one", b"1" * 100)])]), tmp_path / "one.tar")
    two = write_oci(Image([Layer([F("two", b"2" * 100)])]), tmp_path / "two.tar")
    analysed(one)
    cache = LayerCache()
    size = cache.info()["stored_bytes"]
    cache.close()
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX_BYTES", str(int(size * 1.5)))
    analysed(two)  # over the bound: `one`, used least recently, goes
    assert hits(analysed(two)) == [True]
    assert hits(analysed(one)) == [False]
    assert hits(analysed(one)) == [True] and hits(analysed(two)) == [False]


@needs_shared
def test_two_processes_share_the_cache():
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "explorer", "report", str(path), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "CI"},
        )
        for path in (BLOAT, BLOAT, REAL / "small-bloat.oci-zstd.tar", BLOAT)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0] == outputs[3][0]
    assert all(hits(analysed(BLOAT))) and all(hits(analysed(REAL / "small-bloat.oci-zstd.tar")))


def test_stream_sources_are_not_cached(tmp_path):
    """Standard input has no file to check unchanged: always read."""
    path = write_oci(two_layers(), tmp_path / "two.tar")
    out = [
        subprocess.run(
            [sys.executable, "-m", "explorer", "report", "-", "--json"],
            stdin=path.open("rb"),
            capture_output=True,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "CI"},
            timeout=60,
        )
        for _ in range(2)
    ]
    assert out[0].returncode == 0 and out[0].stdout == out[1].stdout
    assert json.loads(layerscope("cache", "info", "--json").stdout)["layers"] == 0


def test_directory_sources_are_cached(tmp_path, not_racy):
    layout = write_oci(two_layers(), tmp_path / "layout", as_dir=True)
    assert isinstance(Model.open(str(layout)).source, DirSource)
    analysed(layout)
    assert all(hits(analysed(layout)))


@needs_shared
def test_diff_reads_through_the_cache():
    old, new = str(BLOAT), str(REAL / "small-bloat-ovl.oci-gzip.tar")
    plain = layerscope("diff", old, new, "--json", "--no-cache")
    assert plain.returncode == 1 and b'"identical": false' in plain.stdout and not (cache_dir() / FILE_NAME).exists()
    first, second = (layerscope("diff", old, new, "--json") for _ in range(2))
    assert first.stdout == second.stdout == plain.stdout
    assert json.loads(layerscope("cache", "info", "--json").stdout)["images"] == 2
    assert all(hits(analysed(old))) and all(hits(analysed(new)))


@needs_shared
def test_no_cache_from_the_environment(monkeypatch):
    monkeypatch.setenv("LAYERSCOPE_NO_CACHE", "1")
    assert layerscope("report", str(BLOAT), "--json").returncode == 0
    assert not (cache_dir() / FILE_NAME).exists()


def test_a_busy_cache_is_bypassed_not_rebuilt(tmp_path, not_racy, monkeypatch):
    """Another process writing past the busy timeout: this run goes without the cache, and the
    file, healthy, stays."""
    one = write_oci(two_layers(b"one"), tmp_path / "one.tar")
    analysed(one)
    monkeypatch.setattr(layercache, "BUSY_TIMEOUT", 0.1)
    other = sqlite3.connect(cache_dir() / FILE_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        image = analysed(write_oci(two_layers(b"two"), tmp_path / "two.tar"))
        assert image.fs.lookup("app/top") is not None
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(hits(analysed(one)))


@needs_shared
def test_the_app_shows_the_layers_from_the_cache_and_the_images_that_share_them():
    import asyncio

    from explorer.tui.app import LayerscopeApp

    other = REAL / "small-bloat-ovl.oci-gzip.tar"  # its base layer is BLOAT's
    analysed(other)
    analysed(BLOAT)

    async def look() -> str:
        app = LayerscopeApp(str(BLOAT), CACHED, animate=False)
        async with app.run_test(size=(120, 50)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.loaded and app.error is None
            return str(app.query_one("#details-body").render())

    details = asyncio.run(look())
    assert "read from the layer cache, not from its blob" in details
    assert f"also in     latest ({other.resolve()})" in details  # the file, however the path reached it


def test_no_worker_is_started_for_an_archive_the_cache_remembers(tmp_path, not_racy):
    from explorer.archive.pool import PARALLEL_MIN_BYTES
    from explorer.commands.options import start_pool
    from explorer.commands.report import _parser

    big = Image([Layer([F("big", os.urandom(PARALLEL_MIN_BYTES))], compression="none"), Layer([F("x", b"x")])])
    path = str(write_oci(big, tmp_path / "big.tar"))
    args = _parser().parse_args([path])
    with start_pool(path, args) as pool:
        assert pool.processes  # started while the model is imported
    analysed(path)
    with start_pool(path, args) as pool:
        assert not pool.processes  # its layers come from the cache
    with start_pool(path, _parser().parse_args([path, "--no-cache"])) as pool:
        assert pool.processes


def test_cat_and_extract_read_no_layer_and_start_no_worker_for_an_archive_the_cache_holds(
    tmp_path, not_racy, monkeypatch, capsysbinary
):
    """They need the analysis (to resolve the path) and then the file's bytes: the analysis
    comes from the records, the bytes from the offsets the records keep."""
    from explorer.archive.pool import PARALLEL_MIN_BYTES, ScanPool
    from explorer.commands import cat, extract

    content = os.urandom(PARALLEL_MIN_BYTES)
    big = Image([Layer([F("big", content)], compression="none"), Layer([F("x", b"x")])])
    path = str(write_oci(big, tmp_path / "big.tar"))
    assert cat.run([path, "big"]) == 0 and capsysbinary.readouterr().out == content  # the records made
    monkeypatch.setattr(TarFileSource, "scan", no_reading)
    monkeypatch.setattr(ScanPool, "start", no_reading)
    assert cat.run([path, "big"]) == 0 and capsysbinary.readouterr().out == content
    assert extract.run([path, "big", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "big").read_bytes() == content


def test_an_archive_is_remembered_only_while_the_cache_holds_records_of_it(tmp_path, not_racy):
    """A blob remembered without a record (its scan could not be one, or its record went) does
    not say its layers will come from the cache: workers are started for it."""
    from explorer.archive.cachefile import identity, remembered

    path = str(write_oci(two_layers(), tmp_path / "two.tar"))
    image = Model.open(path, CACHED)
    location = image.source.locate(image.layers[0].ref.blob)
    image.close()
    cache = LayerCache()
    cache.remember_blob(location, identity(path), image.layers[0].digest)
    cache.close()
    assert not remembered(path)
    analysed(path)
    assert remembered(path)
