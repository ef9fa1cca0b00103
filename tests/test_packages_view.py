"""The packages view: its rows (present/packages.py) and the widget driven by Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from explorer.analysis import load
from explorer.present.packages import owner_text, package_nodes, package_rows, summary_line
from explorer.tui.widgets.packages import PackagesView
from tests.imagebuilder import F, Image, Layer, write_oci
from tests.test_packages import _dpkg_image


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    path = write_oci(_dpkg_image(), Path(tmp_path_factory.mktemp("pk")) / "a.tar")
    img = load(str(path))
    yield img
    img.close()


def test_rows_of_the_image_and_of_a_layer(image) -> None:  # noqa: ANN001
    packages = image.packages
    rows = package_rows(packages, None)
    assert [(r.package.name, r.size, r.wasted, r.mark) for r in rows] == [
        ("libc6", 2000, 0, " "),
        ("bash", 1100, 1000, " "),
        ("gcc-12", 0, 5000, "-"),
    ]
    assert [r.package.name for r in package_rows(packages, None, "name")] == ["bash", "gcc-12", "libc6"]
    layer = package_rows(packages, 1)
    assert [(r.mark, r.package.name, r.version, r.size) for r in layer] == [
        ("+", "gcc-12", "12.2.0", 5000),
        ("^", "bash", "5.2-1 → 5.2-2", 1100),
    ]
    assert summary_line(packages, 1) == "Layer 1: 1 added, 1 upgraded."
    assert summary_line(packages, 3) == "Layer 3 changed no packages."
    assert summary_line(packages, None) == "deb: 2 installed."
    nodes = package_nodes(packages, rows[1].package)
    assert sorted(n.path for n in nodes) == ["", "usr", "usr/bin", "usr/bin/bash"]
    assert owner_text(packages, "usr/bin/bash") == "deb bash 5.2-2"
    assert owner_text(packages, "etc/motd") is None


class _Host(App):
    def __init__(self, image) -> None:  # noqa: ANN001
        super().__init__()
        self.image = image
        self.filtered: list[PackagesView.Filter] = []

    def compose(self):
        yield PackagesView(id="packages")

    def on_mount(self) -> None:
        self.query_one(PackagesView).show(self.image, 1)
        self.query_one(DataTable).focus()

    def on_packages_view_filter(self, message: PackagesView.Filter) -> None:
        self.filtered.append(message)


def _names(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def test_widget_sorts_switches_scope_and_filters(image) -> None:  # noqa: ANN001
    async def scenario() -> None:
        app = _Host(image)
        async with app.run_test(size=(120, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one(DataTable)
            assert _names(table) == ["deb:libc6", "deb:bash", "deb:gcc-12"]  # the image, by size
            await pilot.press("s")
            assert _names(table) == ["deb:bash", "deb:gcc-12", "deb:libc6"]
            await pilot.press("t")  # the selected layer's changes
            assert _names(table) == ["deb:bash", "deb:gcc-12"]
            assert "Layer 1: 1 added, 1 upgraded." in str(app.query_one("#packages-hint", Static).content)
            await pilot.press("s", "enter")
            await pilot.pause()
            assert [m.package.name for m in app.filtered] == ["gcc-12"]
            assert {n.path for n in app.filtered[0].nodes} == {"", "usr", "usr/bin", "usr/bin/gcc-12"}  # purged later

    asyncio.run(scenario())


def test_widget_with_no_package_database(tmp_path: Path) -> None:
    """Nothing to list: the tab says so, with no empty table and no keys that act on rows."""
    img = load(str(write_oci(Image([Layer([F("app/main", b"x")])]), tmp_path / "none.tar")))

    async def scenario() -> None:
        app = _Host(img)
        async with app.run_test(size=(100, 20)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            hint = str(app.query_one("#packages-hint", Static).content)
            assert hint == "No package database found (dpkg, apk, Python, Node).", hint
            assert not app.query_one(DataTable).display
            await pilot.press("t")
            assert str(app.query_one("#packages-hint", Static).content) == hint

    asyncio.run(scenario())


def test_widget_before_the_analysis_ends() -> None:
    async def scenario() -> None:
        app = _Host(None)
        async with app.run_test(size=(100, 20)) as pilot:
            await pilot.pause()
            assert "once every layer is analysed" in str(app.query_one("#packages-hint", Static).content)
            assert app.query_one(DataTable).row_count == 0

    asyncio.run(scenario())


def test_app_packages_tab_filters_the_tree(tmp_path: Path) -> None:
    from explorer.tui.app import LayerscopeApp
    from explorer.tui.widgets.filetree import FileTree

    path = write_oci(_dpkg_image(), tmp_path / "a.tar")

    async def scenario() -> None:
        app = LayerscopeApp(str(path), animate=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("6")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#packages-table", DataTable)
            assert _names(table) == ["deb:libc6", "deb:bash", "deb:gcc-12"]
            await pilot.press("down", "enter")  # bash
            await pilot.pause()
            assert app.query_one("TabbedContent").active == "explorer"
            assert "package deb:bash" in str(app.query_one("#files").border_title)
            tree = app.query_one(FileTree)
            assert tree.has_focus
            await pilot.press("e")
            await pilot.pause()
            assert app.view.package is not None
            assert {n.path for n in app.view.package[1]} == {"", "usr", "usr/bin", "usr/bin/bash"}
            while tree.cursor_path is None or tree.cursor_path.path != "usr/bin/bash":
                await pilot.press("down")
            await pilot.press("h")  # the history names the owning package
            await pilot.pause()
            heading = str(app.screen.query_one("#history-path", Static).content)
            assert heading == "/usr/bin/bash  · package: deb bash 5.2-2"
            await pilot.press("escape")
            await pilot.press("f")  # clears it
            await pilot.pause()
            assert app.view.package is None

    asyncio.run(scenario())


def test_demo_packages_tab_snapshot(snap_compare, demo_archive) -> None:  # noqa: ANN001
    """The demo's Packages tab: apk and Python packages, largest first."""
    from explorer.tui.app import LayerscopeApp

    async def packages_tab(pilot) -> None:  # noqa: ANN001
        await pilot.app.workers.wait_for_complete()
        await pilot.press("6")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = LayerscopeApp(demo_archive, display_name="demo", animate=False)
    assert snap_compare(app, terminal_size=(120, 36), run_before=packages_tab)
