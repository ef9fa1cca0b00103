"""The file tree of one layer: its changes, or the merged filesystem at that layer.

Directories are lazy, as in Textual's DirectoryTree: a node is added with `allow_expand` and
no children, and filled when expanded. A directory shows a window of at most `PAGE` rows,
added in chunks so a huge directory never blocks a frame; gap rows ("… 199,000 more") stand
for the rest and open the next page when selected. Textual's Tree re-lays out every shown
line on each change, so the window is what keeps a 200,000-entry directory usable.

Tree nodes are keyed by the model's `Node`, which is the same object at every layer, so a
rebuild for another layer or mode keeps the expanded directories and the cursor. The rows,
column widths and labels worked out for a view are kept for the last few views shown, so
switching back to a layer rebuilds only tree nodes; and a rebuild is drawn in one frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text, TextType
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widgets import Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker

from ...analysis.filesystem import DELETED, Node
from ...archive.entries import HARDLINK, SYMLINK
from ...present.browse import CHANGES, Browser, Row, change_notes, mode_string, mtime_string, owner_string
from ...present.text import display_name, human_size
from ..labels import MARKS, STATE_CLASSES, component_style

CHUNK = 250  # rows added between two frames
PAGE = 1000  # rows of one directory shown at once
NAME_WIDTH = 40
NOTES_WIDTH = 60
VIEWS_KEPT = 4  # listings kept of the views last shown, for switching back to them
BOLD = Style(bold=True)
STRIKE = {True: Style(strike=True), False: Style(strike=False)}


@dataclass(eq=False)
class Item:
    """What a tree node shows: a path and its row at the current layer.

    The root has no row; a gap row has none either, and stands for the rows `gap` (start, end)
    of directory `node` that are not shown.
    """

    node: Node
    row: Row | None
    width: int = 0
    loaded: bool = False
    gap: tuple[int, int] | None = None


@dataclass(frozen=True)
class View:
    """Everything that decides which rows the tree shows."""

    layer: int
    mode: str
    sort: str = "name"
    hide_unchanged: bool = False
    within: frozenset[Node] | None = None


@dataclass
class Listing:
    """What the tree has worked out for one view: each directory's rows and column widths,
    each path's label."""

    rows: dict[Node, list[Row]] = field(default_factory=dict)
    widths: dict[Node, tuple[int, int]] = field(default_factory=dict)
    labels: dict[Node, Text] = field(default_factory=dict)


class FileTree(Tree[Item]):
    """A lazy tree of one layer's rows (see `explorer.present.browse.Browser`)."""

    COMPONENT_CLASSES = {*STATE_CLASSES.values(), "filetree--detail", "filetree--note"}
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="tree.down"),
        Binding("k", "cursor_up", "Up", show=False, id="tree.up"),
        Binding("right,l", "open_node", "Expand", show=False, id="tree.expand"),
        Binding("left", "close_node", "Collapse", show=False, id="tree.collapse"),
    ]
    _batching = False  # inside `_batch` (a class default: Tree.__init__ already invalidates)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("/", id=id)
        self.show_root = False
        self.guide_depth = 3
        self.browser: Browser | None = None
        self.view: View | None = None
        self._by_node: dict[Node, TreeNode[Item]] = {}
        self._listing = Listing()
        self._listings: dict[tuple[Browser, View], Listing] = {}  # oldest first
        self._filling: dict[Node, Worker] = {}
        self._windows: dict[Node, tuple[int, int]] = {}
        self._styles: dict[str, Style] = {}
        self._line_style = Style()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._restyle, init=False)

    def _restyle(self) -> None:
        """A new theme: new label colours."""
        self._styles, self._listings = {}, {}
        self.call_after_refresh(self.show, self.browser, self.view)

    # ---- building ----------------------------------------------------------------------
    def show(
        self, browser: Browser | None, view: View | None, expand: set[Node] | None = None, open_rows: int = 0
    ) -> None:
        """Show `view`, keeping the expanded directories and the cursor where they still exist;
        then open small directories, breadth first, while the tree has fewer than `open_rows` rows."""
        cursor = self.cursor_path
        expanded = {node for node, tn in self._by_node.items() if tn.is_expanded} | (expand or set())
        if view is not None and view.within is not None:
            expanded |= view.within
        self.workers.cancel_group(self, "fill")
        self.clear()
        self._by_node, self._filling, self._windows = {}, {}, {}
        self.browser, self.view = browser, view
        if browser is None or view is None:
            return
        self._listing = self._listings.pop((browser, view), None) or Listing()
        self._listings[browser, view] = self._listing
        if len(self._listings) > VIEWS_KEPT:
            del self._listings[next(iter(self._listings))]
        if not self._styles:
            self._styles = {name: component_style(self, name) for name in self.COMPONENT_CLASSES}
        self.root.data = Item(browser.fs.root, None)
        self._open(self.root, expanded)
        if open_rows:
            self.expand_all(open_rows, fit=True)
        target = cursor
        while target is not None and target not in self._by_node:
            target = target.parent
        if target is not None:
            self.go_to(self._by_node[target])
        else:
            self.cursor_line = 0
        _ = self._tree_lines  # sets the virtual size
        self._scroll_update(self.virtual_size)  # scrollbars drawn with the rows, not a frame later

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Add and expand nodes with one invalidation of the tree's lines, at the end."""
        if self._batching:
            yield
            return
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self._invalidate()

    def _invalidate(self) -> None:
        """Tree's, which it calls for each node added or expanded: deferred within `_batch`."""
        if not self._batching:
            super()._invalidate()

    def _scroll_update(self, virtual_size: Size) -> None:
        """Widget's, without its unconditional scrollbar repaints.

        Textual calls this on every relayout, and the repaint it asks for comes one frame late:
        a second frame on each layer switch. A scrollbar's own reactives repaint it when it
        changes, and `show` calls this before the relayout, so the first frame draws it.
        """
        self._refresh_scrollbars()
        width, height = self.container_size
        if self.show_vertical_scrollbar and self.styles.scrollbar_size_vertical:
            self.vertical_scrollbar.window_virtual_size = virtual_size.height
            self.vertical_scrollbar.window_size = height - self.scrollbar_size_horizontal
        if self.show_horizontal_scrollbar and self.styles.scrollbar_size_horizontal:
            self.horizontal_scrollbar.window_virtual_size = virtual_size.width
            self.horizontal_scrollbar.window_size = width - self.scrollbar_size_vertical
        self.scroll_x = self.validate_scroll_x(self.scroll_x)
        self.scroll_y = self.validate_scroll_y(self.scroll_y)

    def _rows_of(self, directory: Node) -> list[Row]:
        rows = self._listing.rows.get(directory)
        if rows is None:
            assert self.browser is not None and self.view is not None
            view = self.view
            rows = self.browser.rows(directory, view.layer, view.mode, view.sort, view.hide_unchanged, view.within)
            self._listing.rows[directory] = rows
            self._listing.widths[directory] = self._measure(rows)
        return rows

    def _fill(self, parent: TreeNode[Item], expanded: set[Node] | frozenset[Node] = frozenset()) -> None:
        """Show the first page of `parent`'s rows."""
        self._window(parent, 0, PAGE, expanded)

    def _window(
        self,
        parent: TreeNode[Item],
        start: int,
        end: int,
        expanded: set[Node] | frozenset[Node] = frozenset(),
        now: bool = False,
    ) -> None:
        """Show rows [start, end) of directory `parent`, with gap rows for the rest.

        The first chunk is added at once, the others in a worker unless `now`.
        """
        with self._batch():
            assert parent.data is not None
            directory = parent.data.node
            rows = self._rows_of(directory)
            parent.data.loaded = True
            self._stop_filling(directory)
            self._forget(parent)
            parent.remove_children()
            start, end = max(0, start), min(len(rows), end)
            self._windows[directory] = (start, end)
            if start > 0:
                self._add_gap(parent, 0, start)
            first = end if now else min(end, start + CHUNK)
            for row in rows[start:first]:
                self._add(parent, row, expanded)
            after = self._add_gap(parent, end, len(rows)) if end < len(rows) else None
            if first < end:
                fill = partial(self._fill_rest, parent, first, end, after)
                self._filling[directory] = self.run_worker(fill, group="fill")

    async def _fill_rest(self, parent: TreeNode[Item], start: int, end: int, before: TreeNode[Item] | None) -> None:
        assert parent.data is not None
        rows = self._rows_of(parent.data.node)
        for chunk in range(start, end, CHUNK):
            await asyncio.sleep(0)
            with self._batch():
                for row in rows[chunk : min(end, chunk + CHUNK)]:
                    self._add(parent, row, before=before)
        self._filling.pop(parent.data.node, None)

    def _forget(self, parent: TreeNode[Item]) -> None:
        """Drop the index entries of everything below `parent` (about to be removed)."""
        stack = list(parent.children)
        while stack:
            tree_node = stack.pop()
            if tree_node.data is not None and tree_node.data.row is not None:
                self._by_node.pop(tree_node.data.node, None)
                self._stop_filling(tree_node.data.node)
            stack.extend(tree_node.children)

    def _stop_filling(self, directory: Node) -> None:
        worker = self._filling.pop(directory, None)
        if worker is not None:
            worker.cancel()

    def _add(
        self,
        parent: TreeNode[Item],
        row: Row,
        expanded: set[Node] | frozenset[Node] = frozenset(),
        before: TreeNode[Item] | None = None,
    ) -> TreeNode[Item]:
        assert parent.data is not None
        label = self._listing.labels.get(row.node)
        if label is None:
            label = self._listing.labels[row.node] = self._label(row, *self._listing.widths[parent.data.node])
        can_expand = row.is_dir and bool(row.node.children)
        child = parent.add(label, Item(row.node, row, label.cell_len), before=before, allow_expand=can_expand)
        self._by_node[row.node] = child
        if can_expand and row.node in expanded:
            self._open(child, expanded)
        return child

    def _add_gap(self, parent: TreeNode[Item], start: int, end: int) -> TreeNode[Item]:
        assert parent.data is not None
        where = "before" if start == 0 else "more"
        text = f"… {end - start:,} {where} — Enter shows {min(PAGE, end - start):,}"
        label = Text(text, self._styles["filetree--detail"])
        item = Item(parent.data.node, None, label.cell_len, gap=(start, end))
        return parent.add(label, item, allow_expand=False)

    def _open(self, tree_node: TreeNode[Item], expanded: set[Node] | frozenset[Node] = frozenset()) -> None:
        """Fill directory `tree_node` if not yet done, and expand it (no NodeExpanded: it is filled)."""
        if tree_node.data is not None and not tree_node.data.loaded:
            self._fill(tree_node, expanded)
        with self.prevent(Tree.NodeExpanded):
            tree_node.expand()

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Item]) -> None:
        item = event.node.data
        if item is not None and not item.loaded and event.node.tree is self:
            self._fill(event.node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Item]) -> None:
        """A gap row opens the next page (after) or the previous one (before)."""
        item = event.node.data
        parent = event.node.parent
        if item is None or item.gap is None or parent is None:
            return
        event.stop()
        start, end = self._windows[item.node]
        if item.gap[0] == 0:  # the gap before: grow the window upwards
            self._window(parent, start - PAGE, end)
            return
        stop = min(item.gap[1], end + PAGE)  # the gap after: add the next page in place
        self._windows[item.node] = (start, stop)
        event.node.remove()
        after = self._add_gap(parent, stop, item.gap[1]) if stop < item.gap[1] else None
        self._filling[item.node] = self.run_worker(partial(self._fill_rest, parent, end, stop, after), group="fill")

    def get_label_width(self, node: TreeNode[Item]) -> int:
        """Cached width: the base class renders every label of the tree to measure it."""
        if node.data is None or (node.data.row is None and node.data.gap is None):
            return super().get_label_width(node)
        return node.data.width + 2

    def render_lines(self, crop: Region) -> list[Strip]:
        self._line_style = self.rich_style  # Tree's render_line asks once per line, a walk up the DOM each time
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        return self._render_line(y + scroll_y, scroll_x, scroll_x + self.size.width, self._line_style)

    def process_label(self, label: TextType) -> Text:
        """Labels made here are one line already: no copy split off."""
        return label if isinstance(label, Text) else super().process_label(label)

    def render_label(self, node: TreeNode[Item], base_style: Style, style: Style) -> Text:
        """Leaves get the blank of an expand icon, so names line up."""
        label = super().render_label(node, base_style, style)
        return label if node.allow_expand else Text.assemble(("  ", base_style), label)

    # ---- labels ------------------------------------------------------------------------
    @staticmethod
    def _row_name(row: Row) -> str:
        name = display_name(row.name)
        if row.entry.kind == SYMLINK:
            return f"{name} → {display_name(row.entry.link)}"
        if row.entry.kind == HARDLINK:
            return f"{name} ⇒ {display_name(row.entry.link)}"
        return name + "/" if row.is_dir else name

    def size_of(self, row: Row) -> int:
        """A file's size; a directory's total (bytes stored by this layer, in the changes view)."""
        assert self.browser is not None and self.view is not None
        if row.is_dir and self.view.mode == CHANGES and row.status != DELETED:
            return self.browser.stored_size(row.node, self.view.layer)
        if row.status == DELETED:
            return self.browser.size_before(row.node, self.view.layer)
        return self.browser.size(row.node, self.view.layer)

    def _label(self, row: Row, width: int, notes_width: int) -> Text:
        """`A name  size  what changed  mode owner mtime`, columns aligned among siblings."""
        style = self._styles[STATE_CLASSES[row.status]]
        detail = self._styles["filetree--detail"]
        name = self._row_name(row)
        text = Text(no_wrap=True, end="")
        text.append(MARKS[row.status] + " ", style + BOLD)
        text.append(name, style + STRIKE[row.status == DELETED])
        text.append(" " * max(0, width - cell_len(name)))
        text.append(f" {human_size(self.size_of(row)):>9}", detail)
        if notes_width:
            notes = ", ".join(change_notes(row.change)) if row.change is not None else ""
            text.append(f"  {notes:<{notes_width}}", self._styles["filetree--note"])
        entry = row.entry
        text.append(f"  {mode_string(entry)} {owner_string(entry):<9} {mtime_string(entry)}", detail)
        return text

    def _measure(self, rows: list[Row]) -> tuple[int, int]:
        """Widths of the name and notes columns for these siblings (from the first pages)."""
        sample = rows[: 5 * PAGE]
        names = max((cell_len(self._row_name(row)) for row in sample), default=0)
        notes = max((len(", ".join(change_notes(r.change))) for r in sample if r.change is not None), default=0)
        return min(NAME_WIDTH, names), min(NOTES_WIDTH, notes)

    # ---- cursor ------------------------------------------------------------------------
    @property
    def cursor_path(self) -> Node | None:
        """The model node under the cursor (None on a gap row)."""
        row = self.cursor_row
        return row.node if row is not None else None

    @property
    def cursor_row(self) -> Row | None:
        node = self.cursor_node
        return node.data.row if node is not None and node.data is not None else None

    def reveal(self, node: Node) -> bool:
        """Open the ancestors of `node` (moving windows to it) and put the cursor on it."""
        if self.browser is None:
            return False
        for ancestor in [*self.browser.ancestors(node), node]:
            tree_node = self._by_node.get(ancestor)
            if tree_node is None:  # not in its directory's window: move the window to it
                directory = ancestor.parent
                parent = self.root if directory is self.browser.fs.root else self._by_node.get(directory)
                if parent is None or directory is None:
                    return False
                rows = self._rows_of(directory)
                index = next((i for i, row in enumerate(rows) if row.node is ancestor), None)
                if index is None:
                    return False
                self._window(parent, index - PAGE // 2, index + PAGE // 2, now=True)
                tree_node = self._by_node[ancestor]
            if ancestor is not node:
                self._open(tree_node)
        self.go_to(self._by_node[node])
        return True

    def go_to(self, tree_node: TreeNode[Item]) -> None:
        """Put the cursor on `tree_node` and scroll to it."""
        _ = self._tree_lines  # lay out the lines first, so the node knows its line
        self.move_cursor(tree_node)
        self.call_after_refresh(self.scroll_to_node, tree_node, animate=False)

    def action_open_node(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_close_node(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def expand_all(self, limit: int = 5000, fit: bool = False) -> None:
        """Open directories breadth first until the tree has about `limit` rows; with `fit`,
        only those whose entries all fit in what is left."""
        queue = list(self.root.children)
        added = len(self._by_node)
        with self._batch():
            while queue and added < limit:
                tree_node = queue.pop(0)
                item = tree_node.data
                if not tree_node.allow_expand or item is None:
                    continue
                if fit and len(item.node.children or ()) > limit - added:
                    continue
                if not tree_node.is_expanded:
                    self._open(tree_node)
                    added += len(tree_node.children)
                queue.extend(tree_node.children)

    def collapse_all(self) -> None:
        for child in self.root.children:
            child.collapse_all()
        self.cursor_line = 0 if self.root.children else -1
