"""The guided tour of the demo: each step's place on screen, its keys, its ways in (--tour, the
palette, the help's links); and the tree keeping its cursor when a view has fewer rows."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from textual.widgets import DataTable, TabbedContent

from explorer.demo import demo_options
from explorer.present.browse import CHANGES
from explorer.present.tour import TOUR, layer_of, step_of
from explorer.tui.app import LayerscopeApp
from explorer.tui.screens.help import help_text
from explorer.tui.widgets.tour import TARGET

from .conftest import run


async def settle(app, pilot) -> None:
    for _ in range(3):  # loading, the hints it starts, and the tour's match of demo:v1
        await app.workers.wait_for_complete()
        await pilot.pause()


def on_screen(app, widget) -> bool:
    """`widget` is shown, not empty, and inside the screen."""
    region = widget.region
    return widget.display and region.area > 0 and app.screen.region.contains_region(region)


def row_on_screen(table: DataTable) -> bool:
    """The table's cursor row is within its scrolled window (below its header)."""
    top = table.scroll_offset.y
    rows = table.scrollable_content_region.height - (table.header_height if table.show_header else 0)
    return top <= table.cursor_row < top + rows


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
@run
async def test_each_step_shows_its_place(demo, size):
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False, tour=True)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        panel = app.tour_panel
        assert panel.active and on_screen(app, panel)
        for index, step in enumerate(TOUR):
            assert panel.index == index
            assert f"Tour {index + 1}/{len(TOUR)}" in str(panel.border_title)
            assert app.query_one(TabbedContent).active == step.tab
            target = app.query_one(f"#{step.target}")
            assert target.has_class(TARGET) and on_screen(app, target), step.title
            assert len(app.query(f".{TARGET}")) == 1
            layer = layer_of(app.image, step)
            if step.compare_with is not None:  # the Compare tab: the open v2 against v1, layers by diff_id
                assert app.compare_image is not None and app.compare_image.names == [step.compare_with]
                assert "4 layers shared" in str(app.query_one("#compare-summary").visual)
            if layer is None and step.tab == "stack":  # the layer that decides what is read
                layer = app.stack_view.read.rows[0].layer
            if layer is not None:
                assert app.view.layer == layer
                if step.tab == "explorer":
                    assert row_on_screen(app.layers) and app.layers.steps[app.layers.cursor_row].layer.index == layer
                if step.tab == "stack":  # the layer's bar is highlighted and in view
                    bars = app.stack_view.list
                    assert bars.get_option_at_index(bars.highlighted).id == f"layer-{layer}"
                    assert bars.scroll_offset.y <= bars.highlighted < bars.scroll_offset.y + bars.size.height
            if step.path is not None and step.tab == "stack":
                read = app.stack_view.read
                assert read is not None and read.path == f"/{step.path}"
                assert read.verdict in str(app.stack_view.body.visual)
            if step.path is not None and step.tab == "explorer":
                assert app.view.mode == CHANGES and app.file_tree.cursor_path.path == step.path
            if step.hint is not None:
                table = app.hints_view.query_one("#hints-table", DataTable)
                assert app.hints_view.hints[table.cursor_row].kind == step.hint and row_on_screen(table)
            await pilot.press("n")
            await settle(app, pilot)  # a comparison runs in a worker
        assert panel.index == len(TOUR) - 1  # n on the last step stays there
        await pilot.press("b")
        assert panel.index == len(TOUR) - 2
        await pilot.press("escape")
        await pilot.pause()
        assert not panel.active and not panel.display and not app.query(f".{TARGET}")
        index = app.query_one(TabbedContent).active
        await pilot.press("n")  # the tour's keys do nothing once it is left
        assert panel.index == len(TOUR) - 2 and app.query_one(TabbedContent).active == index


@run
async def test_at_80x24_the_build_cache_step_leaves_the_hint_readable(demo):
    """The panel sits above the footer, not under it; the hint's detail scrolls rather than being
    cut, its files list has room, and the list keeps the cursor's hint in sight as it shrinks."""
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False, tour=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press(*"n" * step_of("cache"))
        await pilot.pause()
        panel, footer = app.tour_panel, app.screen.query_one("Footer")
        assert panel.region.bottom <= footer.region.y
        box = app.query_one("#hint-detail-box")
        detail = app.query_one("#hint-detail")
        assert on_screen(app, box) and box.region.bottom <= panel.region.y
        assert detail.region.height > box.region.height and box.max_scroll_y > 0  # more: it scrolls
        table = app.query_one("#hints-table", DataTable)
        for _ in range(3):  # hints with files
            await pilot.press("k")
            await pilot.pause()
            files = app.query_one("#hint-files", DataTable)
            assert files.row_count and on_screen(app, files) and files.region.bottom <= panel.region.y
            assert row_on_screen(table), table.cursor_row


@run
async def test_the_palette_and_the_help_start_the_tour(demo):
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert not app.tour_panel.active
        await pilot.press("ctrl+p", *"tour")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.tour_panel.active and app.tour_panel.index == 0
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        app.screen.query_one("Markdown").post_message(
            type(app.screen.query_one("Markdown")).LinkClicked(app.screen.query_one("Markdown"), "tour:copy-on-write")
        )
        await settle(app, pilot)
        assert app.tour_panel.active and TOUR[app.tour_panel.index].concept == "copy-on-write"


@run
async def test_the_tour_is_for_the_demo_only(tmp_path):
    from .imagebuilder import F, Image, Layer, write_oci

    path = write_oci(Image([Layer([F("a", b"x")])]), tmp_path / "one.tar")
    app = LayerscopeApp(str(path), animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.action_tour()
        await pilot.pause()
        assert not app.tour_panel.active


def test_the_help_links_every_concept_of_the_tour():
    linked = re.findall(r"\]\(tour:([a-z-]+)\)", help_text())
    concepts = [step.concept for step in TOUR if step.concept is not None]
    assert sorted(set(linked)) == sorted(concepts)


def test_tour_needs_the_demo_on_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--tour", "x.tar"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "CI"},  # CI=true with an image would run `ci`
    )
    assert result.returncode == 2 and "--tour walks through the demo" in result.stderr


@run
async def test_a_layer_with_fewer_rows_keeps_the_tree_usable(demo):
    """The tree read its cursor's path from the new view's rows: past their end it raised."""
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        copy = next(layer.index for layer in app.image.layers if layer.instruction.startswith("COPY app/"))
        app.go_to_layer(copy)
        await pilot.pause()
        app.file_tree.focus()
        await pilot.press("end")  # the last of the COPY's files
        await pilot.press("right_square_bracket")  # the chmod layer: two rows
        await pilot.pause()
        assert app.view.layer == copy + 1 and app.file_tree.cursor_path.path in ("app", "app/model.bin")


@run
async def test_the_reuse_step_reads_forwards_from_v1_to_v2(demo):
    """Step 8 compares the earlier v1 (OLD) with the open v2 (NEW): what changed reads forwards,
    and the keys on the differences name the other image by its role."""
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False, tour=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.tour_panel.go(step_of("reuse"))
        await settle(app, pilot)
        summary = str(app.query_one("#compare-summary").visual)
        assert summary.startswith("OLD layerscope/demo:v1   NEW demo"), summary
        assert "NEW is" in summary and "over OLD" in summary, summary  # v2 added to v1
        assert "O: OLD's explorer" in str(app.query_one("#compare-tree").border_title)
        assert "v1 (OLD)" in str(app.tour_panel.visual) and "v2 (NEW)" in str(app.tour_panel.visual)


@run
async def test_reading_the_image_again_leaves_the_tour(demo):
    """The tour's steps need the analysed demo: Reload (or O into the other image) leaves it,
    and its keys then do nothing (`n` raised on the image not read yet)."""
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False, tour=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.tour_panel.active
        app.action_reload()
        await pilot.press("n")
        assert not app.tour_panel.active and not app.tour_panel.display
        await settle(app, pilot)
        assert app.image is not None and app.image.analysed and app.return_code is None
