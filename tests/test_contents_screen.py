"""The contents view: its model (present/contents.py) and the screen, driven by Pilot."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from textual.app import App

from explorer.analysis.image import Image as Model
from explorer.analysis.image import load
from explorer.present.contents import HEX_LIMIT, TEXT_LIMIT, file_contents, guess_lexer, hex_dump
from explorer.present.text import human_size
from explorer.tui.screens.contents import ContentLines, ContentsScreen, safe

from .imagebuilder import F, Image, Layer, whiteout, write_oci

BINARY = random.Random(3).randbytes(100_000)
BIG_TEXT = b"".join(b"line %06d of a long text file\n" % i for i in range(12_000))  # 384 kB


def _image() -> Image:
    return Image(
        [
            Layer(
                [
                    F("etc/app.conf", b"a = 1\nb = 2\nc = 3\n"),
                    F("bin/tool", BINARY, mode=0o755),
                    F("bin/run", b"#!/bin/sh\necho \x1b[31mred\n"),
                    F("bin/run-link", kind="symlink", link="run"),
                    F("big.txt", BIG_TEXT),
                    F("gone", b"soon deleted\n"),
                ],
                created_by="ADD base",
            ),
            Layer([F("etc/app.conf", b"a = 1\nb = 20\nc = 3\n"), whiteout("gone")], created_by="RUN edit"),
        ]
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Model:
    image = load(str(write_oci(_image(), tmp_path_factory.mktemp("screen") / "i.tar")))
    yield image
    image.close()


def test_model(model):
    fs = model.fs
    conf = file_contents(model, fs.lookup("etc/app.conf"), 1)
    assert conf.status == "modified" and conf.data == b"a = 1\nb = 20\nc = 3\n" and not conf.binary
    assert conf.diff[2:] == ["@@ -1,3 +1,3 @@", " a = 1", "-b = 2", "+b = 20", " c = 3"]
    assert file_contents(model, fs.lookup("etc/app.conf"), 0).diff is None
    tool = file_contents(model, fs.lookup("bin/tool"), 1)
    assert tool.binary and tool.data == BINARY[:HEX_LIMIT] and tool.truncated and tool.size == 100_000
    big = file_contents(model, fs.lookup("big.txt"), 1)
    assert len(big.data) == TEXT_LIMIT and big.notes == [
        f"showing the first {human_size(TEXT_LIMIT)} of {human_size(len(BIG_TEXT))}"
    ]
    gone = file_contents(model, fs.lookup("gone"), 1)
    assert gone.status == "deleted" and gone.data == b"soon deleted\n"
    assert gone.facts[0] == ("deleted", "by layer 1; its last version is shown")
    link = dict(file_contents(model, fs.lookup("bin/run-link"), 1).facts)
    assert link["target"] == "run" and link["resolves to"] == "/bin/run"
    assert file_contents(model, fs.lookup("bin/run-link"), 1).data is None
    assert file_contents(model, fs.lookup("etc"), 1).notes == ["a directory: its contents are in the tree"]


def test_lexers_and_hex():
    assert guess_lexer("build/Dockerfile", b"FROM x\n") == "docker"
    assert guess_lexer("usr/bin/start", b"#!/usr/bin/env python3\nprint()\n") == "python"
    assert guess_lexer("entry", b"#!/bin/sh\n") == "bash"
    assert guess_lexer("etc/nginx/nginx.conf", b"server {}\n") == "nginx"
    assert guess_lexer("x.json", b"{}") == "json"
    assert hex_dump(b"\x7fELF" + bytes(range(20))) == [
        "00000000  7f 45 4c 46 00 01 02 03  04 05 06 07 08 09 0a 0b  |.ELF............|",
        "00000010  0c 0d 0e 0f 10 11 12 13                           |........|",
    ]
    assert safe("a\x1b[31m\u202eb\r\n") == "a\u241b[31m\ufffdb\n"


class Host(App):
    def __init__(self, screen: ContentsScreen) -> None:
        super().__init__()
        self.contents_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.contents_screen)


async def _open(model: Model, path: str, layer: int):
    screen = ContentsScreen(model, model.fs.lookup(path), layer)
    app = Host(screen)
    return app, screen


def _text(screen: ContentsScreen) -> list[str]:
    return [strip.text for strip in screen.query_one(ContentLines).lines]


def _run(coro) -> None:
    asyncio.run(coro)


def test_screen_diff_toggle_and_close(model):
    async def go():
        app, screen = await _open(model, "etc/app.conf", 1)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert screen.showing == "diff" and "+b = 20" in _text(screen)
            await pilot.press("t")
            assert _text(screen) == ["1 │ a = 1", "2 │ b = 20", "3 │ c = 3"]
            facts = str(screen.query_one("#contents-facts").render())
            assert "from layer: 1: RUN edit" in facts and "(t: switch)" in facts
            await pilot.press("escape")
            assert app.screen is not screen

    _run(go())


def test_screen_binary_large_and_escapes(model):
    async def go():
        for path, check in (
            ("bin/tool", lambda lines: lines[0].startswith("00000000  ") and len(lines) == HEX_LIMIT // 16),
            ("big.txt", lambda lines: len(lines) == TEXT_LIMIT // 32),
            ("bin/run", lambda lines: lines[1] == "2 │ echo \u241b[31mred" and "\x1b" not in "".join(lines)),
        ):
            app, screen = await _open(model, path, 1)
            async with app.run_test(size=(100, 30)) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert check(_text(screen)), (path, _text(screen)[:3])
                if path != "bin/run":
                    await pilot.press("j", "j", "end")
                    assert screen.query_one(ContentLines).scroll_offset.y > 0

    _run(go())


def test_screen_on_a_one_pass_archive(tmp_path):
    path = write_oci(_image(), tmp_path / "i.tar.gz", outer_gzip=True)
    model = load(str(path))

    async def go():
        app, screen = await _open(model, "etc/app.conf", 1)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "save it to a file first" in str(screen.query_one("#contents-facts").render())

    _run(go())
    assert Path(path).exists()


def test_screen_closed_while_reading(model):
    async def go():
        app, screen = await _open(model, "big.txt", 1)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("escape")  # before the worker is done
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen is not screen and app.is_running

    _run(go())


def test_v_in_the_app(demo_archive):
    """`v` on a file of the demo image opens its contents as of the layer the tree shows."""
    from explorer.tui.app import LayerscopeApp

    async def go():
        app = LayerscopeApp(demo_archive, animate=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.show_path(app.image.fs.lookup("app/main.py"))
            await pilot.pause()
            await pilot.press("v")
            assert isinstance(app.screen, ContentsScreen)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.node.path == "app/main.py" and _text(app.screen)
            await pilot.press("escape")
            assert not isinstance(app.screen, ContentsScreen)
            await pilot.press("2", "v")  # not on the explorer tab: a note, no screen
            assert not isinstance(app.screen, ContentsScreen)
            await pilot.press("1")
            app.file_tree.focus()
            await pilot.pause()
            await pilot.press("enter")  # Enter on a file: its contents too
            assert isinstance(app.screen, ContentsScreen) and app.screen.node.path == "app/main.py"
            await app.workers.wait_for_complete()
            await pilot.press("escape")
            app.show_path(app.image.fs.lookup("app"))
            await pilot.pause()
            opened = app.file_tree.model.is_open(app.file_tree.cursor)
            await pilot.press("enter")  # on a directory: it opens or closes, as before
            assert not isinstance(app.screen, ContentsScreen)
            assert app.file_tree.model.is_open(app.file_tree.cursor) != opened

    _run(go())


def test_reading_reports_how_far_into_the_blob(tmp_path):
    """A file at the end of a single-frame zstd layer is reached by reading the blob from its
    start: the progress goes to the blob's end; an exception from it stops the reading."""
    files = [F(f"f{i}", random.Random(i).randbytes(200_000)) for i in range(10)]
    model = load(str(write_oci(Image([Layer(files, compression="zstd")]), tmp_path / "z.tar")))
    seen: list[tuple[int, int]] = []
    contents = file_contents(model, model.fs.lookup("f9"), 0, lambda done, size: seen.append((done, size)))
    size = model.layers[0].blob_size
    assert contents.size == 200_000 and seen[-1][0] == size and {s for _, s in seen} == {size}
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 1

    def stop(done: int, size: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        file_contents(model, model.fs.lookup("f9"), 0, stop)
    model.close()
