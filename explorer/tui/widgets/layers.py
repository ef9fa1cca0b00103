"""The layer list: one row per layer, history-only steps (ENV, CMD…) dimmed between them."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from ...analysis.image import Image
from ...present.steps import Step, steps_of
from ...present.text import display_name, human_size
from ..labels import TABLE_KEYS, component_style
from .fitted import FittedTable, cut

COLUMNS = [("#", "index"), ("size", "size"), ("packed", "packed"), ("wasted", "wasted"), ("hides", "hides")]
KEYS = [key for _, key in COLUMNS] + ["instruction"]


class LayerTable(FittedTable):
    """Layers with sizes and waste; moving the cursor picks a layer (or a history step).

    The instruction column takes the room the others leave, and an instruction longer than
    that ends in `…` (the details show it whole)."""

    COMPONENT_CLASSES = FittedTable.COMPONENT_CLASSES | {"layers--history", "layers--waste", "layers--pending"}
    BINDINGS = TABLE_KEYS

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.image: Image | None = None
        self.steps: list[Step] = []
        self.failed: int | None = None  # the layer that could not be read
        self.stopped = False  # loading was stopped (Esc): the layers not read say so
        self._row_of: dict[int, int] = {}

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refresh_rows), init=False)

    def show_image(self, image: Image) -> None:
        """One row per step. Size columns have fixed widths: cells change as layers are read,
        and re-measuring a column on each change would cost a pass over every row."""
        self.image = image
        self.steps = steps_of(image)
        self._row_of = {step.layer.index: n for n, step in enumerate(self.steps) if step.layer is not None}
        self.clear(columns=True)
        widths = {"index": len(str(max(0, len(image.layers) - 1))), "size": 7, "packed": 7, "wasted": 7, "hides": 7}
        for label, key in COLUMNS:
            self.add_column(Text(label, justify="left" if key == "index" else "right"), key=key, width=widths[key])
        self.add_fitted_column("instruction", key="instruction")
        for n, step in enumerate(self.steps):
            self.add_row(*self._cells(step), key=str(n))

    def action_scroll_top(self) -> None:
        """Home: the first layer (not a build step before it)."""
        if self._row_of:
            self.move_cursor(row=min(self._row_of.values()))

    def action_scroll_bottom(self) -> None:
        """End: the last layer (not the CMD after it)."""
        if self._row_of:
            self.move_cursor(row=max(self._row_of.values()))

    def refresh_rows(self, layers: Iterable[int] | None = None) -> None:
        """Redraw the cells of these layers, or of every row."""
        rows = range(len(self.steps)) if layers is None else [self._row_of[i] for i in layers]
        for n in rows:
            for key, cell in zip(KEYS, self._cells(self.steps[n]), strict=True):
                self.update_cell(str(n), key, cell)

    def _cells(self, step: Step) -> list[Text]:
        muted = component_style(self, "layers--history")
        instruction = display_name(step.history.instruction if step.history else "")
        if step.layer is None:
            return [Text(""), Text(""), Text(""), Text(""), Text(""), cut(instruction, style=muted)]
        layer = step.layer
        pending = component_style(self, "layers--pending")
        if layer.scan is not None:  # what the layer stores (tar and packed sizes: the details)
            size = Text(human_size(layer.content_bytes), justify="right")
        elif layer.index == self.failed:
            size = Text("error", style=component_style(self, "layers--waste"), justify="right")
        elif self.stopped:
            size = Text("stopped", style=pending, justify="right")  # not read: Esc stopped the loading
        else:  # progress is the status bar's
            size = Text("…", style=pending, justify="right")
        waste = self.image.waste if self.image else None
        return [
            Text(str(layer.index)),
            size,
            Text(human_size(layer.blob_size), justify="right"),
            self._waste_cell(waste.stored_by_layer.get(layer.index, 0) if waste else None),
            self._waste_cell(waste.hidden_by_layer.get(layer.index, 0) if waste else None),
            cut(instruction or "(no history)"),
        ]

    def _waste_cell(self, size: int | None) -> Text:
        if size is None:
            return Text("…", justify="right")
        if not size:
            return Text("-", style=component_style(self, "layers--history"), justify="right")
        style = component_style(self, "layers--waste")
        return Text(human_size(size), style=style, justify="right")

    def select_layer(self, index: int) -> None:
        """Move the cursor to the row of layer `index`."""
        if index in self._row_of:
            self.move_cursor(row=self._row_of[index])
