"""SVG snapshots of the Stack tab and of each step of the tour, at 80×24 and 120×40."""

from __future__ import annotations

import pytest

from explorer.demo import demo_options
from explorer.present.tour import TOUR
from explorer.tui.app import LayerscopeApp

SIZES = [(80, 24), (120, 40)]


async def loaded(pilot) -> None:
    """Loading, then the hints it starts."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_stack_tab(snap_compare, demo, size):
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False)

    async def chmod_read_path(pilot) -> None:
        await loaded(pilot)
        await pilot.press("7")
        pilot.app.stack_view.pick(pilot.app.image.fs.lookup("app/model.bin"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=chmod_read_path)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", range(len(TOUR)))
def test_tour_step(snap_compare, demo, step, size):
    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False, tour=True)

    async def at_step(pilot) -> None:
        await loaded(pilot)
        await pilot.press(*["n"] * step)
        await loaded(pilot)  # the layer-reuse step compares in a worker

    assert snap_compare(app, terminal_size=size, run_before=at_step)
