"""The file tree as a flat list of visible lines: what a line-based widget draws, one line per row.

A `View` says which rows a layer shows (mode, sort, hide-unchanged, filter); a `VisibleTree`
lays the rows of that view out as lines, opening the directories of its expanded set.
Directories are listed when first opened, never before, so a tree of 100,000s of paths costs
only what is shown; a directory of 200,000 entries is 200,000 lines, with no page limit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from ..analysis.filesystem import DELETED, Node
from .browse import Browser, FileRow, Mode, Sort, change_notes, link_text
from .text import display_name

VIEWS_KEPT = 4  # listings kept of the views last shown, for switching back to them


@dataclass(frozen=True, slots=True)
class View:
    """Everything that decides which rows the file tree shows: one value, replaced, never changed."""

    layer: int | None = None
    mode: Mode = Mode.CHANGES
    sort: Sort = Sort.NAME
    hide_unchanged: bool = False
    filter: str | None = None


class Line(NamedTuple):
    """One visible line: a row and the tree guides of its ancestors (`│ ` or two blanks each)."""

    row: FileRow
    indent: str
    last: bool  # the last of its siblings

    @property
    def depth(self) -> int:
        return len(self.indent) // 2

    @property
    def guide(self) -> str:
        """The guides drawn before the name: `│ ├ ` or `│ └ `."""
        return self.indent + ("└ " if self.last else "├ ")

    @property
    def expandable(self) -> bool:
        return self.row.is_dir and bool(self.row.node.children)


class Listings:
    """The rows of each directory, per view, for the few views last shown (switching back to a
    layer lists no directory again). One per browser."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._views: OrderedDict[View, dict[Node, list[FileRow]]] = OrderedDict()

    def rows(self, view: View, directory: Node) -> list[FileRow]:
        listing = self._views.get(view)
        if listing is None:
            listing = self._views[view] = {}
            if len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(view)
        rows = listing.get(directory)
        if rows is None:
            assert view.layer is not None
            within = self.within(view)
            rows = self.browser.rows(directory, view.layer, view.mode, view.sort, view.hide_unchanged, within)
            listing[directory] = rows
        return rows

    def within(self, view: View) -> frozenset[Node] | None:
        """The paths a filtered view keeps (matches and their ancestors)."""
        return frozenset(self.browser.matching(view.filter)) if view.filter else None


class VisibleTree:
    """The lines of one view: the top level, and below each expanded directory its rows."""

    def __init__(self, listings: Listings, view: View, expanded: set[Node] | None = None) -> None:
        assert view.layer is not None
        self.listings = listings
        self.browser = listings.browser
        self.view = view
        self.expanded: set[Node] = set(expanded or ())
        within = listings.within(view)
        if within is not None:  # a filtered tree shows every match
            self.expanded |= within
        self.lines: list[Line] = self._lines(self.browser.fs.root, "")

    def rows(self, directory: Node) -> list[FileRow]:
        return self.listings.rows(self.view, directory)

    def _lines(self, directory: Node, indent: str) -> list[Line]:
        """The lines of `directory`'s rows, and of every expanded directory below them."""
        rows = self.rows(directory)
        if not rows:
            return []
        last = rows[-1]
        lines = [Line(row, indent, row is last) for row in rows]
        if not self.expanded:
            return lines
        out: list[Line] = []
        for line in lines:
            out.append(line)
            if line.row.node in self.expanded and line.expandable:
                out += self._lines(line.row.node, line.indent + ("  " if line.last else "│ "))
        return out

    def __len__(self) -> int:
        return len(self.lines)

    # ---- opening and closing -----------------------------------------------------------
    def is_open(self, index: int) -> bool:
        line = self.lines[index]
        return line.expandable and line.row.node in self.expanded

    def expand(self, index: int) -> int:
        """Open the directory on line `index`; the number of lines added."""
        line = self.lines[index]
        if not line.expandable or self.is_open(index):
            return 0
        self.expanded.add(line.row.node)
        below = self._lines(line.row.node, line.indent + ("  " if line.last else "│ "))
        self.lines[index + 1 : index + 1] = below
        return len(below)

    def collapse(self, index: int) -> int:
        """Close the directory on line `index` (it stays closed in other views); lines removed."""
        if not self.is_open(index):
            return 0
        self.expanded.discard(self.lines[index].row.node)
        end = self._end_of(index)
        del self.lines[index + 1 : end]
        return end - index - 1

    def _end_of(self, index: int) -> int:
        """The line after the last one below line `index`."""
        depth = self.lines[index].depth
        end = index + 1
        while end < len(self.lines) and self.lines[end].depth > depth:
            end += 1
        return end

    def expand_all(self, limit: int = 5000, fit: bool = False) -> None:
        """Open directories breadth first until about `limit` lines show; with `fit`, only
        those whose entries all fit in what is left."""
        queue = [line.row.node for line in self.lines if line.expandable]
        shown = len(self.lines)
        while queue and shown < limit:
            node = queue.pop(0)
            if fit and len(node.children) > limit - shown:
                continue
            index = self.index_of(node)
            if index is None:
                continue
            shown += self.expand(index)
            queue += [row.node for row in self.rows(node) if row.is_dir and row.node.children]

    def collapse_all(self) -> None:
        self.expanded.clear()
        self.lines = self._lines(self.browser.fs.root, "")

    # ---- finding lines -----------------------------------------------------------------
    def index_of(self, node: Node) -> int | None:
        for index, line in enumerate(self.lines):
            if line.row.node is node:
                return index
        return None

    def parent_index(self, index: int) -> int | None:
        depth = self.lines[index].depth
        while index > 0:
            index -= 1
            if self.lines[index].depth < depth:
                return index
        return None

    def reveal(self, node: Node) -> int | None:
        """Open the directories above `node`; its line, or None if this view does not show it."""
        index: int | None = None
        for ancestor in self.browser.ancestors(node):
            index = self.index_of(ancestor)
            if index is None:
                return None
            self.expand(index)
        return self.index_of(node)

    # ---- what a line says --------------------------------------------------------------
    def size_of(self, row: FileRow) -> int:
        """A file's size; a directory's total (bytes stored by this layer, in the changes view)."""
        layer = self.view.layer
        assert layer is not None
        if row.is_dir and self.view.mode == Mode.CHANGES and row.status != DELETED:
            return self.browser.stored_size(row.node, layer)
        if row.status == DELETED:
            return self.browser.size_before(row.node, layer)
        return self.browser.size(row.node, layer)


def row_name(row: FileRow) -> str:
    """The name as the tree shows it: directories end in `/`, links show their target."""
    name = display_name(row.name)
    link = link_text(row.entry)
    if link:
        return f"{name} {link}"
    return name + "/" if row.is_dir else name


def row_notes(row: FileRow) -> str:
    """What the change on this row altered, old → new."""
    return ", ".join(change_notes(row.change)) if row.change is not None else ""
