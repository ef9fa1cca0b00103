"""Wasted space, largest first, and duplicated content (which is not waste)."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...analysis.image import Image
from ...analysis.waste import Waste, WasteItem
from ...present.text import CAUSE_NAMES, display_name, human_size, middle_cut
from ..labels import TABLE_KEYS
from .fitted import FittedTable, cut
from .messages import ShowPath

LIMIT = 1000  # DataTable measures every cell: a top-N list, not every item
SIZE_WIDTH = 7  # `12.3 kB`, `999 kB`


class WasteTable(FittedTable):
    """Its last column, paths, takes the room the others leave."""

    BINDINGS = TABLE_KEYS


class WasteView(Vertical):
    """Stored copies the final filesystem cannot reach; Enter shows the layer that hid one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[WasteItem] = []
        self.image: Image | None = None
        self.waste: Waste | None = None
        self.table = WasteTable(id="waste-table", cursor_type="row")
        self.seen = False  # on screen: its tab is the active one

    def compose(self):
        yield Static(id="waste-hint", classes="hint")
        yield self.table
        yield Static(id="dup-title", classes="hint")
        yield WasteTable(id="dup-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one("#waste-table", WasteTable)
        table.add_column(Text("bytes", justify="right"), key="size", width=SIZE_WIDTH)
        table.add_column("cause", key="cause", width=max(map(len, CAUSE_NAMES.values())))
        table.add_column(Text("stored in", justify="right"), key="stored", width=9)
        table.add_column(Text("hidden by", justify="right"), key="hidden", width=9)
        table.add_fitted_column("path", key="path")
        dups = self.query_one("#dup-table", WasteTable)
        dups.add_column(Text("each", justify="right"), key="size", width=SIZE_WIDTH)
        dups.add_column(Text("copies", justify="right"), key="count", width=6)
        dups.add_column(Text("extra", justify="right"), key="extra", width=SIZE_WIDTH)
        dups.add_fitted_column("paths", key="paths")
        self.show(None)

    def show(self, image: Image | None, why_not: str = "Waste is known once every layer is analysed.") -> None:
        """The waste of an analysed `image`; else say `why_not`."""
        hint = self.query_one("#waste-hint", Static)
        table = self.query_one("#waste-table", WasteTable)
        dups = self.query_one("#dup-table", WasteTable)
        table.clear()
        dups.clear()
        self.image = image
        waste = self.waste = image.waste if image else None
        if waste is None:
            hint.update(why_not)
            self.query_one("#dup-title", Static).update("")
            return
        self.items = waste.items[:LIMIT]
        more = f" (largest {LIMIT} of {len(waste.items)})" if len(waste.items) > LIMIT else ""
        hint.update(
            Text.assemble(
                (f"{human_size(waste.wasted)} wasted in {len(waste.items)} stored copies{more}. ", "bold"),
                "Enter shows the layer that hid the copy, with the file selected.",
            )
        )
        table.fit_last_column()
        width = table.fitted_width()  # paths keep their file names
        for n, item in enumerate(self.items if self.seen else ()):
            table.add_row(
                Text(human_size(item.size), justify="right"),
                Text(CAUSE_NAMES[item.cause]),
                Text(str(item.stored_in), justify="right"),
                Text(str(item.hidden_by), justify="right"),
                Text(middle_cut(display_name(item.path), width)),
                key=str(n),
            )
        self.query_one("#dup-title", Static).update(
            Text.assemble(
                (f"Duplicates: {len(waste.duplicates)}. ", "bold"),
                "Not waste: the same content stored under several paths, each visible.",
            )
        )
        dups.display = bool(waste.duplicates)
        if not self.seen:
            return  # its 2,000 rows are measured on every layout: made when it is shown (`on_resize`)
        dups.fit_last_column()
        for n, dup in enumerate(waste.duplicates[:LIMIT]):
            paths = cut(", ".join(display_name(p) for p in dup.paths))  # the duplicate hints list them all
            dups.add_row(
                Text(human_size(dup.size), justify="right"),
                Text(str(len(dup.paths)), justify="right"),
                Text(human_size(dup.extra_bytes), justify="right"),
                paths,
                key=str(n),
            )

    def shown(self, seen: bool) -> None:
        """Its tab was made the active one (`seen`), or another was: the rows are made when
        it is (the app tells, so that they are there for the key that follows)."""
        if seen != self.seen:
            self.seen = seen
            if seen and self.waste is not None:
                self.show(self.image)

    def on_resize(self) -> None:
        """The paths are cut to the new width: the rows are made again, each cursor kept on its row."""
        if self.waste is not None:
            tables = (self.table, self.query_one("#dup-table", DataTable))
            rows = [table.cursor_row for table in tables]
            self.show(self.image)
            for table, row in zip(tables, rows, strict=True):
                table.move_cursor(row=row)

    @property
    def selected_path(self) -> str | None:
        """The path of the waste row under the cursor, or of the first duplicate under it."""
        dups = self.query_one("#dup-table", DataTable)
        if dups.has_focus and self.waste is not None and 0 <= dups.cursor_row < len(self.waste.duplicates):
            return self.waste.duplicates[dups.cursor_row].paths[0]
        if 0 <= self.table.cursor_row < len(self.items):
            return self.items[self.table.cursor_row].path
        return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "waste-table":
            event.stop()
            item = self.items[event.cursor_row]
            self.post_message(ShowPath(item.path, item.hidden_by))
