"""What to change: the hints, most bytes saved first; a hint opens to its fix and its files."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.events import Resize
from textual.widgets import DataTable, Static

from ...analysis.hints import Hint, Hints
from ...analysis.image import Image
from ...present.hints import KIND_LABELS, HintPathRow, file_rows
from ...present.text import display_name, human_size
from ..labels import TABLE_KEYS
from .fitted import FittedTable, cut
from .messages import ShowPath

SHORT = 18  # rows below which the totals line above the list is left out

FILES_SHOWN = 500  # files listed under one hint (DataTable measures every cell)


class HintTable(FittedTable):
    """The hints (their titles cut with `…` to the room left; the detail below has them whole),
    or a hint's files."""

    BINDINGS = TABLE_KEYS

    def on_resize(self) -> None:
        """Shrunk (a hint's files shown below the list): the cursor's row stays in sight."""
        super().on_resize()
        if self.row_count:
            self.move_cursor(row=self.cursor_row, animate=False)


class HintsView(Vertical):
    """The hints of an analysed image. Enter on a hint moves to its files; Enter on a file
    asks the app to show it in its layer (`ShowPath`)."""

    DEFAULT_CSS = """
    HintsView { padding: 0 1; border-top: solid $panel-lighten-2; border-title-style: bold; background: $surface; }
    HintsView #hints-note { height: auto; padding: 0 0 1 0; }
    HintsView #hints-table { height: 3fr; }
    HintsView #hint-detail-box { height: auto; max-height: 8; padding: 1 0; }
    HintsView #hint-files { height: 1fr; min-height: 3; }
    HintsView.-short #hints-note { display: none; }
    HintsView.-short #hint-detail-box { padding: 0; max-height: 6; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: Image | None = None
        self.hints: list[Hint] = []
        self.rows: list[HintPathRow] = []

    def on_resize(self, event: Resize) -> None:
        """Short (80×24 with the tour's panel): the list keeps room; the totals line gives way."""
        self.set_class(event.size.height < SHORT, "-short")

    def compose(self):
        yield Static(id="hints-note", classes="hint")
        yield HintTable(id="hints-table", cursor_type="row")
        with VerticalScroll(id="hint-detail-box"):  # scrolls where a hint says more than there is room for
            yield Static(id="hint-detail")
        yield HintTable(id="hint-files", cursor_type="row", show_header=False)

    def on_mount(self) -> None:
        table = self.query_one("#hints-table", DataTable)
        table.add_column(Text("saves", justify="right"), key="saves")
        table.add_column("kind", key="kind")
        table.add_column(Text("layers", justify="right"), key="layers")
        table.add_fitted_column("what", key="what")
        files = self.query_one("#hint-files", HintTable)
        files.add_fitted_column("path", key="path")
        self.show(None, None)

    def show(self, image: Image | None, hints: Hints | None) -> None:
        """Show the hints of `image` (None: not analysed yet)."""
        self.image = image
        note = self.query_one("#hints-note", Static)
        table = self.query_one("#hints-table", DataTable)
        table.clear()
        self.hints = hints.hints if hints is not None else []
        for empty in (table, self.query_one("#hint-files", DataTable)):  # no hints: the note alone, no empty table
            empty.display = bool(self.hints)
        if hints is None:
            working = image is not None and image.analysed
            note.update("Working out the hints…" if working else "Hints are known once every layer is analysed.")
        elif not hints.hints:
            note.update("Nothing to change: no wasted, cached, build-only, duplicated or secret-looking files.")
        else:
            note.update(
                Text.assemble(
                    (f"{len(hints.hints)} hints, {human_size(hints.reclaimable)} reclaimable in all. ", "bold"),
                    "Each stored copy counted once. Enter opens a hint's files; Enter on a file shows it in its layer.",
                )
            )
        for n, hint in enumerate(self.hints):
            table.add_row(
                Text(human_size(hint.bytes_saved) if hint.bytes_saved else "-", justify="right"),
                Text(KIND_LABELS[hint.kind]),
                Text(" ".join(str(i) for i in hint.layers), justify="right"),
                cut(display_name(hint.title)),
                key=str(n),
            )
        self._show_hint(0 if self.hints else None)

    def _show_hint(self, index: int | None) -> None:
        detail = self.query_one("#hint-detail", Static)
        files = self.query_one("#hint-files", DataTable)
        files.clear()
        self.rows = []
        if index is None or self.image is None:
            detail.update("")
            files.display = False
            return
        hint = self.hints[index]
        text = Text()
        text.append(display_name(hint.title) + "\n", style="bold")  # whole: the list cuts it to its room
        text.append("fix: ", style="bold green")
        text.append(display_name(hint.fix) + "\n")
        text.append("why: ", style="bold")
        text.append(display_name(hint.why))
        for layer, instruction in zip(hint.layers, hint.instructions, strict=True):
            text.append(f"\nlayer {layer}: ", style="bold")
            text.append(display_name(instruction) or "(no history)", style="dim" if not instruction else "")
        detail.update(text)
        self.rows = file_rows(self.image.fs, hint, FILES_SHOWN)
        files.display = bool(self.rows)
        for n, row in enumerate(self.rows):
            files.add_row(cut(row.label, style="" if row.path is not None else "bold cyan"), key=str(n))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "hints-table":
            event.stop()
            self._show_hint(event.cursor_row if self.hints else None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "hints-table":
            if self.rows:
                self.query_one("#hint-files", DataTable).focus()
            return
        row = self.rows[event.cursor_row]
        if row.path is not None and row.layer is not None:
            self.post_message(ShowPath(row.path, row.layer))
