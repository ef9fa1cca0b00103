"""The help screen: keys and a short explanation of layers, rendered from `help.md`."""

from __future__ import annotations

from importlib.resources import files

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown


def help_text() -> str:
    return files("explorer.tui").joinpath("help.md").read_text(encoding="utf-8")


class HelpScreen(ModalScreen[None]):
    """`?`: what the keys do and how image layers work."""

    BINDINGS = [
        Binding("escape,question_mark,f1", "dismiss(None)", "Close", id="help.close"),
        Binding("q", "app.quit", "Quit", id="help.quit"),
        Binding("j", "scroll('down')", show=False, id="help.down"),
        Binding("k", "scroll('up')", show=False, id="help.up"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Help"
            box.border_subtitle = "Esc: close"
            yield Markdown(help_text(), open_links=False)
        yield Footer()

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        """`tour:CONCEPT` links start the tour at the step that shows the concept."""
        if event.href.startswith("tour:"):
            self.dismiss(None)
            self.app.action_tour(event.href.removeprefix("tour:"))  # type: ignore[attr-defined]
        else:
            self.app.open_url(event.href)

    def action_scroll(self, direction: str) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        if direction == "down":
            box.scroll_down(animate=False)
        else:
            box.scroll_up(animate=False)
