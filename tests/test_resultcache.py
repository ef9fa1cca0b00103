"""Whole reports kept in the layer cache (explorer/analysis/resultcache.py): a second `report`
of an unchanged image prints the kept one without analysing, and any change to what decides
it (the archive, the options, the code, a layer's record) is a miss, never a stale report."""

from __future__ import annotations

import os

import pytest

from explorer.analysis import resultcache
from explorer.archive import layercache
from explorer.archive.cachefile import remembered
from explorer.archive.layercache import LayerCache
from explorer.commands import report
from tests.imagebuilder import F, Image, Layer, layer_blob, write_oci
from tests.test_cache import top_blob, two_layers


@pytest.fixture(autouse=True)
def not_racy(monkeypatch):
    monkeypatch.setattr(layercache, "RACY", 0.0)


def printed(capsysbinary, *argv: object) -> bytes:
    assert report.run([str(a) for a in argv]) == 0
    return capsysbinary.readouterr().out


def info() -> dict:
    cache = LayerCache()
    try:
        return cache.info()
    finally:
        cache.close()


def test_a_second_report_is_the_one_kept(tmp_path, capsysbinary, analyses):
    path = write_oci(two_layers(), tmp_path / "two.tar")
    plain = {mode: printed(capsysbinary, path, *mode, "--no-cache") for mode in ((), ("--json",))}
    assert analyses["n"] == 2 and info()["results"] == 0
    for mode in ((), ("--json",)):
        assert printed(capsysbinary, path, *mode) == plain[mode]  # analysed, and kept
    assert analyses["n"] == 4 and info()["results"] == 2
    for mode in ((), ("--json",)):
        assert printed(capsysbinary, path, *mode) == plain[mode]  # kept: not analysed again
    assert analyses["n"] == 4
    printed(capsysbinary, path, "--no-cache")  # --no-cache neither reads nor keeps one
    assert analyses["n"] == 5 and info()["results"] == 2


@pytest.mark.parametrize("change", ["--top", "--dive", "--platform", "code", "archive", "record"])
def test_a_kept_report_is_a_miss_once_anything_it_was_made_of_changes(tmp_path, capsysbinary, analyses, change):
    layout = write_oci(two_layers(b"old"), tmp_path / "layout", as_dir=True)
    first = printed(capsysbinary, layout, "--json")
    assert printed(capsysbinary, layout, "--json") == first and analyses["n"] == 1
    options: tuple[str, ...] = ()
    if change == "--top":
        options = ("--top", "1")
    elif change == "--dive":
        options = ("--dive",)
    elif change == "--platform":
        options = ("--platform", "linux/amd64")
    elif change == "code":
        resultcache._code = "another version of layerscope"
    elif change == "archive":  # the top blob rewritten in place: same size, same mtime, another name
        blob = top_blob(layout, b"old")
        stat = blob.stat()
        blob.write_bytes(layer_blob(Layer([F("app/pot", b"old")], compression="none")))
        assert blob.stat().st_size == stat.st_size
        os.utime(blob, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    elif change == "record":  # a layer's record went (evicted, damaged): the report is made again
        cache = LayerCache()
        digest = cache._db.execute("SELECT digest, diff_id FROM layers LIMIT 1").fetchone()
        cache.drop(*digest)
        cache.close()
    try:
        again = printed(capsysbinary, layout, "--json", *options)
        assert analyses["n"] == 2
        assert again == printed(capsysbinary, layout, "--json", *options, "--no-cache")
        if change == "archive":
            assert again != first
    finally:
        resultcache._code = None


def test_kept_reports_go_with_the_least_recently_used_records(tmp_path, capsysbinary, monkeypatch):
    """Reports count in the cache's bound; when records go, so do the blobs remembered for
    them (else the cache would say an archive's layers need no worker, and be wrong)."""
    one = write_oci(Image([Layer([F("one", b"1" * 100)])]), tmp_path / "one.tar")
    two = write_oci(Image([Layer([F("two", b"2" * 100)])]), tmp_path / "two.tar")
    printed(capsysbinary, one, "--json")
    first = info()
    assert (first["layers"], first["results"], first["archive_blobs"]) == (1, 1, 1) and remembered(str(one))
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX_BYTES", str(int(first["stored_bytes"] * 1.5)))
    printed(capsysbinary, two, "--json")
    after = info()
    assert after["stored_bytes"] <= first["stored_bytes"] * 1.5
    assert (after["layers"], after["results"], after["archive_blobs"]) == (1, 1, 1)
    assert remembered(str(two)) and not remembered(str(one))


def test_an_archive_just_written_is_hashed_before_its_kept_report_is_used(tmp_path, capsysbinary, analyses):
    """Its timestamps cannot prove it unchanged (see layercache.RACY): its blobs are hashed to
    the digests its records were made of, and then the kept report is printed."""
    layercache.RACY = 3600.0
    hashed = []
    sha256_at = layercache._sha256_at
    layercache._sha256_at = lambda location: hashed.append(location) or sha256_at(location)
    try:
        path = write_oci(two_layers(), tmp_path / "two.tar")
        first = printed(capsysbinary, path, "--json")
        assert printed(capsysbinary, path, "--json") == first
    finally:
        layercache._sha256_at = sha256_at
    assert analyses["n"] == 1 and len(hashed) == 2
