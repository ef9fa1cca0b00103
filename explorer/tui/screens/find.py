"""Find a file: incremental search over every path, then jump to it or filter the tree."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from ...analysis.filesystem import Node
from ...present.browse import MARKS, STATE_NAMES, Browser
from ...present.text import display_name

LIMIT = 500
LEGEND = "A3 = added in layer 3; " + ", ".join(
    f"{MARKS[state]} {STATE_NAMES[state]}" for state in ("modified", "restored", "type_changed", "deleted")
)


@dataclass
class Found:
    """What the find box decided: a path to jump to, or a query to filter the tree with."""

    node: Node | None = None
    filter: str | None = None


class FindScreen(ModalScreen[Found | None]):
    """`/`: type to search; Enter jumps to the highlighted path; ctrl+f filters the tree."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close", id="find.close"),
        Binding("ctrl+f", "filter", "Filter tree", id="find.filter"),
        Binding("down", "move(1)", "Next", show=False, id="find.next"),
        Binding("up", "move(-1)", "Previous", show=False, id="find.previous"),
    ]

    def __init__(self, browser: Browser, query: str = "", filtering: bool = False) -> None:
        super().__init__()
        self.browser = browser
        self.query_text = query
        self.filtering = filtering
        self.found: list[Node] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="find-box"):
            yield Input(self.query_text, placeholder="part of a path (words match in any order)", id="find-input")
            yield Static(id="find-count", classes="hint")
            yield OptionList(id="find-results")
        yield Footer()

    def on_mount(self) -> None:
        box = self.query_one("#find-box")
        box.border_title = "Filter the tree" if self.filtering else "Find a file"
        box.border_subtitle = "Enter: filter" if self.filtering else "Enter: jump · ctrl+f: filter the tree"
        field = self.query_one(Input)
        field.cursor_blink = self.app.animation_level != "none"
        self._search(self.query_text)

    def type_ahead(self, text: str) -> None:
        """`text` typed before the field had the focus: the keys right after `/`, which a busy
        machine delivers to the screen below (the app hands them here)."""
        field = self.query_one(Input)
        field.focus()
        field.insert_text_at_cursor(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    def _search(self, query: str) -> None:
        results = self.query_one(OptionList)
        self.found = self.browser.search(query, LIMIT)
        results.clear_options()
        results.add_options(Option(self._prompt(node)) for node in self.found)
        if self.found:
            results.highlighted = 0
        more = "+" if len(self.found) >= LIMIT else ""
        plural = "" if len(self.found) == 1 else "s"
        count = f"{len(self.found)}{more} path{plural}" if query.strip() else "type to search every path of every layer"
        count += f" · after each path, the layers that changed it: {LEGEND}"
        self.query_one("#find-count", Static).update(count)

    @staticmethod
    def _prompt(node: Node) -> Text:
        """The path, then the layers that changed it: `app/model.bin  A3 R4`."""
        text = Text(display_name(node.path) + ("/" if node.children else ""), no_wrap=True, overflow="ellipsis")
        changes = " ".join(f"{MARKS[c.kind]}{c.layer}" for c in node.changes[:12] if c.layer >= 0)
        text.append(f"  {changes}{' …' if len(node.changes) > 12 else ''}", "dim")
        return text

    def action_move(self, step: int) -> None:
        results = self.query_one(OptionList)
        if self.found:
            current = results.highlighted if results.highlighted is not None else -step
            results.highlighted = max(0, min(len(self.found) - 1, current + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.filtering:
            self.action_filter()
            return
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None and self.found:
            self.dismiss(Found(node=self.found[highlighted]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Found(node=self.found[event.option_index]))

    def action_filter(self) -> None:
        self.dismiss(Found(filter=self.query_one(Input).value.strip()))
