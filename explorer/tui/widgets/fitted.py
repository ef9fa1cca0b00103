"""A table whose last column takes the room the others leave, its long cells cut with `…`, so
that a long instruction or hint title never pushes the other columns out of sight sideways."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import Column

FIT_MIN = 6  # the last column's least width ("RUN a…"): narrower, the table scrolls sideways


def cut(text: str, style: str | Style = "") -> Text:
    """A cell that ends in `…` where its column is too narrow for it."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


class FittedTable(DataTable):
    """Add the other columns with fixed widths (or measured ones, their rows all added before
    the table is first laid out, as the history's), then the last one with `add_fitted_column`,
    its cells made with `cut` (or cut to `fitted_width()`, as paths are in the middle); the
    column is fitted again on every resize."""

    def fitted_width(self) -> int:
        """The room the other columns leave for the last one."""
        return self._room_beside(self.ordered_columns[:-1])

    def add_fitted_column(self, label: str | Text, key: str) -> None:
        """Add the last column, as wide as the room the others leave."""
        self.add_column(label, key=key, width=self._room_beside(self.ordered_columns))

    def _room_beside(self, others: list[Column]) -> int:
        """The room left beside `others`, and a vertical scrollbar: it comes and goes with the
        rows, without a resize to fit the column again."""
        room = self.content_region.width - self.styles.scrollbar_size_vertical
        return max(FIT_MIN, room - sum(column.get_render_width(self) for column in others) - 2 * self.cell_padding)

    def on_resize(self) -> None:
        self.fit_last_column()

    def fit_last_column(self) -> None:
        """Give the last column the room the others leave now (its cells kept as they are)."""
        if not self.columns:
            return
        column = self.ordered_columns[-1]
        room = self.fitted_width()
        if column.width == room:
            return
        column.width = room
        if not self.row_count:
            self.clear()  # no row to lose: the header is laid out again
            return
        # The table lays itself out again (its scrollable width, its cached lines) once a cell is
        # measured again: the first row's last cell, unchanged. The column's width is fixed, so
        # what is measured does not change it; a content width of 0 keeps Textual from measuring
        # every other cell of the column as well (it does when the new one measures narrower).
        column.content_width = 0
        last = Coordinate(0, len(self.columns) - 1)
        self.update_cell_at(last, self.get_cell_at(last), update_width=True)
