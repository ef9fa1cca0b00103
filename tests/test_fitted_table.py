"""FittedTable alone in a tiny app: its last column takes the room the others leave, and is
fitted again when the terminal is resized, with rows and without."""

from __future__ import annotations

import pytest
from textual.app import App

from explorer.tui.widgets.fitted import FittedTable, cut

from .conftest import run

LONG = "RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates"


class Host(App):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self):
        yield FittedTable()

    def on_mount(self) -> None:
        table = self.query_one(FittedTable)
        table.add_column("#", key="index", width=5)
        table.add_column("size", key="size", width=7)
        table.add_fitted_column("instruction", key="instruction")
        for n in range(self.rows):
            table.add_row(str(n), "1.0 kB", cut(f"{n} {LONG}"))


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("rows", [0, 3, 2000])
@run
async def test_the_last_column_is_fitted_again_at_each_size(rows):
    """Narrower and wider again: the table is as wide as its pane (no sideways scrolling and no
    stale width), a long cell ends in `…` where the room is short and is whole where it is not."""
    app = Host(rows)
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(FittedTable)
        for width in (60, 160, 90):
            await pilot.resize_terminal(width, 20)
            await _settle(pilot)
            room = table.content_region.width - table.styles.scrollbar_size_vertical  # room kept for one
            assert table.virtual_size.width == room, (width, table.virtual_size, table.content_region)
            assert table.max_scroll_x == 0, width
            header = table.render_line(0).text.rstrip()
            assert header.endswith("instruction"), header
            if rows:
                line = table.render_line(1).text.rstrip()
                assert line.endswith("…") == (width < 120) and line.endswith(LONG) == (width >= 120), (width, line)
