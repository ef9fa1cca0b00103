"""The app's side of comparing the open image with another: the Compare tab is added when a
comparison starts (`--compare NEW` or the palette's "Compare with…", the open image OLD; the
tour, the demo's earlier v1 as OLD and the open v2 NEW). The other image is opened and analysed
in a thread worker with its progress on the tab, and the two are compared once the open
image's own analysis is done. Paths in the differences jump to the open image's explorer, to
either image's contents, or into the other image: opened in the app in place of this one, which
it is then compared with, in the same direction (OLD stays OLD).
"""

from __future__ import annotations

import os
import time
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import TabbedContent, TabPane
from textual.worker import get_current_worker

from ..analysis.image import Image
from ..archive.errors import ImageError
from ..archive.options import OpenOptions
from ..present.browse import Mode
from ..present.text import display_name, human_size
from .screens.loading import Throttle

if TYPE_CHECKING:  # what only a comparison needs is imported when one starts: not at start-up
    from ..present.compare_view import DiffEntry
    from .app import LayerscopeApp
    from .widgets.compare import CompareTab, DiffTree

WAIT = 0.1  # seconds between looks at the open image's analysis while the other one waits for it


class Comparing:
    """Mixed into `LayerscopeApp`: everything the Compare tab needs from the app."""

    compare_image: Image | None = None  # the other image, once analysed
    compare_source: tuple[str, OpenOptions, str] | None = None  # the other image's path, options and name
    open_is_new: bool = False  # the open image is NEW of the comparison (the other one OLD)

    @property
    def compare_tab(self) -> CompareTab | None:
        app: LayerscopeApp = self  # type: ignore[assignment]
        tabs = app.query("CompareTab")
        return tabs.first() if tabs else None  # type: ignore[return-value]

    def action_compare_with(self) -> None:
        from .screens.compare import ComparePrompt

        app: LayerscopeApp = self  # type: ignore[assignment]
        app.push_screen(ComparePrompt(), self._prompted)

    async def _prompted(self, path: str | None) -> None:
        if path is not None:
            await self.start_compare(path)

    async def start_compare(self, path: str, image: str | None = None, *, as_old: bool = False) -> None:
        """Show the Compare tab (added on first use) and start reading the image at `path` (`image`:
        which of the archive's images, as --image chooses; the open image's choice if None), as
        NEW, or as OLD if `as_old` (an earlier build: then the open image is NEW)."""
        app: LayerscopeApp = self  # type: ignore[assignment]
        options = app.options._replace(image=image) if image else app.options
        name = display_name(image or os.path.basename(os.path.normpath(path)) or path)
        await self._start((path, options, name), open_is_new=as_old)

    async def _start(
        self,
        source: tuple[str, OpenOptions, str],
        ready: Image | None = None,
        *,
        open_is_new: bool = False,
        show: bool = True,
    ) -> None:
        """The Compare tab with the other image at `source` (`ready`: already analysed, not read
        again); the open image is OLD, or NEW if `open_is_new`; `show`: the tab is shown."""
        from .widgets.compare import CompareTab

        app: LayerscopeApp = self  # type: ignore[assignment]
        tabs = app.query_one(TabbedContent)
        if self.compare_tab is None:
            await tabs.add_pane(TabPane("Compare", CompareTab(), id="compare"))
        tab = self.compare_tab
        assert tab is not None
        self.compare_image, self.compare_source, self.open_is_new = None, source, open_is_new
        tab.progress(f"Opening {source[0]}…")
        if show:
            app.action_view("compare")
        self._compare(source, ready, open_is_new)

    async def compare_again(self) -> None:
        """The open image was replaced (another platform): compare it with the same image, the
        same way round, if a comparison was started (the other image is not read again once it
        is analysed); the tab shown stays."""
        if self.compare_source is not None:
            await self._start(self.compare_source, self.compare_image, open_is_new=self.open_is_new, show=False)

    def focus_compare(self) -> None:
        tab = self.compare_tab
        if tab is not None:
            tab.tree.focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare")
    def _compare(self, source: tuple[str, OpenOptions, str], ready: Image | None, open_is_new: bool) -> None:
        from ..analysis.compare import compare
        from ..present.compare_view import compare_view

        app: LayerscopeApp = self  # type: ignore[assignment]
        tab = self.compare_tab
        assert tab is not None
        worker = get_current_worker()
        throttle = Throttle()
        path, options, name = source
        role = "OLD" if open_is_new else "NEW"  # the other image's

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
            other = ready or Image.open(path, options, on_read=on_read)
        except (ImageError, OSError) as exc:
            fail(f"Cannot compare: {exc}")
            return
        total = other.compressed_size

        def on_progress(index: int, done: int, size: int) -> None:
            read[index] = done
            if throttle.ready():
                done = sum(read.values())
                say(f"Analysing {name} ({role})… {human_size(done)} of {human_size(total)}", done, total)

        scans = None if ready else other.scans(on_progress, largest_first=True)
        try:
            for index, scan in scans or ():
                if worker.is_cancelled:
                    return
                other.add_scan(index, scan)
            if scans is not None:
                other.finish()
            while not app.loaded:  # the open image is still being analysed by the app's own worker
                if worker.is_cancelled:
                    return
                say(f"{name} ({role}) is analysed; waiting for the open image…")
                time.sleep(WAIT)
            if app.error is not None or app.stopped or app.image is None:  # stopped: Esc
                fail("Cannot compare: the open image could not be read whole.")
                return
            say("Comparing…")
            if open_is_new:
                view = compare_view(compare(other, app.image), name, app.source_name)
            else:
                view = compare_view(compare(app.image, other), app.source_name, name)
        except (ImageError, OSError) as exc:
            fail(f"Cannot compare: {exc}")
            return
        except Exception as exc:  # a bug, but the user gets a message, not a traceback
            fail(f"internal error while comparing: {exc!r}")
            return
        finally:
            if scans is not None:  # read here (a ready image was closed by whoever read it)
                scans.close()
                other.close()  # analysed: contents reopen the blobs they need
        if not worker.is_cancelled:
            app.call_from_thread(self._compared, other, view)

    def _compared(self, other: Image, view: object) -> None:
        tab = self.compare_tab
        assert tab is not None
        self.compare_image = other
        tab.show(view, other="OLD" if self.open_is_new else "NEW")  # type: ignore[arg-type]
        if self._compare_shown():
            tab.tree.focus()

    def _compare_shown(self) -> bool:
        app: LayerscopeApp = self  # type: ignore[assignment]
        return app.query_one(TabbedContent).active == "compare"

    def on_diff_tree_jump(self, message: DiffTree.Jump) -> None:
        """`o`/Enter: the path in the open image's explorer (as of its last layer); `O`: in the
        other image's; `v`: its contents in NEW (in OLD for a removed path)."""
        from ..analysis.compare import REMOVED
        from .screens.contents import ContentsScreen

        app: LayerscopeApp = self  # type: ignore[assignment]
        entry, here, other = message.entry, app.image, self.compare_image
        if here is None or other is None:
            return
        roles = ("NEW", "OLD") if self.open_is_new else ("OLD", "NEW")  # the open image's, the other's
        if message.new:
            self._open_other(entry, here, other, roles)
            return
        if message.contents:
            old, new = (other, here) if self.open_is_new else (here, other)
            image = old if entry.status == REMOVED else new
            node = image.fs.lookup(entry.path)
            if entry.is_dir or node is None:
                app.notify("A directory: o shows it in the explorer.", markup=False)
                return
            app.push_screen(ContentsScreen(image, node, len(image.layers) - 1))
            return
        node = here.fs.lookup(entry.path)
        last = len(here.layers) - 1
        if node is None or node.entry_at(last) is None:
            app.notify(f"/{display_name(entry.path)} is only in {roles[1]} (v: its contents there).", markup=False)
            return
        app.show_path(node, last, Mode.MERGED)

    def _open_other(self, entry: DiffEntry, here: Image, other: Image, roles: tuple[str, str]) -> None:
        """The other image in the app in place of this one, on `entry`'s path at its last layer;
        the comparison goes on the same way round (this image, already analysed, is not read
        again), so `O` again comes back. The other image is read again by the app (its layers
        from the layer cache)."""
        app: LayerscopeApp = self  # type: ignore[assignment]
        node = other.fs.lookup(entry.path)
        if node is None or node.entry_at(len(other.layers) - 1) is None:
            here_role, other_role = roles
            app.notify(f"/{display_name(entry.path)} is not in {other_role} (o: {here_role}'s explorer).", markup=False)
            return
        assert self.compare_source is not None
        path, options, name = self.compare_source
        if not app.can_reopen(path):
            app.notify(f"{display_name(name)} was read from a stream: it cannot be opened again.", markup=False)
            return
        former = (app.path, app.options, app.source_name)
        app.reopen(path, options, name, reveal=entry.path)
        app.call_later(partial(self._start, former, here, open_is_new=not self.open_is_new))
        app.call_later(app.action_view, "explorer")
