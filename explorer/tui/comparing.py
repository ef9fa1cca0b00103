"""The app's side of comparing the open image (OLD) with another (NEW): the Compare tab is added
when a comparison starts (`--compare NEW` or the palette's "Compare with…"); NEW is opened and
analysed in a thread worker with its progress on the tab, and the two are compared once OLD's
own analysis is done. Paths in the differences jump to OLD's explorer, to either image's
contents, or into NEW: opened in the app in place of OLD, which it is then compared with.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import TabbedContent, TabPane
from textual.worker import get_current_worker

from ..analysis.compare import REMOVED, compare
from ..analysis.image import Image
from ..archive.errors import ImageError
from ..archive.options import OpenOptions
from ..present.browse import Mode
from ..present.compare_view import DiffEntry, compare_view
from ..present.text import display_name, human_size
from .screens.compare import ComparePrompt
from .screens.contents import ContentsScreen
from .screens.loading import Throttle
from .widgets.compare import CompareTab, DiffTree

if TYPE_CHECKING:
    from .app import LayerscopeApp

WAIT = 0.1  # seconds between looks at OLD's analysis while NEW waits for it


class Comparing:
    """Mixed into `LayerscopeApp`: everything the Compare tab needs from the app."""

    compare_image: Image | None = None  # NEW, once analysed
    compare_source: tuple[str, OpenOptions, str] | None = None  # NEW's path, options and name

    @property
    def compare_tab(self) -> CompareTab | None:
        app: LayerscopeApp = self  # type: ignore[assignment]
        tabs = app.query(CompareTab)
        return tabs.first() if tabs else None

    def action_compare_with(self) -> None:
        app: LayerscopeApp = self  # type: ignore[assignment]
        app.push_screen(ComparePrompt(), self._prompted)

    async def _prompted(self, path: str | None) -> None:
        if path is not None:
            await self.start_compare(path)

    async def start_compare(self, path: str, image: str | None = None) -> None:
        """Show the Compare tab (added on first use) and start reading NEW (`image`: which of
        the archive's images, as --image chooses; the open image's choice if None)."""
        app: LayerscopeApp = self  # type: ignore[assignment]
        options = app.options._replace(image=image) if image else app.options
        await self._start((path, options, display_name(image or os.path.basename(os.path.normpath(path)) or path)))

    async def _start(self, source: tuple[str, OpenOptions, str], ready: Image | None = None) -> None:
        """The Compare tab with NEW at `source` (`ready`: NEW already analysed, not read again)."""
        app: LayerscopeApp = self  # type: ignore[assignment]
        tabs = app.query_one(TabbedContent)
        if self.compare_tab is None:
            await tabs.add_pane(TabPane("Compare", CompareTab(), id="compare"))
        tab = self.compare_tab
        assert tab is not None
        self.compare_image, self.compare_source = None, source
        tab.progress(f"Opening {source[0]}…")
        app.action_view("compare")
        self._compare(source, ready)

    def focus_compare(self) -> None:
        tab = self.compare_tab
        if tab is not None:
            tab.tree.focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare")
    def _compare(self, source: tuple[str, OpenOptions, str], ready: Image | None) -> None:
        app: LayerscopeApp = self  # type: ignore[assignment]
        tab = self.compare_tab
        assert tab is not None
        worker = get_current_worker()
        throttle = Throttle()
        path, options, name = source

        def say(what: str, done: int | None = None, total: int | None = None) -> None:
            if not worker.is_cancelled:  # a comparison started since has the tab
                app.call_from_thread(tab.progress, what, done, total)

        def fail(message: str) -> None:
            if not worker.is_cancelled:
                app.call_from_thread(tab.failed, message)

        def on_read(done: int) -> None:
            if throttle.ready():
                say(f"Reading {name}… {human_size(done)}")

        read: dict[int, int] = {}

        if ready is None and path == "-":
            fail("Cannot compare with standard input: the app reads its keys there; save the image to a file.")
            return
        try:
            new = ready or Image.open(path, options, on_read=on_read)
        except (ImageError, OSError) as exc:
            fail(f"Cannot compare: {exc}")
            return
        total = new.compressed_size

        def on_progress(index: int, done: int, size: int) -> None:
            read[index] = done
            if throttle.ready():
                done = sum(read.values())
                say(f"Analysing {name} (NEW)… {human_size(done)} of {human_size(total)}", done, total)

        scans = None if ready else new.scans(on_progress, largest_first=True)
        try:
            for index, scan in scans or ():
                if worker.is_cancelled:
                    return
                new.add_scan(index, scan)
            if scans is not None:
                new.finish()
            while not app.loaded:  # OLD is still being analysed by the app's own worker
                if worker.is_cancelled:
                    return
                say(f"{name} (NEW) is analysed; waiting for the open image (OLD)…")
                time.sleep(WAIT)
            if app.error is not None or app.stopped or app.image is None:  # stopped: Esc
                fail("Cannot compare: the open image could not be read whole.")
                return
            say("Comparing…")
            comparison = compare(app.image, new)
            view = compare_view(comparison, app.source_name, name)
        except (ImageError, OSError) as exc:
            fail(f"Cannot compare: {exc}")
            return
        except Exception as exc:  # a bug, but the user gets a message, not a traceback
            fail(f"internal error while comparing: {exc!r}")
            return
        finally:
            if scans is not None:  # read here (a ready image was closed by whoever read it)
                scans.close()
                new.close()  # analysed: contents reopen the blobs they need
        if not worker.is_cancelled:
            app.call_from_thread(self._compared, new, view)

    def _compared(self, new: Image, view: object) -> None:
        tab = self.compare_tab
        assert tab is not None
        self.compare_image = new
        tab.show(view)  # type: ignore[arg-type]
        if self._compare_shown():
            tab.tree.focus()

    def _compare_shown(self) -> bool:
        app: LayerscopeApp = self  # type: ignore[assignment]
        return app.query_one(TabbedContent).active == "compare"

    def on_diff_tree_jump(self, message: DiffTree.Jump) -> None:
        """`o`/Enter: the path in OLD's explorer (as of its last layer); `O`: in NEW's; `v`: its
        contents in NEW (in OLD for a removed path)."""
        app: LayerscopeApp = self  # type: ignore[assignment]
        entry, old, new = message.entry, app.image, self.compare_image
        if old is None or new is None:
            return
        if message.new:
            self._open_new(entry, old, new)
            return
        if message.contents:
            image = old if entry.status == REMOVED else new
            node = image.fs.lookup(entry.path)
            if entry.is_dir or node is None:
                app.notify("A directory: o shows it in the explorer.", markup=False)
                return
            app.push_screen(ContentsScreen(image, node, len(image.layers) - 1))
            return
        node = old.fs.lookup(entry.path)
        last = len(old.layers) - 1
        if node is None or node.entry_at(last) is None:
            app.notify(f"/{display_name(entry.path)} is only in NEW (v: its contents there).", markup=False)
            return
        app.show_path(node, last, Mode.MERGED)

    def _open_new(self, entry: DiffEntry, old: Image, new: Image) -> None:
        """NEW in the app in place of OLD, on `entry`'s path at its last layer; the comparison
        goes on with the roles swapped (OLD, already analysed, is not read again), so `O` again
        comes back. NEW is read again by the app (its layers from the layer cache)."""
        app: LayerscopeApp = self  # type: ignore[assignment]
        node = new.fs.lookup(entry.path)
        if node is None or node.entry_at(len(new.layers) - 1) is None:
            app.notify(f"/{display_name(entry.path)} is not in NEW (o: OLD's explorer).", markup=False)
            return
        assert self.compare_source is not None
        path, options, name = self.compare_source
        if not app.can_reopen(path):
            app.notify(f"{display_name(name)} was read from a stream: it cannot be opened again.", markup=False)
            return
        former = (app.path, app.options, app.source_name)
        app.reopen(path, options, name, reveal=entry.path)
        app.call_later(self._start, former, old)
        app.call_later(app.action_view, "explorer")
