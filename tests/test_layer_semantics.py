"""How layers stack: whiteouts, opaque directories, replacements, re-stores, hard links, names.

Most tests drive `FileSystem.apply` directly with lists of rows; some go through real archives
written by the builder, so the tar reader's part (names, whiteout markers) is covered too.
"""

from __future__ import annotations

import io

import pytest
import xxhash

from explorer.analysis import load
from explorer.analysis.filesystem import ADDED, DELETED, MODIFIED, RESTORED, TYPE_CHANGED, FileSystem
from explorer.analysis.waste import compute_waste
from explorer.archive.entries import DIR, FILE, HARDLINK, SYMLINK, Entry, Row, normalize
from explorer.archive.layerscan import scan_layer
from explorer.present.browse import CHANGES, MERGED, UNCHANGED, Browser
from tests.imagebuilder import F, Image, Layer, layer_tar, opaque, whiteout, write_oci

# ---- helpers ------------------------------------------------------------------------------


def row(path: str, kind: str, size: int = 0, mode: int = 0, uid: int = 0, mtime: int = 0, link: str = "",
        digest: int | None = None) -> Row:  # fmt: skip
    """A scan's row for one tar entry (what `FileSystem.apply` stacks)."""
    return (path, kind, size, mode, uid, 0, mtime, link, digest)


def f(path: str, data: bytes = b"x", mode: int = 0o644, mtime: int = 0, uid: int = 0) -> Row:
    return row(path, FILE, len(data), mode, uid=uid, mtime=mtime, digest=xxhash.xxh3_64_intdigest(data))


def d(path: str, mode: int = 0o755, mtime: int = 0, uid: int = 0) -> Row:
    return row(path, DIR, mode=mode, uid=uid, mtime=mtime)


def h(path: str, target: str) -> Row:
    return row(path, HARDLINK, mode=0o644, link=target)


def s(path: str, target: str) -> Row:
    return row(path, SYMLINK, mode=0o777, link=target)


def w(path: str) -> Row:
    return row(path, "w")


def o(path: str) -> Row:
    return row(path, "o")


def build(*layers: list[Row]) -> FileSystem:
    fs = FileSystem()
    for index, entries in enumerate(layers):
        fs.apply(index, entries)
    return fs


def changes(fs: FileSystem, layer: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for change in fs.layer_changes[layer]:
        assert change.path not in out, f"{change.path} changed twice in layer {layer}"
        out[change.path] = change.kind
    return out


def visible(fs: FileSystem, layer: int) -> dict[str, Entry]:
    """The merged filesystem at `layer`, walked with children_at / entry_at."""
    out: dict[str, Entry] = {}
    stack = [fs.root]
    while stack:
        node = stack.pop()
        for child in fs.children_at(node, layer):
            out[child.path] = child.entry_at(layer)
            stack.append(child)
    return out


def waste_of(fs: FileSystem):
    waste = compute_waste(fs)
    check_waste_invariants(waste)
    return waste


def check_waste_invariants(waste) -> None:
    assert waste.stored - waste.visible == waste.wasted == sum(i.size for i in waste.items)
    assert sum(waste.stored_by_layer.values()) == waste.wasted
    assert sum(waste.hidden_by_layer.values()) == waste.wasted
    assert sum(waste.by_cause.values()) == waste.wasted
    for item in waste.items:
        assert item.stored_in <= item.hidden_by
        assert item.cause in ("deleted", "overwritten", "restored")


def items(fs: FileSystem) -> list[tuple]:
    return sorted((i.path, i.size, i.stored_in, i.hidden_by, i.cause) for i in waste_of(fs).items)


def load_layers(tmp_path, *layers: Layer, **kw):
    return load(str(write_oci(Image(list(layers), **kw), tmp_path / "img.tar")))


def read_tar(entries: list[F]) -> list[Row]:
    data = layer_tar(Layer(entries))
    return scan_layer(io.BytesIO(data), "layer", len(data)).rows  # type: ignore[return-value]


# ---- whiteouts ----------------------------------------------------------------------------


def test_whiteout_of_a_file():
    fs = build([d("etc"), f("etc/a", b"aaa"), f("etc/b")], [w("etc/a")])
    assert changes(fs, 1) == {"etc/a": DELETED}
    assert set(visible(fs, 1)) == {"etc", "etc/b"}
    assert set(visible(fs, 0)) == {"etc", "etc/a", "etc/b"}
    assert items(fs) == [("etc/a", 3, 0, 1, "deleted")]


def test_whiteout_of_a_directory_deletes_the_subtree():
    fs = build(
        [d("var"), d("var/cache"), f("var/cache/a", b"12"), d("var/cache/sub"), f("var/cache/sub/b", b"345")],
        [w("var/cache")],
    )
    assert changes(fs, 1) == {
        "var/cache": DELETED,
        "var/cache/a": DELETED,
        "var/cache/sub": DELETED,
        "var/cache/sub/b": DELETED,
    }
    assert set(visible(fs, 1)) == {"var"}
    assert items(fs) == [("var/cache/a", 2, 0, 1, "deleted"), ("var/cache/sub/b", 3, 0, 1, "deleted")]
    deleted = fs.lookup("var/cache/sub/b").change_in(1)
    assert deleted.entry is None and deleted.old.size == 3 and deleted.old_layer == 0 and deleted.shown.size == 3


def test_whiteout_of_a_path_that_never_existed_is_harmless():
    fs = build([f("a")], [w("nope"), w("a/below-a-file"), w("deep/er/path")])
    assert changes(fs, 1) == {}
    assert set(visible(fs, 1)) == {"a"}
    assert items(fs) == []


def test_whiteout_of_an_already_deleted_path():
    fs = build([f("a", b"1")], [w("a")], [w("a")])
    assert changes(fs, 2) == {}
    assert items(fs) == [("a", 1, 0, 1, "deleted")]


def test_whiteout_acts_on_lower_layers_only():
    # the same layer whites out a and writes it again: a replacement, not a deletion
    fs = build([f("a", b"old")], [f("a", b"new!"), w("a")])
    assert changes(fs, 1) == {"a": MODIFIED}
    assert visible(fs, 1)["a"].size == 4
    assert items(fs) == [("a", 3, 0, 1, "overwritten")]


def test_whiteout_then_identical_file_is_a_restore():
    fs = build([f("a", b"same")], [w("a"), f("a", b"same")])
    assert changes(fs, 1) == {"a": RESTORED}
    assert items(fs) == [("a", 4, 0, 1, "restored")]


def test_rm_rf_and_mkdir_in_one_layer():
    fs = build([d("x"), f("x/old", b"12")], [w("x"), d("x"), f("x/new", b"3")])
    assert changes(fs, 1) == {"x/old": DELETED, "x/new": ADDED}
    assert set(visible(fs, 1)) == {"x", "x/new"}


# ---- opaque directories -------------------------------------------------------------------


@pytest.mark.parametrize("marker_first", [True, False], ids=["marker-first", "marker-last"])
def test_opaque_hides_lower_children_not_same_layer_ones(marker_first):
    lower = [d("doc"), f("doc/one", b"1"), d("doc/sub"), f("doc/sub/two", b"22"), f("keep", b"k")]
    upper = [d("doc"), f("doc/new", b"333"), d("doc/sub"), f("doc/sub/three", b"4444")]
    upper = [o("doc"), *upper] if marker_first else [*upper, o("doc")]
    fs = build(lower, upper)
    assert changes(fs, 1) == {
        "doc/one": DELETED,
        "doc/sub/two": DELETED,
        "doc/new": ADDED,
        "doc/sub/three": ADDED,
    }
    assert set(visible(fs, 1)) == {"doc", "doc/new", "doc/sub", "doc/sub/three", "keep"}
    assert items(fs) == [("doc/one", 1, 0, 1, "deleted"), ("doc/sub/two", 2, 0, 1, "deleted")]


@pytest.mark.parametrize("order", ["whiteouts-last", "whiteouts-first"])
def test_opaque_through_an_archive_whatever_the_tar_order(tmp_path, order):
    new = [F("usr/share/doc/", kind="dir"), F("usr/share/doc/README", b"see web\n")]
    markers = [opaque("usr/share/doc"), whiteout("etc/motd")]
    entries = new + markers if order == "whiteouts-last" else markers + new
    img = load_layers(
        tmp_path,
        Layer([F("usr/share/doc/a", b"A" * 10), F("usr/share/doc/b", b"B" * 20), F("etc/motd", b"hi")]),
        Layer(entries),
    )
    assert changes(img.fs, 1) == {
        "usr/share/doc/a": DELETED,
        "usr/share/doc/b": DELETED,
        "etc/motd": DELETED,
        "usr/share/doc/README": ADDED,
    }
    assert img.waste.wasted == 32
    check_waste_invariants(img.waste)


def test_opaque_on_a_missing_directory_is_harmless():
    fs = build([f("a")], [o("nowhere"), d("new"), o("new"), f("new/x")])
    assert changes(fs, 1) == {"new": ADDED, "new/x": ADDED}


def test_opaque_root():
    fs = build([f("a", b"1"), d("x"), f("x/y", b"22")], [o(""), f("b", b"333")])
    assert set(visible(fs, 1)) == {"b"}
    assert items(fs) == [("a", 1, 0, 1, "deleted"), ("x/y", 2, 0, 1, "deleted")]


# ---- replacements and re-stores -----------------------------------------------------------


def test_file_replaces_a_directory_and_back():
    fs = build(
        [d("x"), f("x/1", b"11"), d("x/y"), f("x/y/2", b"222")],
        [f("x", b"4444")],
        [d("x"), f("x/n", b"5")],
    )
    assert changes(fs, 1) == {"x": TYPE_CHANGED, "x/1": DELETED, "x/y": DELETED, "x/y/2": DELETED}
    assert visible(fs, 1) == {"x": fs.lookup("x").entry_at(1)}
    assert visible(fs, 1)["x"].kind == FILE
    assert changes(fs, 2) == {"x": TYPE_CHANGED, "x/n": ADDED}
    assert set(visible(fs, 2)) == {"x", "x/n"}
    assert items(fs) == [
        ("x", 4, 1, 2, "deleted"),
        ("x/1", 2, 0, 1, "deleted"),
        ("x/y/2", 3, 0, 1, "deleted"),
    ]
    change = fs.lookup("x").change_in(1)
    assert change.old.kind == DIR and change.entry.kind == FILE and change.old_layer == 0


def test_symlink_replaces_a_directory():
    fs = build([d("lib"), f("lib/a", b"1")], [s("lib", "usr/lib")])
    assert changes(fs, 1) == {"lib": TYPE_CHANGED, "lib/a": DELETED}
    assert visible(fs, 1)["lib"].link == "usr/lib"


def test_implicit_parent_replaces_a_file():
    fs = build([f("a", b"1")], [f("a/b", b"2")])
    assert changes(fs, 1) == {"a": TYPE_CHANGED, "a/b": ADDED}
    assert visible(fs, 1)["a"].kind == DIR
    assert items(fs) == [("a", 1, 0, 1, "deleted")]


@pytest.mark.parametrize(
    ("new", "what"),
    [
        (f("a", b"content", mode=0o600), "chmod"),
        (f("a", b"content", mtime=99), "touch"),
        (f("a", b"content", uid=1000), "chown"),
        (f("a", b"content"), "identical rewrite"),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_restored_identical(new, what):
    fs = build([f("a", b"content")], [new])
    assert changes(fs, 1) == {"a": RESTORED}, what
    assert items(fs) == [("a", 7, 0, 1, "restored")]
    waste = waste_of(fs)
    assert waste.visible == 7 and waste.stored == 14
    assert fs.lookup("a").change_in(1).copy.refs == 1  # the kept copy stays visible


def test_restored_twice_only_lower_copies_are_waste():
    fs = build([f("a", b"abc")], [f("a", b"abc", mode=0o600)], [f("a", b"abc", mode=0o644)])
    assert items(fs) == [("a", 3, 0, 1, "restored"), ("a", 3, 1, 2, "restored")]
    assert waste_of(fs).visible == 3


def test_overwritten():
    fs = build([f("a", b"old")], [f("a", b"brand new")])
    assert changes(fs, 1) == {"a": MODIFIED}
    assert items(fs) == [("a", 3, 0, 1, "overwritten")]


def test_symlink_retargeted_and_restated():
    fs = build([s("l", "a")], [s("l", "b")], [s("l", "b")])
    assert changes(fs, 1) == {"l": MODIFIED}
    assert changes(fs, 2) == {"l": RESTORED}
    assert fs.lookup("l").entry_at(0).link == "a" and fs.lookup("l").entry_at(2).link == "b"
    assert waste_of(fs).stored == 0


def test_directory_rewritten_with_no_change_is_not_listed():
    fs = build([d("x", mtime=1), f("x/a")], [d("x", mtime=5), f("x/b")], [d("x", mode=0o700)])
    assert changes(fs, 1) == {"x/b": ADDED}
    assert changes(fs, 2) == {"x": RESTORED}
    assert fs.lookup("x").entry_at(1).mtime == 1  # the lower entry stays


def test_implicit_parents_are_created():
    fs = build([f("a/b/c/file", b"1")])
    assert changes(fs, 0) == {"a": ADDED, "a/b": ADDED, "a/b/c": ADDED, "a/b/c/file": ADDED}
    for path in ("a", "a/b", "a/b/c"):
        entry = visible(fs, 0)[path]
        assert entry.kind == DIR and entry.mode == 0o755


def test_explicit_directory_after_its_children_keeps_its_own_mode():
    fs = build([f("a/file", b"1"), d("a", mode=0o700)])
    assert visible(fs, 0)["a"].mode == 0o700
    assert changes(fs, 0) == {"a": ADDED, "a/file": ADDED}


# ---- duplicates within one tar ------------------------------------------------------------


def test_duplicate_entries_last_wins():
    fs = build([f("a", b"1"), f("a", b"22")])
    assert changes(fs, 0) == {"a": ADDED}
    assert visible(fs, 0)["a"].size == 2
    assert items(fs) == [("a", 1, 0, 0, "overwritten")]


def test_duplicate_identical_entries():
    fs = build([f("a", b"1"), f("a", b"1")])
    assert items(fs) == [("a", 1, 0, 0, "restored")]
    assert waste_of(fs).visible == 1


def test_duplicate_file_then_directory():
    fs = build([f("a", b"1"), d("a"), f("a/b", b"22")])
    assert visible(fs, 0)["a"].kind == DIR
    assert items(fs) == [("a", 1, 0, 0, "deleted")]


# ---- hard links ---------------------------------------------------------------------------


def test_hard_link_in_layer_shares_the_copy():
    fs = build([f("a", b"12345"), h("b", "a")])
    waste = waste_of(fs)
    assert waste.stored == 5 and waste.visible == 5
    entry = visible(fs, 0)["b"]
    assert entry.kind == HARDLINK and entry.size == 5 and entry.digest == visible(fs, 0)["a"].digest
    assert fs.lookup("a").change_in(0).copy is fs.lookup("b").change_in(0).copy


def test_hard_link_listed_before_its_target_links_nothing():
    # tar order: when b is made, a does not exist yet (a runtime's link() fails there too)
    fs = build([h("b", "a"), f("a", b"12345")])
    assert len(fs.warnings) == 1 and "b -> a" in fs.warnings[0]
    assert visible(fs, 0)["b"].size == 0
    assert waste_of(fs).stored == 5 and waste_of(fs).visible == 5


def test_hard_link_listed_before_its_target_reaches_the_lower_one():
    fs = build([f("a", b"old")], [h("b", "a"), f("a", b"new!")])
    assert not fs.warnings
    assert visible(fs, 1)["b"].size == 3 and visible(fs, 1)["a"].size == 4
    assert items(fs) == []  # the old copy is still reachable as b


# ---- tar order within one layer -----------------------------------------------------------


def test_a_file_over_a_directory_of_the_same_layer_hides_its_children():
    fs = build([d("d"), f("d/f", b"12"), f("d", b"345")])
    assert changes(fs, 0) == {"d": ADDED}
    assert visible(fs, 0)["d"].kind == FILE and "d/f" not in visible(fs, 0)
    assert items(fs) == [("d/f", 2, 0, 0, "deleted")]


def test_a_file_over_a_lower_directory_and_its_new_children():
    fs = build([d("d"), f("d/low", b"1")], [f("d/new", b"22"), f("d", b"333")])
    assert changes(fs, 1) == {"d": TYPE_CHANGED, "d/low": DELETED}
    assert set(visible(fs, 1)) == {"d"}
    assert items(fs) == [("d/low", 1, 0, 1, "deleted"), ("d/new", 2, 1, 1, "deleted")]


def test_a_symlink_then_a_child_below_it_is_one_change():
    fs = build([s("a", "/target"), f("a/g", b"1")])
    assert changes(fs, 0) == {"a": ADDED, "a/g": ADDED}
    assert visible(fs, 0)["a"].kind == DIR


def test_a_directory_then_a_file_then_a_directory_again():
    fs = build([f("x", b"lower")], [d("x"), f("x/a", b"1"), f("x", b"2"), d("x", mode=0o700), f("x/b", b"3")])
    assert changes(fs, 1) == {"x": TYPE_CHANGED, "x/b": ADDED}
    assert set(visible(fs, 1)) == {"x", "x/b"}
    assert items(fs) == [("x", 1, 1, 1, "deleted"), ("x", 5, 0, 1, "deleted"), ("x/a", 1, 1, 1, "deleted")]


def test_a_hard_link_keeps_what_its_target_held_when_linked():
    fs = build([f("a", b"A" * 500), h("b", "a"), f("a", b"N" * 1000)])
    waste = waste_of(fs)
    assert waste.visible == 1500 and waste.items == []
    assert visible(fs, 0)["b"].size == 500 and visible(fs, 0)["a"].size == 1000
    assert changes(fs, 0) == {"a": ADDED, "b": ADDED}


def test_a_hard_link_to_a_lower_file_rewritten_later_in_the_layer():
    fs = build([f("a", b"A" * 500)], [h("b", "a"), f("a", b"N" * 1000)])
    assert waste_of(fs).visible == 1500 and items(fs) == []
    assert changes(fs, 1) == {"b": ADDED, "a": MODIFIED}


def test_whiteouts_still_act_first_and_on_lower_layers_only():
    fs = build([d("d"), f("d/x", b"1")], [f("d/y", b"2"), w("d"), f("d/z", b"3")])
    assert set(visible(fs, 1)) == {"d", "d/y", "d/z"}
    assert changes(fs, 1) == {"d/x": DELETED, "d/y": ADDED, "d/z": ADDED}


@pytest.mark.parametrize("gone", ["a", "b"])
def test_deleting_one_name_of_a_hard_link_keeps_the_copy(gone):
    fs = build([f("a", b"12345"), h("b", "a")], [w(gone)])
    assert items(fs) == []
    assert waste_of(fs).visible == 5


def test_deleting_both_names_is_one_waste_item():
    fs = build([f("a", b"12345"), h("b", "a"), h("c", "b")], [w("a"), w("b")], [w("c")])
    assert items(fs) == [("a", 5, 0, 2, "deleted")]


def test_hard_link_to_a_lower_layer_file():
    fs = build([f("bin/busybox", b"B" * 100)], [h("bin/sh", "bin/busybox")], [w("bin/busybox")])
    waste = waste_of(fs)
    assert waste.stored == 100 and waste.visible == 100 and waste.items == []
    assert visible(fs, 2)["bin/sh"].size == 100
    assert changes(fs, 1) == {"bin/sh": ADDED}


def test_hard_link_to_a_lower_file_overwritten_later():
    fs = build([f("a", b"old")], [h("b", "a")], [f("a", b"newer")])
    assert items(fs) == []  # the old copy is still reachable as b
    assert visible(fs, 2)["b"].size == 3


def test_hard_link_to_a_missing_target_warns(tmp_path):
    fs = build([h("b", "nowhere")])
    assert len(fs.warnings) == 1 and "nowhere" in fs.warnings[0]
    assert visible(fs, 0)["b"].kind == HARDLINK
    img = load_layers(tmp_path, Layer([F("x", b"1"), F("b", kind="hardlink", link="nowhere")]))
    assert any("layer 0" in warning and "nowhere" in warning for warning in img.warnings)
    assert img.waste.stored == 1


def test_hard_link_to_a_directory_warns():
    fs = build([d("dir"), h("b", "dir")])
    assert fs.warnings and "dir" in fs.warnings[0]


def test_hard_link_through_an_archive(tmp_path):
    img = load_layers(
        tmp_path,
        Layer([F("data/x", b"X" * 333), F("data/y", kind="hardlink", link="data/x"), F("bin/bb", b"B" * 50)]),
        Layer([F("usr/bb", kind="hardlink", link="/bin/bb"), whiteout("data/x")]),
        Layer([whiteout("data/y"), whiteout("bin/bb")]),
    )
    assert [i.path for i in img.waste.items] == ["data/x"]
    assert img.waste.visible == 50
    assert img.fs.lookup("usr/bb").entry_at(2).size == 50
    assert not img.warnings


# ---- names --------------------------------------------------------------------------------


def test_symlinks_keep_their_targets(tmp_path):
    img = load_layers(
        tmp_path,
        Layer(
            [
                F("bin/busybox", b"B"),
                F("bin/sh", kind="symlink", link="busybox"),
                F("bin/abs", kind="symlink", link="/bin/busybox"),
                F("bin/dangling", kind="symlink", link="../nowhere/at/all"),
                F("bin/dots", kind="symlink", link="./x/../y"),
            ]
        ),
    )
    entries = visible(img.fs, 0)
    assert {p: e.link for p, e in entries.items() if e.kind == SYMLINK} == {
        "bin/sh": "busybox",
        "bin/abs": "/bin/busybox",
        "bin/dangling": "../nowhere/at/all",
        "bin/dots": "./x/../y",
    }
    assert not img.warnings


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("./a/b", "a/b"),
        ("/a/b", "a/b"),
        ("a//b/", "a/b"),
        ("a/./b", "a/b"),
        ("a/x/../b", "a/b"),
        ("../../etc/passwd", "etc/passwd"),
        ("/../../../a/b", "a/b"),
        ("a/../../../b", "b"),
        ("./", ""),
        ("..", ""),
    ],
)
def test_normalize(name, path):
    assert normalize(name) == path


def test_names_normalised_through_the_tar_reader():
    entries = read_tar(
        [
            F("./", kind="dir"),
            F("./a/b", b"1"),
            F("/c", b"2"),
            F("../../etc/passwd", b"3"),
            F("x/../../y", b"4"),
            F("l", kind="hardlink", link="./a/b"),
            F("m", kind="hardlink", link="/c"),
        ]
    )
    assert [(r[0], r[1]) for r in entries] == [
        ("a/b", FILE),
        ("c", FILE),
        ("etc/passwd", FILE),
        ("y", FILE),
        ("l", HARDLINK),
        ("m", HARDLINK),
    ]
    assert [r[7] for r in entries if r[1] == HARDLINK] == ["a/b", "c"]
    fs = build(entries)
    assert not fs.warnings and visible(fs, 0)["l"].size == 1 and visible(fs, 0)["m"].size == 1


def test_dot_dot_cannot_escape_the_root(tmp_path):
    img = load_layers(tmp_path, Layer([F("../../../../etc/shadow", b"s"), F("a/../../../b", b"b")]))
    assert set(visible(img.fs, 0)) == {"etc", "etc/shadow", "b"}


def test_pax_long_names_and_targets(tmp_path):
    long_dir = "/".join(["d" * 60] * 4)
    long_file = f"{long_dir}/{'f' * 150}"
    target = "/" + "t" * 300
    img = load_layers(
        tmp_path,
        Layer(
            [
                F(long_file, b"12345"),
                F("short-link", kind="symlink", link=target),
                F("hard", kind="hardlink", link=long_file),
                F("meta", b"m", pax={"comment": "hi", "mtime": "12.5"}),
            ]
        ),
    )
    fs = img.fs
    assert fs.lookup(long_file).entry_at(0).size == 5
    assert fs.lookup("short-link").entry_at(0).link == target
    assert fs.lookup("hard").entry_at(0).size == 5 and not img.warnings
    assert fs.lookup("meta").entry_at(0).mtime == 12


def test_non_utf8_names_kept_exactly(tmp_path):
    raw = b"names/caf\xe9-\xff.txt"
    img = load_layers(
        tmp_path,
        Layer(
            [
                F("", b"latin1", raw_name=raw),
                F("", b"ansi", raw_name=b"names/ansi-\x1b[31mred\x1b[0m"),
                F("names/\u00e9t\u00e9", b"utf8"),
            ]
        ),
        Layer([F("", b"", raw_name=b"names/.wh.caf\xe9-\xff.txt")]),
    )
    name = raw.decode("utf-8", "surrogateescape")
    node = img.fs.lookup(name)
    assert node is not None and node.entry_at(0).size == 6
    assert node.path.encode("utf-8", "surrogateescape") == raw
    assert img.fs.lookup("names/ansi-\x1b[31mred\x1b[0m").entry_at(0).size == 4
    assert img.fs.lookup("names/\u00e9t\u00e9").entry_at(0).size == 4
    assert changes(img.fs, 1) == {name: DELETED}  # a whiteout of a non-UTF-8 name


def test_aufs_metadata_entries_skipped():
    entries = read_tar([F(".wh..wh.aufs", b""), F("usr/.wh..wh.orph/", kind="dir"), F("usr/a", b"1")])
    assert [r[0] for r in entries] == ["usr/a"]


def test_aufs_plnk_directory_contents_skipped(tmp_path):
    img = load_layers(
        tmp_path,
        Layer([F(".wh..wh.plnk/", kind="dir"), F(".wh..wh.plnk/262.1234", b"data" * 10), F("usr/a", b"1")]),
    )
    assert set(visible(img.fs, 0)) == {"usr", "usr/a"}


def test_root_entry_is_not_a_path():
    entries = read_tar([F("./", kind="dir", mode=0o700), F("/", kind="dir"), F("a", b"1")])
    assert [r[0] for r in entries] == ["a"]


# ---- node queries and history -------------------------------------------------------------


def test_state_entry_and_change_queries():
    fs = build([f("a", b"1")], [f("b")], [f("a", b"22")], [w("a")], [f("c")], [f("a", b"333")])
    node = fs.lookup("a")
    assert [(c.layer, c.kind) for c in node.changes] == [(0, ADDED), (2, MODIFIED), (3, DELETED), (5, ADDED)]
    assert [node.entry_at(i).size if node.entry_at(i) else None for i in range(6)] == [1, 1, 2, None, None, 3]
    assert node.state_at(-1) is None
    assert node.state_at(1).layer == 0 and node.state_at(4).kind == DELETED
    assert node.change_in(1) is None and node.change_in(2).kind == MODIFIED and node.change_in(3).kind == DELETED
    assert node.change_in(4) is None and node.change_in(99) is None
    assert fs.lookup("b").entry_at(0) is None
    assert fs.lookup("nope") is None and fs.lookup("a/b") is None
    assert fs.lookup("") is fs.root
    assert sorted(n.path for n in fs.paths()) == ["a", "b", "c"]
    history = [(c.layer, c.kind, c.old_layer) for c in node.changes]
    assert history == [(0, ADDED, None), (2, MODIFIED, 0), (3, DELETED, 2), (5, ADDED, None)]


def test_layer_changes_are_layer_tagged():
    fs = build([f("a")], [f("a", b"yy")])
    for layer, layer_changes in enumerate(fs.layer_changes):
        assert all(c.layer == layer for c in layer_changes)


# ---- browser ------------------------------------------------------------------------------


@pytest.fixture
def browsed():
    fs = build(
        [d("etc"), f("etc/passwd", b"p" * 10), d("usr"), d("usr/lib"), f("usr/lib/big", b"B" * 100), f("top", b"t")],
        [f("usr/lib/small", b"s" * 5), w("etc/passwd"), f("usr/lib/big", b"b" * 70)],
        [f("etc/hosts", b"h" * 3)],
    )
    return fs, Browser(fs)


def _rows(browser, fs, path, layer, mode=MERGED, **kw):
    return [(r.name, r.status) for r in browser.rows(fs.lookup(path), layer, mode, **kw)]


def test_browser_merged_rows(browsed):
    fs, browser = browsed
    # directories first, then by name; at layer 0 every path is that layer's change
    assert _rows(browser, fs, "", 0) == [("etc", ADDED), ("usr", ADDED), ("top", ADDED)]
    assert _rows(browser, fs, "", 1) == [("etc", UNCHANGED), ("usr", UNCHANGED), ("top", UNCHANGED)]
    assert _rows(browser, fs, "etc", 0) == [("passwd", ADDED)]
    assert _rows(browser, fs, "usr/lib", 1) == [("big", MODIFIED), ("small", ADDED)]
    assert _rows(browser, fs, "etc", 1) == [("passwd", DELETED)]  # deleted by this very layer: shown
    assert _rows(browser, fs, "etc", 2) == [("hosts", ADDED)]  # deleted below: gone
    assert _rows(browser, fs, "usr/lib", 2) == [("big", UNCHANGED), ("small", UNCHANGED)]
    assert _rows(browser, fs, "usr/lib", 1, sort="size") == [("big", MODIFIED), ("small", ADDED)]


def test_browser_changes_rows(browsed):
    fs, browser = browsed
    assert _rows(browser, fs, "", 1, CHANGES) == [("etc", UNCHANGED), ("usr", UNCHANGED)]
    assert _rows(browser, fs, "usr", 1, CHANGES) == [("lib", UNCHANGED)]
    assert _rows(browser, fs, "", 2, CHANGES) == [("etc", UNCHANGED)]
    assert _rows(browser, fs, "", 2, MERGED, hide_unchanged=True) == [("etc", UNCHANGED)]
    assert browser.has_changes_below(fs.lookup("usr"), 1) and not browser.has_changes_below(fs.lookup("usr"), 2)


def test_browser_sizes(browsed):
    fs, browser = browsed
    usr, lib, etc = fs.lookup("usr"), fs.lookup("usr/lib"), fs.lookup("etc")
    assert browser.size(usr, 0) == 100
    assert browser.size(usr, 1) == 75 and browser.size(lib, 1) == 75
    assert browser.size(fs.root, 0) == 111
    assert browser.size(fs.root, 2) == 75 + 1 + 3
    assert browser.size(fs.lookup("etc/passwd"), 1) == 10  # a deletion shows what it removed
    assert browser.size(etc, 1) == 0
    assert browser.size_before(fs.lookup("etc/passwd"), 1) == 10


def test_browser_deleted_directory_size():
    fs = build([d("x"), f("x/a", b"12"), d("x/y"), f("x/y/b", b"345")], [w("x")])
    browser = Browser(fs)
    row = browser.row(fs.lookup("x"), 1)
    assert row.status == DELETED and row.is_dir
    assert browser.size(fs.lookup("x"), 1) == 5


def test_browser_search(browsed):
    fs, browser = browsed
    assert [n.path for n in browser.search("LIB")] == ["usr/lib", "usr/lib/big", "usr/lib/small"]
    assert [n.path for n in browser.search("lib sm")] == ["usr/lib/small"]
    assert [n.path for n in browser.search("etc", limit=2)] == ["etc", "etc/hosts"]
    assert browser.search("   ") == [] and browser.search("zzz") == []
    assert [n.path for n in browser.ancestors(fs.lookup("usr/lib/big"))] == ["usr", "usr/lib"]


# ---- waste accounting ---------------------------------------------------------------------


def test_per_layer_waste_sums():
    fs = build(
        [f("a", b"1" * 10), f("b", b"2" * 20), f("c", b"3" * 30)],
        [w("a"), f("b", b"x"), f("d", b"4" * 40)],
        [w("c"), w("d"), f("b", b"x", mode=0o600)],
    )
    waste = waste_of(fs)
    assert waste.stored_by_layer == {0: 60, 1: 41}
    assert waste.hidden_by_layer == {1: 30, 2: 71}
    assert waste.by_cause == {"deleted": 80, "overwritten": 20, "restored": 1}
    assert waste.efficiency == pytest.approx(waste.visible / waste.stored)


def test_empty_filesystem_waste():
    waste = waste_of(build([d("x")], []))
    assert waste.stored == 0 and waste.efficiency == 1.0 and waste.items == [] and waste.duplicates == []


def test_duplicates_list_identical_visible_content():
    fs = build(
        [f("a", b"same" * 10), f("b", b"same" * 10), f("c", b"other"), h("e", "a"), f("empty1", b""), f("empty2", b"")],
        [f("d", b"same" * 10), f("g", b"other"), w("c")],
    )
    waste = waste_of(fs)
    assert [(dup.size, dup.paths, dup.extra_bytes) for dup in waste.duplicates] == [(40, ("a", "b", "d"), 80)]
    assert (waste.duplicate_bytes, waste.duplicates_by_layer) == (80, {0: 2, 1: 1})


def test_duplicate_paths_are_sorted_and_each_keeps_its_copy():
    # stored in reverse order: a pair and a group of three are each put in path order
    fs = build([f("z", b"pair"), f("m/y", b"pair"), f("c", b"three"), f("b", b"three"), f("a", b"three")])
    got = [(dup.paths, tuple(c.where.name for c in dup.copies)) for dup in waste_of(fs).duplicates]
    assert got == [(("a", "b", "c"), ("a", "b", "c")), (("m/y", "z"), ("y", "z"))]


def test_one_digest_of_several_sizes_is_a_group_per_size():
    # content is its digest and its size: rows that share a digest (no hash collision is needed
    # to test it) are duplicates only where their sizes match too
    sizes = [("e", 20), ("d", 10), ("c", 5), ("b", 20), ("a", 10)]
    fs = build([row(path, FILE, size, 0o644, digest=7) for path, size in sizes])
    waste = waste_of(fs)
    assert [(dup.size, dup.paths) for dup in waste.duplicates] == [(20, ("b", "e")), (10, ("a", "d"))]
    assert (waste.duplicate_bytes, waste.duplicates_by_layer) == (30, {0: 4})


def test_a_duplicate_reached_only_through_a_hard_link_is_listed_under_it():
    # the copy stored at "a" survives only as "z/link" (and "b/link"): its first such path names it
    fs = build(
        [f("a", b"same" * 10), h("z/link", "a"), h("b/link", "a"), f("c", b"same" * 10)],
        [f("a", b"new")],
    )
    assert [(dup.size, dup.paths) for dup in waste_of(fs).duplicates] == [(40, ("b/link", "c"))]


def test_hard_links_are_not_duplicates():
    waste = waste_of(build([f("a", b"same"), h("b", "a")]))
    assert waste.duplicates == []


def test_waste_through_an_archive_matches_the_filesystem(tmp_path):
    img = load_layers(
        tmp_path,
        Layer([F("a", b"1" * 10), F("d/x", b"2" * 20), F("d/y", b"3" * 30)]),
        Layer([whiteout("d"), F("a", b"1" * 10, mode=0o600)]),
    )
    check_waste_invariants(img.waste)
    assert sorted((i.path, i.cause) for i in img.waste.items) == [
        ("a", "restored"),
        ("d/x", "deleted"),
        ("d/y", "deleted"),
    ]
    assert img.layers[1].change_counts == {
        "added": 0,
        "modified": 0,
        "restored": 1,
        "type_changed": 0,
        "deleted": 3,
    }


# ---- stacking in slices -------------------------------------------------------------------


def test_stacking_in_slices_gives_the_same_tree_and_leaves_lower_layers_alone() -> None:
    """The app stacks a big layer in slices, drawing in between: at every pause the layers
    below read as before, and the end result is that of `apply`."""

    def base() -> list[Row]:
        return [d("a"), *(f(f"a/{i}", b"old %d" % i) for i in range(30)), f("keep")]

    def top() -> list[Row]:
        return [w("keep"), o("a"), *(f(f"a/{i}", b"new %d" % i) for i in range(0, 30, 3)), f("b/new")]

    whole = build(base(), top())
    sliced = build(base())
    before = visible(sliced, 0)
    pauses = 0
    for _ in sliced.stack_in_slices(1, top(), size=4):
        pauses += 1
        assert visible(sliced, 0) == before
    assert pauses == 3  # after entries 4, 8 and 12 of 14
    assert changes(sliced, 1) == changes(whole, 1)

    def files(fs: FileSystem) -> dict[str, tuple]:
        return {path: (e.kind, e.size, e.mode, e.digest) for path, e in visible(fs, 1).items()}

    assert files(sliced) == files(whole)
    assert waste_of(sliced) == waste_of(whole)


# ---- what the tree holds: records shared, a stored copy the change itself ---------------------


def test_directories_and_empty_files_alike_share_one_record() -> None:
    """A million-entry tree holds one `Entry` for all the empty files (and directories) that
    differ only in their paths; one that differs in anything else keeps its own."""
    fs = build(
        [d("a"), d("b"), f("a/1", b""), f("a/2", b""), f("b/3", b""), f("b/4", b"", mode=0o600), f("b/5", b"x")],
        [f("a/1", b"", mtime=5), f("c", b"")],
    )

    def entry(path: str, layer: int = 1) -> Entry:
        return fs.lookup(path).entry_at(layer)

    assert entry("a") is entry("b")
    assert entry("a/2") is entry("b/3") is entry("c")
    assert entry("b/4") is not entry("b/3") and entry("b/4").mode == 0o600
    assert entry("a/1") is not entry("b/3") and entry("a/1").mtime == 5
    assert entry("a/1", 0) is entry("b/3")
    assert changes(fs, 1) == {"a/1": RESTORED, "c": ADDED}  # the metadata compared as before
    assert all(e.path == "" for e in (entry("a"), entry("b/3"), entry("b/4")))


def test_a_stored_copy_is_the_change_that_stored_it() -> None:
    fs = build([f("a", b"data"), h("b", "a"), s("c", "a")])
    stored = fs.lookup("a").change_in(0)
    assert stored.copy is stored and stored.where is fs.lookup("a")
    assert (stored.size, stored.digest, stored.refs, stored.layer) == (4, xxhash.xxh3_64_intdigest(b"data"), 2, 0)
    assert fs.lookup("b").change_in(0).copy is stored  # a hard link shares it
    assert fs.lookup("c").change_in(0).copy is None
    assert fs.copies == [stored]


# ---- the two ways a layer is stacked --------------------------------------------------------


def _tree(image) -> tuple:
    """Everything stacking leaves: each path's changes, each layer's counts, the warnings."""

    def fields(entry: Entry | None) -> tuple | None:
        return None if entry is None else tuple(getattr(entry, slot) for slot in Entry.__slots__[1:])

    nodes = [
        (
            node.path,
            [
                (c.layer, c.kind, fields(c.entry), fields(c.old), c.old_layer, c.copy and c.copy.where.path)
                for c in node.changes
            ],
        )
        for node in image.fs.paths()
    ]
    layers = [(la.entry_counts, la.content_bytes, la.change_counts, la.scan is not None) for la in image.layers]
    copies = [(c.where.path, c.refs, c.hidden_by, c.cause) for c in image.fs.copies]
    return sorted(nodes), layers, copies, image.warnings, image.fs.warnings


@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed rows"])
def test_a_layer_stacked_as_it_is_decoded_is_the_layer_stacked_in_slices(tmp_path, packed):
    """`add_scan` (the commands: entries made and placed a batch at a time) and `stack_steps`
    (the app: a layer's entries made first, then placed in slices) build the same tree, with
    whiteouts and an opaque marker after thousands of entries of their layer (they act first)."""
    import pickle

    from explorer.analysis.image import Image as Opened
    from explorer.archive.layerscan import ROWS_BATCH, PackedRows

    many = [F(f"d{i % 7}/f{i}", b"%d" % (i % 5)) for i in range(ROWS_BATCH * 2 + 100)]
    later = [F(f"d{i % 7}/f{i}", b"new" if i % 3 else b"%d" % (i % 5)) for i in range(0, ROWS_BATCH * 2, 9)]
    path = write_oci(
        Image(
            [
                Layer([F("d0", kind="dir"), *many, F("d1/link", kind="hardlink", link="d1/f1")]),
                Layer([*later, F("d3/f3", b"back"), whiteout("d1/f1"), opaque("d2"), whiteout("d5")]),
                Layer([F("d4", kind="symlink", link="d0"), whiteout("d3/f3")]),
            ]
        ),
        tmp_path / "img.tar",
    )
    built = []
    for steps in (False, True):
        image = Opened.open(str(path))
        for index, scan in image.scans():
            if packed:  # as a worker process sends them
                rows = list(scan.rows)
                scan.rows = PackedRows()
                for start in range(0, len(rows), ROWS_BATCH):
                    batch = rows[start : start + ROWS_BATCH]
                    scan.rows.add(pickle.dumps(batch), len(batch), [r for r in batch if r[1] in "wo"])
            if steps:
                assert list(image.stack_steps(index, scan)).count(None) >= (index == 0)
            else:
                image.add_scan(index, scan)
        built.append(_tree(image))
        image.close()
    assert built[0] == built[1]
    assert built[0][1][1][2]["deleted"] > 1  # the whiteouts acted


def test_a_layer_hook_gets_the_rows_add_scan_decoded(tmp_path, monkeypatch):
    """With a layer hook (dive's figures: `report --dive`, `ci`), `add_scan` decodes each packed
    batch once, and the hook still gets every row of the layer, in order."""
    import pickle

    from explorer.analysis.image import Image as Opened
    from explorer.archive import layerscan
    from explorer.archive.layerscan import ROWS_BATCH, PackedRows

    many = [F(f"d{i % 7}/f{i}", b"%d" % (i % 5)) for i in range(ROWS_BATCH * 2 + 100)]
    path = write_oci(Image([Layer([F("d0", kind="dir"), *many]), Layer([whiteout("d1/f1")])]), tmp_path / "i.tar")
    image = Opened.open(str(path))
    seen: list[list] = []
    image.layer_hooks.append(lambda layer, rows: seen.append(list(rows)))
    decoded = []
    loads = pickle.loads
    monkeypatch.setattr(layerscan.pickle, "loads", lambda data: decoded.append(1) or loads(data))
    sent = []
    for index, scan in image.scans():
        rows = list(scan.rows)
        sent.append(rows)
        scan.rows = PackedRows()  # as a worker process sends them
        for start in range(0, len(rows), ROWS_BATCH):
            batch = rows[start : start + ROWS_BATCH]
            scan.rows.add(pickle.dumps(batch), len(batch), [r for r in batch if r[1] in "wo"])
        image.add_scan(index, scan)
    image.close()
    assert seen == sent and len(sent[0]) > 2 * ROWS_BATCH
    assert len(decoded) == 4  # three batches and one: each decoded once
