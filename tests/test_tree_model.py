"""The file tree's view model without Textual: its lines against a plain recursive walk of the
same rows, after random opens and closes, on random layer stacks; and a big directory."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings

from explorer.analysis.filesystem import FileSystem, Node
from explorer.present.browse import Browser, Mode, Sort
from explorer.present.tree import Listings, View, VisibleTree
from tests.test_browse import VIEWS, stacked
from tests.test_merge_property import stacks


def walk(tree: VisibleTree, directory: Node, indent: str = "") -> list[tuple[str, str, bool]]:
    """(path, indent, last) of every line, the slow way: recursion over the open directories."""
    rows = tree.rows(directory)
    out = []
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        out.append((row.node.path, indent, last))
        if row.node in tree.expanded and row.is_dir and row.node.children:
            out += walk(tree, row.node, indent + ("  " if last else "│ "))
    return out


def lines(tree: VisibleTree) -> list[tuple[str, str, bool]]:
    return [(line.row.node.path, line.indent, line.last) for line in tree.lines]


def check(tree: VisibleTree, fs: FileSystem) -> None:
    expected = walk(tree, fs.root)
    assert lines(tree) == expected
    assert len(tree) == len(expected)
    for index, (path, _, _) in enumerate(expected):
        assert tree.line(index).row.node.path == path
        assert tree.index_of(tree.line(index).row.node) == index
        parent = tree.parent_index(index)
        above = tree.line(index).row.node.parent
        assert (parent is None) == (above is fs.root)
        if parent is not None:
            assert tree.line(parent).row.node is above


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_lines_match_a_recursive_walk_after_opens_and_closes(layers):
    fs = stacked(layers)
    listings = Listings(Browser(fs))
    shuffle = random.Random(len(layers))
    for layer in range(len(layers)):
        for mode, sort, hide in VIEWS:
            tree = VisibleTree(listings, View(layer, mode, sort, hide))
            check(tree, fs)
            for _ in range(6):
                if not len(tree):
                    break
                index = shuffle.randrange(len(tree))
                opened = tree.is_open(index)
                changed = tree.collapse(index) if opened else tree.expand(index)
                assert changed >= 0 and tree.is_open(index) == (not opened and tree.line(index).expandable)
                check(tree, fs)
            tree.expand_all(50)
            check(tree, fs)
            tree.collapse_all()
            assert not tree.expanded
            check(tree, fs)


def test_a_view_keeps_the_open_directories_of_the_last_and_reveals_a_path():
    fs = stacked(
        [
            [("d", "usr", b"", 0o755, ""), ("d", "usr/lib", b"", 0o755, "")]
            + [("f", "usr/lib/a", b"1", 0o644, ""), ("f", "usr/lib/b", b"22", 0o644, "")]
        ]
    )
    listings = Listings(Browser(fs))
    tree = VisibleTree(listings, View(0, Mode.MERGED))
    assert lines(tree) == [("usr", "", True)]
    assert tree.reveal(fs.lookup("usr/lib/b")) == 3
    assert [line.guide for line in tree.lines] == ["", "└ ", "  ├ ", "  └ "]
    by_size = VisibleTree(listings, View(0, Mode.MERGED, Sort.SIZE), tree.expanded)
    assert [path for path, _, _ in lines(by_size)] == ["usr", "usr/lib", "usr/lib/b", "usr/lib/a"]
    filtered = VisibleTree(listings, View(0, Mode.MERGED, filter="lib/a"))
    assert [path for path, _, _ in lines(filtered)] == ["usr", "usr/lib", "usr/lib/a"]


def test_a_big_directory_is_one_run():
    count = 20_000  # the benchmark opens 200,000 (see benchmarks/README.md); the shape is the same
    fs = stacked([[("d", "wide", b"", 0o755, ""), *(("f", f"wide/f{i:06d}", b"", 0o644, "") for i in range(count))]])
    tree = VisibleTree(Listings(Browser(fs)), View(0, Mode.MERGED))
    assert tree.expand(0) == count
    assert len(tree) == count + 1 and len(tree.runs) == 1 + 1
    assert tree.line(count).row.name == f"f{count - 1:06d}" and tree.line(count).last
    assert tree.parent_index(count) == 0
    assert tree.collapse(0) == count and len(tree) == 1
