"""`v` on a file: its contents as of the selected layer (highlighted text, a hex dump for
binary data, a unified diff against the version below for a modified file).

The bytes come from reading a layer blob again, and highlighting 256 KiB takes a while too:
both happen in a thread worker, which hands over finished lines (`Strip`s). The view draws
only the lines on screen (Line API), so a long file scrolls as fast as a short one.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from ...analysis.filesystem import Node
from ...analysis.image import Image
from ...archive.errors import ImageError
from ...present.contents import Contents, file_contents, hex_dump
from ...present.text import display_name, human_size
from .loading import Throttle

THEME = "ansi_dark"  # the terminal's own colours
# Bytes of a file are data: control characters and bidi overrides are shown, never sent.
_VISIBLE = {c: 0x2400 + c for c in range(32) if c not in (9, 10)} | {0x7F: 0x2421}
_VISIBLE |= {c: 0xFFFD for c in [*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
_DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def safe(text: str) -> str:
    return text.replace("\r\n", "\n").translate(_VISIBLE)


def _console() -> Console:
    return Console(file=io.StringIO(), width=1000, color_system="truecolor", force_terminal=True)


def _numbered(lines: list[Text], console: Console) -> list[Strip]:
    gutter = len(str(len(lines)))
    number = Style(dim=True)
    return [Strip([Segment(f"{i:>{gutter}} │ ", number), *line.render(console)]) for i, line in enumerate(lines, 1)]


def text_strips(contents: Contents) -> list[Strip]:
    code = safe(contents.text).expandtabs(8)
    lines = Syntax(code, contents.lexer, theme=THEME).highlight(code).split("\n", allow_blank=True)
    if code.endswith("\n") and lines and not lines[-1]:
        lines.pop()  # the end of the last line, not a line of its own
    return _numbered(lines, _console())


def hex_strips(data: bytes) -> list[Strip]:
    dim = Style(dim=True)
    return [Strip([Segment(line[:10], dim), Segment(line[10:60]), Segment(line[60:], dim)]) for line in hex_dump(data)]


def diff_strips(lines: list[str]) -> list[Strip]:
    strips = []
    for line in lines:
        style = next((Style.parse(s) for prefix, s in _DIFF_STYLES if line.startswith(prefix)), Style())
        strips.append(Strip([Segment(safe(line).expandtabs(8), style)]))
    return strips


class _Closed(Exception):
    """The screen was closed while its file was read."""


class ContentLines(ScrollView, can_focus=True):
    """Lines rendered ahead of time, drawn as they scroll into view."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="contents.down"),
        Binding("k", "scroll_up", "Up", show=False, id="contents.up"),
    ]
    DEFAULT_CSS = "ContentLines { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lines: list[Strip] = []

    def show(self, lines: list[Strip]) -> None:
        self.lines = lines
        self.virtual_size = Size(max((s.cell_length for s in lines), default=0), len(lines))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        width = self.size.width
        index = top + y
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        return self.lines[index].crop_extend(x, x + width, self.rich_style)


class ContentsScreen(ModalScreen[None]):
    """A file's contents as of a layer; `t` switches a modified file between diff and file."""

    BINDINGS = [
        Binding("escape,v", "dismiss(None)", "Close", id="contents.close"),
        Binding("t", "toggle_diff", "Diff / file", id="contents.toggle_diff"),
        Binding("q", "app.quit", "Quit", id="contents.quit"),
    ]
    DEFAULT_CSS = """
    ContentsScreen { align: center middle; }
    #contents-box {
        width: 95%; height: 90%;
        border: round $accent; border-title-style: bold; border-subtitle-color: $text-muted;
        background: $surface; padding: 0 1;
    }
    #contents-facts { height: auto; padding: 0 0 1 0; }
    """

    def __init__(self, image: Image, node: Node, layer: int) -> None:
        super().__init__()
        self.image = image
        self.node = node
        self.at_layer = layer
        self.contents: Contents | None = None
        self.views: dict[str, list[Strip]] = {}
        self.showing = "file"

    def compose(self) -> ComposeResult:
        with Vertical(id="contents-box"):
            yield Static(Text("reading…", style="dim"), id="contents-facts")
            yield ContentLines(id="contents-body")
        yield Footer()

    def on_mount(self) -> None:
        box = self.query_one("#contents-box")
        box.border_title = Text(display_name(f"/{self.node.path}") + f"  (layer {self.at_layer})")  # type: ignore[assignment]
        box.border_subtitle = "Esc: close"
        self.query_one(ContentLines).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="contents")
    def load(self) -> None:
        """Read and render in a thread; the screen gets finished lines, and meanwhile how far
        into the layer blob the reading is (a single-frame zstd layer is read from its start)."""
        worker = get_current_worker()
        throttle = Throttle()

        def on_read(done: int, size: int) -> None:
            if worker.is_cancelled:
                raise _Closed  # the screen is gone: stop reading
            if throttle.ready():
                self.app.call_from_thread(self._reading, done, size)

        try:
            contents = file_contents(self.image, self.node, self.at_layer, on_read)
        except _Closed:
            return
        except (ImageError, OSError) as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        views = {}
        if contents.data is not None:
            views["file"] = hex_strips(contents.data) if contents.binary else text_strips(contents)
        if contents.diff is not None:
            views["diff"] = diff_strips(contents.diff)
        self.app.call_from_thread(self._loaded, contents, views)

    def _reading(self, done: int, size: int) -> None:
        if self.contents is None:
            share = done * 100 // max(size, 1)
            reading = f"reading the layer blob… {human_size(done)} of {human_size(size)} ({share} %)"
            self.query_one("#contents-facts", Static).update(Text(reading, style="dim"))

    def _failed(self, message: str) -> None:
        self.query_one("#contents-facts", Static).update(Text(display_name(message), style="red"))

    def _loaded(self, contents: Contents, views: dict[str, list[Strip]]) -> None:
        self.contents, self.views = contents, views
        self.showing = "diff" if "diff" in views else "file"
        self._show()

    def _show(self) -> None:
        contents = self.contents
        assert contents is not None
        facts = Text()
        for label, value in contents.facts:
            facts.append(f"{label}: ", style="bold").append(value).append("   ")
        notes = list(contents.notes)
        if contents.binary:
            notes.append("binary: hex dump")
        if "diff" in self.views:
            notes.append(
                f"{'unified diff against the version below' if self.showing == 'diff' else 'the file'} (t: switch)"
            )
        for note in notes:
            facts.append("\n" + note, style="italic")
        self.query_one("#contents-facts", Static).update(facts)
        self.query_one(ContentLines).show(self.views.get(self.showing, []))

    def action_toggle_diff(self) -> None:
        if "diff" in self.views:
            self.showing = "file" if self.showing == "diff" else "diff"
            self._show()
