"""How change states look: one marker letter each, and the component class that colours it."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget

from ..analysis.filesystem import ADDED, DELETED, MODIFIED, RESTORED, TYPE_CHANGED
from ..present.browse import UNCHANGED

MARKS = {ADDED: "A", MODIFIED: "M", RESTORED: "R", TYPE_CHANGED: "T", DELETED: "D", UNCHANGED: " "}
STATE_NAMES = {
    ADDED: "added",
    MODIFIED: "modified",
    RESTORED: "metadata only",
    TYPE_CHANGED: "type changed",
    DELETED: "deleted",
    UNCHANGED: "unchanged",
}
STATE_CLASSES = {state: f"state--{state.replace('_', '-')}" for state in MARKS}


def component_style(widget: Widget, name: str) -> Style:
    """A component class's style for text inside `widget`, without its background.

    `partial=True` alone cannot resolve `auto` colours such as `$text-muted` (they depend on
    the background), so the colour comes from the full style.
    """
    full = widget.get_component_rich_style(name, partial=False)
    return widget.get_component_rich_style(name, partial=True) + Style(color=full.color)
