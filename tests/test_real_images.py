"""The real archives of ../shared/testdata give the hand-derived figures, in every format."""

from __future__ import annotations

import pytest

from explorer.analysis import load
from explorer.analysis.filesystem import DELETED
from explorer.archive.entries import DIR, FILE, SYMLINK
from explorer.archive.options import OpenOptions

from . import real_expected as X
from .conftest import DIVE, REAL, needs_shared

pytestmark = needs_shared

VFS = [
    "small-bloat.docker-archive.tar",
    "small-bloat.docker25.tar",
    "small-bloat.oci-dir",
    "small-bloat.oci-gzip.tar",
    "small-bloat.oci-uncompressed.tar",
    "small-bloat.oci-zstd.tar",
]
OVL = ["small-bloat-ovl.docker-archive.tar", "small-bloat-ovl.oci-gzip.tar", "small-bloat-ovl.oci-zstd.tar"]
BUILDS = [(name, X.SMALL_BLOAT_CHANGES, X.SMALL_BLOAT_WASTE, X.SMALL_BLOAT_TOTALS) for name in VFS] + [
    (name, X.SMALL_BLOAT_OVL_CHANGES, X.SMALL_BLOAT_OVL_WASTE, X.SMALL_BLOAT_OVL_TOTALS) for name in OVL
]
_cache: dict = {}


def image(name: str):
    if name not in _cache:
        _cache[name] = load(str(REAL / name))
    return _cache[name]


def listed_changes(img, index: int) -> dict[str, str]:
    """Non-directory changes of a layer, plus deleted directories (the expectation's shape)."""
    out = {}
    for change in img.fs.layer_changes[index]:
        if change.shown.kind != DIR or change.kind == DELETED:
            out[change.path] = change.kind
    return out


@pytest.mark.parametrize(("name", "changes", "waste", "totals"), BUILDS, ids=[b[0] for b in BUILDS])
def test_changes_per_layer(name, changes, waste, totals):
    img = image(name)
    assert len(img.layers) == 15
    for index, expected in changes.items():
        assert listed_changes(img, index) == expected, f"layer {index}"


@pytest.mark.parametrize(("name", "changes", "waste", "totals"), BUILDS, ids=[b[0] for b in BUILDS])
def test_waste_items_and_totals(name, changes, waste, totals):
    img = image(name)
    items = sorted((i.path, i.size, i.stored_in, i.hidden_by, i.cause) for i in img.waste.items if i.size)
    assert items == sorted(waste)
    assert (img.waste.stored, img.waste.visible, img.waste.wasted) == (
        totals["stored"],
        totals["visible"],
        totals["wasted"],
    )
    assert img.waste.wasted == sum(i.size for i in img.waste.items)


@pytest.mark.parametrize("name", VFS + OVL)
def test_layer_stats_and_history(name):
    img = image(name)
    assert [layer.content_bytes for layer in img.layers] == X.LAYER_CONTENT_BYTES
    for layer, text in zip(img.layers, X.SMALL_BLOAT_CREATED_BY, strict=True):
        assert text in layer.created_by
    assert len(img.history) == X.SMALL_BLOAT_HISTORY_LEN
    empties = [h.instruction for h in img.history if h.layer is None]
    assert len(empties) == len(X.SMALL_BLOAT_EMPTY_HISTORY)
    for got, want in zip(empties, X.SMALL_BLOAT_EMPTY_HISTORY, strict=True):
        assert got.startswith(want)
    base = img.layers[0].entry_counts
    assert (base[FILE], base[SYMLINK], base[DIR]) == (
        X.BASE_LAYER["files"],
        X.BASE_LAYER["symlinks"],
        X.BASE_LAYER["dirs"],
    )
    assert img.config.workdir == "/bloat" and img.config.cmd == ["/bin/sh"]
    assert img.platform == "linux/amd64"


def test_every_format_of_a_build_agrees():
    def fingerprint(img):
        return (
            [sorted((c.path, c.kind) for c in changes) for changes in img.fs.layer_changes],
            sorted((i.path, i.size, i.stored_in, i.hidden_by, i.cause) for i in img.waste.items),
        )

    for group in (VFS, OVL):
        first = fingerprint(image(group[0]))
        for name in group[1:]:
            assert fingerprint(image(name)) == first, name


def test_odd_names_kept_exactly():
    img = image("small-bloat.oci-gzip.tar")
    assert img.fs.lookup(X.LATIN1_PATH) is not None
    assert img.fs.lookup(X.LONG_FILE).entry_at(14).size == 5
    assert img.fs.lookup("bloat/names/[bold red]not-bold[/]") is not None
    assert img.fs.lookup("bloat/sym-long-target").entry_at(14).link == "/" + X.LONG_DIR


@pytest.mark.parametrize("name", ["scratch-empty.docker-archive.tar", "scratch-empty.oci-archive.tar"])
def test_scratch_empty(name):
    img = image(name)
    assert len(img.layers) == X.SCRATCH_EMPTY["layers"]
    assert [h.instruction.split()[0] for h in img.history] == ["LABEL", "ENV", "CMD"]
    assert img.waste.stored == 0 and img.waste.efficiency == 1.0


@pytest.mark.parametrize("platform", list(X.MULTI))
def test_multi_platform_index(platform):
    img = load(str(REAL / "multi.oci-index.tar"), OpenOptions(platform=platform))
    want = X.MULTI[platform]
    assert img.platform == platform
    assert img.fs.lookup("bin/busybox").entry_at(1).size == want["busybox_bytes"]
    assert listed_changes(img, 1) == want["layer1_changes"]
    assert img.fs.lookup("etc/platform.txt").entry_at(1).size == want["platform_txt_bytes"]
    assert sorted(c.name for c in img.fs.children_at(img.fs.lookup("bin"), 1)) == sorted(["busybox", *X.MULTI_APPLETS])


def test_multi_default_platform_is_amd64():
    assert load(str(REAL / "multi.oci-index.tar")).platform == "linux/amd64"


@pytest.mark.parametrize(
    "name",
    [
        "test-docker-image.tar",
        "test-kaniko-image.tar",
        "test-oci-uncompressed-image.tar",
        "test-oci-gzip-image.tar",
        "test-oci-zstd-image.tar",
        "test-oci-estargz-image.tar",
    ],
)
def test_dive_fixtures_open(name):
    img = load(str(DIVE / name))
    assert img.layers and img.waste.stored > 0
    assert img.waste.wasted == sum(i.size for i in img.waste.items)


def test_dive_oci_fixtures_agree():
    readmes = {}
    for kind in ("uncompressed", "gzip", "zstd", "estargz"):
        img = load(str(DIVE / f"test-oci-{kind}-image.tar"))
        node = img.fs.lookup("README.md")
        readmes[kind] = (node.entry_at(0).size, node.entry_at(0).digest)
    assert len(set(readmes.values())) == 1, readmes
