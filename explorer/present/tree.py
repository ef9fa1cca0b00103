"""The file tree as a flat list of visible lines: what a line-based widget draws, one line per row.

A `View` says which rows a layer shows (mode, sort, hide-unchanged, filter); a `VisibleTree`
lays the rows of that view out as lines, opening the directories of its expanded set.
Directories are listed when first opened, never before, so a tree of 100,000s of paths costs
only what is shown; a directory of 200,000 entries shows all of them, with no page limit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from ..analysis.filesystem import DELETED, Node
from .browse import MARKS, OPAQUE_MARK, Browser, FileRow, Mode, Rows, Sort, change_notes, link_text, opaque_note
from .hints import KIND_LABELS
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
    package: tuple[str, frozenset[Node]] | None = None  # only a package's files: its name, its nodes and folders


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
        """The guides drawn before the name: `│ ├ ` or `│ └ ` (none for the top level)."""
        return (self.indent + ("└ " if self.last else "├ "))[2:]

    @property
    def expandable(self) -> bool:
        return self.row.is_dir and bool(self.row.node.children)


class Listings:
    """The rows of each directory, per view, for the few views last shown (switching back to a
    layer lists no directory again). One per browser."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._views: OrderedDict[tuple[View, int], dict[Node, Rows]] = OrderedDict()
        self._within: dict[tuple[str, int], frozenset[Node]] = {}

    def rows(self, view: View, directory: Node) -> Rows:
        # a filter matches against the layers stacked so far: its listing is redone as they grow
        key = (view, self.browser.stacked if view.filter else 0)
        listing = self._views.get(key)
        if listing is None:
            listing = self._views[key] = {}
            if len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(key)
        rows = listing.get(directory)
        if rows is None:
            assert view.layer is not None
            within = self.within(view)
            rows = self.browser.rows(directory, view.layer, view.mode, view.sort, view.hide_unchanged, within)
            listing[directory] = rows
        return rows

    def within(self, view: View) -> frozenset[Node] | None:
        """The paths a filtered view keeps (matches and their ancestors, or a package's files)."""
        if view.package is not None:
            return view.package[1]
        if not view.filter:
            return None
        key = (view.filter, self.browser.stacked)
        if key not in self._within:
            self._within = {key: frozenset(self.browser.matching(view.filter))}  # the last filter only
        return self._within[key]


@dataclass(slots=True)
class Run:
    """Lines `start`..`end` (exclusive) of one directory's rows: the visible tree is a list of
    runs, so a directory of 200,000 entries is one run, not 200,000 line objects."""

    directory: Node
    rows: Rows
    start: int
    end: int
    indent: str

    @property
    def depth(self) -> int:
        return len(self.indent) // 2


class VisibleTree:
    """The lines of one view: the top level, and below each expanded directory its rows.

    Lines are runs of sibling rows cut where an open directory's own runs go in; a line's
    index is found with the runs' first indexes (`_firsts`), and a `Line` is made only for
    a line that is asked for (the few on screen).
    """

    def __init__(self, listings: Listings, view: View, expanded: set[Node] | None = None) -> None:
        assert view.layer is not None
        self.listings = listings
        self.browser = listings.browser
        self.view = view
        self.expanded: set[Node] = set(expanded or ())
        within = listings.within(view)
        if within is not None:  # a filtered tree shows every match
            self.expanded |= within
        self.runs: list[Run] = self._runs(self.browser.fs.root, "")
        self._count()

    def rows(self, directory: Node) -> Rows:
        return self.listings.rows(self.view, directory)

    def _runs(self, directory: Node, indent: str, rows: Rows | None = None, start: int = 0) -> list[Run]:
        """The runs of `directory`'s rows from `start` on, and of every open directory below them."""
        rows = self.rows(directory) if rows is None else rows
        runs: list[Run] = []
        if start >= len(rows):
            return runs
        # the open directories among these rows, found from the (few) open ones, not the (many) rows
        below = (rows.position(node, start) for node in self.expanded if node.parent is directory)
        opened = sorted(i for i in below if i is not None)
        for i in opened:
            row = rows[i]
            if not (row.is_dir and row.node.children):
                continue
            runs.append(Run(directory, rows, start, i + 1, indent))
            runs += self._runs(row.node, indent + ("  " if i == len(rows) - 1 else "│ "))
            start = i + 1
        if start < len(rows):
            runs.append(Run(directory, rows, start, len(rows), indent))
        return runs

    def _count(self) -> None:
        """Index the runs by their first line (after any change to them)."""
        self._firsts: list[int] = []
        count = 0
        for run in self.runs:
            self._firsts.append(count)
            count += run.end - run.start
        self._len = count

    def __len__(self) -> int:
        return self._len

    def _find(self, index: int) -> tuple[int, int]:
        """(run number, row index within the run's directory) of line `index`."""
        if not 0 <= index < self._len:
            raise IndexError(index)
        number = bisect_right(self._firsts, index) - 1
        return number, self.runs[number].start + index - self._firsts[number]

    def line(self, index: int) -> Line:
        number, at = self._find(index)
        run = self.runs[number]
        return Line(run.rows[at], run.indent, at == len(run.rows) - 1)

    @property
    def lines(self) -> list[Line]:
        """Every line (for tests and small trees: a big tree is read a line at a time)."""
        return [
            Line(run.rows[at], run.indent, at == len(run.rows) - 1)
            for run in self.runs
            for at in range(run.start, run.end)
        ]

    # ---- opening and closing -----------------------------------------------------------
    def is_open(self, index: int) -> bool:
        line = self.line(index)
        return line.expandable and line.row.node in self.expanded

    def expand(self, index: int) -> int:
        """Open the directory on line `index`; the number of lines added."""
        line = self.line(index)
        if not line.expandable or line.row.node in self.expanded:
            return 0
        number, at = self._find(index)
        run = self.runs[number]
        self.expanded.add(line.row.node)
        below = self._runs(line.row.node, line.indent + ("  " if line.last else "│ "))
        rest = [Run(run.directory, run.rows, at + 1, run.end, run.indent)] if at + 1 < run.end else []
        run.end = at + 1
        self.runs[number + 1 : number + 1] = below + rest
        before = self._len
        self._count()
        return self._len - before

    def collapse(self, index: int) -> int:
        """Close the directory on line `index` (it stays closed in other views); lines removed."""
        if not self.is_open(index):
            return 0
        self.expanded.discard(self.line(index).row.node)
        number, at = self._find(index)
        run = self.runs[number]
        end = number + 1
        while end < len(self.runs) and self.runs[end].depth > run.depth:
            end += 1
        after = self.runs[end] if end < len(self.runs) else None
        if after is not None and after.rows is run.rows and after.start == run.end:
            run.end = after.end  # the rest of the directory joins its run again
            end += 1
        del self.runs[number + 1 : end]
        before = self._len
        self._count()
        return before - self._len

    def expand_all(self, limit: int = 5000, fit: bool = False) -> None:
        """Open directories breadth first until about `limit` lines show; with `fit`, only
        those whose entries all fit in what is left."""
        queue = [line.row.node for line in self.top_lines() if line.expandable]
        while queue and self._len < limit:
            node = queue.pop(0)
            if fit and len(node.children) > limit - self._len:
                continue
            index = self.index_of(node)
            if index is None:
                continue
            self.expand(index)
            queue += [row.node for row in self.rows(node) if row.is_dir and row.node.children]

    def top_lines(self) -> list[Line]:
        rows = self.rows(self.browser.fs.root)
        return [Line(row, "", i == len(rows) - 1) for i, row in enumerate(rows)]

    def collapse_all(self) -> None:
        self.expanded.clear()
        self.runs = self._runs(self.browser.fs.root, "")
        self._count()

    # ---- finding lines -----------------------------------------------------------------
    def index_of(self, node: Node) -> int | None:
        """The line showing `node`, if one does."""
        for number, run in enumerate(self.runs):
            if run.directory is node.parent:
                at = run.rows.position(node, run.start, run.end)
                if at is not None:
                    return self._firsts[number] + at - run.start
        return None

    def parent_index(self, index: int) -> int | None:
        """The line of the directory above line `index`: the last of the nearest run above its own."""
        number, _ = self._find(index)
        depth = self.runs[number].depth
        while number > 0:
            number -= 1
            if self.runs[number].depth < depth:
                return self._firsts[number] + self.runs[number].end - self.runs[number].start - 1
        return None

    def reveal(self, node: Node) -> int | None:
        """Open the directories above `node`; its line, or None if this view does not show it."""
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


def row_mark(row: FileRow, browser: Browser, layer: int) -> str:
    """The marker letter: the change's (`A`, `M`…), or `O` for a directory this layer made opaque
    (its own change may be only a re-stored entry; what it hid is the news)."""
    if row.is_dir and browser.is_opaque(row.node, layer):
        return OPAQUE_MARK
    return MARKS[row.status]


def row_name(row: FileRow) -> str:
    """The name as the tree shows it: directories end in `/`, links show their target."""
    name = display_name(row.name)
    link = link_text(row.entry)
    if link:
        return f"{name} {link}"
    return name + "/" if row.is_dir else name


def row_notes(row: FileRow, browser: Browser | None = None, layer: int | None = None) -> str:
    """What the change on this row altered, old → new; and, given the browser and layer, what
    an opaque directory hid and what mechanism deleted a path."""
    notes = change_notes(row.change) if row.change is not None else []
    if browser is not None and layer is not None:
        hidden = browser.opaque(row.node, layer) if row.is_dir else None
        if hidden is not None:
            notes.insert(0, opaque_note(hidden))
        how = browser.deleted_by(row.node, layer)
        if how is not None:
            notes.insert(0, how)
        kind = browser.hinted.get(row.node.path)
        if kind is not None:
            notes.append(f"hint: {KIND_LABELS[kind]}")
    return ", ".join(notes)
