"""The commands' text output: Rich to a terminal as it draws it; piped, without its padding."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console


def print_text(render: Callable[[Console], None], piped_width: int | None = None) -> None:
    """Call `render` with a console on stdout. To a terminal, Rich draws as usual. Piped (to a
    file, `grep`, a `diff` of two reports), no terminal's width applies (`piped_width`, else
    Rich's 80), and the spaces Rich pads lines and grid cells with up to that width are cut:
    a line ends where its text does."""
    if sys.stdout.isatty():
        render(Console())
        return
    console = Console(width=piped_width)
    with console.capture() as captured:
        render(console)
    sys.stdout.writelines(line.rstrip(" ") + "\n" for line in captured.get().splitlines())
