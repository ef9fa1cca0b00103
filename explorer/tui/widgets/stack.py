"""The Stack tab: the layers as a stack of bars, and the union read path of one path.

Renders `present.stack`: the bars top layer first, the selected layer highlighted, the layers
with an entry for the chosen path marked; beside them the read path, top-down. Enter on a bar
opens the explorer there (on the path, when that layer has an entry for it).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...analysis.filesystem import Node
from ...analysis.image import Image
from ...present.stack import Bar, ReadPath, bar_cells, read_path_of, stack_bars, widest
from ...present.text import display_name, end_cut, human_size
from ..labels import CURSOR_KEYS
from .messages import ShowPath

VISIBLE, WASTED, HIDES = "$primary", "$error", "$warning"
ROLE_STYLES = {"wins": "bold $text-success", "hides it": "bold $text-error", "below": "$text-muted"}
LEGEND = Content.assemble(  # each swatch after its words: a narrow pane wraps after a swatch, not before its words
    ("visible ", "$text-muted"),
    ("█", VISIBLE),
    ("  wasted (hidden above) ", "$text-muted"),
    ("█", WASTED),
    ("  hides below ", "$text-muted"),
    ("░", HIDES),
)
LABEL = 14  # cells before a bar: mark, index, size
BAR = 40  # cells at most for the largest bar; the instruction follows it
WAITING = "The stack is drawn once the image is analysed."
PROMPT = (
    "Type a path above (or press 7 on a file of the explorer's tree) to see which layer a container"
    " reads it from, and what lies hidden below."
)


class StackBars(OptionList):
    """One row per build step, top layer first; the highlight is the selected layer."""

    BINDINGS = CURSOR_KEYS


class StackView(Horizontal):
    """The stack of layers and the read path of the chosen path."""

    DEFAULT_CSS = """
    StackView { height: 1fr; }
    StackView #stack-left { width: 1fr; }
    StackView #stack-right { width: 1fr; padding-left: 1; }
    StackView #stack-left, StackView #stack-right {
        border-top: solid $panel-lighten-2;
        border-title-color: $text-muted;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
    }
    StackView #stack-left:focus-within, StackView #stack-right:focus-within {
        border-top: solid $accent;
        border-title-color: $text;
    }
    StackView #stack-bars { height: 1fr; border: none; padding: 0 1; }
    StackView #stack-legend { height: auto; padding: 0 1; }
    StackView #stack-path { border: none; height: 1; padding: 0 1; margin-bottom: 1; }
    StackView #read-path { height: 1fr; padding: 0 1; }
    """

    class LayerPicked(Message):
        """The user moved to another layer's bar (`open`: pressed Enter on it)."""

        def __init__(self, layer: int, open: bool = False) -> None:
            super().__init__()
            self.layer = layer
            self.open = open

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: Image | None = None
        self.bars: list[Bar] = []
        self.read: ReadPath | None = None
        self.node: Node | None = None
        self.list = StackBars(id="stack-bars")
        self.path_input = Input(placeholder="a path, e.g. /app/model.bin  (Enter)", id="stack-path")
        self.body = Static(id="read-path-body")
        self._showing = False  # the bars are being set: their highlight moves are not the user's
        self._drawn = (0, 0, 0)  # the bytes of a full bar, its cells, and the list's width, as last drawn
        self._marked: dict[int, Content] = {}  # the mark of each marked layer, as drawn
        self._row_of: dict[int, int] = {}  # each layer's bar
        self._again: str | None = None  # the path shown before another image was opened

    def compose(self) -> ComposeResult:
        with Vertical(id="stack-left"):
            yield self.list
            yield Static(LEGEND, id="stack-legend")
        with Vertical(id="stack-right"):
            yield self.path_input
            with VerticalScroll(id="read-path"):
                yield self.body

    def on_mount(self) -> None:
        self.query_one("#stack-left").border_title = "Stack · top layer first"
        self.query_one("#stack-right").border_title = "Read path"
        self.body.update(Content.styled(WAITING, "$text-muted"))

    def clear(self) -> None:
        """No image (another is being opened); the path shown is kept, to be read in that one."""
        if self.node is not None:
            self._again = self.node.path
        self.image, self.bars, self.read, self.node = None, [], None, None
        self._marked, self._row_of = {}, {}
        self.list.clear_options()
        self.body.update(Content.styled(WAITING, "$text-muted"))

    def show(self, image: Image, layer: int | None) -> None:
        """Draw the analysed `image`, `layer` highlighted (and the read path of the path shown
        before, if this image has it: another platform's, say)."""
        self.image = image
        self.bars = stack_bars(image)
        self._draw(layer)
        again, self._again = self._again, None
        node = image.fs.lookup(again) if again is not None else None
        if node is not None and node.parent is not None:
            self.pick(node)
        elif again is not None:
            self.path_input.value = ""
            self.body.update(Content.styled(f"No layer of this image has /{display_name(again)}.", "$text-muted"))
        else:
            self.body.update(Content.styled(PROMPT, "$text-muted"))

    def on_resize(self, event: Resize) -> None:
        if self.image is not None and self.list.size.width != self._drawn[2]:
            self._draw(self.selected_layer)

    @property
    def selected_layer(self) -> int | None:
        index = self.list.highlighted
        return self.bars[index].layer if index is not None and index < len(self.bars) else None

    def _width(self) -> int:
        """Cells of the largest bar: half the room beside the labels, the instruction after it."""
        room = self.list.size.width - LABEL - 2 if self.list.size.width else 30
        return max(4, min(BAR, room // 2))

    def _draw(self, layer: int | None) -> None:
        """Every bar again (a new image or width)."""
        self._drawn = (widest(self.bars), self._width(), self.list.size.width)
        self._marked = self._marks()
        self._row_of = {bar.layer: row for row, bar in enumerate(self.bars) if bar.layer is not None}
        self._showing = True
        self.list.clear_options()
        self.list.add_options([self._option(bar) for bar in self.bars])
        self.select_layer(layer)
        self._showing = False

    def _remark(self) -> None:
        """Only the bars whose mark changed (an image of 10,000s of layers has as many bars)."""
        old, new = self._marked, self._marks()
        self._marked = new
        for layer in old.keys() | new.keys():
            if old.get(layer) != new.get(layer):
                row = self._row_of[layer]
                self.list.replace_option_prompt_at_index(row, self._prompt(self.bars[row]))

    def _marks(self) -> dict[int, Content]:
        read = self.read
        if read is None:
            return {}
        marks = {row.layer: Content.styled("•", "$text-accent") for row in read.rows}
        if read.rows:
            top = read.rows[0]
            marks[top.layer] = Content.styled("▶" if top.role == "wins" else "✕", ROLE_STYLES[top.role])
        return marks

    def _option(self, bar: Bar) -> Option:
        if bar.layer is None:
            return Option(self._prompt(bar), disabled=True)
        return Option(self._prompt(bar), id=f"layer-{bar.layer}")

    def _prompt(self, bar: Bar) -> Content:
        most, width, drawn_width = self._drawn
        room = drawn_width - 2 if drawn_width else LABEL + width
        if bar.layer is None:
            return Content.styled(end_cut(f"  ┄ {display_name(bar.instruction)}", room), "$text-muted italic")
        visible, wasted, hides = bar_cells(bar, most, width)
        drawn = visible + wasted + hides
        text = display_name(self.image.layers[bar.layer].instruction) if self.image is not None else ""
        return Content.assemble(
            self._marked.get(bar.layer, Content(" ")),
            f"{bar.layer:>3} ",
            (f"{human_size(bar.stored):>8} ", "$text-muted"),
            ("█" * visible, VISIBLE),
            ("█" * wasted, WASTED),
            ("░" * hides, HIDES),
            " " * max(1, width - drawn + 1),
            (end_cut(text, max(0, room - LABEL - max(width, drawn) - 1)), "$text-muted"),
        )

    def select_layer(self, layer: int | None) -> None:
        """Highlight `layer`'s bar."""
        for index, bar in enumerate(self.bars):
            if bar.layer == layer and bar.layer is not None:
                self.list.highlighted = index
                return

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        layer = self.selected_layer
        if layer is not None and not self._showing:
            self.post_message(self.LayerPicked(layer))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a bar: the path in that layer's changes, if it has an entry there; else the layer."""
        event.stop()
        layer = self.selected_layer
        if layer is None:
            return
        if self.node is not None and self.read is not None and layer in self.read.layers:
            self.post_message(ShowPath(self.node.path, layer))
        else:
            self.post_message(self.LayerPicked(layer, open=True))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.image is None or not self.image.analysed:
            self.notify("The image is still being analysed.", markup=False)
            return
        path = event.value.strip().strip("/")
        node = self.image.fs.lookup(path) if path else None
        if node is None or node.parent is None:
            self.notify(f"No layer has a path /{display_name(path)}.", severity="warning", markup=False)
            return
        self.pick(node)
        self.list.focus()

    def pick(self, node: Node) -> None:
        """Show the read path of `node` (the image is analysed)."""
        if self.image is None:
            return
        self.node = node
        self.read = read_path_of(self.image, node)
        self.path_input.value = self.read.path
        self._remark()
        self.body.update(self._read_path_content(self.read))
        self.query_one("#read-path", VerticalScroll).scroll_home(animate=False)

    def _read_path_content(self, read: ReadPath) -> Content:
        parts = [Content.styled(read.path, "bold"), Content("\n"), Content(read.verdict), Content("\n\n")]
        for row in read.rows:
            parts += [Content.styled(f"{row.layer:>3} ", "bold"), Content.styled(row.role, ROLE_STYLES[row.role])]
            parts.append(Content(f" · {row.action}"))
            if row.size:
                parts += [Content(" · "), Content.styled(human_size(row.size), "$text-error" if row.wasted else "")]
            parts += [
                Content("\n"),
                Content.styled(f"    {display_name(row.instruction)}", "$text-muted"),
                Content("\n"),
            ]
            if row.note:
                parts += [Content.styled(f"    {row.note}", "italic"), Content("\n")]
        if read.cow is not None:
            parts += [Content("\n"), Content.styled(read.cow, "$text-accent")]
        return Content("").join(parts)
