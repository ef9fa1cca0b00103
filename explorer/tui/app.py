"""The layerscope app: layers on the left, the file tree on the right, waste and summary as tabs.

Loading never blocks the UI: a thread worker opens the image (metadata only, or the whole
archive for a stream), then scans each layer in the thread and hands the scan to the main
thread, which alone stacks it onto the filesystem the widgets read, a slice at a time.
"""

from __future__ import annotations

import gc
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import NamedTuple, TypeVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Key, Resize
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from ..analysis.collector import collector_paused
from ..analysis.filesystem import Node
from ..analysis.hints import Hints, compute_hints
from ..analysis.image import TREE_DONE, Image
from ..archive.errors import ImageError
from ..archive.layerscan import LayerScan
from ..archive.manifests import find_images
from ..archive.options import DEFAULT_OPTIONS, OpenOptions
from ..archive.pool import ScanPool
from ..present.browse import STATE_NAMES, Browser, FileRow, Mode, Sort
from ..present.packages import owner_text
from ..present.text import display_name, human_size
from ..present.tour import step_of
from ..present.tree import View, row_notes
from .commands import LayerscopeCommands
from .comparing import Comparing
from .screens.find import FindScreen, Found
from .screens.loading import (
    ArchiveRead,
    ErrorScreen,
    LayerRead,
    LayersStacked,
    LoadStatus,
    LoadStopped,
    Throttle,
)
from .widgets.details import LayerDetails
from .widgets.filetree import FileTree
from .widgets.hints import HintsView
from .widgets.largest import LargestView
from .widgets.layers import LayerTable, Step
from .widgets.messages import ShowPath
from .widgets.packages import PackagesView
from .widgets.stack import StackView
from .widgets.statusline import StatusLine
from .widgets.summary import SummaryView
from .widgets.tour import TourPanel
from .widgets.waste import WasteView

T = TypeVar("T")
MODE_NAMES = {Mode.CHANGES: "changes in layer", Mode.MERGED: "filesystem at layer"}
OPEN_ROWS = 200  # the changes view opens directories until it shows this many rows
NARROW = 100  # below this width, layers and files are stacked and `d` swaps in the details
# what only the explorer tab's keys do (on the other tabs they would change it unseen)
EXPLORER_ACTIONS = {"toggle_mode", "toggle_sort", "toggle_unchanged", "filter", "expand_all", "collapse_all"}


class Former(NamedTuple):
    """The image shown while a reopened one opens: its input, and its comparison."""

    path: str
    options: OpenOptions
    name: str
    compare: tuple[str, OpenOptions, str] | None  # the other image of its comparison, if any
    other: Image | None  # that image, analysed
    open_is_new: bool  # this image is NEW of the comparison


class LayerscopeApp(Comparing, App[None]):
    """Explore a container image archive: layers, file changes, merged filesystem, waste."""

    CSS_PATH = "app.tcss"
    TITLE = "layerscope"
    COMMANDS = App.COMMANDS | {LayerscopeCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("escape", "stop_loading", "Stop loading", show=False, id="stop_loading"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("slash", "find", "Find", id="find"),
        Binding("m", "toggle_mode", "Mode", id="toggle_mode"),
        Binding("s", "toggle_sort", "Sort", id="toggle_sort"),
        Binding("u", "toggle_unchanged", "Hide unchanged", show=False, id="toggle_unchanged"),
        Binding("h", "history", "History", id="history"),
        Binding("v", "contents", "Contents", show=False, id="contents"),
        Binding("f", "filter", "Filter", show=False, id="filter"),
        Binding("d", "toggle_details", "Details", id="toggle_details"),
        Binding("e", "expand_all", "Expand all", show=False, id="expand_all"),
        Binding("c", "collapse_all", "Collapse all", show=False, id="collapse_all"),
        Binding("left_square_bracket", "move_layer(-1)", "Previous layer", show=False, id="previous_layer"),
        Binding("right_square_bracket", "move_layer(1)", "Next layer", show=False, id="next_layer"),
        Binding("1", "view('explorer')", "Explorer", show=False, id="view_explorer"),
        Binding("2,w", "view('waste')", "Waste", id="view_waste"),
        Binding("3,i", "view('summary')", "Summary", id="view_summary"),
        Binding("4", "view('hints')", "Hints", show=False, id="view_hints"),
        Binding("5", "view('largest')", "Largest", show=False, id="view_largest"),
        Binding("6,p", "view('packages')", "Packages", show=False, id="view_packages"),
        Binding("7", "view('stack')", "Stack", show=False, id="view_stack"),
        Binding("n", "tour_step(1)", "Next", id="tour.next"),
        Binding("b", "tour_step(-1)", "Back", id="tour.back"),
        Binding("escape", "leave_tour", "Leave tour", show=False, id="tour.leave"),
        Binding("8", "view('compare')", "Compare", show=False, id="view_compare"),
    ]
    view: var[View] = var(View(), init=False)  # what the file tree shows; actions replace it (no repaint of its own)

    def __init__(
        self,
        path: str,
        options: OpenOptions = DEFAULT_OPTIONS,
        *,
        pool: ScanPool | None = None,
        display_name: str | None = None,
        animate: bool = True,
        tour: bool = False,
        compare: str | None = None,
    ) -> None:
        """The app for one archive (the CLI, the tests and the screenshot script all start it so);
        `pool` is the caller's, started before Textual was imported; `compare`: an image to
        compare it with (as NEW) on the Compare tab."""
        super().__init__()
        self.path = path
        self.compare_with = compare
        self.options = options
        self.pool = pool
        self.source_name = display_name or os.path.basename(os.path.normpath(path)) or path
        if not animate:
            self.animation_level = "none"
        self.image: Image | None = None
        self.browser: Browser | None = None
        self.stacked = 0
        self.error: str | None = None
        self.stopped = False  # Esc stopped the loading (what was analysed stays shown)
        self._read: dict[int, int] = {}  # blob bytes read of each layer, for overall progress
        self._total = 0  # blob bytes of all layers
        self._shown = 0  # layers whose row shows their scan
        self._refresh = Throttle()
        self._picked: Step | None = None  # the layer table's step last shown
        self._loader: Worker | None = None  # the thread loading the image shown
        self._held: Image | None = None  # an image the loading thread stacks whole before showing it
        self._drawn = threading.Event()  # the first screen is drawn
        self._reveal: str | None = None  # a path to show once the image is analysed (`reopen`)
        self._former: Former | None = None  # the image shown while a reopened one is opening
        self.layers = LayerTable(id="layers")
        self.details = LayerDetails(id="details")
        self.hints: Hints | None = None  # worked out in a thread once the image is analysed
        self.file_tree = FileTree(id="tree")
        self.tree_note = Static(id="tree-note")
        self.file_info = StatusLine(id="file-info")
        self.status = LoadStatus(id="status")
        self.waste_view = WasteView(id="waste-view")
        self.summary = SummaryView(id="summary-view")
        self.hints_view = HintsView(id="hints-view")
        self.largest_view = LargestView(id="largest-view")
        self.packages_view = PackagesView(id="packages-view")
        self.stack_view = StackView(id="stack-view")
        self.tour = tour  # start the guided tour of the demo once it is analysed
        self.tour_panel = TourPanel(id="tour")

    # ---- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with TabbedContent(id="views"):
            with TabPane("Explorer", id="explorer"), Horizontal(id="main"):
                with Vertical(id="left"):
                    yield self.layers
                    yield self.details
                with Vertical(id="files"):
                    yield self.file_tree
                    yield self.tree_note
                    yield self.file_info
            with TabPane("Waste", id="waste"):
                yield self.waste_view
            with TabPane("Summary", id="summary"):
                yield self.summary
            with TabPane("Hints", id="hints"):
                yield self.hints_view
            with TabPane("Largest", id="largest"):
                yield self.largest_view
            with TabPane("Packages", id="packages"):
                yield self.packages_view
            with TabPane("Stack", id="stack"):
                yield self.stack_view
        yield self.tour_panel
        yield self.status
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p: in the help; room for the keys at 80 columns

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """Layers beside the files, or above them on a narrow terminal (the width of this very
        resize: `self.size` may still be the last one's)."""
        narrow = width < NARROW
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.refresh_bindings()

    def on_mount(self) -> None:
        self._fit(self.size.width)
        self.sub_title = display_name(self.source_name)
        self.layers.border_title = "Layers"
        self.details.border_title = "Layer"
        self.waste_view.border_title = "Wasted space"
        self.summary.border_title = "Image"
        self.hints_view.border_title = "What to change"
        self.largest_view.border_title = "Largest files"
        self.details.show_message("Reading the image…")
        self._show_files()
        self.summary.show(None, self.source_name, 0)
        self.watch(self.layers, "cursor_coordinate", self._layer_cursor_moved, init=False)
        self.watch(self.file_tree, "highlighted", self._show_file_info, init=False)
        self.layers.focus()
        self.call_after_refresh(self._drawn.set)
        self._loader = self._load()
        if self.compare_with is not None:
            self.call_later(self.start_compare, self.compare_with)

    # ---- loading -----------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="load")
    def _load(self) -> None:
        """Open the image, then scan its layers (stacked in order on the main thread)."""
        worker = get_current_worker()
        throttle = Throttle()
        on_main = partial(self.call_from_thread, self._if_current, worker)  # a replaced load is ignored

        def go_on() -> None:
            if worker.is_cancelled:  # Esc: the reading stops at its next step
                raise LoadStopped

        def on_read(done: int) -> None:
            go_on()
            if throttle.ready():
                self.post_message(ArchiveRead(done))

        def on_progress(index: int, done: int, size: int) -> None:
            go_on()
            if throttle.ready():
                self.post_message(LayerRead(index, done, size))

        try:
            image = Image.open(self.path, self.options, on_read=on_read, pool=self.pool)
        except LoadStopped:
            return  # the app is exiting (see `action_stop_loading`), or another platform is opened
        except (ImageError, OSError) as exc:
            on_main(self._failed, str(exc))
            return
        except Exception as exc:  # a bug, but the user gets a message, not a traceback
            on_main(self._failed, f"internal error while opening: {exc!r}")
            return
        cached = image.cached_layers()
        if cached is not None and cached.records() is not None:  # a record of every layer
            self._drawn.wait(5)  # decoding them would take the interpreter lock from the mount
        scans = image.scans(on_progress)  # worker processes, or the cache's records decoded
        if image.layers and all(layer.from_cache for layer in image.layers):
            self._load_whole(image, scans, go_on, on_main)
            return
        on_main(self._opened, image)
        try:
            for index, scan in scans:
                # Stacked on the main thread in slices: keys are answered between them, even
                # while a layer of 100,000s of files goes on (one slice is about 15 ms). The
                # per-entry work before and after, which leaves the tree alone, is done here.
                slices = image.stack_steps(index, scan)
                next(slices)  # PREPARED
                go_on()
                while more := on_main(self._stack_slice, slices):
                    go_on()  # a layer stopped half-stacked is not shown (`_stacked` never ran)
                go_on()
                if more is None:  # another load replaced this one
                    return
                for _ in slices:  # after TREE_DONE
                    pass
                on_main(self._stacked, index)
            image.finish()  # the waste: every copy of every file, here rather than on the main thread
            on_main(self._finish)
        except LoadStopped:
            on_main(self._stopped)
        except (ImageError, OSError) as exc:
            on_main(self._failed, str(exc))
        except Exception as exc:
            on_main(self._failed, f"internal error while analysing: {exc!r}")
        finally:
            scans.close()  # stops the worker processes if loading ended early (an error, Esc)
            image.close()  # every layer is read: the filesystem needs the archive no more

    def _load_whole(
        self,
        image: Image,
        scans: Iterator[tuple[int, LayerScan]],
        go_on: Callable[[], None],
        on_main: Callable[..., object],
    ) -> None:
        """In the loading thread: every layer comes from the cache (no blob is read), so they
        are all stacked here, the waste too, before the UI sees the image; it then shows it
        whole in one call. Stacking a layer between frames would only add a layout pass each:
        what the user waits for is the whole image. Until then the UI does not read the tree,
        so nothing reads it half-built; Esc hands over the layers stacked so far."""
        count, stacked = len(image.layers), 0
        throttle = Throttle()
        self._held = image
        try:
            with collector_paused():  # else a full collection at each layer's end (see `_stacked`)
                for index, scan in scans:
                    for _ in image.stack_steps(index, scan):
                        go_on()
                    stacked = index + 1
                    if throttle.ready():
                        self.post_message(LayersStacked(stacked, count))
                image.finish()
            on_main(self._show_whole, image)
        except LoadStopped:
            on_main(self._opened, image, stacked)
            on_main(self._stopped)
        except (ImageError, OSError) as exc:
            on_main(self._opened, image, stacked)
            on_main(self._failed, str(exc))
        except Exception as exc:
            on_main(self._opened, image, stacked)
            on_main(self._failed, f"internal error while analysing: {exc!r}")
        finally:
            if self._held is image:  # not a later load's (a reload, another platform)
                self._held = None
            scans.close()
            image.close()

    def _show_whole(self, image: Image) -> None:
        """On the main thread: show an image stacked and analysed whole in the loading thread."""
        self._opened(image, len(image.layers))
        self._finish()

    def _if_current(self, loader: Worker, call: Callable[..., T], *args: object) -> T | None:
        """On the main thread: what the loading thread asks, unless another load replaced it."""
        return call(*args) if loader is self._loader else None

    def on_archive_read(self, message: ArchiveRead) -> None:
        self.status.reading(message.done)

    def on_layer_read(self, message: LayerRead) -> None:
        if self.image is None or message.index < self.stacked:
            return
        self._read[message.index] = message.done
        self.status.analysing(self.stacked, len(self.image.layers), sum(self._read.values()), self._total)

    def on_layers_stacked(self, message: LayersStacked) -> None:
        if self._held is not None and self.image is not self._held:  # none shown yet, or the former
            self.status.stacking(message.stacked, message.count)

    def _opened(self, image: Image, stacked: int = 0) -> None:
        """Show the opened image, whose layers below `stacked` are stacked already (the whole
        image from the cache)."""
        if self._former is not None:  # it replaces the image a reopen kept shown until now
            self._former = None
            self._clear_shown()
        self.image = image
        self.browser = Browser(image.fs)
        self.stacked = stacked
        self._total = sum(layer.blob_size for layer in image.layers)
        self._read = {index: image.layers[index].blob_size for index in range(stacked)}
        self._shown = stacked
        self.status.analysing(stacked, len(image.layers), sum(self._read.values()), self._total)
        self.layers.show_image(image)
        self.summary.platforms = platforms_of(image)
        if self.reopenable:
            self.summary.how_to_switch = "ctrl+p: switch platform"
        if image.layers:
            self.view = replace(self.view, layer=0)
        if stacked:
            gc.freeze()  # see `_stacked`
            self._show_layer_details()
        self._show_files()
        self.summary.show(image, self.source_name, stacked)

    @staticmethod
    def _stack_slice(slices: Iterator[str | None]) -> bool:
        """On the main thread: stack one more slice of a layer; False once the tree holds all of it."""
        return next(slices) != TREE_DONE

    def _stacked(self, index: int) -> None:
        """On the main thread: show a layer that is now stacked."""
        assert self.image is not None and self.browser is not None
        # The model lives as long as the app: keep the collector from walking its 100,000s of
        # objects on every full collection (pauses of 0.3 s, during loading and after).
        gc.freeze()
        self.browser.layer_added()
        self.stacked = index + 1
        self._read[index] = self.image.layers[index].blob_size
        if index == self.view.layer:
            self._show_layer_details()
            self._show_files()
        if self._refresh.ready():  # at most 10 redraws a second, however many layers
            self.status.analysing(self.stacked, len(self.image.layers), sum(self._read.values()), self._total)
            self.layers.refresh_rows(range(self._shown, self.stacked))
            self._shown = self.stacked
            self.summary.show(self.image, self.source_name, self.stacked)

    def _finish(self) -> None:
        assert self.image is not None
        self.status.working_out()  # until the hints are shown
        self.hints_view.show(self.image, None)
        self.layers.refresh_rows()
        self.waste_view.show(self.image)
        self.packages_view.show(self.image, self.view.layer)
        self.summary.show(self.image, self.source_name, self.stacked)
        self.stack_view.show(self.image, self.view.layer)
        self._show_layer_details()
        if not self.image.layers:
            self._show_files()
        reveal, self._reveal = self._reveal, None
        node = self.image.fs.lookup(reveal) if reveal is not None and self.image.layers else None
        if node is not None:
            self.show_path(node, len(self.image.layers) - 1, Mode.MERGED)
        gc.freeze()  # the waste records too (see `_stacked`)
        assert self.browser is not None
        self._work_out_hints(self.image, self.browser)

    @work(thread=True, exit_on_error=False, group="hints")
    def _work_out_hints(self, image: Image, browser: Browser) -> None:
        """Hints read the finished model only; on a big image they take a few tenths of a
        second, and marking the paths they name as many µs as there are paths."""
        hints = compute_hints(image)
        browser.mark_hints(hints)
        self.call_from_thread(self._show_hints, image, hints)

    def _show_hints(self, image: Image, hints: Hints) -> None:
        if image is not self.image:  # another platform was opened meanwhile
            return
        self.hints = hints
        self.status.display = False  # everything is known
        self.file_tree.redraw()
        self.hints_view.show(image, hints)
        self.largest_view.show(image, self.view.layer)
        self._show_layer_details()
        if self.tour:
            self.tour = False
            self.action_tour()

    def _failed(self, message: str) -> None:
        if self._former is not None:  # a reopened image that did not open: the former stays
            why = message.removeprefix(f"{self.path}: ")  # the name is said once
            self._keep_former(f"Could not open {display_name(self.source_name)}: {display_name(why)}", "error")
            return
        self.error = message
        self.status.display = False
        title = "Cannot read the image"
        if self.image is None:
            self.details.show_message("The image could not be read.")
        elif self.stacked < len(self.image.layers):
            failed = self._failed_layer(message)
            title = f"Cannot read layer {failed}"
            self.layers.failed = failed
            self.layers.refresh_rows()
            shown = layers_shown(self.stacked) or "no layer can be shown"
            stopped = f"Analysis stopped: layer {failed} could not be read; {shown}."
            self.summary.show(self.image, self.source_name, self.stacked, stopped)
            self.waste_view.show(None, f"Waste is not known: layer {failed} could not be read.")
        self._show_layer_details()
        self._show_files()
        self.push_screen(ErrorScreen(title, self.source_name, message))

    def action_stop_loading(self) -> None:
        """Esc while loading: stop reading and keep what is analysed. The layers stacked so far
        stay browsable, as after a failure, since a user who stops a long load usually wants
        what is there (the base layers), not nothing; with nothing read yet, the app ends."""
        self.workers.cancel_group(self, "load")
        if self._former is not None:
            self._loader = None  # what the stopped load still sends is ignored
            self._keep_former(f"Stopped opening {display_name(self.source_name)}", "information")
            return
        if self.image is None and self._held is None:
            self.exit(return_code=130, message=f"layerscope: stopped while reading {display_name(self.source_name)}")
            return
        self.status.stopping()

    def _stopped(self) -> None:
        """On the main thread: the loading thread has stopped (Esc) and its workers are gone."""
        assert self.image is not None
        self.stopped = True
        self.status.display = False
        count, stacked = len(self.image.layers), self.stacked
        shown = layers_shown(stacked) or "no layer is shown"
        unread = f"{layer_span(stacked, count - 1)} {'was' if count - stacked == 1 else 'were'} not read"
        note = f"Loading stopped (Esc): {shown}; {unread}."
        self.layers.stopped = True
        self.layers.refresh_rows()
        self._show_layer_details()
        self.summary.show(self.image, self.source_name, self.stacked, note)
        self.waste_view.show(None, "Waste is not known: loading was stopped before every layer was read.")
        self._show_files()
        self.notify(note, markup=False)

    @property
    def reopenable(self) -> bool:
        return self.can_reopen(self.path)

    @staticmethod
    def can_reopen(path: str) -> bool:
        """The input can be opened again (a file, a directory, an engine or registry image; not
        a stream, which is read once)."""
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return True  # not a path: `docker:IMAGE`, `registry/repo:tag`
        return stat.S_ISREG(mode) or stat.S_ISDIR(mode)

    def action_reload(self) -> None:
        """Read the image again, whole (after Esc stopped the loading, or a read error); its
        layers read before come from the layer cache, unless it is off."""
        self.reopen(self.path, self.options, self.source_name)
        self.call_later(self.compare_again)

    def switch_platform(self, platform: str) -> None:
        """Show the image for `platform` (of the same archive or registry) in place of this one
        (an open comparison goes on with it)."""
        self.notify(f"Opening {display_name(platform)}…", markup=False)  # the archive names it
        self.reopen(self.path, self.options._replace(platform=platform), self.source_name)
        self.call_later(self.compare_again)

    def reopen(self, path: str, options: OpenOptions, name: str, reveal: str | None = None) -> None:
        """Show the image at `path` (opened with `options`, called `name`) in place of this one:
        the load (if still going) stops, and everything is read again; `reveal`: a path to put
        the explorer's cursor on (at the last layer) once the image is analysed. An image read
        whole stays shown until the new one opens, and stays if it cannot (or Esc)."""
        self.workers.cancel_group(self, "load")
        if self.tour_panel.active:  # its steps show the analysed demo
            self.action_leave_tour()
        if self._former is None and self.image is not None and self.loaded:
            compare = (self.compare_source, self.compare_image, self.open_is_new)
            self._former = Former(self.path, self.options, self.source_name, *compare)
        self.path, self.options, self.source_name, self._reveal = path, options, name, reveal
        self.pool = None  # the first pool's workers were started for the first scan
        if self._former is None:
            self._clear_shown()
        else:
            self.status.opening()
            self.status.display = True
        self._loader = self._load()

    def _keep_former(self, why: str, severity: SeverityLevel) -> None:
        """The reopened image did not open (`why`: it failed, or Esc stopped it): the former one
        stays as it was, with its comparison, and one line says why."""
        former, self._former = self._former, None
        assert former is not None
        self.path, self.options, self.source_name, self._reveal = former.path, former.options, former.name, None
        self.status.display = False
        self.workers.cancel_group(self, "compare")  # one that waits for the reopened image
        self.compare_source, self.compare_image, self.open_is_new = former.compare, former.other, former.open_is_new
        if self.compare_source is not None:
            self.call_later(self.compare_again)
        self.notify(f"{why} — still showing {display_name(self.source_name)}.", severity=severity, markup=False)

    def _clear_shown(self) -> None:
        """Empty every view for the image `reopen` opens."""
        self.sub_title = display_name(self.source_name)
        self.image = self.browser = self.hints = None
        self.stacked, self.error, self.stopped = 0, None, False
        self._read, self._total, self._shown, self._picked = {}, 0, 0, None
        self.layers.failed, self.layers.stopped = None, False
        self.layers.clear()
        self.view = View()
        self._show_files()
        self.details.show_message("Reading the image…")
        self.status.opening()
        self.status.display = True
        self.summary.show(None, self.source_name, 0)
        self.waste_view.show(None)
        self.hints_view.show(None, None)
        self.largest_view.show(None, None)
        self.stack_view.clear()

    def _failed_layer(self, message: str) -> int:
        """The layer an error names (its message starts with the layer's label), else the
        first one not stacked (layers are read in parallel: it need not be that one)."""
        assert self.image is not None
        for layer in self.image.layers[self.stacked :]:
            if message.startswith(f"{self.image.label(layer)}:"):
                return layer.index
        return self.stacked

    async def action_quit(self) -> None:
        """Quit; with exit code 2 if the image could not be read whole."""
        self.exit(return_code=2 if self.error is not None else 0)

    @property
    def loaded(self) -> bool:
        """Everything is analysed, or loading stopped on an error or by Esc (and no reopened
        image is opening)."""
        if self._former is not None:
            return False
        return self.error is not None or self.stopped or (self.image is not None and self.image.analysed)

    # ---- the view: every action replaces it, `watch_view` shows it ---------------------
    def watch_view(self, old: View, new: View) -> None:
        if new.layer != old.layer:
            if new.layer is not None:
                self.layers.select_layer(new.layer)
            self._show_layer_details()
            self.packages_view.show(self.image, new.layer)
            self.stack_view.select_layer(new.layer)
        self._show_files()

    def _layer_cursor_moved(self) -> None:
        """Show the layer (files and details) or build step under the layer table's cursor.

        A watcher on the table's cursor, not a message from it: the files change in the frame
        that moves the cursor, rather than in the next one.
        """
        table = self.layers
        step = table.steps[table.cursor_row] if 0 <= table.cursor_row < len(table.steps) else None
        if step is None or step is self._picked:  # the table sets its cursor again for each row it adds
            return
        self._picked = step
        if step.layer is None:
            if step.history is not None:
                self.details.show_history(step.history)
        elif step.layer.index != self.view.layer:
            self.view = replace(self.view, layer=step.layer.index)
        else:
            self._show_layer_details()

    def _show_layer_details(self) -> None:
        if self.image is not None and self.view.layer is not None:
            index = self.view.layer
            unread = unread_note(index, stopped=self.stopped, failed=self.layers.failed, reopenable=self.reopenable)
            self.details.show_layer(self.image, self.image.layers[index], self.hints, unread)

    def _show_files(self) -> None:
        """Show the tree of the view, or say why there is none."""
        view, tree, note = self.view, self.file_tree, self.tree_note
        files = self.query_one("#files")
        message = None
        if self.image is None:
            message = "Could not read the image." if self.error else "Reading the image…"
        elif view.layer is None:
            message = "This image has no layers."
        elif view.layer >= self.stacked:
            message = "Layer not analysed yet."
            if self.error or self.stopped:
                again = "ctrl+p Reload reads it" if self.reopenable else "read from a stream: run layerscope again"
                message = "Layer not analysed (error)." if self.error else f"Layer not read (loading stopped; {again})."
        if message is not None or self.browser is None:
            files.border_title = "Files"
            tree.show(None, None)
            tree.display = False
            note.update(message or "")
            note.display = True
            return
        title = f"Files · {MODE_NAMES[view.mode]} {view.layer} · by {view.sort}"
        if view.hide_unchanged:
            title += " · changed only"
        if view.filter:
            title += f" · filter “{display_name(view.filter)}”"
        if view.package is not None:
            title += f" · package {display_name(view.package[0])}"
        files.border_title = Content(title)  # the filter is user text: never markup
        note.display = False
        tree.display = True
        tree.show(self.browser, view, OPEN_ROWS if view.mode == Mode.CHANGES else 0)
        if not tree.line_count:
            empty = "No files changed in this layer" if view.mode == Mode.CHANGES else "No files at this layer"
            if view.filter:
                found = len(self.browser.search(view.filter, 5000))
                elsewhere = f"{found:,} of the last layer do" if found else "nor does any of the last layer"
                empty += f" match the filter ({elsewhere}; f clears it)"
            note.update(f"{empty}.")
            note.display = True

    def _show_file_info(self, row: FileRow | None) -> None:
        info = self.file_info
        if info.display != (row is not None):
            info.display = row is not None
        if row is None:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"/{display_name(row.node.path)}", "bold")
        text.append(f"  {STATE_NAMES[row.status]}, {human_size(self.file_tree.size_of(row))}")
        notes = row_notes(row, self.browser, self.view.layer)
        if notes:
            text.append("  " + notes)
        packages = self.packages_view.packages
        owner = owner_text(packages, row.node.path) if packages is not None else None
        if owner is not None:
            text.append(f"  · {display_name(owner)}")
        text.append("  · h: history", "dim")
        info.show(text)

    # ---- actions -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys that change the explorer act on the explorer tab only (modals already stop
        the app's keys)."""
        if action in ("tour_step", "leave_tour"):
            return self.tour_panel.active
        tab = self.query_one(TabbedContent).active
        if action == "stop_loading":
            return not self.loaded
        if action in EXPLORER_ACTIONS or action == "toggle_details":
            return tab == "explorer"
        if action == "history":  # of the tree's path or the waste row's
            return tab not in ("summary", "compare")
        if action == "view" and parameters == ("compare",):
            return self.compare_tab is not None
        return True

    def action_help(self) -> None:
        from .screens.help import HelpScreen  # the help's Markdown: imported when first shown

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_details(self) -> None:
        """Wide: hide or show the layer details; narrow: swap them in for the layer list."""
        self.toggle_class("-details")

    def action_view(self, pane: str) -> None:
        came_from = self.query_one(TabbedContent).active
        self.query_one(TabbedContent).active = pane
        if pane == "compare":
            return self.focus_compare()
        if pane == "largest" and self.image is not None and self.image.analysed:
            self.largest_view.show(self.image, self.view.layer)  # `l` shows the layer chosen now
        {
            "explorer": self.layers,
            "waste": self.waste_view.table,
            "summary": self.summary,
            "hints": self.hints_view.query_one("#hints-table"),
            "largest": self.largest_view.query_one("#largest-table"),
            "packages": self.packages_view.table,
            "stack": self.stack_view.list,
        }[pane].focus()
        node = self.file_tree.cursor_path if came_from == "explorer" and pane == "stack" else None
        if node is not None and self.loaded and self.error is None:
            self.stack_view.pick(node)  # the tree's path, read through the stack

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # which keys apply depends on the tab (`check_action`)
        self.waste_view.shown(event.pane.id == "waste")

    def action_toggle_mode(self) -> None:
        self.view = replace(self.view, mode=Mode.MERGED if self.view.mode == Mode.CHANGES else Mode.CHANGES)

    def action_toggle_sort(self) -> None:
        self.set_sort(Sort.SIZE if self.view.sort == Sort.NAME else Sort.NAME)

    def set_sort(self, sort: Sort) -> None:
        self.view = replace(self.view, sort=sort)

    def action_toggle_unchanged(self) -> None:
        self.view = replace(self.view, hide_unchanged=not self.view.hide_unchanged)

    def action_expand_all(self) -> None:
        self.file_tree.expand_all()

    def action_collapse_all(self) -> None:
        self.file_tree.collapse_all()

    def action_move_layer(self, by: int) -> None:
        if self.image is not None and self.image.layers:
            self.go_to_layer(max(0, min(len(self.image.layers) - 1, (self.view.layer or 0) + by)))

    def go_to_layer(self, index: int) -> None:
        """Show layer `index` in the explorer; the focus stays where it is (`[` in the tree)."""
        if self.query_one(TabbedContent).active != "explorer":
            self.action_view("explorer")
        self.view = replace(self.view, layer=index)

    def action_history(self) -> None:
        """The history of the path selected on this tab: the tree's, or the waste row's."""
        if self.image is None:
            return
        tab = self.query_one(TabbedContent).active
        if tab == "waste":
            path = self.waste_view.selected_path
            node = self.image.fs.lookup(path) if path is not None else None
        elif tab == "stack":
            node = self.stack_view.node
        else:
            node = self.file_tree.cursor_path if tab == "explorer" else None
        if node is not None:
            from .screens.history import HistoryScreen

            packages = self.packages_view.packages  # None until worked out: no owner then
            owner = owner_text(packages, node.path) if packages is not None else None
            self.push_screen(HistoryScreen(self.image, self.browser, node, self.stacked, owner))
        else:
            where = {"explorer": "the tree", "waste": "the waste list", "stack": "the stack's path field"}.get(
                tab, "the explorer"
            )
            self.notify(f"Select a path in {where} first.", markup=False)

    def action_contents(self) -> None:
        """The file under the tree cursor, as of the selected layer."""
        explorer = self.image is not None and self.query_one(TabbedContent).active == "explorer"
        node = self.file_tree.cursor_path if explorer else None
        layer = self.view.layer
        if node is not None and layer is not None and layer < self.stacked:
            from .screens.contents import ContentsScreen  # its syntax highlighting: imported when first used

            self.push_screen(ContentsScreen(self.image, node, layer))  # type: ignore[arg-type]
        else:
            self.notify("Put the tree cursor on a file first.", markup=False)

    def on_key(self, event: Key) -> None:
        """A letter that reached the app under the find box was typed right after `/`, before
        the box was up (the widget below had it queued): it belongs to the query."""
        if isinstance(self.screen, FindScreen) and event.is_printable and event.character:
            event.stop()
            self.screen.type_ahead(event.character)

    def action_find(self) -> None:
        if self.browser is not None:
            self.push_screen(FindScreen(self.browser, self.view.filter or ""), self._found)

    def action_filter(self) -> None:
        if self.view.filter or self.view.package:
            self.view = replace(self.view, filter=None, package=None)
        elif self.browser is not None:
            self.push_screen(FindScreen(self.browser, filtering=True), self._found)

    def _found(self, found: Found | None) -> None:
        if found is None:
            return
        if found.filter is not None:
            self.action_view("explorer")
            self.view = replace(self.view, filter=found.filter or None)
            self.file_tree.focus()
        elif found.node is not None:
            self.show_path(found.node)

    def show_path(self, node: Node, layer: int | None = None, mode: Mode | None = None) -> None:
        """Select `node` in the tree: at `layer`/`mode` if given; else here in the changes view
        when this layer touched it, else in the merged view at this layer or the last with it."""
        if self.browser is None:
            return
        self.action_view("explorer")
        view = self.view
        if layer is None:
            here = view.layer if view.layer is not None else 0
            if view.mode == Mode.CHANGES and node in self.browser.touched(here):
                layer, mode = here, Mode.CHANGES
            else:
                mode = Mode.MERGED
                layer = here if node.entry_at(here) is not None else self.browser.last_visible_layer(node)
                if layer is None:
                    layer, mode = node.changes[-1].layer, Mode.CHANGES
        keep_filter = view.filter and node in self.browser.matching(view.filter)
        package = view.package if view.package is not None and node in view.package[1] else None
        self.view = replace(
            view, layer=layer, mode=mode or view.mode, filter=view.filter if keep_filter else None, package=package
        )
        self.file_tree.reveal(node)
        self.file_tree.focus()

    def on_packages_view_filter(self, message: PackagesView.Filter) -> None:
        """The tree shows only the package's files: at the last layer if it is still there,
        else in the changes of the layer that installed it."""
        package = message.package
        gone = package.removed_in is not None
        self.action_view("explorer")
        self.view = replace(
            self.view,
            layer=package.installed_in if gone else self.stacked - 1,
            mode=Mode.CHANGES if gone else Mode.MERGED,
            filter=None,
            package=(f"{package.ecosystem}:{package.name}", message.nodes),
        )
        self.file_tree.focus()

    def action_tour(self, concept: str | None = None) -> None:
        """The guided tour of the demo (the palette's "Tour", `--demo --tour`), from the step
        that shows `concept` (the help's links)."""
        from ..demo import V2 as DEMO_REF

        if self.image is None or self.hints is None:
            self.notify("The tour starts once the image is analysed.", markup=False)
        elif DEMO_REF not in self.image.names:
            self.notify("The tour walks through the demo: run `layerscope --demo --tour`.", markup=False)
        else:
            self.tour_panel.start(step_of(concept) if concept else 0)
            self.refresh_bindings()

    def action_tour_step(self, by: int) -> None:
        self.tour_panel.go(self.tour_panel.index + by)

    def action_leave_tour(self) -> None:
        self.tour_panel.leave()
        self.refresh_bindings()

    def on_stack_view_layer_picked(self, message: StackView.LayerPicked) -> None:
        if message.open:
            self.go_to_layer(message.layer)
        else:
            self.view = replace(self.view, layer=message.layer)

    def on_file_tree_file_chosen(self, _: FileTree.FileChosen) -> None:
        self.action_contents()

    def on_show_path(self, message: ShowPath) -> None:
        node = self.image.fs.lookup(message.path) if self.image is not None else None
        if node is not None:
            self.show_path(node, message.layer, Mode.CHANGES)


def unread_note(index: int, *, stopped: bool, failed: int | None, reopenable: bool) -> str:
    """Why layer `index` has no scan: loading has not reached it, or ended before (Esc, or an
    error in layer `failed`), and how to read it then."""
    if failed is not None:
        return "could not be read" if index == failed else f"not read: layer {failed} could not be read"
    if stopped:
        again = "ctrl+p Reload reads the image again" if reopenable else "read from a stream: run layerscope again"
        return f"not read: loading was stopped (Esc); {again}"
    return "not analysed yet"


def layers_shown(count: int) -> str | None:
    """`layer 0 is shown`, `layers 0–4 are shown`: the first `count` layers (None if none)."""
    return f"{layer_span(0, count - 1)} {'is' if count == 1 else 'are'} shown" if count else None


def layer_span(first: int, last: int) -> str:
    """`layer 3` or `layers 0–4`, numbered as the rows are."""
    return f"layer {first}" if first == last else f"layers {first}–{last}"


def platforms_of(image: Image) -> list[str]:
    """Every platform the archive holds an image for (the summary names the others)."""
    try:
        return sorted({ref.platform for ref in find_images(image.source) if ref.platform})
    except ImageError:
        return []
