"""How change states look, and the keys every list shares: one copy for every widget."""

from __future__ import annotations

from rich.style import Style
from textual.binding import Binding
from textual.widget import Widget

from ..analysis.filesystem import ADDED, DELETED, MODIFIED, RESTORED, TYPE_CHANGED
from ..present.browse import UNCHANGED

# The theme variable that colours each change state, in the tree, the history and the details.
STATE_COLOURS = {
    ADDED: "$text-success",
    MODIFIED: "$text-warning",
    RESTORED: "$text-accent",
    TYPE_CHANGED: "$text-secondary",
    DELETED: "$text-error",
    UNCHANGED: "$text-muted",
}
STATE_CLASSES = {state: f"state--{state.replace('_', '-')}" for state in STATE_COLOURS}

# j/k as ↓/↑ in every list (the ids are shared, so a keymap changes them everywhere).
CURSOR_KEYS = [
    Binding("j", "cursor_down", "Down", show=False, id="cursor.down"),
    Binding("k", "cursor_up", "Up", show=False, id="cursor.up"),
]
# Home/End to the first/last row of a table, as in the tree and the lists (a DataTable's own
# scroll sideways, hiding the first columns).
TABLE_KEYS = [
    *CURSOR_KEYS,
    Binding("home", "scroll_top", "First row", show=False, id="table.first"),
    Binding("end", "scroll_bottom", "Last row", show=False, id="table.last"),
]


def state_css(widget: str) -> str:
    """CSS giving `widget`'s state component classes their colours."""
    return "".join(
        f"\n{widget} > .{STATE_CLASSES[state]} {{ color: {colour}; }}" for state, colour in STATE_COLOURS.items()
    )


def component_style(widget: Widget, name: str) -> Style:
    """A component class's style for text inside `widget`, without its background.

    `partial=True` alone cannot resolve `auto` colours such as `$text-muted` (they depend on
    the background), so the colour comes from the full style.
    """
    full = widget.get_component_rich_style(name, partial=False)
    return widget.get_component_rich_style(name, partial=True) + Style(color=full.color)
