"""The app driven by Pilot on the demo image and the real archives: every pane, key and view."""

from __future__ import annotations

import gzip
import itertools
import multiprocessing
import os
import random
import tarfile
import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable, OptionList, TabbedContent

from explorer.archive.pool import PARALLEL_MIN_BYTES
from explorer.present.browse import CHANGES, MARKS, MERGED, Sort
from explorer.present.text import display_name, human_size
from explorer.present.tree import row_name, row_notes
from explorer.tui.app import LayerscopeApp
from explorer.tui.screens.find import FindScreen
from explorer.tui.screens.help import HelpScreen
from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.loading import ErrorScreen
from explorer.tui.widgets.filetree import FileTree
from explorer.tui.widgets.layers import LayerTable

from .conftest import REAL, needs_shared, run
from .imagebuilder import F, Layer, write_docker_archive
from .imagebuilder import Image as ImageSpec
from .test_formats import HEREDOC

SIZE = (120, 36)


async def settle(app: LayerscopeApp, pilot) -> None:
    """Wait until loading is over, then the hints it starts, and the screen has caught up."""
    await app.workers.wait_for_complete()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def labels(tree: FileTree) -> list[str]:
    """Every line of the tree as drawn, without the tree guides: `A name  notes  size  mode …`."""
    return [f"{MARKS[line.row.status]} {row_name(line.row)}  {row_notes(line.row)}" for line in tree.model.lines]


def names(tree: FileTree) -> set[str]:
    """The names of every line shown."""
    return {row_name(line.row) for line in tree.model.lines}


def top(tree: FileTree) -> set[str]:
    """Names of the top-level rows."""
    return {row_name(line.row) for line in tree.model.lines if line.depth == 0}


def cursor(app: LayerscopeApp) -> str | None:
    node = app.query_one(FileTree).cursor_path
    return node.path if node is not None else None


@run
async def test_layers_drive_the_tree(demo):
    app = LayerscopeApp(demo, display_name="demo", animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.loaded and app.error is None
        tree = app.query_one(FileTree)
        assert app.view.layer == 0
        assert {"bin/", "etc/", "usr/"} <= names(tree)
        table = app.query_one(LayerTable)
        assert table.row_count == 15  # 13 layers and 2 history-only steps (ENV, CMD)
        await pilot.press("j")  # the ENV step: details change, the tree does not
        assert app.view.layer == 0
        assert "ENV PATH" in str(app.query_one("#details-body").render())
        await pilot.press("j", "j", "j", "j")  # layer 4, the chmod layer
        await pilot.pause()
        assert app.view.layer == 4
        assert any(label.startswith("R model.bin") and "-rw-r--r--→-rw-------" in label for label in labels(tree))
        assert "bin/" not in names(tree)


@run
async def test_mode_sort_and_hide_unchanged(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.go_to_layer(7)
        await pilot.pause()
        tree = app.query_one(FileTree)
        assert "bin/" not in top(tree)
        await pilot.press("m")
        assert app.view.mode == MERGED
        assert {"bin/", "etc/", "app/", "var/"} <= top(tree)
        assert "merged" not in app.query_one("#files").border_title
        assert "filesystem at layer 7" in app.query_one("#files").border_title
        await pilot.press("s")
        assert app.view.sort == "size" and "by size" in app.query_one("#files").border_title
        assert labels(tree)[0].startswith("  app/")  # 3.1 MB, the largest directory
        await pilot.press("u")
        assert app.view.hide_unchanged and "bin/" not in top(tree)
        await pilot.press("m")
        assert app.view.mode == CHANGES


def tree_rows(tree: FileTree) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The paths in each expanded directory, in order, and the line drawn for every path shown."""
    children: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for index, line in enumerate(tree.model.lines):
        node = line.row.node
        children.setdefault(node.parent.path, []).append(node.path)
        labels[node.path] = tree.line_text(index).replace("▾", "▸")  # open or not, a view's own choice
    return children, labels


def one_change_at_a_time(*choices: tuple) -> list[tuple]:
    """Every combination of the choices, each differing from the one before in one place only."""
    if not choices:
        return [()]
    rest = one_change_at_a_time(*choices[1:])
    return [(value, *tail) for i, value in enumerate(choices[0]) for tail in (rest if i % 2 == 0 else rest[::-1])]


def visit(app: LayerscopeApp, mode: str, sort: str, hide: bool, layer: int) -> None:
    app.go_to_layer(layer)
    if app.view.mode != mode:
        app.action_toggle_mode()
    app.set_sort(sort)
    if app.view.hide_unchanged != hide:
        app.action_toggle_unchanged()


@run
async def test_views_shown_again_show_their_own_rows(demo):
    """Back and forth between layers, modes, sorts and hide-unchanged, every view shows the rows
    and labels a fresh app shows for it (nothing kept from another view)."""
    views = one_change_at_a_time((CHANGES, MERGED), (Sort.NAME, Sort.SIZE), (False, True), (1, 4, 7))
    seen = {}
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for before, view in itertools.pairwise(views):
            for state in (before, view, before, view):
                visit(app, *state)
            seen[view] = tree_rows(app.query_one(FileTree))
    fresh = LayerscopeApp(demo, animate=False)
    async with fresh.run_test(size=SIZE) as pilot:
        await settle(fresh, pilot)
        compared = 0
        for view in reversed(views[1:]):
            visit(fresh, *view)
            children, labels = tree_rows(fresh.query_one(FileTree))
            kept_children, kept_labels = seen[view]
            for directory in children.keys() & kept_children.keys():
                assert kept_children[directory] == children[directory], (view, directory)
            for path in labels.keys() & kept_labels.keys():
                assert kept_labels[path] == labels[path], (view, path)
                compared += 1
        assert compared > 100


@run
async def test_find_jumps_to_a_file(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        assert isinstance(app.screen, FindScreen)
        await pilot.press(*"model.bin")
        await pilot.pause()
        assert app.screen.query_one(OptionList).option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, FindScreen)
        # absent at layer 0: shown in the merged view of the last layer that has it
        assert (app.view.layer, app.view.mode) == (12, MERGED)
        assert cursor(app) == "app/model.bin"
        assert app.query_one(LayerTable).cursor_row == 13


@run
async def test_filter_narrows_the_tree(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f", *"guide-3", "enter")
        await pilot.pause()
        tree = app.query_one(FileTree)
        assert app.view.filter == "guide-3"
        assert names(tree) == {"usr/", "share/", "docs/", "guide-3.txt"}
        await pilot.press("f")
        assert app.view.filter is None and "etc/" in names(tree)
        await pilot.press("f", *"[bold]x[/]", "enter")  # user text in the pane title, never markup
        assert "\\[bold]x\\[/]" in app.query_one("#files").border_title  # the title as markup: escaped
        assert "No files changed in this layer match the filter" in str(app.query_one("#tree-note").render())


@run
async def test_waste_enter_shows_the_layer_that_hid_the_copy(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        assert app.query_one(TabbedContent).active == "waste"
        table = app.query_one("#waste-table", DataTable)
        assert table.row_count == 15
        await pilot.press("j", "enter")  # the package cache: stored in 1, deleted by 2
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "explorer"
        assert (app.view.layer, app.view.mode) == (2, CHANGES)
        assert cursor(app) == "var/cache/apk/APKINDEX.tar.gz"
        assert "D APKINDEX.tar.gz" in " ".join(labels(app.query_one(FileTree)))


@run
async def test_help_opens_and_closes(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("m")  # the main screen's keys rest under a modal
        assert app.view.mode == CHANGES
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark", "q")  # q quits from the help too
        assert app.return_code == 0


@run
async def test_history_of_a_path(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.show_path(app.image.fs.lookup("app/main.py"))
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert [row[0] for row in rows] == ["3", "7"]
        assert rows[0][1] == "A added" and rows[1][1] == "R metadata only"
        await pilot.press("escape")
        assert not isinstance(app.screen, HistoryScreen)


@run
async def test_the_history_of_a_directory_shows_its_total(demo):
    """A directory's size is the total below it at each layer, as the tree shows it, not 0 B."""
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        node = app.image.fs.lookup("app")
        app.show_path(node)
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen) and app.screen.node is node
        table = app.screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        sizes = [human_size(app.browser.size(node, int(row[0]))) for row in rows]
        assert [row[3] for row in rows] == sizes and "0 B" not in sizes, rows


@run
async def test_the_history_cuts_a_long_instruction_and_shows_it_whole_below(demo):
    """The history's instruction column fits the box (no sideways scrolling), ending in `…`
    where it is too narrow, and is fitted again on resize; the highlighted row's instruction
    is shown whole below the table."""
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.show_path(app.image.fs.lookup("app/main.py"))
        await pilot.press("h")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        whole = app.image.layers[7].instruction  # RUN ln /app/main.py /app/entry.py && ln -s …
        for width, cut in ((SIZE[0], True), (200, False), (SIZE[0], True)):
            await pilot.resize_terminal(width, SIZE[1])
            await pilot.pause()
            await pilot.pause()
            assert table.max_scroll_x == 0, width
            line = table.render_line(2).text.rstrip()  # the header, layer 3, layer 7
            assert line.startswith("     7 ") and line.endswith("…") == cut, (width, line)
            assert line.endswith(whole) != cut, (width, line)
        below = app.screen.query_one("#history-instruction")
        assert str(below.render()) == app.image.layers[3].instruction
        await pilot.press("down")
        await pilot.pause()
        assert str(below.render()) == whole


@run
async def test_the_history_scrolls_a_long_script_to_its_end(tmp_path):
    """A heredoc of 30 lines under the history table: its box scrolls to the last line."""
    script = "RUN /bin/sh -c set -e\n" + "\n".join(f"echo line {i}" for i in range(30)) + " # buildkit"
    spec = ImageSpec([Layer([F("etc/motd", b"hi")], created_by=script)])
    app = LayerscopeApp(str(write_docker_archive(spec, tmp_path / "long.tar")), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.show_path(app.image.fs.lookup("etc/motd"))
        await pilot.press("h")
        await pilot.pause()
        box = app.screen.query_one("#history-script")
        assert 0 < box.size.height < 31 < box.virtual_size.height + 1
        await pilot.press("tab", "end")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y > 0
        script_lines = str(app.screen.query_one("#history-instruction").render()).splitlines()
        assert len(script_lines) == 31 == box.max_scroll_y + box.size.height  # the last one in view


@run
async def test_a_long_instruction_is_cut_with_an_ellipsis(demo):
    """The instruction column fits the pane (the sizes never scroll away), and an instruction
    too long for it ends in `…`; after a resize too."""
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.query_one(LayerTable)
        for width in (SIZE[0], 160, 100):
            await pilot.resize_terminal(width, SIZE[1])
            await pilot.pause()
            await pilot.pause()
            assert table.max_scroll_x == 0, width
            lines = [table.render_line(y).text.rstrip() for y in range(table.size.height)]
            line = next(line for line in lines if line.startswith(" 1 "))  # layer 1: RUN apk add python3 # …
            assert line.endswith("…"), (width, line)


@run
async def test_the_details_show_a_heredoc_line_by_line(tmp_path):
    """`RUN <<EOF`: one line in the layer list, the script's own lines in the details, with
    tabs as spaces and control characters escaped."""
    spec = ImageSpec([Layer([F("etc/motd", b"hi")], created_by=HEREDOC)])
    app = LayerscopeApp(str(write_docker_archive(spec, tmp_path / "heredoc.tar")), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        details = str(app.query_one("#details-body").render()).splitlines()
        assert details[:3] == ["RUN set -e", "apt-get update", "        apt-get install -y curl\\x0d \\x1b[31m"]
        table = app.query_one(LayerTable)
        lines = [table.render_line(y).text.rstrip() for y in range(3)]
        assert any("RUN set -e apt-g" in line and line.endswith("…") for line in lines), lines
        assert table.max_scroll_x == 0  # fitted when the image was shown: no resize came after


@run
async def test_command_palette_goes_to_a_layer(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to layer 5")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.view.layer == 5
        await pilot.press("ctrl+p", *"show waste")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "waste"


@needs_shared
@run
async def test_file_names_are_shown_literally():
    app = LayerscopeApp(str(REAL / "small-bloat.oci-gzip.tar"), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.go_to_layer(4)
        app.show_path(app.image.fs.lookup("bloat/names/name with spaces.txt"), 4, CHANGES)
        await pilot.pause()
        shown = names(app.query_one(FileTree))
        assert "[bold red]not-bold.txt" in shown
        assert "[bold red]not-bold[/" in shown  # the tar path `…not-bold[/]` is a directory and a file "]"
        assert "[@click=app.quit]quit.txt" in shown
        assert "ansi-\\x1b[31mred\\x1b[0m.txt" in shown
        assert "latin1-caf\\xe9.txt" in shown
        assert "unicode-ü-日本.txt" in shown
        assert app.is_running


REAL_INPUTS = sorted(p.name for p in REAL.iterdir() if p.name.endswith((".tar", ".oci-dir"))) if REAL.is_dir() else []


@needs_shared
@pytest.mark.parametrize("name", REAL_INPUTS)
@run
async def test_loads_each_real_archive(name):
    app = LayerscopeApp(str(REAL / name), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.error is None
        assert app.image is not None and app.image.analysed
        assert app.query_one(LayerTable).row_count >= len(app.image.layers)
        if app.image.layers:
            await pilot.press("m", "e")  # merged view, everything open: no crash
            await pilot.pause()


@run
async def test_broken_input_shows_the_error(tmp_path):
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"this is not an image archive\n" * 100)
    app = LayerscopeApp(str(broken), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.error
        assert isinstance(app.screen, ErrorScreen)
        assert app.error in str(app.screen.query_one("#error-message").render())
        await pilot.press("q")
        assert app.return_code == 2  # (the command line checks the input first: see test_ui_first_use)


@run
async def test_corrupt_layer_shows_the_error_and_keeps_the_layers_below(demo, tmp_path):
    data = bytearray(Path(demo).read_bytes())
    with tarfile.open(demo) as archive:
        blob = max(archive.getmembers(), key=lambda m: m.size)  # layer 1, the package cache
    middle = blob.offset_data + blob.size // 2
    data[middle : middle + 64] = bytes(64)
    broken = tmp_path / "corrupt.tar"
    broken.write_bytes(bytes(data))
    app = LayerscopeApp(str(broken), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.error and isinstance(app.screen, ErrorScreen)
        await pilot.press("escape")
        assert 0 < app.stacked < len(app.image.layers) and not app.image.analysed
        app.go_to_layer(app.stacked)
        await pilot.pause()
        assert "not analysed" in str(app.query_one("#tree-note").render())


@run
async def test_gzip_compressed_archive_is_read_as_a_stream(demo, tmp_path):
    packed = tmp_path / "demo.tar.gz"
    packed.write_bytes(gzip.compress(Path(demo).read_bytes()))
    app = LayerscopeApp(str(packed), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.error is None and app.image.analysed
        assert app.query_one(LayerTable).row_count == 15
        assert {"bin/", "etc/", "usr/"} <= names(app.query_one(FileTree))


@run
async def test_fifo_input(demo, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as out:
            out.write(Path(demo).read_bytes())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    app = LayerscopeApp(str(fifo), display_name="-", animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.error is None and app.image.analysed
        assert app.query_one(LayerTable).row_count == 15
        assert app.sub_title == "-"
    writer.join(5)


@run
async def test_esc_while_reopening_keeps_the_former_image(demo, tmp_path):
    """Esc while another image opens in place of this one (here a pipe nobody writes yet): the
    image shown stays, and one line says so."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    app = LayerscopeApp(demo, display_name="demo", animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        image = app.image
        app.reopen(str(fifo), app.options, "pipe")
        await pilot.pause()
        try:
            assert app.image is image and app.status.display and not app.loaded
            await pilot.press("escape")
            assert app.is_running and app.image is image and app.loaded and app.path == demo
            assert not app.status.display and app.sub_title == "demo"
            assert [n.message for n in app._notifications][-1] == "Stopped opening pipe — still showing demo."  # noqa: SLF001
        finally:  # the stopped load, waiting for a writer, reads an empty pipe and ends
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        await settle(app, pilot)
        assert app.image is image and app.query_one(LayerTable).row_count == 15 and app.error is None


@run
async def test_large_image_is_read_by_worker_processes(tmp_path):
    """Past PARALLEL_MIN_BYTES the app reads layers in processes: they must start inside the app."""
    data = [random.Random(seed).randbytes(PARALLEL_MIN_BYTES // 2 + 1) for seed in (1, 2)]
    image = ImageSpec(
        layers=[Layer([F("a.bin", data[0])], compression="none"), Layer([F("a.bin", data[1])], compression="none")]
    )
    path = write_docker_archive(image, tmp_path / "big.tar")
    app = LayerscopeApp(str(path), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.error is None and app.image.analysed
        assert app.image.waste.wasted == len(data[0])
    assert not multiprocessing.active_children()


def test_display_name_escapes_what_a_terminal_would_act_on():
    assert display_name("[bold]x[/]") == "[bold]x[/]"  # markup is escaped by Text, not here
    assert display_name("a\x1b[31mb") == "a\\x1b[31mb"
    assert display_name("caf\udce9") == "caf\\xe9"
    assert display_name("line\nbreak\ttab\x7f") == "line\\x0abreak\\x09tab\\x7f"
    assert display_name("bidi\u202eevil") == "bidi\\u202eevil"
    assert display_name("unicode-ü-日本 ok") == "unicode-ü-日本 ok"


@run
async def test_details_list_the_hints_of_the_layer(demo):
    """Once worked out, the hints that involve the selected layer are in its details, and the
    tree marks the paths they cover."""
    app = LayerscopeApp(demo, display_name="demo", animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.hints is not None
        await pilot.press("j", "j", "j", "j", "j")  # layer 4, the chmod layer
        await pilot.pause()
        assert app.view.layer == 4
        details = str(app.query_one("#details-body").render())
        assert "involves this layer" in details and "re-stored for metadata:" in details
        assert "stored again by layer 4" in details
        # the tree marks the paths a hint covers, by the first hint's kind
        tree = app.query_one(FileTree)
        notes = {row_name(line.row): row_notes(line.row, app.browser, 4) for line in tree.model.lines}
        assert "hint: re-stored for metadata" in notes["model.bin"]
        assert "hint" not in notes["app/"]


@run
async def test_the_layer_details_group_the_thousands_of_a_layer_s_changes(tmp_path):
    """The details pane counts a layer's changes as the rest of the app does: `A 1,200 added`."""
    spec = ImageSpec([Layer([F(f"f{i}", b"x") for i in range(1200)])])
    app = LayerscopeApp(str(write_docker_archive(spec, tmp_path / "many.tar")), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        text = str(app.query_one("#details-body").render())
        assert "A 1,200 added" in text and "M 0 modified" in text
