"""The largest files, across the whole final image or of one layer, with the layer that stored each."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...analysis.hints import LargeFile, largest_files
from ...analysis.image import Image
from ...present.text import display_name, human_size, middle_cut
from ..labels import TABLE_KEYS
from .fitted import FittedTable
from .messages import ShowPath
from .waste import SIZE_WIDTH

SHOWN = 200


class LargestTable(FittedTable):
    """Its last column, paths, takes the room the others leave."""

    BINDINGS = TABLE_KEYS


class LargestView(Vertical):
    """The `SHOWN` largest files; `l` switches between the final image and the chosen layer."""

    BINDINGS = [Binding("l", "toggle_scope", "Image / layer", id="largest.scope")]
    DEFAULT_CSS = """
    LargestView { padding: 0 1; border-top: solid $panel-lighten-2; border-title-style: bold; background: $surface; }
    LargestView #largest-note { height: auto; padding: 0 0 1 0; }
    LargestView #largest-table { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: Image | None = None
        self.chosen: int | None = None  # the layer chosen in the app
        self.per_layer = False
        self.files: list[LargeFile] = []

    def compose(self):
        yield Static(id="largest-note", classes="hint")
        yield LargestTable(id="largest-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one("#largest-table", LargestTable)
        table.add_column(Text("bytes", justify="right"), key="size", width=SIZE_WIDTH)
        table.add_column(Text("layer", justify="right"), key="layer", width=5)
        table.add_fitted_column("path", key="path")
        self.show(None, None)

    def show(self, image: Image | None, layer: int | None) -> None:
        """List the largest files of `image` (None: not analysed yet); `layer` is the one `l` shows."""
        self.image, self.chosen = image, layer
        note = self.query_one("#largest-note", Static)
        table = self.query_one("#largest-table", LargestTable)
        table.clear()
        if image is None or not image.analysed:
            self.files = []
            note.update("The largest files are known once every layer is analysed.")
            return
        scoped = self.per_layer and layer is not None
        self.files = largest_files(image.fs, SHOWN, layer if scoped else None, image.waste)
        where = f"stored by layer {layer} (dim: hidden in the final image)" if scoped else "of the final image"
        note.update(
            Text.assemble(
                (f"The {len(self.files)} largest files {where}. ", "bold"),
                "l: final image / this layer. Enter shows the file in the layer that stored it.",
            )
        )
        table.fit_last_column()
        width = table.fitted_width()  # paths keep their file names
        for n, large in enumerate(self.files):
            style = "" if large.visible else "dim"
            table.add_row(
                Text(human_size(large.size), justify="right", style=style),
                Text(str(large.layer), justify="right", style=style),
                Text(middle_cut(display_name(large.path), width), style=style),
                key=str(n),
            )

    def on_resize(self) -> None:
        """The paths are cut to the new width: the rows are made again, the cursor kept on its row."""
        if self.files:
            table = self.query_one("#largest-table", LargestTable)
            row = table.cursor_row
            self.show(self.image, self.chosen)
            table.move_cursor(row=row)

    def action_toggle_scope(self) -> None:
        self.per_layer = not self.per_layer
        self.show(self.image, self.chosen)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        large = self.files[event.cursor_row]
        self.post_message(ShowPath(large.path, large.layer))
