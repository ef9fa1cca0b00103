"""The palette's "Compare with…": ask for the image to compare the open one with."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ComparePrompt(ModalScreen[str | None]):
    """A path (or registry://, docker:…) typed in; Enter compares, Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="compare_prompt.close")]
    DEFAULT_CSS = """
    ComparePrompt { align: center middle; }
    #compare-prompt-box {
        width: 80%; max-width: 100; height: auto;
        border: round $accent; border-title-style: bold; border-subtitle-color: $text-muted;
        background: $surface; padding: 0 1;
    }
    #compare-prompt-hint { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-prompt-box"):
            yield Input(placeholder="NEW image: archive, OCI directory, registry://…, docker:…", id="compare-input")
            yield Static("The open image is OLD. Enter: compare · Esc: cancel", id="compare-prompt-hint")

    def on_mount(self) -> None:
        box = self.query_one("#compare-prompt-box")
        box.border_title = "Compare with…"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if path:
            self.dismiss(path)
