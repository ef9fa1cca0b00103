"""The history of one path: every layer that touched it, and how."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ...analysis.filesystem import DELETED, Node
from ...analysis.image import Image
from ...archive.entries import KIND_NAMES
from ...present.browse import (
    MARKS,
    OPAQUE_MARK,
    STATE_NAMES,
    Browser,
    change_notes,
    link_text,
    mode_string,
    mtime_string,
    opaque_note,
    owner_string,
)
from ...present.text import display_name, human_size
from ..labels import STATE_CLASSES, TABLE_KEYS, component_style, state_css
from ..widgets.details import instruction
from ..widgets.fitted import FittedTable, cut


class HistoryTable(FittedTable):
    """The instruction column takes the room the others leave, ending in `…` where it is too
    narrow: the highlighted row's instruction is shown whole below the table."""

    COMPONENT_CLASSES = FittedTable.COMPONENT_CLASSES | set(STATE_CLASSES.values())
    DEFAULT_CSS = state_css("HistoryTable")
    BINDINGS = TABLE_KEYS


class HistoryScreen(ModalScreen[None]):
    """`h`: the changes of the path under the tree cursor, layer by layer."""

    BINDINGS = [
        Binding("escape,h", "dismiss(None)", "Close", id="history.close"),
        Binding("q", "app.quit", "Quit", id="history.quit"),
    ]

    def __init__(self, image: Image, browser: Browser, node: Node, stacked: int, owner: str | None = None) -> None:
        super().__init__()
        self.image = image
        self.browser = browser  # the app's: a directory's size is its total, as the tree shows it
        self.node = node
        self.stacked = stacked  # layers below this one are stacked: the history shows those
        self.owner = owner  # the package that owns the path ("deb bash 5.2-2"), once packages are known
        self.row_layers: list[int] = []  # the layer of each row

    def compose(self) -> ComposeResult:
        with Vertical(id="history-box"):
            yield Static(id="history-path")
            yield HistoryTable(id="history-table", cursor_type="row")
            with VerticalScroll(id="history-script"):  # a long heredoc scrolls (Tab, then the arrows)
                yield Static(id="history-instruction")
        yield Footer()

    def on_mount(self) -> None:
        box = self.query_one("#history-box")
        box.border_title = "File history"
        box.border_subtitle = "Esc: close"
        heading = Text(display_name("/" + self.node.path), style="bold")
        if self.owner is not None:
            heading.append(f"  · package: {display_name(self.owner)}", style="not bold")
        self.query_one("#history-path", Static).update(heading)
        table = self.query_one(HistoryTable)
        for label, key in [("layer", "layer"), ("change", "kind"), ("type", "type"), ("size", "size")]:
            table.add_column(Text(label, justify="right") if key in ("layer", "size") else label, key=key)
        for label in ("what changed", "mode", "owner", "mtime"):  # what matters first
            table.add_column(label, key=label)
        table.add_fitted_column("instruction", key="instruction")  # fitted again once laid out
        rows: list[tuple[int, list[Text]]] = []
        browser = self.browser
        for change in self.node.changes:
            if not 0 <= change.layer < self.stacked:
                continue
            entry = change.shown
            style = component_style(table, STATE_CLASSES[change.kind])
            what = change_notes(change)
            if link_text(entry):
                what.insert(0, link_text(entry))
            size = "-" if change.kind == DELETED else human_size(browser.size(self.node, change.layer))
            cells = [
                Text(f"{MARKS[change.kind]} {STATE_NAMES[change.kind]}", style=style),
                Text(KIND_NAMES.get(entry.kind, entry.kind)),
                Text(size, justify="right"),
                Text(", ".join(what)),
                Text(mode_string(entry)),
                Text(owner_string(entry)),
                Text(mtime_string(entry)),
            ]
            rows.append((change.layer, cells))
        for index in range(self.stacked):  # a layer that made this directory opaque: a change of its own
            hidden = browser.opaque(self.node, index)
            entry = self.node.entry_at(index)
            if hidden is not None and entry is not None:
                style = component_style(table, STATE_CLASSES[DELETED])
                cells = [Text(f"{OPAQUE_MARK} opaque", style=style), Text("dir"), Text("-", justify="right")]
                cells += [Text(opaque_note(hidden)), Text(mode_string(entry)), Text(owner_string(entry))]
                rows.append((index, [*cells, Text(mtime_string(entry))]))
        rows.sort(key=lambda row: row[0])
        self.row_layers = [index for index, _ in rows]  # of each row: a layer can have two (opaque, changed)
        for index, cells in rows:
            shown = cut(display_name(self.image.layers[index].instruction))
            table.add_row(Text(str(index), justify="right"), *cells, shown)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted row's instruction in full (a heredoc line by line), as the details show it."""
        layer = self.image.layers[self.row_layers[event.cursor_row]]
        lines = instruction(layer.history.instruction_lines if layer.history else [""])
        self.query_one("#history-instruction", Static).update(Content("\n").join(lines))
