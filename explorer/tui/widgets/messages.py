"""Messages the views send the app."""

from __future__ import annotations

from textual.message import Message


class ShowPath(Message):
    """Show this path at this layer in the explorer (Enter on a row of Waste, Hints or Largest)."""

    def __init__(self, path: str, layer: int) -> None:
        super().__init__()
        self.path = path
        self.layer = layer
