"""`layerscope diff`: builder pairs with known answers, and real images across formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.analysis.compare import analyse_both, compare
from explorer.analysis.image import Image as Model
from explorer.archive.pool import ScanPool
from explorer.present.compare import diff_dict, verdict

from .conftest import DIVE, REAL, needs_shared
from .imagebuilder import F, Image, Layer, whiteout, write_docker25_archive, write_docker_archive, write_oci

ROOT = Path(__file__).resolve().parents[1]


def _base() -> Layer:
    return Layer(
        [
            F("etc/conf", b"a"),
            F("usr/lib/py/x.py", b"x" * 100),
            F("bin/tool", kind="symlink", link="../usr/lib/py/x.py"),
            F("var/keep", b"k"),
        ],
        created_by="ADD base",
    )


def old_image() -> Image:
    return Image([_base(), Layer([F("app/data", b"d" * 1000)], created_by="COPY data")])


def new_image() -> Image:
    top = Layer(
        [
            F("app/data", b"e" * 5000),
            F("usr/lib/py/new.py", b"n" * 3000),
            whiteout("etc/conf"),
            F("var/keep", b"k", mode=0o600),
            F("bin/tool", b"xx"),
        ],
        created_by="COPY data v2",
    )
    return Image([_base(), top])


def _open(path: Path) -> Model:
    return Model.open(str(path))


def _compare(old: Path, new: Path):
    a, b = _open(old), _open(new)
    with ScanPool() as pool:
        analyse_both(a, b, pool)
    return compare(a, b)


def _diff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", "diff", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    return write_oci(old_image(), tmp / "old.tar"), write_docker_archive(new_image(), tmp / "new.tar")


def test_known_answer(pair):
    c = _compare(*pair)
    got = {d.path: (d.status, d.delta, d.fields) for d in c.diffs}
    assert got == {
        "app/data": ("modified", 4000, ()),
        "usr/lib/py/new.py": ("added", 3000, ()),
        "etc/conf": ("removed", -1, ()),
        "var/keep": ("metadata", 0, ("mode",)),
        "bin/tool": ("type_changed", 2, ()),
    }
    assert (c.layers.shared_base, c.layers.also_shared, c.layers.old_only, c.layers.new_only) == (1, [], [1], [1])
    assert c.new_bytes - c.old_bytes == 7001
    assert (c.root.grown, c.root.shrunk) == (7002, 1)
    assert {d.path: d.delta for d in c.directories()} == {"": 7001, "app": 4000, "usr": 3000, "usr/lib": 3000,
                                                         "usr/lib/py": 3000, "etc": -1, "bin": 2}  # fmt: skip
    assert c.growth_dir() == ("app", pytest.approx(4000 / 7002))
    assert verdict(c) == "NEW is +7.0 kB over OLD: 1 layer shared, 1 replaced; 57 % of the growth is in /app"
    assert [d.path for d in c.largest_growths(2)] == ["app/data", "usr/lib/py/new.py"]


def test_cli_json_and_exit_codes(pair, tmp_path):
    proc = _diff(*pair, "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "layerscope.diff/v1" and data["identical"] is False
    assert set(data) == {
        "schema", "identical", "verdict", "old", "new", "layers", "summary", "growth_in",
        "directories", "largest_growths", "changes", "changes_total", "packages", "warnings",
    }  # fmt: skip
    s = data["summary"]
    assert (s["added"], s["removed"], s["modified"], s["metadata"], s["type_changed"]) == (1, 1, 1, 1, 1)
    assert s["metadata_fields"] == {"mode": 1} and s["delta_bytes"] == 7001
    assert data["layers"]["shared_base"] == 1 and [x["index"] for x in data["layers"]["new_only"]] == [1]
    assert data["layers"]["new_only"][0]["instruction"] == "COPY data v2"
    assert data["growth_in"]["path"] == "app"
    change = {c["path"]: c for c in data["changes"]}["bin/tool"]
    assert change["old"]["kind"] == "symlink" and change["new"]["kind"] == "file" and change["new"]["size"] == 2
    assert data["old"]["file_bytes"] == 1102 and data["new"]["file_bytes"] == 8103

    text = _diff(*pair)
    assert text.returncode == 1
    assert "57 % of the growth is in /app" in text.stdout and "/usr/lib/py/new.py" in text.stdout
    assert "symlink -> file" in text.stdout and "1 added, 1 removed, 1 changed content" in text.stdout

    same = _diff(pair[0], pair[0])
    assert same.returncode == 0 and "identical filesystems (2 layers shared)" in same.stdout

    missing = _diff(pair[0], tmp_path / "nope.tar")
    assert missing.returncode == 2 and missing.stderr.startswith("layerscope: ") and "Traceback" not in missing.stderr


def test_same_image_in_every_format_is_identical(tmp_path):
    image = new_image()
    zstd = new_image()
    for layer in zstd.layers:
        layer.compression = "zstd"
    paths = [
        write_oci(image, tmp_path / "oci.tar"),
        write_oci(zstd, tmp_path / "zstd.tar", outer_gzip=True),
        write_oci(image, tmp_path / "dir", as_dir=True),
        write_docker_archive(image, tmp_path / "docker.tar", symlink_layers=True),
        write_docker25_archive(image, tmp_path / "d25.tar"),
    ]
    for other in paths[1:]:
        c = _compare(paths[0], other)
        assert c.identical and verdict(c) == "identical filesystems (2 layers shared)", other


def test_layers_added_on_top_and_shared_out_of_place(tmp_path):
    extra = Layer([F("opt/more", b"m" * 10)], created_by="RUN more")
    old = Image([_base(), extra])
    new = Image([_base(), Layer([F("srv/x", b"s")], created_by="RUN x"), extra, Layer([F("opt/z", b"")])])
    c = _compare(write_oci(old, tmp_path / "a.tar"), write_oci(new, tmp_path / "b.tar"))
    assert (c.layers.shared_base, c.layers.also_shared, c.layers.old_only, c.layers.new_only) == (
        1,
        [(1, 2)],
        [],
        [1, 3],
    )
    assert sorted((d.path, d.status) for d in c.diffs) == [("opt/z", "added"), ("srv", "added"), ("srv/x", "added")]
    assert verdict(c) == "NEW is +1 B over OLD: 2 layers shared, 2 added; 100 % of the growth is in /srv"


def test_shrinking_and_mtime_only(tmp_path):
    old = Image([Layer([F("a/big", b"b" * 2000, mtime=5), F("a/t", b"t", mtime=1)])])
    new = Image([Layer([F("a/t", b"t", mtime=2)])])
    c = _compare(write_oci(old, tmp_path / "a.tar"), write_oci(new, tmp_path / "b.tar"))
    assert [(d.path, d.status, d.fields) for d in c.diffs] == [
        ("a/big", "removed", ()),
        ("a/t", "metadata", ("mtime",)),
    ]
    assert verdict(c) == "NEW is 2.0 kB under OLD: 0 layers shared, 1 replaced; 100 % of the reduction is in /a"
    data = diff_dict(c, top=1)
    assert data["changes_total"] == 2 and [x["path"] for x in data["changes"]] == ["a/big"]


def test_empty_images(tmp_path):
    empty = Image([])
    c = _compare(write_oci(empty, tmp_path / "a.tar"), write_oci(new_image(), tmp_path / "b.tar"))
    assert not c.identical and c.old_bytes == 0 and c.layers.new_only == [0, 1]
    assert _compare(tmp_path / "a.tar", tmp_path / "a.tar").identical


@needs_shared
@pytest.mark.parametrize(
    "name",
    [
        "small-bloat.docker25.tar",
        "small-bloat.oci-dir",
        "small-bloat.oci-gzip.tar",
        "small-bloat.oci-uncompressed.tar",
        "small-bloat.oci-zstd.tar",
    ],
)
def test_real_image_across_formats_is_identical(name):
    c = _compare(REAL / "small-bloat.docker-archive.tar", REAL / name)
    assert c.identical and c.layers.shared == 15 and verdict(c) == "identical filesystems (15 layers shared)"


@needs_shared
def test_dive_fixtures_across_layer_compressions():
    for kind in ("gzip", "zstd", "estargz"):
        c = _compare(DIVE / "test-oci-uncompressed-image.tar", DIVE / f"test-oci-{kind}-image.tar")
        assert c.identical, kind


@needs_shared
def test_vfs_against_overlay():
    """Same Dockerfile, two storage drivers: only the base layer is shared; the files differ in
    their build-time mtimes, and `ln lower new` is a full copy under vfs but a hard link under
    overlay (12,000 bytes fewer visible)."""
    c = _compare(REAL / "small-bloat.oci-gzip.tar", REAL / "small-bloat-ovl.oci-gzip.tar")
    counts = c.counts()
    assert counts == {"added": 0, "removed": 0, "modified": 0, "metadata": counts["metadata"], "type_changed": 0}
    assert counts["metadata"] > 2000 and all("mtime" in d.fields for d in c.diffs)
    link = {d.path: d for d in c.diffs}["bloat/hardlink-to-lower.bin"]
    assert link.fields == ("mtime", "hardlink") and (link.old.kind, link.new.kind) == ("f", "h")
    assert link.delta == -12000 and c.new_bytes - c.old_bytes == -12000
    assert (c.layers.shared_base, len(c.layers.old_only), len(c.layers.new_only)) == (1, 14, 14)
    assert verdict(c) == "NEW is 12.0 kB under OLD: 1 layer shared, 14 replaced; 100 % of the reduction is in /bloat"
    out = _diff(REAL / "small-bloat.oci-gzip.tar", REAL / "small-bloat-ovl.oci-gzip.tar", "--top", "3").stdout
    n = f"{counts['metadata']:,}"  # thousands grouped, as the app's Compare tab counts them
    assert f"Paths          {n} metadata only (hardlink 1, mtime {n})" in out and f"Changes (3 of {n}," in out


# ---- the app's Compare tab, as words and numbers (present/compare_view) -----------------------


def test_compare_view_tree_and_layer_rows(pair):
    from explorer.present.compare_view import compare_view, entry_note, match_words

    c = _compare(*pair)
    view = compare_view(c, "old.tar", "new.tar")
    top = [(e.name, e.status, e.delta, e.below) for e in view.children[""]]
    assert top == [("app", None, 4000, 1), ("usr", None, 3000, 1), ("bin", None, 2, 1), ("etc", None, -1, 1),
                   ("var", None, 0, 1)]  # fmt: skip
    assert [(e.path, e.status, e.delta, e.is_dir) for e in view.children["usr/lib/py"]] == [
        ("usr/lib/py/new.py", "added", 3000, False)
    ]
    assert [(e.name, e.status) for e in view.children["bin"]] == [("tool", "type_changed")]
    assert entry_note(view.children[""][0]) == "+4.0 kB, 1 path" and entry_note(view.children["var"][0]) == ""
    assert view.total == 5 and view.verdict.startswith("NEW is +7.0 kB over OLD")
    (b0, n0), (b1, n1) = view.rows
    assert (b0.match, n0.match, b1.match, n1.match) == ("base", "base", "only", "only")
    assert match_words(b0, "OLD") == "shared base" and match_words(n1, "NEW") == "only in NEW"
    assert view.largest == max(b.size for row in view.rows for b in row if b)
    for side, image in ((0, c.old), (1, c.new)):  # the bars' sizes are the layer list's: file content, not tar bytes
        sizes = [row[side].size for row in view.rows if row[side]]
        assert sizes == [layer.content_bytes for layer in image.layers] != [layer.tar_size for layer in image.layers]


def test_compare_view_lines_up_layers_shared_out_of_place(tmp_path):
    from explorer.present.compare_view import layer_rows

    extra = Layer([F("opt/more", b"m" * 10)], created_by="RUN more")
    old = Image([_base(), Layer([F("gone", b"g")], created_by="RUN gone"), extra])
    new = Image([_base(), Layer([F("srv/x", b"s")], created_by="RUN x"), extra, Layer([F("opt/z", b"")])])
    c = _compare(write_oci(old, tmp_path / "a.tar"), write_oci(new, tmp_path / "b.tar"))
    rows = [(o and (o.index, o.match, o.partner), n and (n.index, n.match, n.partner)) for o, n in layer_rows(c)]
    assert rows == [
        ((0, "base", 0), (0, "base", 0)),
        ((1, "only", None), (1, "only", None)),  # replaced: side by side
        ((2, "also", 2), (2, "also", 2)),  # the same layer, on one row
        (None, (3, "only", None)),
    ]
