"""The file tree of one layer: a line widget over `present.tree.VisibleTree`'s flat list of lines.

Only the lines on screen are drawn (`render_line`), each once until it changes (a line cache),
so a directory of 200,000 entries opens, scrolls and moves its cursor like a small one. The
columns after the name (size, mode, owner, time) sit at fixed places across the whole tree,
measured from the right edge; the narrower the pane, the fewer of them show. The tree draws
its own scroll thumb in its last column: Textual's scrollbar, redrawn after each layout, would
cost a second frame on every layer switch (the number of lines changes).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...analysis.filesystem import DELETED, Node
from ...present.browse import OPAQUE_MARK, Browser, FileRow, mode_string, mtime_string, owner_string
from ...present.text import human_size
from ...present.tree import Line, Listings, View, VisibleTree, row_mark, row_name, row_notes
from ..labels import CURSOR_KEYS, STATE_CLASSES, component_style, state_css

SIZE_WIDTH = 8  # "1000 kB"
COLUMN_WIDTHS = (10, 9, 16)  # mode `drwxr-xr-x`, owner `1000:1000`, time `2023-11-14 22:13`
MIN_NAME = 30  # columns drop out, the time first, to leave the names at least this much
ELLIPSIS = "…"


class FileTree(ScrollView, can_focus=True):
    """A tree of one layer's rows (see `explorer.present.tree`), drawn a line at a time."""

    COMPONENT_CLASSES = {
        *STATE_CLASSES.values(),
        *("filetree--detail", "filetree--note", "filetree--cursor", "filetree--thumb"),
    }
    DEFAULT_CSS = (
        state_css("FileTree")
        + """
    FileTree {
        background: $surface;
        overflow-x: hidden;
        overflow-y: hidden;
    }
    FileTree > .filetree--thumb { color: $panel-lighten-2; }
    FileTree:focus > .filetree--thumb { color: $accent; }
    FileTree > .filetree--detail { color: $text-muted; }
    FileTree > .filetree--note { color: $text-accent; }
    FileTree > .filetree--cursor { background: $block-cursor-blurred-background; }
    FileTree:focus > .filetree--cursor { background: $block-cursor-background; text-style: bold; }
    """
    )
    BINDINGS = [
        *CURSOR_KEYS,
        Binding("up", "cursor_up", "Up", show=False, id="tree.up"),
        Binding("down", "cursor_down", "Down", show=False, id="tree.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="tree.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="tree.page_down"),
        Binding("home", "first", "First", show=False, id="tree.first"),
        Binding("end", "last", "Last", show=False, id="tree.last"),
        Binding("right,l", "open", "Expand", show=False, id="tree.expand"),
        Binding("left", "close", "Collapse", show=False, id="tree.collapse"),
        Binding("enter", "choose", "Expand / contents", show=False, id="tree.choose"),
        Binding("space", "toggle", "Expand/collapse", show=False, id="tree.toggle"),
    ]

    # The row under the cursor: watched, not messaged, so whatever shows it changes in the
    # frame that moves the cursor rather than in the next one.
    highlighted: var[FileRow | None] = var(None, init=False, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model: VisibleTree | None = None
        self.cursor = 0
        self._listings: Listings | None = None
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._styles: dict[bool, dict[str, Style]] = {}  # by focus state (see `_style`)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._restyle, init=False)

    def _restyle(self) -> None:
        self._styles = {}
        self.redraw()

    def redraw(self) -> None:
        """Draw the lines again (what they say changed: the hints arrived)."""
        self._cache.clear()
        self.refresh()

    # ---- what is shown -----------------------------------------------------------------
    def show(self, browser: Browser | None, view: View | None, open_rows: int = 0) -> None:
        """Show `view`, keeping the expanded directories and the cursor's path where they still
        exist; then open small directories, breadth first, while fewer than `open_rows` lines show."""
        previous = self.model
        target = self.cursor_path if previous is not None else None  # read before the model changes
        if browser is None or view is None or view.layer is None:
            self.model = None
        else:
            if self._listings is None or self._listings.browser is not browser:
                self._listings = Listings(browser)
            self.model = VisibleTree(self._listings, view, previous.expanded if previous else None)
            if open_rows:
                self.model.expand_all(open_rows, fit=True)
        cursor = 0
        while target is not None and self.model is not None:
            index = self.model.index_of(target)
            if index is not None:
                cursor = index
                break
            target = target.parent
        self._changed()
        self._move(cursor, center=True)

    def _changed(self) -> None:
        """The lines changed: new scroll range, a redraw from the cache's point of view."""
        self._cache.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.model) if self.model else 0)
        self.refresh()

    @property
    def cursor_row(self) -> FileRow | None:
        if self.model is None or not len(self.model):
            return None
        return self.model.line(self.cursor).row

    @property
    def cursor_path(self) -> Node | None:
        row = self.cursor_row
        return row.node if row is not None else None

    @property
    def line_count(self) -> int:
        return len(self.model) if self.model else 0

    def size_of(self, row: FileRow) -> int:
        assert self.model is not None
        return self.model.size_of(row)

    # ---- cursor ------------------------------------------------------------------------
    def _move(self, index: int, center: bool = False) -> None:
        count = self.line_count
        index = max(0, min(index, count - 1))
        old, self.cursor = self.cursor, index
        height = self.scrollable_content_region.height
        top = round(self.scroll_y)
        if center and not top <= index < top + height:
            self.scroll_to(y=max(0, index - height // 2), animate=False, immediate=True, force=True)
        elif index < top:
            self.scroll_to(y=index, animate=False, immediate=True, force=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True, force=True)
        self.refresh_line(old)
        self.refresh_line(index)
        self.highlighted = self.cursor_row

    def reveal(self, node: Node) -> bool:
        """Open the directories above `node` and put the cursor on it."""
        if self.model is None:
            return False
        index = self.model.reveal(node)
        if index is None:
            return False
        self._changed()
        self._move(index, center=True)
        return True

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_page(self, pages: int) -> None:
        self._move(self.cursor + pages * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(self.line_count - 1)

    def action_open(self) -> None:
        """Open the directory under the cursor; on an open one, go to its first entry."""
        if self.model is None or not len(self.model):
            return
        if self.model.is_open(self.cursor):
            if self.cursor + 1 < self.line_count and self.model.line(self.cursor + 1).depth > 0:
                self._move(self.cursor + 1)
        elif self.model.expand(self.cursor):
            self._changed()

    def action_close(self) -> None:
        """Close the directory under the cursor; elsewhere, go to the directory above."""
        if self.model is None or not len(self.model):
            return
        if self.model.collapse(self.cursor):
            self._changed()
            return
        parent = self.model.parent_index(self.cursor)
        if parent is not None:
            self._move(parent)

    class FileChosen(Message):
        """Enter on a file (not a directory): the app shows its contents."""

    def action_choose(self) -> None:
        """Enter: a directory opens or closes; a file's contents are shown (as `v`)."""
        if self.model is not None and len(self.model) and not self.model.line(self.cursor).row.is_dir:
            self.post_message(self.FileChosen())
        else:
            self.action_toggle()

    def action_toggle(self) -> None:
        if self.model is None or not len(self.model):
            return
        if self.model.is_open(self.cursor):
            self.model.collapse(self.cursor)
        else:
            self.model.expand(self.cursor)
        self._changed()

    def expand_all(self) -> None:
        if self.model is not None:
            self.model.expand_all()
            self._changed()
            self._move(self.cursor)

    def collapse_all(self) -> None:
        if self.model is not None:
            self.model.collapse_all()
            self._changed()
            self._move(0)

    def on_click(self, event: Click) -> None:
        """A click moves the cursor; a click on the cursor's line opens or closes it."""
        offset = event.get_content_offset(self)
        if offset is None or self.model is None:
            return
        index = round(self.scroll_y) + offset.y
        if index >= self.line_count:
            return
        if index == self.cursor:
            self.action_toggle()
        else:
            self._move(index)

    def on_focus(self) -> None:
        self.refresh()  # the cursor's line and the thumb change colour

    def on_blur(self) -> None:
        self.refresh()

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.scroll_to(y=self.scroll_y + 3, animate=False, force=True)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.scroll_to(y=self.scroll_y - 3, animate=False, force=True)

    # ---- drawing -----------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        top = round(self.scroll_y)
        index = top + y
        region = self.scrollable_content_region
        width = region.width - 1  # the last column: the scroll thumb
        if self.model is None or index >= len(self.model):
            strip = Strip.blank(width, self._style("base"))
        else:
            cursor = index == self.cursor
            key = (index, width, cursor, cursor and self.has_focus)  # cleared when the lines change
            strip = self._cache.get(key)
            if strip is None:
                strip = self._cache[key] = self._draw(self.model.line(index), width, cursor, self.model.is_open(index))
        return Strip([*strip, self._thumb(y, top, region.height)], width + 1)

    def _thumb(self, y: int, top: int, height: int) -> Segment:
        """Row `y` of the scroll thumb: where the screen is in the lines, and how much of them."""
        count = self.line_count
        if count <= height:
            return Segment(" ", self._style("base"))
        size = max(1, height * height // count)
        start = min(height - size, top * height // count)
        return Segment("▐" if start <= y < start + size else " ", self._style("thumb"))

    def line_text(self, index: int) -> str:
        """Line `index` as drawn, without styles (what a user reads there)."""
        assert self.model is not None
        width = self.scrollable_content_region.width - 1
        strip = self._draw(self.model.line(index), width, False, self.model.is_open(index))
        return "".join(segment.text for segment in strip).rstrip()

    def _style(self, name: str) -> Style:
        """A component class's style (and "base", "cursor", "thumb"), worked out once per theme
        and focus state: the cursor and the thumb change colour with the focus."""
        focus = self.has_focus
        styles = self._styles.get(focus)
        if styles is None:
            styles = self._styles[focus] = {name: component_style(self, name) for name in self.COMPONENT_CLASSES}
            full = self.get_component_rich_style("filetree--cursor", partial=False)
            styles["cursor"] = Style(bgcolor=full.bgcolor, bold=full.bold)
            styles["base"] = self.rich_style
            styles["thumb"] = styles["base"] + styles["filetree--thumb"]
        return styles[name]

    def _draw(self, line: Line, width: int, cursor: bool, is_open: bool) -> Strip:
        """`A ├ ▸ name  notes …  size  mode owner time`: the columns after the name fixed."""
        assert self.model is not None
        base = self._style("base")
        if cursor:
            base += self._style("cursor")
        row = line.row
        state = self._style(STATE_CLASSES[row.status])
        detail = base + self._style("filetree--detail")
        entry = row.entry
        columns = [f"{human_size(self.model.size_of(row)):>{SIZE_WIDTH}}"]
        shown = SIZE_WIDTH
        details = (mode_string(entry), owner_string(entry), mtime_string(entry))
        for column, room in zip(details, COLUMN_WIDTHS, strict=True):
            shown += 2 + room  # by the column's width, not this row's text: every row keeps the same columns
            if width - shown - 2 < MIN_NAME:
                break
            columns.append(f"{column:<{room}}")
        right = "  " + "  ".join(columns)
        icon = ("▾ " if is_open else "▸ ") if line.expandable else "  "
        layer = self.model.view.layer
        assert layer is not None
        mark = row_mark(row, self.model.browser, layer)
        mark_state = self._style(STATE_CLASSES[DELETED]) if mark == OPAQUE_MARK else state  # it hides: as deletions
        left = [
            Segment(mark + " ", base + mark_state + Style(bold=True)),
            Segment(line.guide + icon, detail),
            Segment(row_name(row), base + state + Style(strike=row.status == DELETED)),
        ]
        notes = row_notes(row, self.model.browser, layer)
        if notes:
            left.append(Segment("  " + notes, base + self._style("filetree--note")))
        room = max(0, width - cell_len(right))
        name = Strip(left)
        if name.cell_length > room:  # cut, with an ellipsis
            name = Strip([*name.crop(0, max(0, room - 1)), Segment(ELLIPSIS, detail)], room)
        elif name.cell_length < room:
            name = Strip([*name, Segment(" " * (room - name.cell_length), base)], room)
        return Strip([*name, Segment(right, detail)], width)
