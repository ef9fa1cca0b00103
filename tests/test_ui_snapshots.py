"""SVG snapshots of the app on the demo image (deterministic: no animation, analysis finished)."""

from __future__ import annotations

import pytest

from explorer.demo import demo_options
from explorer.tui.app import LayerscopeApp


async def loaded(pilot) -> None:
    """Loading done, then the hints it starts once done (they mark tree rows and details)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def app(demo: str):
    return LayerscopeApp(demo, demo_options(), display_name="demo", animate=False)


def test_main_layer_0(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(120, 36), run_before=loaded)


def test_main_chmod_layer(snap_compare, demo):
    # rows: 0, ENV, 1, 2, 3, 4 — the chmod layer stores model.bin again
    assert snap_compare(app(demo), terminal_size=(120, 36), press=["j"] * 5, run_before=loaded)


def test_merged_mode(snap_compare, demo):
    keys = ["right_square_bracket"] * 7 + ["m"]  # the last layer, merged
    assert snap_compare(app(demo), terminal_size=(120, 36), press=keys, run_before=loaded)


def test_waste_view(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(120, 36), press=["2"], run_before=loaded)


def test_summary_view(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(120, 36), press=["3"], run_before=loaded)


def test_help_screen(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(120, 36), press=["question_mark"], run_before=loaded)


def test_find_with_a_query(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(120, 36), press=["slash", *"app"], run_before=loaded)


def test_main_80x24(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(80, 24), press=["j"] * 5, run_before=loaded)


@pytest.mark.parametrize(
    "name, keys",
    [
        ("waste", ["2"]),
        ("summary", ["3"]),
        ("help", ["question_mark"]),
        ("find", ["slash", *"doc"]),
        ("history", ["tab", "h"]),
    ],
)
def test_each_screen_at_80x24(snap_compare, demo, name, keys):
    assert snap_compare(app(demo), terminal_size=(80, 24), press=keys, run_before=loaded)


def test_hints_view(snap_compare, demo):
    assert snap_compare(app(demo), terminal_size=(120, 36), press=["4"], run_before=loaded)


def test_an_opaque_directory_has_its_own_marker(snap_compare, demo):
    """Layer 6 of the demo empties `usr/share/docs` (`rm -rf` + `mkdir` in an overlay build): `O`."""

    async def at_layer_6(pilot) -> None:
        await loaded(pilot)
        pilot.app.go_to_layer(6)
        await pilot.pause()

    assert snap_compare(app(demo), terminal_size=(120, 36), run_before=at_layer_6)


def test_the_layer_list_after_a_resize(snap_compare, demo):
    """Narrower than it opened: the instruction column is fitted again, cut with `…`."""

    async def narrowed(pilot) -> None:
        await loaded(pilot)
        await pilot.resize_terminal(96, 30)
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app(demo), terminal_size=(140, 36), run_before=narrowed)
