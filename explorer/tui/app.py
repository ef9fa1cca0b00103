"""The layerscope app: layers on the left, the file tree on the right, waste and summary as tabs.

Loading never blocks the UI: a thread worker opens the image (metadata only, or the whole
archive for a stream), then scans each layer in the thread and hands the scan to the main
thread, which alone stacks it onto the filesystem the widgets read, a slice at a time.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from ..analysis.filesystem import Node
from ..analysis.hints import Hints, compute_hints
from ..analysis.image import Image
from ..archive.errors import ImageError
from ..archive.options import DEFAULT_OPTIONS, OpenOptions
from ..archive.pool import ScanPool
from ..present.browse import CHANGES, MERGED, Browser, change_notes
from ..present.text import display_name, human_size
from .commands import LayerscopeCommands
from .labels import STATE_NAMES
from .screens.find import FindScreen, Found
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.loading import ArchiveRead, ErrorScreen, LayerRead, LoadStatus, Throttle
from .widgets.details import LayerDetails
from .widgets.filetree import FileTree, View
from .widgets.hints import HintsView
from .widgets.largest import LargestView
from .widgets.layers import LayerTable, Step
from .widgets.statusline import StatusLine
from .widgets.summary import SummaryView
from .widgets.waste import WasteView

MODE_NAMES = {CHANGES: "changes in layer", MERGED: "filesystem at layer"}
OPEN_ROWS = 200  # the changes view opens directories until it shows this many rows
NARROW = 100  # below this width, layers and files are stacked and `d` swaps in the details
_STACKED = object()  # what `next` gives for a layer whose stacking is done


class LayerscopeApp(App[None]):
    """Explore a container image archive: layers, file changes, merged filesystem, waste."""

    CSS_PATH = "app.tcss"
    TITLE = "layerscope"
    COMMANDS = App.COMMANDS | {LayerscopeCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("slash", "find", "Find", id="find"),
        Binding("m", "toggle_mode", "Mode", id="toggle_mode"),
        Binding("s", "toggle_sort", "Sort", id="toggle_sort"),
        Binding("u", "toggle_unchanged", "Hide unchanged", show=False, id="toggle_unchanged"),
        Binding("h", "history", "History", id="history"),
        Binding("f", "filter", "Filter", show=False, id="filter"),
        Binding("d", "toggle_details", "Details", id="toggle_details"),
        Binding("e", "expand_all", "Expand all", show=False, id="expand_all"),
        Binding("c", "collapse_all", "Collapse all", show=False, id="collapse_all"),
        Binding("left_square_bracket", "step_layer(-1)", "Previous layer", show=False, id="previous_layer"),
        Binding("right_square_bracket", "step_layer(1)", "Next layer", show=False, id="next_layer"),
        Binding("1", "view('explorer')", "Explorer", show=False, id="view_explorer"),
        Binding("2,w", "view('waste')", "Waste", id="view_waste"),
        Binding("3,i", "view('summary')", "Summary", id="view_summary"),
        Binding("4", "view('hints')", "Hints", show=False, id="view_hints"),
        Binding("5", "view('largest')", "Largest", show=False, id="view_largest"),
    ]

    def __init__(
        self,
        path: str,
        options: OpenOptions = DEFAULT_OPTIONS,
        *,
        pool: ScanPool | None = None,
        display_name: str | None = None,
        animate: bool = True,
    ) -> None:
        """The app for one archive (the CLI, the tests and the screenshot script all start it so);
        `pool` is the caller's, started before Textual was imported."""
        super().__init__()
        self.path = path
        self.options = options
        self.pool = pool
        self.source_name = display_name or os.path.basename(os.path.normpath(path)) or path
        if not animate:
            self.animation_level = "none"
        self.image: Image | None = None
        self.browser: Browser | None = None
        self.stacked = 0
        self.layer: int | None = None
        self.mode = CHANGES
        self.sort = "name"
        self.hide_unchanged = False
        self.filter_query: str | None = None
        self.error: str | None = None
        self._offsets: list[int] = []  # blob bytes before each layer, for overall progress
        self._shown = 0  # layers whose row shows their scan
        self._refresh = Throttle()
        self._picked: Step | None = None  # the layer table's step last shown

    # ---- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with TabbedContent(id="views"):
            with TabPane("Explorer", id="explorer"), Horizontal(id="main"):
                with Vertical(id="left"):
                    yield LayerTable(id="layers")
                    yield LayerDetails(id="details")
                with Vertical(id="files"):
                    yield FileTree(id="tree")
                    yield Static(id="tree-note")
                    yield StatusLine(id="file-info")
            with TabPane("Waste", id="waste"):
                yield WasteView(id="waste-view")
            with TabPane("Summary", id="summary"):
                yield SummaryView(id="summary-view")
            with TabPane("Hints", id="hints"):
                yield HintsView(id="hints-view")
            with TabPane("Largest", id="largest"):
                yield LargestView(id="largest-view")
        yield LoadStatus(id="status")
        yield Footer(compact=True)

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.refresh_bindings()

    def on_mount(self) -> None:
        self.on_resize()
        self.sub_title = display_name(self.source_name)
        self.query_one("#layers").border_title = "Layers"
        self.query_one("#details").border_title = "Layer"
        self.query_one("#waste-view").border_title = "Wasted space"
        self.query_one("#summary-view").border_title = "Image"
        self.query_one("#hints-view").border_title = "What to change"
        self.query_one("#largest-view").border_title = "Largest files"
        self.query_one(LayerDetails).show_message("Reading the image…")
        self._show_files()
        self.query_one(SummaryView).show(None, self.source_name, 0)
        table = self.query_one(LayerTable)
        self.watch(table, "cursor_coordinate", self._layer_cursor_moved, init=False)
        table.focus()
        self._load()

    # ---- loading -----------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="load")
    def _load(self) -> None:
        """Open the image, then scan its layers (stacked in order on the main thread)."""
        worker = get_current_worker()
        throttle = Throttle()

        def on_read(done: int) -> None:
            if throttle.ready():
                self.post_message(ArchiveRead(done))

        def on_progress(index: int, done: int, size: int) -> None:
            if throttle.ready():
                self.post_message(LayerRead(index, done, size))

        try:
            image = Image.open(self.path, self.options, on_read=on_read, pool=self.pool)
        except (ImageError, OSError) as exc:
            self.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # a bug, but the user gets a message, not a traceback
            self.call_from_thread(self._failed, f"internal error while opening: {exc!r}")
            return
        self.call_from_thread(self._opened, image)
        scans = image.scans(on_progress)  # worker processes for a large file on disk
        try:
            for index, scan in scans:
                # Stacked on the main thread in slices: keys are answered between them, even
                # while a layer of 100,000s of files goes on (one slice is about 15 ms).
                steps = image.stack_steps(index, scan)
                while self.call_from_thread(self._stack_step, steps):
                    if worker.is_cancelled:
                        return
                self.call_from_thread(self._stacked, index)
            self.call_from_thread(self._finish)
        except (ImageError, OSError) as exc:
            self.call_from_thread(self._failed, str(exc))
        except Exception as exc:
            self.call_from_thread(self._failed, f"internal error while analysing: {exc!r}")
        finally:
            scans.close()  # stops the worker processes if loading ended early
            image.close()  # every layer is read: the filesystem needs the archive no more

    def on_archive_read(self, message: ArchiveRead) -> None:
        self.query_one(LoadStatus).reading(message.done)

    def on_layer_read(self, message: LayerRead) -> None:
        if self.image is None or message.index < self.stacked:
            return
        count = len(self.image.layers)
        self.query_one(LoadStatus).analysing(
            message.index, count, self._offsets[message.index] + message.done, self._offsets[count]
        )
        self.query_one(LayerTable).set_progress(message.index, message.done / max(message.size, 1))

    def _opened(self, image: Image) -> None:
        self.image = image
        self.browser = Browser(image.fs)
        self._offsets = [0]
        for layer in image.layers:
            self._offsets.append(self._offsets[-1] + layer.blob_size)
        self.query_one(LoadStatus).analysing(0, len(image.layers), 0, self._offsets[-1])
        table = self.query_one(LayerTable)
        table.show_image(image)
        if image.layers:
            self.layer = 0
            table.select_layer(0)
        self._show_layer_details()
        self._show_files()
        self.query_one(SummaryView).show(image, self.source_name, 0)

    @staticmethod
    def _stack_step(steps: Iterator[None]) -> bool:
        """On the main thread: stack one more slice of a layer; False once it is all stacked."""
        return next(steps, _STACKED) is not _STACKED

    def _stacked(self, index: int) -> None:
        """On the main thread: show a layer that is now stacked."""
        assert self.image is not None and self.browser is not None
        # The model lives as long as the app: keep the collector from walking its 100,000s of
        # objects on every full collection (pauses of 0.3 s, during loading and after).
        gc.freeze()
        self.browser.layer_added()
        self.stacked = index + 1
        if index == self.layer:
            self._show_layer_details()
            self._show_files()
        if self._refresh.ready():  # at most 10 redraws a second, however many layers
            count, done = len(self.image.layers), self._offsets[index + 1]
            self.query_one(LoadStatus).analysing(min(index + 1, count - 1), count, done, self._offsets[-1])
            self.query_one(LayerTable).refresh_rows(range(self._shown, self.stacked))
            self._shown = self.stacked
            self.query_one(SummaryView).show(self.image, self.source_name, self.stacked)

    def _finish(self) -> None:
        assert self.image is not None
        self.image.finish()
        self.query_one(LoadStatus).display = False
        self.query_one(LayerTable).refresh_rows()
        self.query_one(WasteView).show(self.image)
        self.query_one(SummaryView).show(self.image, self.source_name, self.stacked)
        self._show_layer_details()
        if not self.image.layers:
            self._show_files()
        gc.freeze()  # the waste records too (see `_stacked`)
        self._work_out_hints(self.image)

    @work(thread=True, exit_on_error=False, group="hints")
    def _work_out_hints(self, image: Image) -> None:
        """Hints read the finished model only; on a big image they take a tenth of a second."""
        hints = compute_hints(image)
        self.call_from_thread(self._show_hints, image, hints)

    def _show_hints(self, image: Image, hints: Hints) -> None:
        self.query_one(HintsView).show(image, hints)
        self.query_one(LargestView).show(image, self.layer)

    def _failed(self, message: str) -> None:
        self.error = message
        self.query_one(LoadStatus).display = False
        title = "Cannot read the image"
        if self.image is None:
            self.query_one(LayerDetails).show_message("The image could not be read.")
        elif self.stacked < len(self.image.layers):
            title = f"Cannot read layer {self.stacked}"
            table = self.query_one(LayerTable)
            table.failed = self.stacked
            table.refresh_rows(range(self._shown, self.stacked + 1))
        self._show_files()
        self.push_screen(ErrorScreen(title, self.source_name, message))

    @property
    def loaded(self) -> bool:
        """Everything is analysed, or loading stopped on an error."""
        return self.error is not None or (self.image is not None and self.image.analysed)

    # ---- showing a layer ---------------------------------------------------------------
    def _layer_cursor_moved(self) -> None:
        """Show the layer (files and details) or build step under the layer table's cursor.

        A watcher on the table's cursor, not a message from it: the files change in the frame
        that moves the cursor, rather than in the next one.
        """
        table = self.query_one(LayerTable)
        step = table.steps[table.cursor_row] if 0 <= table.cursor_row < len(table.steps) else None
        if step is None or step is self._picked:  # the table sets its cursor again for each row it adds
            return
        self._picked = step
        if step.layer is None:
            if step.history is not None:
                self.query_one(LayerDetails).show_history(step.history)
            return
        if step.layer.index != self.layer:
            self.layer = step.layer.index
            self._show_files()
        self._show_layer_details()

    def _show_layer_details(self) -> None:
        if self.image is not None and self.layer is not None:
            self.query_one(LayerDetails).show_layer(self.image, self.image.layers[self.layer])

    def _show_files(self, expand: set[Node] | None = None) -> None:
        """Show the tree of the selected layer and mode, or say why there is none."""
        tree = self.query_one(FileTree)
        note = self.query_one("#tree-note", Static)
        files = self.query_one("#files")
        message = None
        if self.image is None:
            message = "Could not read the image." if self.error else "Reading the image…"
        elif self.layer is None:
            message = "This image has no layers."
        elif self.layer >= self.stacked:
            message = "Layer not analysed yet." if self.error is None else "Layer not analysed (error)."
        if message is not None or self.browser is None or self.layer is None:
            files.border_title = "Files"
            tree.show(None, None)
            tree.display = False
            note.update(message or "")
            note.display = True
            self._show_file_info()
            return
        within = frozenset(self.browser.matching(self.filter_query)) if self.filter_query else None
        view = View(self.layer, self.mode, self.sort, self.hide_unchanged, within)
        title = f"Files · {MODE_NAMES[self.mode]} {self.layer} · by {self.sort}"
        if self.hide_unchanged:
            title += " · changed only"
        if self.filter_query:
            title += f" · filter “{display_name(self.filter_query)}”"
        files.border_title = Content(title)  # the filter is user text: never markup
        note.display = False
        tree.display = True
        tree.show(self.browser, view, expand, OPEN_ROWS if self.mode == CHANGES else 0)
        if not tree.root.children:
            empty = "No files changed in this layer" if self.mode == CHANGES else "No files at this layer"
            note.update(f"{empty}{' match the filter (f clears it)' if self.filter_query else ''}.")
            note.display = True
        self._show_file_info()

    def on_tree_node_highlighted(self, event: FileTree.NodeHighlighted) -> None:
        self._show_file_info()

    def _show_file_info(self) -> None:
        tree = self.query_one(FileTree)
        row = tree.cursor_row if tree.display else None
        info = self.query_one("#file-info", StatusLine)
        if info.display != (row is not None):
            info.display = row is not None
        if row is None:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"/{display_name(row.node.path)}", "bold")
        text.append(f"  {STATE_NAMES[row.status]}, {human_size(tree.size_of(row))}")
        if row.change is not None:
            notes = change_notes(row.change)
            if notes:
                text.append("  " + ", ".join(notes))
        text.append("  · h: history", "dim")
        info.show(text)

    # ---- actions -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`d` only means something on a narrow screen (modals already stop the app's keys)."""
        return action != "toggle_details" or self.has_class("-narrow")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_details(self) -> None:
        self.toggle_class("-details")

    def action_view(self, view: str) -> None:
        self.query_one(TabbedContent).active = view
        target = {
            "explorer": "#layers",
            "waste": "#waste-table",
            "summary": "#summary-view",
            "hints": "#hints-table",
            "largest": "#largest-table",
        }[view]
        if view == "largest" and self.image is not None and self.image.analysed:
            self.query_one(LargestView).show(self.image, self.layer)  # `l` shows the layer chosen now
        self.query_one(target).focus()

    def action_toggle_mode(self) -> None:
        self.mode = MERGED if self.mode == CHANGES else CHANGES
        self._show_files()

    def action_toggle_sort(self) -> None:
        self.set_sort("size" if self.sort == "name" else "name")

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._show_files()

    def action_toggle_unchanged(self) -> None:
        self.hide_unchanged = not self.hide_unchanged
        self._show_files()

    def action_expand_all(self) -> None:
        self.query_one(FileTree).expand_all()

    def action_collapse_all(self) -> None:
        self.query_one(FileTree).collapse_all()

    def action_step_layer(self, step: int) -> None:
        if self.image is not None and self.image.layers:
            self.go_to_layer(max(0, min(len(self.image.layers) - 1, (self.layer or 0) + step)))

    def go_to_layer(self, index: int) -> None:
        """Select layer `index` (the layer table drives the other panes)."""
        self.action_view("explorer")
        self.query_one(LayerTable).select_layer(index)
        if index != self.layer:
            self.layer = index
            self._show_files()
            self._show_layer_details()

    def action_history(self) -> None:
        node = self.query_one(FileTree).cursor_path
        if self.image is not None and node is not None:
            self.push_screen(HistoryScreen(self.image, node, self.stacked))
        else:
            self.notify("Put the tree cursor on a path first.", markup=False)

    def action_find(self) -> None:
        if self.browser is not None:
            self.push_screen(FindScreen(self.browser, self.filter_query or ""), self._found)

    def action_filter(self) -> None:
        if self.filter_query:
            self.filter_query = None
            self._show_files()
        elif self.browser is not None:
            self.push_screen(FindScreen(self.browser, filtering=True), self._found)

    def _found(self, found: Found | None) -> None:
        if found is None:
            return
        if found.filter is not None:
            self.filter_query = found.filter or None
            self.action_view("explorer")
            self._show_files()
            self.query_one(FileTree).focus()
        elif found.node is not None:
            self.show_path(found.node)

    def show_path(self, node: Node, layer: int | None = None, mode: str | None = None) -> None:
        """Select `node` in the tree: at `layer`/`mode` if given; else here in the changes view
        when this layer touched it, else in the merged view at this layer or the last with it."""
        if self.browser is None:
            return
        self.action_view("explorer")
        if layer is None:
            here = self.layer if self.layer is not None else 0
            if self.mode == CHANGES and node in self.browser.touched(here):
                layer, mode = here, CHANGES
            else:
                mode = MERGED
                layer = here if node.entry_at(here) is not None else self.browser.last_visible_layer(node)
                if layer is None:
                    layer, mode = node.changes[-1].layer, CHANGES
        tree = self.query_one(FileTree)
        if self.filter_query and node not in self.browser.matching(self.filter_query):
            self.filter_query = None
        self.mode = mode or self.mode
        if layer != self.layer:
            self.layer = layer
            self.query_one(LayerTable).select_layer(layer)
            self._show_layer_details()
        self._show_files()
        tree.reveal(node)
        tree.focus()
        self._show_file_info()

    def on_hints_view_jump(self, message: HintsView.Jump) -> None:
        self._jump(message.path, message.layer)

    def on_largest_view_jump(self, message: LargestView.Jump) -> None:
        self._jump(message.path, message.layer)

    def _jump(self, path: str, layer: int) -> None:
        node = self.image.fs.lookup(path) if self.image is not None else None
        if node is not None:
            self.show_path(node, layer, CHANGES)

    def on_waste_view_jump(self, message: WasteView.Jump) -> None:
        if self.image is None:
            return
        node = self.image.fs.lookup(message.item.path)
        if node is not None:
            self.show_path(node, message.item.hidden_by, CHANGES)
