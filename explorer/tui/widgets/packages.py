"""Packages: the image's, or what the selected layer installed, removed or upgraded."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from ...analysis.filesystem import Node
from ...analysis.image import Image
from ...analysis.packages import Package, Packages
from ...present.packages import SORTS, PackageRow, package_nodes, package_rows, summary_line
from ...present.text import display_name, human_size
from ..labels import TABLE_KEYS

LIMIT = 1000  # DataTable measures every cell: the largest packages, not every one


class PackageTable(DataTable):
    BINDINGS = TABLE_KEYS


class PackagesView(Vertical):
    """One row per package (image) or per change (layer); Enter filters the file tree to the
    package's files. The packages are worked out in a thread the first time."""

    DEFAULT_CSS = """
    PackagesView {
        height: 1fr;
        padding: 0 1;
        border-top: solid $panel-lighten-2;
        border-title-color: $text-muted;
        border-title-style: bold;
        background: $surface;
    }
    PackagesView > #packages-hint { height: auto; }
    PackagesView > PackageTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("s", "sort", "Sort", id="packages.sort"),
        Binding("t", "scope", "Image/layer", id="packages.scope"),
    ]

    class Filter(Message):
        """Show only these files in the explorer."""

        def __init__(self, package: Package, nodes: frozenset[Node]) -> None:
            super().__init__()
            self.package = package
            self.nodes = nodes

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: Image | None = None
        self.packages: Packages | None = None
        self.selected_layer: int | None = None  # the explorer's selected layer
        self.per_layer = False  # rows: the selected layer's changes, else the image's packages
        self.sort = SORTS[0]
        self.rows: list[PackageRow] = []
        self._asked: Image | None = None  # the image whose packages are being or were worked out

    def compose(self):
        yield Static(id="packages-hint", classes="hint")
        yield PackageTable(id="packages-table", cursor_type="row")

    @property
    def table(self) -> DataTable:
        return self.query_one(PackageTable)

    def on_mount(self) -> None:
        self.border_title = "Packages"
        table = self.table
        table.add_column(" ", key="mark")
        table.add_column("package", key="name")
        table.add_column("version", key="version")
        table.add_column(Text("layer", justify="right"), key="layer")
        table.add_column(Text("files", justify="right"), key="files")
        table.add_column(Text("bytes", justify="right"), key="size")
        table.add_column(Text("wasted", justify="right"), key="wasted")
        table.add_column(Text("db size", justify="right"), key="stated")
        self._refill()

    def show(self, image: Image | None, layer: int | None) -> None:
        """Follow the app: the image (once analysed) and its selected layer (cheap when the
        rows stay the same: it is called on every layer move)."""
        moved = layer != self.selected_layer
        self.selected_layer = layer
        if image is not self.image:
            self.image, self.packages = image, None
        elif not (moved and self.per_layer) and (image is None or not image.analysed or self._asked is image):
            return  # the same rows
        if image is not None and image.analysed and self._asked is not image:
            self._asked = image  # once per image: the thread fills `packages`
            self._find(image)
        self._refill()

    @work(thread=True, exclusive=True, group="packages")
    def _find(self, image: Image) -> None:
        packages = image.packages  # 10s to 100s of ms on a large image: off the UI thread
        self.app.call_from_thread(self._found, image, packages)

    def _found(self, image: Image, packages: Packages) -> None:
        if image is self.image:
            self.packages = packages
            self._refill()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._refill()

    def action_scope(self) -> None:
        self.per_layer = not self.per_layer
        self._refill()

    def _refill(self) -> None:
        hint = self.query_one("#packages-hint", Static)
        table = self.query_one(DataTable)
        table.clear()
        self.rows = []
        if self.packages is None:
            working = self.image is not None and self.image.analysed
            hint.update("Working out the packages…" if working else "Packages are known once every layer is analysed.")
            return
        table.display = bool(self.packages.packages)
        if not self.packages.packages:  # nothing to list, in the image or a layer: no empty table, no keys
            text = Text(summary_line(self.packages, None), style="bold")
            for note in self.packages.notes:
                text.append(f"\n{note}", style="yellow")
            hint.update(text)
            return
        layer = self.selected_layer if self.per_layer else None
        if self.per_layer and layer is None:
            hint.update("No layer selected.")
            return
        rows = package_rows(self.packages, layer, self.sort)
        self.rows = rows[:LIMIT]
        more = f" (the first {LIMIT} of {len(rows)})" if len(rows) > LIMIT else ""
        scope = f"layer {layer}" if layer is not None else "the image"
        size = "bytes this layer stored" if layer is not None else "visible bytes"
        text = Text.assemble(
            (summary_line(self.packages, layer) + more + " ", "bold"),
            f"Showing {scope}, by {self.sort} ({size}). Enter: its files in the explorer · s: sort · t: image/layer",
        )
        for note in self.packages.notes:
            text.append(f"\n{note}", style="yellow")
        hint.update(text)
        for n, row in enumerate(self.rows):
            p = row.package
            lifetime = str(p.installed_in) + (f"–{p.removed_in}" if p.removed_in is not None else "")
            table.add_row(
                Text(row.mark, style="red" if row.action == "removed" else "green"),
                Text(f"{p.ecosystem}:{display_name(p.name)}"),
                Text(display_name(row.version)),
                Text(lifetime, justify="right"),
                Text("-" if p.size_only else str(p.files), justify="right"),
                Text(human_size(row.size), justify="right"),
                Text(human_size(row.wasted), justify="right", style="red")
                if row.wasted
                else Text("-", justify="right"),
                Text(human_size(p.installed_size) if p.installed_size is not None else "-", justify="right"),
                key=str(n),
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.packages is not None and event.cursor_row < len(self.rows):
            package = self.rows[event.cursor_row].package
            self.post_message(self.Filter(package, package_nodes(self.packages, package)))
