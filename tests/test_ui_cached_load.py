"""The app on an image whose layers all come from the layer cache: stacked whole in the loading
thread and shown in one call, the UI answering keys meanwhile; the waste tab's rows made when
the tab is shown."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, TabbedContent

from explorer.analysis.image import Image
from explorer.archive import layercache
from explorer.archive.options import OpenOptions
from explorer.tui.app import LayerscopeApp
from explorer.tui.widgets.layers import LayerTable
from explorer.tui.widgets.summary import SummaryView

from .conftest import run
from .test_ui_first_use import held_at, until
from .test_ui_pilot import SIZE, settle

CACHED = OpenOptions(cache=True)


@pytest.fixture
def warm(demo, monkeypatch) -> str:
    """The demo archive, its layers read once into the (test's own) layer cache."""
    monkeypatch.setattr(layercache, "RACY", 0.0)  # the demo archive was written just now
    image = Image.open(demo, CACHED)
    image.analyse()
    image.close()
    return demo


def shown(app: LayerscopeApp) -> tuple:
    """What the screen says of the image: the layer rows, the summary, the waste."""
    table = app.query_one(LayerTable)
    rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
    return rows, str(app.query_one(SummaryView).query_one("#summary-body").render()), app.image.waste.wasted


@run
async def test_a_cached_image_is_stacked_off_the_main_thread_and_shown_whole(warm, monkeypatch):
    slices = []
    original = LayerscopeApp._stack_slice
    monkeypatch.setattr(LayerscopeApp, "_stack_slice", staticmethod(lambda s: slices.append(1) or original(s)))
    cold = LayerscopeApp(warm, animate=False)  # no cache: each layer stacked between frames
    async with cold.run_test(size=SIZE) as pilot:
        await settle(cold, pilot)
        before = shown(cold)
    assert slices
    slices.clear()
    app = LayerscopeApp(warm, CACHED, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert [layer.from_cache for layer in app.image.layers] == [True] * len(app.image.layers)
        assert not slices  # no slice of a layer on the main thread
        assert app.stacked == len(app.image.layers) and app.loaded and not app.status.display
        assert shown(app)[0][0][:-1] == before[0][0][:-1]  # the last column says "cache"
        assert shown(app)[1:] == before[1:]
        assert app.query_one("#tree").line_count > 0


@run
async def test_keys_are_answered_while_a_cached_image_is_stacked(warm, monkeypatch):
    reached, go = held_at(monkeypatch, "finish", lambda args, kwargs: True)
    app = LayerscopeApp(warm, CACHED, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, reached.is_set)  # every layer stacked, the waste not yet worked out
        assert app.image is None and not app.loaded  # the UI does not see the half-made model
        await pilot.press("3")
        assert app.query_one(TabbedContent).active == "summary"
        assert "from the layer cache" in str(app.status.query_one("#status-text").render())
        go.set()
        await until(pilot, lambda: app.loaded)
        await settle(app, pilot)
        assert app.stacked == len(app.image.layers) and app.error is None and not app.stopped


@run
async def test_esc_while_a_cached_image_is_stacked_keeps_the_layers_below(warm, monkeypatch):
    reached, go = held_at(monkeypatch, "stack_steps", lambda args, kwargs: args[1] == 2)
    app = LayerscopeApp(warm, CACHED, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, reached.is_set)
        await pilot.press("escape")
        go.set()
        await until(pilot, lambda: app.loaded)
        await pilot.pause()
        assert app.is_running and app.stopped and app.stacked == 2
        assert "layers 0–1 are shown" in str(app.query_one("#summary-body").render())
        await pilot.press("]")
        assert app.view.layer == 1 and app.query_one("#tree").line_count > 0


@run
async def test_the_waste_rows_are_made_when_the_tab_is_shown(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.query_one("#waste-table", DataTable)
        assert table.row_count == 0  # hidden: not measured by every layout pass
        await pilot.press("2")
        assert table.row_count == 15
        await pilot.press("1", "2")
        assert table.row_count == 15
