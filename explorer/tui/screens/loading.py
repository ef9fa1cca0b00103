"""Loading: progress messages from the worker thread, the status bar, and the error screen."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar, Static

from ...present.text import display_name, human_size

STOP_HINT = " · Esc stops"


class ArchiveRead(Message):
    """Bytes of the archive read so far (a stream or a compressed archive is read whole at open)."""

    def __init__(self, done: int) -> None:
        super().__init__()
        self.done = done


class LayerRead(Message):
    """Bytes of a layer blob read so far."""

    def __init__(self, index: int, done: int, size: int) -> None:
        super().__init__()
        self.index, self.done, self.size = index, done, size


class LayersStacked(Message):
    """Layers stacked so far of an image whose layers all come from the layer cache."""

    def __init__(self, stacked: int, count: int) -> None:
        super().__init__()
        self.stacked, self.count = stacked, count


class LoadStopped(Exception):
    """Raised in the loading thread at its next step once Esc asked it to stop."""


class Throttle:
    """True at most `rate` times a second (progress from a thread must not flood the UI)."""

    def __init__(self, rate: float = 10) -> None:
        self.interval = 1 / rate
        self.last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


class LoadStatus(Horizontal):
    """One progress bar for the whole load: bytes read of all layers, and the layers done; and
    how to stop it (Esc)."""

    def compose(self) -> ComposeResult:
        yield Label(f"Opening…{STOP_HINT}", id="status-text")
        yield ProgressBar(total=None, show_eta=False, id="status-bar")

    def opening(self) -> None:
        self.query_one("#status-text", Label).update(f"Opening…{STOP_HINT}")
        self.query_one(ProgressBar).update(total=None, progress=0)

    def reading(self, done: int) -> None:
        self.query_one("#status-text", Label).update(f"Reading archive… {human_size(done)}{STOP_HINT}")

    def stopping(self) -> None:
        self.query_one("#status-text", Label).update("Stopping…")

    def stacking(self, stacked: int, count: int) -> None:
        """Layers from the layer cache: nothing to read, only the stacking to show."""
        self.query_one("#status-text", Label).update(
            f"Analysing layers 0–{count - 1} from the layer cache · {stacked} done{STOP_HINT}"
        )
        self.query_one(ProgressBar).update(total=max(count, 1), progress=stacked)

    def working_out(self) -> None:
        """Every layer is analysed and shown; the hints and the packages are still being worked out."""
        self.query_one("#status-text", Label).update("Every layer is analysed · working out the hints and packages…")
        self.query_one(ProgressBar).update(total=None, progress=0)

    def analysing(self, stacked: int, count: int, done: int, total: int) -> None:
        """Layers 0..`stacked`-1 of `count` are analysed; `done` bytes of all blobs read of `total`
        (layers are read in parallel: only the sum goes one way)."""
        layers = f"layers 0–{stacked - 1} of 0–{count - 1} done" if stacked else f"layers 0–{count - 1}"
        self.query_one("#status-text", Label).update(
            f"Analysing {layers} · {human_size(done)} of {human_size(total)} read{STOP_HINT}"
        )
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)


class ErrorScreen(ModalScreen[None]):
    """A readable one-line error; Esc returns to whatever was loaded, q quits."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close", id="error.close"),
        Binding("q", "app.quit", "Quit", id="error.quit"),
    ]

    def __init__(self, title: str, source: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.source = source
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "q: quit · Esc: close"
            yield Static(Content.styled(display_name(self.message), "$text-error"), id="error-message")
            yield Static(
                Content.assemble(("source: ", "$text-muted"), display_name(self.source)),
                id="error-source",
            )
