"""The Compare tab: `--compare NEW` and the palette's "Compare with…", jumps into the images,
errors on the tab, and SVG snapshots."""

from __future__ import annotations

import re
import shutil

import pytest
from textual.widgets import TabbedContent

from explorer.tui.app import LayerscopeApp
from explorer.tui.screens.compare import ComparePrompt
from explorer.tui.screens.contents import ContentsScreen
from explorer.tui.screens.loading import ErrorScreen
from explorer.tui.widgets.compare import CompareTab, DiffTree

from .conftest import run
from .imagebuilder import F, write_docker_archive, write_oci
from .test_compare import new_image, old_image

SIZE = (120, 36)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[str, str]:
    """OLD and NEW of `test_compare`, NEW with a name that is markup, to be shown as it is."""
    tmp = tmp_path_factory.mktemp("ui-compare")
    new = new_image()
    new.layers[1].entries.append(F("app/[red]x", b"z" * 10))
    return str(write_oci(old_image(), tmp / "old.tar")), str(write_docker_archive(new, tmp / "new.tar"))


async def compared(pilot) -> None:
    """Both images analysed and compared (NEW's worker waits for OLD's), hints worked out: the
    workers each one starts waited for until none is left."""
    app = pilot.app
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in app.workers):
            break
    await pilot.pause()


def _tree(app: LayerscopeApp) -> DiffTree:
    return app.query_one(DiffTree)


def _rows(tree: DiffTree) -> list[str]:
    return [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]


@run
async def test_compare_flag_shows_the_tab_and_jumps(pair):
    old, new = pair
    app = LayerscopeApp(old, display_name="old.tar", animate=False, compare=new)
    async with app.run_test(size=SIZE) as pilot:
        await compared(pilot)
        assert app.query_one(TabbedContent).active == "compare"
        tree = _tree(app)
        assert tree.has_focus
        assert _rows(tree) == [
            "  app/  +4.0 kB, 2 paths",
            "  usr/  +3.0 kB, 1 path",
            "  bin/  +2 B, 1 path",
            "  etc/  -1 B, 1 path",
            "  var/  0 B, 1 path",
        ]
        await pilot.press("enter")  # a directory opens
        assert _rows(tree)[1:3] == ["M data  +4.0 kB", "A [red]x  +10 B"]
        assert app.query_one(TabbedContent).active == "compare"
        await pilot.press("down", "enter")  # a file: OLD's explorer, at its last layer, on that path
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "explorer"
        assert app.file_tree.cursor_path.path == "app/data" and app.view.layer == 1
        await pilot.press("8")
        await pilot.pause()
        assert tree.has_focus and app.query_one(TabbedContent).active == "compare"
        await pilot.press("down", "o")  # only in NEW: said, and the explorer stays away
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "compare"
        assert any("only in NEW" in n.message for n in app._notifications)  # noqa: SLF001
        await pilot.press("v")  # its contents in NEW
        await pilot.pause()
        assert isinstance(app.screen, ContentsScreen) and app.screen.image is app.compare_image
        await app.workers.wait_for_complete()
        await pilot.press("escape")


@run
async def test_shift_o_opens_new_at_the_path_and_keeps_the_direction(pair):
    """`O` opens NEW in the app in place of OLD, on the path at its last layer; the Compare tab
    then compares the former OLD (still OLD) with it (still NEW), so the differences read the
    same way, and `O` again comes back."""
    old, new = pair
    app = LayerscopeApp(old, display_name="old.tar", animate=False, compare=new)
    async with app.run_test(size=SIZE) as pilot:
        await compared(pilot)
        tree = _tree(app)
        await pilot.press("end", "up", "enter", "down", "O")  # etc/conf: removed in NEW
        await pilot.pause()
        assert any("/etc/conf is not in NEW" in n.message for n in app._notifications)  # noqa: SLF001
        assert app.path == old and app.query_one(TabbedContent).active == "compare"
        await pilot.press("home", "enter", "down", "O")  # app/data: 1000 B in OLD, 5000 B in NEW
        await compared(pilot)
        assert app.path == new and app.source_name == "new.tar" and app.sub_title == "new.tar"
        assert app.query_one(TabbedContent).active == "explorer" and app.file_tree.has_focus
        node = app.file_tree.cursor_path
        assert node.path == "app/data" and app.view.layer == 1 == len(app.image.layers) - 1
        assert node.entry_at(1).size == 5000 and app.image.fs.lookup("app/[red]x") is not None
        summary = str(app.query_one(CompareTab).query_one("#compare-summary").render())
        assert summary.startswith("OLD old.tar   NEW new.tar") and "NEW is +7.0 kB over OLD" in summary, summary
        assert "O: OLD's explorer" in str(app.query_one("#compare-tree").border_title)
        await pilot.press("8")
        await pilot.pause()
        assert _rows(tree)[0] == "  app/  +4.0 kB, 2 paths"
        await pilot.press("enter", "down", "down", "O")  # app/[red]x: only in the open image (NEW) now
        await pilot.pause()
        assert any("/app/[red]x is not in OLD (o: NEW's explorer)" in n.message for n in app._notifications)  # noqa: SLF001
        await pilot.press("end", "up", "enter", "down", "o")  # etc/conf, removed: not in the open NEW
        await pilot.pause()
        assert any("/etc/conf is only in OLD" in n.message for n in app._notifications)  # noqa: SLF001
        await pilot.press("home", "down", "O")  # app/data (app/ is open): back into the first image
        await compared(pilot)
        assert app.path == old and app.source_name == "old.tar"
        assert app.file_tree.cursor_path.path == "app/data" and app.file_tree.cursor_path.entry_at(1).size == 1000
        summary = str(app.query_one(CompareTab).query_one("#compare-summary").render())
        assert summary.startswith("OLD old.tar   NEW new.tar")
        assert "O: NEW's explorer" in str(app.query_one("#compare-tree").border_title)


@run
async def test_an_image_that_fails_to_reopen_leaves_the_former_one_shown(pair, tmp_path):
    """`O` into NEW, whose archive is gone since, and Reload of the open OLD, gone too: each
    time OLD stays shown as it was, with its comparison, and one line says why."""
    old, new = pair
    shutil.copy(old, tmp_path / "old.tar")
    shutil.copy(new, tmp_path / "new.tar")
    app = LayerscopeApp(
        str(tmp_path / "old.tar"), display_name="old.tar", animate=False, compare=str(tmp_path / "new.tar")
    )
    async with app.run_test(size=SIZE) as pilot:
        await compared(pilot)
        image, other = app.image, app.compare_image
        (tmp_path / "new.tar").unlink()
        await pilot.press("home", "enter", "down", "O")  # app/data, in NEW: cannot be opened now
        await compared(pilot)
        assert app.image is image and app.path == str(tmp_path / "old.tar") and app.sub_title == "old.tar"
        assert app.loaded and app.error is None and not app.status.display and app.layers.row_count == 2
        assert (app.compare_source[2], app.compare_image, app.open_is_new) == ("new.tar", other, False)
        summary = str(app.query_one(CompareTab).query_one("#compare-summary").render())
        assert summary.startswith("OLD old.tar   NEW new.tar"), summary
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any(m.startswith("Could not open new.tar: ") and m.endswith("— still showing old.tar.") for m in said)
        assert "\n" not in said[-1] and said[-1].count("new.tar") == 1, said[-1]
        (tmp_path / "old.tar").unlink()
        app.action_reload()
        await compared(pilot)
        assert app.image is image and app.loaded and app.error is None and app.layers.row_count == 2
        assert not isinstance(app.screen, ErrorScreen)
        assert [n.message for n in app._notifications][-1].startswith("Could not open old.tar: ")  # noqa: SLF001


@run
async def test_palette_compares_with_a_typed_path_and_errors_stay_on_the_tab(pair, tmp_path):
    old, new = pair
    app = LayerscopeApp(old, display_name="old.tar", animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await compared(pilot)
        assert app.compare_tab is None  # no tab until a comparison starts
        await pilot.press("8")
        assert app.query_one(TabbedContent).active == "explorer"
        await pilot.press("ctrl+p", *"compare with")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ComparePrompt)
        await pilot.press(*str(tmp_path / "missing.tar"), "enter")
        await compared(pilot)
        tab = app.query_one(CompareTab)
        assert "Cannot compare:" in str(tab.query_one("#compare-status").render()) and app.compare_image is None
        assert app.error is None  # OLD is fine
        await pilot.press("ctrl+p", *"compare with")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*old, "enter")
        await compared(pilot)
        assert app.compare_image is not None and _rows(_tree(app)) == []
        assert "identical filesystems" in str(tab.query_one("#compare-summary").render())


def test_compare_tab_snapshot(snap_compare, pair):
    old, new = pair
    app = LayerscopeApp(old, display_name="old.tar", animate=False, compare=new)
    assert snap_compare(app, terminal_size=SIZE, press=["enter"], run_before=compared)


def test_compare_tab_snapshot_at_80x24(snap_compare, pair):
    old, new = pair
    app = LayerscopeApp(old, display_name="old.tar", animate=False, compare=new)
    assert snap_compare(app, terminal_size=(80, 24), run_before=compared)


def test_compare_flag_checks_new_before_the_app_starts(pair, tmp_path):
    """A NEW that cannot be opened is one line and exit 2, before any screen; `-` is refused."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "CI"}  # CI=true without a terminal runs `ci`

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "explorer", pair[0], *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)

    proc = run("--compare", str(tmp_path / "nope.tar"))
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith("layerscope: ") and "nope.tar" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = run("--compare", "-")
    assert proc.returncode == 2 and "--compare cannot read standard input" in proc.stderr


@run
async def test_packages_that_differ_are_listed(tmp_path):
    """Packages added, removed, upgraded or downgraded (present/compare's list) show on the tab."""
    from .test_packages_diff import _image

    old = write_oci(_image([("bash", "5.2-1", b"b" * 100), ("gcc-12", "12.2.0", b"g" * 500)]), tmp_path / "o.tar")
    new = write_oci(_image([("bash", "5.2-2", b"B" * 160), ("make", "4.3", b"m" * 70)]), tmp_path / "n.tar")
    app = LayerscopeApp(str(old), animate=False, compare=str(new))
    async with app.run_test(size=SIZE) as pilot:
        await compared(pilot)
        tab = app.query_one(CompareTab)
        assert tab.query_one("#compare-packages").display
        summary = str(tab.query_one("#compare-summary").render())
        assert "packages:" in summary and "1 added" in summary and "1 removed" in summary and "1 upgraded" in summary
        assert [(p["name"], p["status"]) for p in tab.view.packages["changes"]] == [
            ("bash", "upgraded"),
            ("gcc-12", "removed"),
            ("make", "added"),
        ]


@run
async def test_the_differences_have_room_at_80x24(demo):
    """The demo's comparison has layers and packages: at 80×24 they left the tree no row."""
    from explorer.demo import V1, demo_options

    app = LayerscopeApp(demo, demo_options(), display_name="demo", animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await compared(pilot)
        await app.start_compare(demo, V1, as_old=True)
        await compared(pilot)
        tree = _tree(app)
        assert tree.display and tree.scrollable_content_region.height >= 4
        assert app.query_one("#compare-packages").display


@run
async def test_the_layer_bars_follow_a_resize(pair):
    """Opened wide, then narrowed to 80 columns: the bars are drawn again narrower, so the
    instructions keep their room (the wide bars were kept, and left them a few cells)."""
    old, new = pair
    app = LayerscopeApp(old, display_name="old.tar", animate=False, compare=new)
    async with app.run_test(size=(200, 36)) as pilot:
        await compared(pilot)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        layers = app.query_one("#compare-layer-table")
        lines = [layers.render_line(y).text.rstrip() for y in range(layers.size.height)]
        assert any("only in NEW:" in line for line in lines), lines
        assert max(len(bar) for line in lines for bar in re.findall("█+", line)) == 10, lines  # (80 - 60) / 2
