"""The guided tour's panel: the step's words at the bottom, its place on screen outlined.

Carries out the steps of `present.tour` on the app: the tab, the layer, the path, the hint, a
comparison with the demo's other image, and an outline (class `-tour-target`) on the widget
the step is about.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, Static

from ...present.browse import Mode
from ...present.tour import TOUR, TourStep, layer_of, step_heading

if TYPE_CHECKING:
    from ..app import LayerscopeApp

TARGET = "-tour-target"


class TourPanel(Static):
    """The tour: `n` next, `b` back, Esc leaves (the app's keys, while the panel shows)."""

    SCOPED_CSS = False  # the outline is on widgets outside the panel
    DEFAULT_CSS = """
    TourPanel {
        height: auto;
        max-height: 9;
        padding: 0 1;
        border: round $warning;
        border-title-color: $text-warning;
        border-title-style: bold;
        border-subtitle-align: left;
        border-subtitle-color: $text-muted;
        background: $boost;
        display: none;
    }
    .-tour-target { outline-left: thick $warning; background-tint: $warning 10%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = 0
        self.active = False
        self.target: Widget | None = None
        self.compared: str | None = None  # the image the tour compared the open one with

    @property
    def step(self) -> TourStep:
        return TOUR[self.index]

    def start(self, index: int = 0) -> None:
        self.active = True
        self.display = True
        self.go(index)

    def leave(self) -> None:
        self.active = False
        self.display = False
        self._outline(None)

    def go(self, index: int) -> None:
        """Show step `index` (kept within the tour)."""
        self.index = max(0, min(len(TOUR) - 1, index))
        app: LayerscopeApp = self.app  # type: ignore[assignment]
        step = self.step
        self._say()
        if step.compare_with is not None:
            self._outline(None)
            self.call_later(self._compare, step.compare_with)
            return
        app.action_view(step.tab)
        image = app.image
        assert image is not None
        layer = layer_of(image, step)
        if layer is not None:
            mode = Mode.CHANGES if step.tab == "explorer" else app.view.mode
            app.view = replace(app.view, layer=layer, mode=mode, filter=None, package=None)
        node = image.fs.lookup(step.path) if step.path is not None else None
        if node is not None and step.tab == "stack":
            app.stack_view.pick(node)
            read = app.stack_view.read
            if layer is None and read is not None and read.rows:  # the layer that decides what is read
                app.view = replace(app.view, layer=read.rows[0].layer)
        elif node is not None:
            app.file_tree.reveal(node)
        if step.hint is not None:
            kinds = [hint.kind for hint in app.hints_view.hints]
            if step.hint in kinds:
                app.hints_view.query_one("#hints-table", DataTable).move_cursor(row=kinds.index(step.hint))
        self._outline(app.query_one(f"#{step.target}"))

    async def _compare(self, image: str) -> None:
        """The Compare tab, with `image` of the same archive (an earlier build: OLD) against the
        open image (NEW), so what changed reads forwards (compared once: the tab keeps it)."""
        app: LayerscopeApp = self.app  # type: ignore[assignment]
        if self.compared != image or app.compare_tab is None:
            self.compared = image
            await app.start_compare(app.path, image, as_old=True)
        else:
            app.action_view("compare")
        step = self.step
        if self.active and step.compare_with == image:
            self._outline(app.query_one(f"#{step.target}"))

    def _outline(self, widget: Widget | None) -> None:
        if self.target is not None:
            self.target.remove_class(TARGET)
        self.target = widget
        if widget is not None:
            widget.add_class(TARGET)

    def _say(self) -> None:
        step = self.step
        self.border_title = Content(step_heading(self.index, step))
        self.border_subtitle = "n next · b back · Esc leaves the tour"  # on the border: a line more for the tab
        self.update(Content(step.text))
