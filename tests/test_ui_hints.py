"""The Hints and Largest views, each mounted alone in a tiny app on the analysed demo image."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from explorer.analysis.hints import SECRET, compute_hints
from explorer.analysis.image import load
from explorer.demo import write_demo
from explorer.present.hints import KIND_LABELS
from explorer.tui.widgets.hints import HintsView
from explorer.tui.widgets.largest import LargestView
from explorer.tui.widgets.messages import ShowPath


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return load(str(write_demo(tmp_path_factory.mktemp("demo") / "demo.tar")))


class Host(App):
    """Mounts one view and records the jumps it asks for."""

    def __init__(self, view) -> None:
        super().__init__()
        self.view = view
        self.jumps: list[tuple[str, int]] = []

    def compose(self):
        yield self.view

    def on_show_path(self, message: ShowPath) -> None:
        self.jumps.append((message.path, message.layer))


def plain(table: DataTable) -> list[list[str]]:
    return [[str(getattr(cell, "plain", cell)) for cell in table.get_row_at(n)] for n in range(table.row_count)]


def test_hints_view_lists_opens_and_jumps(demo):
    hints = compute_hints(demo)

    async def go() -> None:
        app = Host(HintsView())
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.view
            view.show(demo, hints)
            await pilot.pause()
            table = view.query_one("#hints-table", DataTable)
            rows = plain(table)
            assert len(rows) == len(hints.hints)
            assert rows[0][:2] == ["102 B", KIND_LABELS[SECRET]]  # credentials first
            assert rows[1][:2] == ["3.0 MB", KIND_LABELS[hints.hints[1].kind]]  # then by bytes saved
            assert "reclaimable" in str(view.query_one("#hints-note", Static).render())
            secret = next(n for n, h in enumerate(hints.hints) if h.kind == SECRET)
            table.focus()
            await pilot.press(*["j"] * secret)
            await pilot.pause()
            detail = str(view.query_one("#hint-detail", Static).render())
            assert "--mount=type=secret" in detail and "layer 8: COPY id_rsa" in detail
            assert plain(view.query_one("#hint-files", DataTable)) == [["/root/.ssh/"], ["  id_rsa"]]
            await pilot.press("enter")  # to the files
            await pilot.press("j", "enter")  # the file under the heading
            await pilot.pause()
            assert app.jumps == [("root/.ssh/id_rsa", 8)]  # the layer that stored the key

    asyncio.run(go())


def test_hints_view_before_analysis_and_on_a_clean_image(demo):
    async def go() -> None:
        app = Host(HintsView())
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert "once every layer is analysed" in str(app.view.query_one("#hints-note", Static).render())
            app.view.show(demo, type(compute_hints(demo))([], 0))
            await pilot.pause()
            assert "Nothing to change" in str(app.view.query_one("#hints-note", Static).render())
            table = app.view.query_one("#hints-table", DataTable)
            assert table.row_count == 0
            assert not table.display and not app.view.query_one("#hint-files").display  # the note alone
            app.view.show(demo, compute_hints(demo))
            await pilot.pause()
            assert table.display and table.row_count > 0

    asyncio.run(go())


def test_largest_view_image_and_layer(demo):
    async def go() -> None:
        app = Host(LargestView())
        async with app.run_test(size=(100, 30)) as pilot:
            view = app.view
            view.show(demo, 4)
            await pilot.pause()
            table = view.query_one("#largest-table", DataTable)
            assert plain(table)[:2] == [["3.0 MB", "4", "app/model.bin"], ["1.2 MB", "0", "bin/busybox"]]
            table.focus()
            await pilot.press("l")  # the chosen layer: the chmod layer stores model.bin alone
            await pilot.pause()
            assert plain(table) == [["3.0 MB", "4", "app/model.bin"]]
            view.show(demo, 1)  # the apk layer: its cache is hidden in the final image
            await pilot.pause()
            assert plain(table)[0] == ["2.4 MB", "1", "var/cache/apk/APKINDEX.tar.gz"]
            assert table.get_row_at(0)[0].style == "dim"
            await pilot.press("enter")
            await pilot.pause()
            assert app.jumps == [("var/cache/apk/APKINDEX.tar.gz", 1)]

    asyncio.run(go())


def test_the_app_has_both_views_and_jumps_from_them(tmp_path):
    from explorer.tui.app import LayerscopeApp
    from explorer.tui.widgets.filetree import FileTree

    async def go() -> None:
        app = LayerscopeApp(str(write_demo(tmp_path / "demo.tar")), animate=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("4")
            await pilot.pause()
            table = app.query_one("#hints-table", DataTable)
            assert app.focused is table and table.row_count == 17
            await pilot.press("enter", "j", "enter")  # the key file of the first hint (a credential)
            await pilot.pause()
            assert (app.view.layer, app.query_one(FileTree).cursor_path.path) == (8, "root/.ssh/id_rsa")
            await pilot.press("5")
            await pilot.pause()
            largest = app.query_one("#largest-table", DataTable)
            assert app.focused is largest and plain(largest)[0] == ["3.0 MB", "4", "app/model.bin"]
            await pilot.press("l")  # the layer chosen in the explorer: 8, the key's
            await pilot.pause()
            assert plain(largest) == [["102 B", "8", "root/.ssh/id_rsa"]]
            await pilot.press("enter")
            await pilot.pause()
            assert app.query_one(FileTree).cursor_path.path == "root/.ssh/id_rsa"

    asyncio.run(go())


def test_at_80x24_the_hints_list_shows_several_hints(demo):
    """The list is what the tab is for: at 80×24 it showed two hints, the selected one's files as many."""

    async def go() -> None:
        app = Host(HintsView())
        async with app.run_test(size=(80, 20)) as pilot:  # the app's tab at 80×24
            app.view.show(demo, compute_hints(demo))
            await pilot.pause()
            table = app.view.query_one("#hints-table", DataTable)
            files = app.view.query_one("#hint-files", DataTable)
            assert table.size.height >= 5 and table.size.height > files.size.height

    asyncio.run(go())


def test_a_long_hint_title_is_cut_in_the_list_and_whole_in_the_detail(demo):
    """At 80 columns the list keeps every column in sight (no sideways scroll): a long title
    ends in `…`, and the detail below starts with it whole."""

    async def go() -> None:
        app = Host(HintsView())
        async with app.run_test(size=(80, 20)) as pilot:
            app.view.show(demo, compute_hints(demo))
            await pilot.pause()
            await pilot.pause()
            table = app.view.query_one("#hints-table", DataTable)
            assert table.max_scroll_x == 0
            first = app.view.hints[0].title
            line = table.render_line(1).text.rstrip()
            assert line.endswith("…") and first not in line and first.startswith(line.split("  ")[-1][:-1].strip())
            detail = str(app.view.query_one("#hint-detail", Static).render())
            assert detail.replace("\n", " ").startswith(first), detail

    asyncio.run(go())


@pytest.mark.parametrize("width", [50, 60, 80, 120])
def test_largest_and_duplicates_keep_their_columns_in_sight(width, tmp_path):
    """A long path is cut to the room left, in the middle for a file's path (its name stays),
    at the end for a duplicate's list of paths: no table scrolls sideways; after a resize too."""
    from explorer.archive.writer import F, Image, Layer, write_oci
    from explorer.tui.widgets.waste import WasteView

    deep = "usr/share/" + "/".join(f"folder-{i:02}" for i in range(12)) + "/the-file-name.bin"
    spec = Image([Layer([F(deep, b"x" * 5000), F("copy/of/it.bin", b"x" * 5000), F("small", b"s")])])
    image = load(str(write_oci(spec, tmp_path / "deep.tar")))

    async def go() -> None:
        for view in (LargestView(), WasteView()):
            app = Host(view)
            async with app.run_test(size=(120, 24)) as pilot:
                view.show(image, None) if isinstance(view, LargestView) else view.show(image)
                if isinstance(view, WasteView):
                    view.shown(True)
                await pilot.pause()
                await pilot.resize_terminal(width, 24)
                await pilot.pause()
                await pilot.pause()
                table = view.query_one("#largest-table" if isinstance(view, LargestView) else "#dup-table", DataTable)
                assert table.row_count and table.max_scroll_x == 0, (width, type(view).__name__)
                cells = [row[-1] for row in plain(table)]
                if isinstance(view, LargestView):
                    [cell] = [c for c in cells if c.startswith("usr/")]
                    assert cell.endswith("…/the-file-name.bin") and len(cell) < len(deep), cell
                else:
                    shown = table.render_line(1).text.rstrip()  # the first row, below the header
                    assert cells[0].startswith("copy/of/it.bin, usr/share/") and shown.endswith("…"), shown

    asyncio.run(go())
