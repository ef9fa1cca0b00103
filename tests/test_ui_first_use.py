"""What a first-time user met (issue 17): stdin redirects, failed opens, resizes, progress, and
keys that must act on what their own tab shows."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import DataTable, Label, TabbedContent

from explorer.analysis import packages
from explorer.cli import main
from explorer.tui.app import LayerscopeApp
from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.loading import ErrorScreen
from explorer.tui.widgets.filetree import FileTree

from .conftest import REAL, needs_shared
from .test_ui_pilot import SIZE, run, settle


def test_stdin_redirected_from_a_file_is_read_by_its_path(demo):
    """`layerscope - < FILE`: worker processes open the file itself, not our /dev/fd/N."""
    code = "from explorer.cli import _stdin_file; print(_stdin_file())"
    with open(demo, "rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(Path(demo).resolve())
    piped = subprocess.run(
        [sys.executable, "-c", code], input="", capture_output=True, text=True, check=True
    )  # a pipe stays a stream
    assert piped.stdout.strip() == "None"


@pytest.mark.parametrize("kind", ["missing", "text file", "directory"])
def test_an_input_that_is_no_image_fails_before_the_app(tmp_path, capsys, kind):
    path = tmp_path / "input"
    if kind == "text file":
        path.write_text("not an image\n" * 100)
    elif kind == "directory":
        path.mkdir()
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"layerscope: {path}: ") and err.count("\n") == 1


def corrupt_copy(demo: str, tmp_path: Path) -> Path:
    """The demo with layer 1's blob (the largest) corrupted in the middle."""
    data = bytearray(Path(demo).read_bytes())
    with tarfile.open(demo) as archive:
        blob = max(archive.getmembers(), key=lambda m: m.size)
    middle = blob.offset_data + blob.size // 2
    data[middle : middle + 64] = bytes(64)
    broken = tmp_path / "corrupt.tar"
    broken.write_bytes(bytes(data))
    return broken


@run
async def test_a_failed_layer_is_named_and_the_app_says_what_stopped(demo, tmp_path):
    app = LayerscopeApp(str(corrupt_copy(demo, tmp_path)), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert app.screen.title_text == "Cannot read layer 1"
        await pilot.press("escape", "3")
        summary = str(app.query_one("#summary-body").render())
        assert "Analysis stopped: layer 1 could not be read; layer 0 is shown." in summary
        assert "Analysing layers" not in summary
        await pilot.press("1")
        app.view = replace(app.view, layer=1)
        await pilot.pause()
        assert "; could not be read" in str(app.query_one("#details-body").render())
        assert "layer 1 could not be read" in str(app.query_one("#waste-hint").render())
        await pilot.press("q")
    assert app.return_code == 2  # a failure found after the start exits non-zero


@run
async def test_the_layout_follows_each_resize_at_once(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not app.has_class("-narrow")
        for width, narrow in [(80, True), (40, True), (200, False), (99, True), (100, False)]:
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            assert app.has_class("-narrow") == narrow, width


@run
async def test_a_resize_keeps_the_cursor_on_its_row_in_the_waste_and_largest_tabs(demo):
    """Their paths are cut again to the new width; the row a user was on stays the one selected."""
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for tab, table_id in (("2", "#waste-table"), ("5", "#largest-table")):
            await pilot.press(tab, "j", "j")
            table = app.query_one(table_id, DataTable)
            assert table.cursor_row == 2
            await pilot.resize_terminal(SIZE[0] - 30, SIZE[1])
            await pilot.pause()
            assert table.cursor_row == 2, table_id
            await pilot.resize_terminal(*SIZE)
            await pilot.pause()


@run
async def test_h_on_the_waste_tab_shows_the_history_of_the_waste_row(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "j", "h")
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.node.path == app.query_one("#waste-table", DataTable).get_row_at(1)[4].plain
        assert app.screen.node.path == "var/cache/apk/APKINDEX.tar.gz"


@run
async def test_progress_counts_layers_as_the_rows_do(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.status.analysing(5, 13, 10_000, 20_000)
        assert str(app.query_one("#status-text", Label).render()) == (
            "Analysing layers 0–4 of 0–12 done · 10.0 kB of 20.0 kB read · Esc stops"
        )


@run
async def test_d_hides_the_details_on_a_wide_terminal_and_m_stays_on_the_explorer(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        details = app.query_one("#details")
        assert details.display
        await pilot.press("d")
        await pilot.pause()
        assert not details.display and app.query_one("#layers").display
        await pilot.press("d", "3", "m")
        assert app.query_one(TabbedContent).active == "summary"
        assert app.view.mode == "changes"  # not changed out of sight
        await pilot.press("1", "m")
        assert app.view.mode == "merged"


@run
async def test_a_filter_with_no_match_here_says_where_there_are(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f", *"main.py", "enter")
        await pilot.pause()
        note = str(app.query_one("#tree-note").render())
        assert "No files changed in this layer match the filter (1 of the last layer do; f clears it)." in note
        await pilot.press("f", "f", *"no-such-path", "enter")
        await pilot.pause()
        assert "nor does any of the last layer" in str(app.query_one("#tree-note").render())


def test_find_sorts_by_path_components(tmp_path):
    from explorer.analysis.image import Image
    from explorer.present.browse import Browser

    from .imagebuilder import F, Layer, write_docker_archive
    from .imagebuilder import Image as ImageSpec

    files = [F("doc-base/x", b"1"), F("doc/README", b"2"), F("doc/a/b", b"3")]
    image = Image.open(str(write_docker_archive(ImageSpec(layers=[Layer(files)]), tmp_path / "i.tar")))
    image.analyse()
    found = [node.path for node in Browser(image.fs).search("doc")]
    assert found == ["doc", "doc/README", "doc/a", "doc/a/b", "doc-base", "doc-base/x"]


@run
async def test_the_palette_lists_the_apps_commands_before_textuals(demo):
    from textual.command import CommandList

    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for query in ("", "m"):  # Textual's "Keys" and "Maximize" would come first
            await pilot.press("ctrl+p", *query)
            await pilot.pause(0.5)
            hits = app.screen.query_one(CommandList)
            assert str(hits.get_option_at_index(0).prompt).split("\n")[0] == "Toggle mode", query
            await pilot.press("escape")
            await pilot.pause()


@run
async def test_the_palette_shows_every_tab(demo):
    """Each tab a key shows (1–8) has its command in the palette; Compare once it exists."""
    from functools import partial

    from explorer.tui.commands import LayerscopeCommands

    def panes() -> set[str]:
        commands = LayerscopeCommands(app.screen)._commands(layers=False)  # noqa: SLF001
        return {c.args[0] for _, _, c in commands if isinstance(c, partial) and c.func == app.action_view}

    tabs = {b.action.split("'")[1] for b in LayerscopeApp.BINDINGS if b.action.startswith("view(")}
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert panes() == tabs - {"compare"}
        await app.start_compare(demo)
        assert panes() == tabs


def test_long_paths_are_cut_in_the_middle_keeping_the_file_name():
    from explorer.present.text import middle_cut

    path = "usr/share/docs/some/deep/dir/guide-5.txt"
    assert middle_cut(path, len(path)) == path
    assert middle_cut(path, 23) == "usr/share/…/guide-5.txt"
    assert middle_cut(path, 12) == "…guide-5.txt"
    assert all(len(middle_cut(path, width)) <= width for width in range(1, 50))


@run
async def test_an_opaque_directory_is_a_change_of_its_own(tmp_path):
    """`rm -rf dir && mkdir dir` in an overlay build: an opaque marker, shown as what it hid."""
    from .imagebuilder import F, Layer, opaque, write_docker_archive
    from .imagebuilder import Image as ImageSpec

    lower = Layer([F("d/", kind="dir"), F("d/a", b"1" * 100), F("d/b", b"2" * 50)])
    upper = Layer([F("d/", kind="dir"), opaque("d"), F("d/new", b"3")])
    path = write_docker_archive(ImageSpec(layers=[lower, upper]), tmp_path / "opaque.tar")
    app = LayerscopeApp(str(path), animate=False)
    async with app.run_test(size=(160, 36)) as pilot:
        await settle(app, pilot)
        app.go_to_layer(1)
        await pilot.pause()
        tree = app.query_one(FileTree)
        assert "opaque: hides 2 lower entries, 150 B" in tree.line_text(0)
        assert tree.line_text(0).startswith("O ▾ d/")  # its own marker, not the entry's `M`
        assert tree.line_text(1).startswith("D ├   a  by the opaque marker of /d/")
        tree.focus()
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert ["1", "O opaque"] in [row[:2] for row in rows]
        assert any("opaque: hides 2 lower entries, 150 B" in row[4] for row in rows)


def test_each_deletion_names_its_mechanism(demo):
    from explorer.analysis.image import Image
    from explorer.present.browse import Browser

    image = Image.open(demo)
    image.analyse()
    browser = Browser(image.fs)
    cache = image.fs.lookup("var/cache/apk/APKINDEX.tar.gz")
    assert browser.deleted_by(cache, 2) == "by the whiteout .wh.apk"
    assert browser.deleted_by(image.fs.lookup("usr/share/docs/guide-0.txt"), 6) == (
        "by the opaque marker of /usr/share/docs/"
    )
    assert browser.deleted_by(cache, 1) is None  # layer 1 stored it


def test_a_report_piped_to_a_file_does_not_split_paths(tmp_path, capsys):
    from .imagebuilder import F, Layer, whiteout, write_docker_archive
    from .imagebuilder import Image as ImageSpec

    long = "deep/" * 20 + "name-of-a-file.bin"
    image = ImageSpec(layers=[Layer([F(long, b"x" * 1000)]), Layer([whiteout(long)])])
    path = write_docker_archive(image, tmp_path / "long.tar")
    assert main(["report", str(path)]) == 0
    assert "/" + long in capsys.readouterr().out


@needs_shared
@run
async def test_the_summary_names_the_other_platforms_of_the_archive():
    app = LayerscopeApp(str(REAL / "multi.oci-index.tar"), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        summary = str(app.query_one("#summary-body").render())
        others = [p for p in app.summary.platforms if p != app.image.platform]
        assert others and f"also in the archive: {', '.join(others)}" in summary


def held_at(monkeypatch, method: str, when, then=None) -> tuple[threading.Event, threading.Event]:
    """Hold the loading thread in `Image.<method>` (when `when(args)`) until the test lets it go,
    then call `then(kwargs)` if given: (reached, go)."""
    from explorer.analysis.image import Image

    reached, go = threading.Event(), threading.Event()
    original = getattr(Image, method)

    def held(*args, **kwargs):
        if when(args, kwargs):
            reached.set()
            go.wait(20)
            if then is not None:
                then(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(Image, method, held)
    return reached, go


async def until(pilot, condition, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out")


@run
async def test_esc_stops_loading_keeps_what_is_analysed_and_ends_the_workers(tmp_path, monkeypatch):
    """Esc while layer 1 is about to be stacked: layer 0 stays browsable, the rest say they were
    not read, every worker process has ended, and `q` exits 0 (the user chose this)."""
    from explorer.archive.pool import ScanPool, worker_count

    from .imagebuilder import F, Layer, write_docker_archive
    from .imagebuilder import Image as ImageSpec

    big = [Layer([F(f"big{i}", bytes(range(256)) * 40_000)], compression="none") for i in range(2)]
    path = write_docker_archive(ImageSpec(layers=[Layer([F("etc/hostname", b"box\n")]), *big]), tmp_path / "i.tar")
    reached, go = held_at(monkeypatch, "stack_steps", lambda args, _: args[1] == 1)
    pool = ScanPool()
    app = LayerscopeApp(str(path), pool=pool, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, reached.is_set)
        workers = list(pool.processes)  # scanning in worker processes: they must not outlive the stop
        assert workers or worker_count() < 2
        await pilot.press("escape")
        assert "Stopping" in str(app.query_one("#status-text", Label).render())
        go.set()
        await until(pilot, lambda: app.stopped)
        await pilot.pause()
        assert app.loaded and not isinstance(app.screen, ErrorScreen)
        assert all(proc.poll() is not None for proc in workers) and pool.processes == []
        assert not app.status.display
        sizes = [str(app.query_one("#layers", DataTable).get_row_at(n)[1]) for n in range(3)]
        assert sizes[0] != "stopped" and sizes[1:] == ["stopped", "stopped"]
        await pilot.press("3")
        summary = str(app.query_one("#summary-body").render())
        assert "Loading stopped (Esc): layer 0 is shown; layers 1–2 were not read." in summary
        await pilot.press("1")
        app.view = replace(app.view, layer=0)
        await pilot.pause()
        lines = [app.query_one(FileTree).line_text(i).split()[:3] for i in range(2)]
        assert lines == [["A", "▾", "etc/"], ["A", "└", "hostname"]]
        app.view = replace(app.view, layer=2)
        await pilot.pause()
        assert str(app.query_one("#tree-note").render()) == "Layer not read (loading stopped; ctrl+p Reload reads it)."
        details = str(app.query_one("#details-body").render())
        assert "not read: loading was stopped (Esc); ctrl+p Reload reads the image again" in details, details
        await pilot.press("escape")  # loading is over: Esc does nothing more
        assert app.is_running
        await pilot.press("ctrl+p", *"reload")
        await pilot.pause(0.3)
        await pilot.press("enter")  # the palette's Reload: every layer read this time
        await until(pilot, lambda: app.loaded)
        await settle(app, pilot)
        assert not app.stopped and app.stacked == 3 and app.image.analysed
        await pilot.press("q")
    assert app.return_code == 0


def test_a_layer_not_read_says_why_and_how_to_read_it():
    from explorer.tui.app import unread_note

    assert unread_note(2, stopped=False, failed=None, reopenable=True) == "not analysed yet"
    assert unread_note(2, stopped=True, failed=None, reopenable=False).endswith("from a stream: run layerscope again")
    assert unread_note(1, stopped=False, failed=1, reopenable=True) == "could not be read"
    assert unread_note(2, stopped=False, failed=1, reopenable=True) == "not read: layer 1 could not be read"


@run
async def test_esc_before_the_image_is_read_ends_the_app(demo, monkeypatch):
    """Nothing to show yet (a slow stream or download): Esc ends the app, as Ctrl-C would."""
    reached, go = held_at(monkeypatch, "open", lambda *_: True, lambda kwargs: kwargs["on_read"](1 << 20))
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, reached.is_set)
        await pilot.press("escape")
        go.set()
        await pilot.pause()
    assert app.return_code == 130


@needs_shared
@run
async def test_switch_platform_in_the_palette_opens_the_other_image():
    """A real 3-platform OCI index: the palette offers the other two platforms, and one opens in
    place of the first, with its own layers, files and summary."""
    from textual.command import CommandList

    app = LayerscopeApp(str(REAL / "multi.oci-index.tar"), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        first = app.image.platform
        others = [p for p in app.summary.platforms if p != first]
        assert len(others) == 2
        await pilot.press("ctrl+p", *"switch")
        await pilot.pause(0.5)
        hits = app.screen.query_one(CommandList)
        prompts = [str(hits.get_option_at_index(i).prompt).split("\n")[0] for i in range(hits.option_count)]
        assert prompts[:2] == [f"Switch platform to {p}" for p in others]
        await pilot.press("enter")
        await until(pilot, lambda: app.loaded)
        await settle(app, pilot)
        assert app.image.platform == others[0] and app.error is None
        assert app.options.platform == others[0]
        await pilot.press("3")
        summary = str(app.query_one("#summary-body").render())
        assert f"platform    {others[0]}" in summary
        assert f"also in the archive: {', '.join(p for p in app.summary.platforms if p != others[0])}" in summary
        await pilot.press("1")
        assert app.view.layer == 0 and app.query_one(FileTree).line_count > 0


@run
async def test_a_second_switch_replaces_a_load_still_going(tmp_path, monkeypatch):
    """Switching again while the first switch is still opening its image: only the last one is
    shown, even when the replaced load goes on and finishes opening after it."""
    from .imagebuilder import F, Layer, write_oci
    from .imagebuilder import Image as ImageSpec

    def arch(name: str, variant: str | None = None) -> ImageSpec:
        files = [F("etc/arch", name.encode()), *(F(f"usr/{name}/{i}", b"x" * i) for i in range(300))]
        return ImageSpec([Layer(files)], architecture=name, variant=variant)

    path = write_oci([arch("amd64"), arch("arm64", "v8"), arch("s390x")], tmp_path / "index.tar")
    reached, go = held_at(monkeypatch, "open", lambda args, _: args[1].platform == "linux/arm64/v8")
    app = LayerscopeApp(str(path), animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.image.platform == "linux/amd64"
        app.switch_platform("linux/arm64/v8")
        await until(pilot, reached.is_set)  # its thread is opening the image
        app.switch_platform("linux/s390x")
        await until(pilot, lambda: app.loaded)
        go.set()  # the replaced load opens its image now, and asks the app to show it
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert app.image.platform == "linux/s390x" and app.error is None and not app.stopped
        assert app.image.fs.lookup("usr/s390x") is not None and app.image.fs.lookup("usr/arm64") is None
        assert app.stacked == 1 and app.view.layer == 0
        tree = app.query_one(FileTree)
        assert any("s390x/" in tree.line_text(i) for i in range(tree.line_count))


@run
async def test_a_switch_redraws_the_stack_and_compares_the_new_image(tmp_path):
    """After a platform switch the Stack tab (its bars and the read path typed there) and the
    Compare tab are of the image now open, not of the one it replaced; the tab shown stays."""
    from .imagebuilder import F, Layer, write_oci
    from .imagebuilder import Image as ImageSpec

    def arch(name: str, variant: str | None = None) -> ImageSpec:
        files = [F("etc/arch", name.encode() * 10), F(f"usr/{name}", b"x")]
        return ImageSpec([Layer([F("etc/base", b"b")]), Layer(files)], architecture=name, variant=variant)

    path = write_oci([arch("amd64"), arch("arm64", "v8")], tmp_path / "index.tar")
    other = write_oci(ImageSpec([Layer([F("etc/base", b"b")])]), tmp_path / "other.tar")
    app = LayerscopeApp(str(path), animate=False, compare=str(other))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await until(pilot, lambda: app.compare_image is not None)
        await pilot.press("7")
        app.stack_view.pick(app.image.fs.lookup("etc/arch"))
        await pilot.pause()
        app.switch_platform("linux/arm64/v8")
        await until(pilot, lambda: app.loaded)
        await settle(app, pilot)
        await until(pilot, lambda: app.compare_image is not None)
        await pilot.pause()
        assert app.image.platform == "linux/arm64/v8" and app.query_one(TabbedContent).active == "stack"
        stack = app.stack_view
        assert stack.image is app.image and stack.node is app.image.fs.lookup("etc/arch")
        assert stack.read is not None and stack.read.path == "/etc/arch" and stack.path_input.value == "/etc/arch"
        assert "usr/arm64" in {e.path for entries in app.compare_tab.view.children.values() for e in entries}
        assert "usr/amd64" not in {e.path for entries in app.compare_tab.view.children.values() for e in entries}


@run
async def test_the_tree_keeps_the_same_columns_on_every_row(tmp_path):
    """At 80 columns the time column does not fit; a directory no entry names has a short time
    (`—`), which must not bring the column back for its row alone (it shifted the size)."""
    from .imagebuilder import F, Layer, write_docker_archive
    from .imagebuilder import Image as ImageSpec

    files = [F("etc/", kind="dir"), F("etc/passwd", b"root\n"), F("usr/bin/tool", b"x" * 900)]  # no usr/ entry
    app = LayerscopeApp(str(write_docker_archive(ImageSpec(layers=[Layer(files)]), tmp_path / "i.tar")), animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        tree = app.query_one(FileTree)
        lines = [tree.line_text(i) for i in range(tree.line_count)]
        assert "usr/" in lines[2].split()
        modes = {re.search(r"  [-dl][-rwx]{9}", line).start() for line in lines}  # where each mode starts
        assert len(modes) == 1, lines
        assert not any(line.endswith("—") for line in lines)


@run
async def test_home_and_end_go_to_the_first_and_last_row_of_every_table(demo):
    """DataTable's own Home/End scroll sideways: in the layer list End hid the columns and the
    header and left the layer where it was."""
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("end")
        await pilot.pause()
        assert app.view.layer == len(app.image.layers) - 1 and app.layers.scroll_offset.x == 0
        await pilot.press("home")
        await pilot.pause()
        assert app.view.layer == 0
        tables = {"2": "#waste-table", "4": "#hints-table", "5": "#largest-table", "6": "#packages-table"}
        for key, table in tables.items():
            await pilot.press(key)
            await pilot.pause()
            found = app.query_one(table, DataTable)
            assert app.focused is found, key
            await pilot.press("end")
            await pilot.pause()
            assert found.cursor_row == found.row_count - 1 and found.scroll_offset.x == 0, key
            await pilot.press("home")
            assert found.cursor_row == 0, key


@run
async def test_a_platform_named_by_the_archive_is_shown_escaped(demo):
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.switch_platform("linux/\x1b[2Jarm")
        await pilot.pause()
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert "Opening linux/\\x1b[2Jarm…" in said and not any("\x1b" in m for m in said)


@run
async def test_letters_typed_right_after_slash_reach_the_find_box(demo):
    """On a busy machine the keys after `/` are queued on the widget below before the find box
    is up: they were lost (or could have acted on the explorer). They are the query."""
    from textual import events

    from explorer.tui.screens.find import FindScreen

    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = app.view
        for key, character in [("slash", "/"), *((c, c) for c in "model")]:
            app.post_message(events.Key(key, character))  # all queued at once, as a busy machine delivers them
        await pilot.pause(0.5)
        assert isinstance(app.screen, FindScreen) and app.screen.query_one("#find-input").value == "model"
        assert app.view == view


@run
async def test_the_status_says_the_hints_and_packages_are_being_worked_out(demo, monkeypatch):
    """Every layer shown, the hints (and the packages they need) not yet: the status and the
    views that need them say they are coming, not that a layer is still to be analysed."""
    reached, go = threading.Event(), threading.Event()
    find = packages.find_packages

    def held(image):
        reached.set()
        go.wait(20)
        return find(image)

    monkeypatch.setattr(packages, "find_packages", held)  # what the hints and the Packages tab wait for
    app = LayerscopeApp(demo, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, reached.is_set)
        await pilot.pause()
        assert app.loaded and app.status.display
        assert "working out the hints and packages" in str(app.status.query_one("#status-text").render())
        assert str(app.query_one("#hints-note").render()) == "Working out the hints…"
        assert str(app.query_one("#packages-hint").render()) == "Working out the packages…"
        go.set()
        await settle(app, pilot)
        assert not app.status.display and app.hints is not None
        assert "Working out" not in str(app.query_one("#packages-hint").render())
