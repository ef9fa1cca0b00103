"""The Compare tab: the verdict, both images' layers side by side (shared or replaced), and a
tree of the differing paths with their markers and size changes.

It only renders `present.compare_view.CompareView`; loading the second image and comparing
happen in the app's worker, which reports progress here.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import ProgressBar, Static, Tree
from textual.widgets.tree import TreeNode

from ...present.compare_text import MARKERS, PACKAGE_MARKERS, packages_parts
from ...present.compare_view import (
    ALSO,
    BASE,
    CompareView,
    DiffEntry,
    bar_cells,
    entry_note,
    match_words,
    sizes_line,
)
from ...present.text import display_name, human_size
from ..labels import CURSOR_KEYS

BAR_WIDTH = 16  # cells of the largest layer's bar (fewer on a narrow terminal, down to 4)
SHORT = 30  # rows of the tab below which the layers and packages take less of it
MAX_CHILDREN = 1000  # rows added when a directory opens; the rest are counted in one row
_MATCH_STYLES = {BASE: "green", ALSO: "cyan"}  # replaced layers: the warning colour


class DiffTree(Tree[DiffEntry]):
    """The differing paths; a directory's rows are added when it opens."""

    BINDINGS = [
        *CURSOR_KEYS,
        Binding("o", "jump", "Explorer", id="compare.jump"),
        # `O` is named in the tree's title: the footer keeps its room (at 80 columns, the tour's keys)
        Binding("O", "jump(True)", "The other image's explorer", show=False, id="compare.jump_new"),
        Binding("v", "contents", "Contents", id="compare.contents"),
    ]

    class Jump(Message):
        """Show a path: its contents in either image, or in this image's explorer (`contents`
        False), or in the other image's (`new`: it is opened in place of this image)."""

        def __init__(self, entry: DiffEntry, contents: bool, new: bool = False) -> None:
            super().__init__()
            self.entry, self.contents, self.new = entry, contents, new

    def __init__(self, **kwargs: object) -> None:
        super().__init__("/", **kwargs)  # type: ignore[arg-type]
        self.guide_depth = 3
        self.show_root = False
        self.view: CompareView | None = None

    def show(self, view: CompareView) -> None:
        self.view = view
        self.clear()
        self._fill(self.root, "")
        self.root.expand()
        self.move_cursor(self.root.children[0] if self.root.children else None)

    def _fill(self, node: TreeNode[DiffEntry], path: str) -> None:
        assert self.view is not None
        rows = self.view.children.get(path, [])
        for entry in rows[:MAX_CHILDREN]:
            node.add(_label(entry), entry, allow_expand=entry.is_dir)
        if len(rows) > MAX_CHILDREN:
            node.add_leaf(Text(f"… {len(rows) - MAX_CHILDREN:,} more (layerscope diff --json lists all)", style="dim"))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[DiffEntry]) -> None:
        entry = event.node.data
        if entry is not None and not event.node.children:
            self._fill(event.node, entry.path)

    def on_tree_node_selected(self, event: Tree.NodeSelected[DiffEntry]) -> None:
        """Enter on a path of its own (a directory only opens) shows it in the explorer."""
        entry = event.node.data
        if entry is not None and not entry.is_dir:
            self.post_message(self.Jump(entry, contents=False))

    def _entry(self) -> DiffEntry | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def action_jump(self, new: bool = False) -> None:
        entry = self._entry()
        if entry is not None:
            self.post_message(self.Jump(entry, contents=False, new=new))

    def action_contents(self) -> None:
        entry = self._entry()
        if entry is not None:
            self.post_message(self.Jump(entry, contents=True))


def _label(entry: DiffEntry) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if entry.status is not None:
        marker, style = MARKERS[entry.status]
        text.append(f"{marker} ", style=style)
    else:
        text.append("  ")
    text.append(display_name(entry.name) + ("/" if entry.is_dir else ""), style="bold" if entry.is_dir else "")
    note = entry_note(entry)
    if note:
        text.append(f"  {note}", style="dim")
    return text


def layers_table(view: CompareView, width: int) -> Table:
    """Both images' layers side by side (shared ones on one row), in `width` cells: the bars
    give way first, so the instructions keep a dozen cells each."""
    bar_width = max(4, min(BAR_WIDTH, (width - 60) // 2))
    table = Table(box=None, padding=(0, 1), expand=True, show_header=True, header_style="bold")
    for side in ("OLD", "NEW"):
        table.add_column(side, justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, width=bar_width)
        table.add_column("size", justify="right", no_wrap=True)  # file content, as the layer list's
        table.add_column("", no_wrap=True, overflow="ellipsis", ratio=1)
    for pair in view.rows:
        cells: list[Text | str] = []
        for side, bar in zip(("OLD", "NEW"), pair, strict=True):
            if bar is None:
                cells += ["", "", "", ""]
                continue
            style = _MATCH_STYLES.get(bar.match, "yellow")
            filled = bar_cells(bar.size, view.largest, bar_width)
            what = match_words(bar, side)
            cells += [
                str(bar.index),
                Text("█" * filled, style=style),
                human_size(bar.size),
                Text(f"{what}: {display_name(bar.instruction) or '?'}", style=style if bar.match != BASE else "dim"),
            ]
        table.add_row(*cells)
    return table


def summary_text(view: CompareView) -> Text:
    text = Text()
    text.append("OLD ", style="bold").append(display_name(view.old_name))
    text.append("   NEW ", style="bold").append(display_name(view.new_name) + "\n")
    text.append(display_name(view.verdict) + "\n", style="bold")
    text.append(sizes_line(view))
    counts = [(status, n) for status, n in view.counts.items() if n]
    for status, n in counts:
        marker, style = MARKERS[status]
        text.append("   ").append(marker, style=style).append(f" {n:,}")
    packages = view.packages
    if packages["changes_total"]:
        text.append("\npackages:")
        for status, (marker, style) in PACKAGE_MARKERS.items():
            if packages[status]:
                text.append("   ").append(marker, style=style).append(f" {packages[status]:,} {status}")
    return text


class CompareTab(Vertical):
    """The verdict, the layer bars and the differences tree, or the progress towards them."""

    DEFAULT_CSS = """
    CompareTab { height: 1fr; }
    CompareTab #compare-summary { height: auto; padding: 0 1; }
    CompareTab #compare-progress { height: auto; padding: 1 1; }
    CompareTab #compare-layers { height: auto; max-height: 40%; border-top: solid $panel-lighten-2; }
    CompareTab #compare-packages { height: auto; max-height: 30%; }
    CompareTab #compare-tree { height: 1fr; border-top: solid $panel-lighten-2; }
    CompareTab #compare-tree:focus { border-top: solid $accent; }
    CompareTab.-short #compare-layers { max-height: 30%; }
    CompareTab.-short #compare-packages { max-height: 20%; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="compare-summary")
        with Vertical(id="compare-progress"):
            yield Static(id="compare-status")
            yield ProgressBar(total=None, show_eta=False, id="compare-bar")
        with VerticalScroll(id="compare-layers"):
            yield Static(id="compare-layer-table")
        with VerticalScroll(id="compare-packages"):
            yield Static(id="compare-package-table")
        yield DiffTree(id="compare-tree")

    def on_resize(self, event: Resize) -> None:
        """On a short terminal (80×24) the layers and packages give room to the differences; the
        layers' bars are drawn again to the new width (the instructions keep their room)."""
        self.set_class(event.size.height < SHORT, "-short")
        if self.view is not None:
            self.query_one("#compare-layer-table", Static).update(layers_table(self.view, self.app.size.width))

    def on_mount(self) -> None:
        self.query_one("#compare-layers").border_title = "Layers (by diff_id)"
        self._results(False)

    @property
    def tree(self) -> DiffTree:
        return self.query_one(DiffTree)

    def _results(self, shown: bool, packages: bool = False) -> None:
        self.query_one("#compare-progress").display = not shown
        for name in ("#compare-layers", "#compare-tree"):
            self.query_one(name).display = shown
        self.query_one("#compare-packages").display = shown and packages

    def progress(self, what: str, done: int | None = None, total: int | None = None) -> None:
        """Say what the comparison is doing (with a bar when the amount is known)."""
        self._results(False)
        self.query_one("#compare-status", Static).update(Text(display_name(what)))
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total if total else None, progress=done or 0)

    def failed(self, message: str) -> None:
        self._results(False)
        self.query_one(ProgressBar).display = False
        self.query_one("#compare-status", Static).update(Text(display_name(message), style="red"))

    view: CompareView | None = None  # the comparison shown

    def show(self, view: CompareView, other: str = "NEW") -> None:
        """Show `view`; `other`: the role (OLD or NEW) of the image that is not the open one."""
        self.view = view
        self.query_one("#compare-tree").border_title = f"Differences (o: explorer, O: {other}'s explorer, v: contents)"
        self.query_one("#compare-summary", Static).update(summary_text(view))
        self.query_one("#compare-layer-table", Static).update(layers_table(view, self.app.size.width))
        parts = packages_parts(view.packages)[1:]  # not the blank line the CLI puts above it
        for part in parts:
            if isinstance(part, Table):
                part.box, part.header_style = None, "bold"  # as the layers above
        if parts:
            self.query_one("#compare-package-table", Static).update(Group(*parts))
        self._results(True, bool(parts))
        self.tree.show(view)
