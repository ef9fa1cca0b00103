"""Browser sizes and rows: the per-layer totals against a plain recursive count, and cached
answers against a fresh Browser's, on random layer stacks (see test_merge_property)."""

from __future__ import annotations

import io
import itertools

from hypothesis import HealthCheck, given, settings

from explorer.analysis.compare import _Walk
from explorer.analysis.filesystem import DELETED, FileSystem, Node
from explorer.archive.entries import DIR, FILE, HARDLINK
from explorer.archive.layerscan import scan_layer
from explorer.present.browse import CHANGES, MERGED, UNCHANGED, Browser
from tests.imagebuilder import Layer, layer_tar
from tests.test_merge_property import _as_builder, stacks

VIEWS = list(itertools.product((CHANGES, MERGED), ("name", "size"), (False, True)))


def stacked(layers: list[list[tuple]]) -> FileSystem:
    fs = FileSystem()
    for index, entries in enumerate(layers):
        tar = layer_tar(Layer([_as_builder(e) for e in entries]))
        fs.apply(index, scan_layer(io.BytesIO(tar), f"layer {index}", len(tar)).rows)
    return fs


def recursive_size(browser: Browser, node: Node, layer: int, top: bool = True) -> int:
    """A path's size at `layer` by walking its visible subtree (a deleted path: as it was below);
    below it, a copy hard links share counts at the first path that holds it (its stored path,
    then the links in stacking order)."""
    row = browser.row(node, layer)
    if row is None:
        return 0
    if row.entry.kind in (FILE, HARDLINK):
        return row.entry.size if top or counted_at(browser.fs, node, layer) else 0
    if not row.is_dir or not node.children:
        return 0
    at = layer - 1 if row.status == DELETED else layer
    return sum(recursive_size(browser, c, at, False) for c in node.children.values() if c.entry_at(at) is not None)


def counted_at(fs: FileSystem, node: Node, layer: int) -> bool:
    copy = node.state_at(layer).copy
    if copy is None:
        return True
    for other in [copy.where, *fs.links]:
        state = other.state_at(layer)
        if state is not None and state.copy is copy:
            return other is node
    return True


def stored_below(fs: FileSystem, node: Node, layer: int) -> int:
    """Bytes `layer` stores at or below `node`, from its change list: its regular files (a hard
    link stores nothing of its own)."""
    total = 0
    for change in fs.layer_changes[layer]:
        walk: Node | None = change.node
        while walk is not None and walk is not node:
            walk = walk.parent
        if walk is node and change.entry is not None and change.entry.kind == FILE:
            total += change.entry.size
    return total


def shown(browser: Browser, fs: FileSystem, layer: int, view: tuple[str, str, bool]) -> list[tuple]:
    """Every row of every directory at `layer` in `view`, with its size."""
    out = []
    for directory in [fs.root, *fs.paths()]:
        for row in browser.rows(directory, layer, *view):
            out.append((row.node.path, row.status, id(row.entry), browser.size(row.node, layer)))
    return out


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_sizes_match_a_recursive_count(layers):
    fs = stacked(layers)
    browser = Browser(fs)
    for layer in reversed(range(len(layers))):  # the highest first: lower totals are summed on the way
        for node in [fs.root, *fs.paths()]:
            assert browser.size(node, layer) == recursive_size(browser, node, layer), (node.path, layer)
            assert browser.stored_size(node, layer) == stored_below(fs, node, layer), (node.path, layer)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_cached_rows_match_a_fresh_browser(layers):
    fs = stacked(layers)
    browser = Browser(fs)
    visits = [(layer, view) for layer in range(len(layers)) for view in VIEWS]
    for layer, view in visits + visits[::-1] + visits:  # back and forth, through every mode and sort
        assert shown(browser, fs, layer, view) == shown(Browser(fs), fs, layer, view), (layer, view)


def eager_rows(browser: Browser, node: Node, layer: int, view: tuple[str, str, bool], within=None) -> list[tuple]:
    """A directory's rows as the view defines them, every row made and sorted (the rule the lazy
    `Browser.rows` must keep)."""
    mode, sort, hide_unchanged = view
    children = [c for c in (node.children or {}).values() if within is None or c in within]
    if mode == CHANGES:
        children = [c for c in children if c in browser.touched(layer)]
    rows = [r for r in (browser.row(c, layer) for c in children) if r is not None]
    if hide_unchanged:
        rows = [r for r in rows if r.status != UNCHANGED or (r.is_dir and r.node in browser.touched(layer))]
    if sort == "size":
        measure = browser.stored_size if mode == CHANGES else browser.size
        rows.sort(key=lambda r: (-measure(r.node, layer), r.name))
    else:
        rows.sort(key=lambda r: (not r.is_dir, r.name))
    return [(r.node.path, r.status, id(r.entry)) for r in rows]


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_lazy_rows_keep_the_order_and_filter_of_every_row_made(layers):
    fs = stacked(layers)
    browser = Browser(fs)
    paths = [fs.root, *fs.paths()]
    within = frozenset(paths[::2])  # a filter keeping every other path
    for layer in range(len(layers)):
        for view in VIEWS:
            for directory in paths:
                for keep in (None, within):
                    rows = browser.rows(directory, layer, *view, within=keep)
                    made = [(r.node.path, r.status, id(r.entry)) for r in rows]
                    assert made == eager_rows(browser, directory, layer, view, keep), (directory.path, layer, view)
                    for node in rows.nodes:
                        assert rows[rows.position(node)].node is node


def test_a_directory_no_entry_names_has_no_time_of_its_own() -> None:
    """`usr/bin/tool` with no `usr` or `usr/bin` entry: the runtime makes them, with no mtime."""
    from explorer.present.browse import mtime_string
    from tests.imagebuilder import F

    data = layer_tar(Layer([F("usr/", kind="dir", mtime=1_700_000_000), F("usr/bin/tool", b"x", mtime=1_700_000_000)]))
    fs = FileSystem()
    fs.apply(0, scan_layer(io.BytesIO(data), "layer", len(data)).rows)
    assert mtime_string(fs.lookup("usr").entry_at(0)) == "2023-11-14 22:13"
    assert mtime_string(fs.lookup("usr/bin").entry_at(0)) == "—"  # not 1970-01-01
    assert mtime_string(fs.lookup("usr/bin/tool").entry_at(0)) == "2023-11-14 22:13"


def test_a_layer_being_stacked_is_not_searched_until_it_is_done() -> None:
    """The app browses between the slices of a layer's stacking: search and the last layer a
    path shows in count only the layers stacked so far."""
    from tests.test_layer_semantics import f, w

    fs = FileSystem()
    fs.apply(0, [f("old/kept"), f("old/gone")])
    browser = Browser(fs)
    assert browser.stacked == 1
    steps = fs.stack_in_slices(1, [w("old/gone"), *(f(f"new/{i}") for i in range(10))], size=3)
    for _ in range(2):  # stacking paused part-way: past the whiteout, four new files in
        next(steps)
    assert "new/0" in {node.path for node in fs.paths()}  # already in the tree, ...
    assert [n.path for n in browser.search("new")] == []  # ... but not yet to be found
    assert browser.last_visible_layer(fs.lookup("old/kept")) == 0  # layer 1 is not there yet
    for _ in steps:
        pass
    browser.layer_added()
    assert browser.stacked == 2
    assert [n.path for n in browser.search("new/")] == [f"new/{i}" for i in sorted(map(str, range(10)))]
    assert browser.last_visible_layer(fs.lookup("old/gone")) == 0  # deleted by layer 1
    assert browser.last_visible_layer(fs.lookup("old/kept")) == 1


def test_hard_links_store_no_bytes_of_their_own() -> None:
    """busybox and its links: the changes view's `bin/` is the one file stored, not 51 copies."""
    from tests.imagebuilder import F

    links = [F(f"bin/tool{i}", kind="hardlink", link="bin/busybox") for i in range(50)]
    data = layer_tar(Layer([F("bin/busybox", b"x" * 1000), *links]))
    fs = FileSystem()
    fs.apply(0, scan_layer(io.BytesIO(data), "layer", len(data)).rows)
    browser = Browser(fs)
    assert browser.stored_size(fs.lookup("bin"), 0) == 1000
    assert browser.stored_size(fs.root, 0) == 1000
    assert browser.stored_size(fs.lookup("bin/tool7"), 0) == 0


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_comparison_totals_match_the_browser_s(layers):
    """`compare` between any two layers of a stack counts each directory's bytes as the file
    browser's totals do (a copy hard links share: once, at the first path still holding it)."""
    fs = stacked(layers)
    browser = Browser(fs)
    for old, new in itertools.product(range(len(layers)), repeat=2):
        walk = _Walk(fs, old, fs, new)
        walk.pair(fs.root, fs.root, "")
        for node in [fs.root, *fs.paths()]:
            sides = [(node.entry_at(at), at) for at in (old, new)]
            if any(entry is not None and entry.kind != DIR for entry, _ in sides) or sides[0][0] is sides[1][0] is None:
                continue  # a directory on one side and absent or a directory on the other
            sizes = tuple(browser.size(node, at) if e is not None else 0 for e, at in sides)
            change = walk.dirs.get(node.path)
            got = (change.old_bytes, change.new_bytes) if change is not None else (sizes[0], sizes[0])
            assert got == sizes, (node.path, old, new)
