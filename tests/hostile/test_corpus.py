"""The hostile corpus through the CLI, and the names cases through the app.

For every case (see corpus.py): the exact outcome (exit 2 and one "layerscope: " line naming
the problem, or exit 0 with the right partial view and warnings), no traceback, done within
the case's timeout, peak RSS under its bound (address space limited too), the input
byte-identical with the same mtime, nothing written to the working directory, and no
control character from the archive on stdout or in the error line (NO_COLOR=1 and a pipe:
Rich's own styling is off, so stdout must hold no ESC at all).

The cases run up front, in parallel subprocesses, from one session fixture; each test then
checks its case. LAYERSCOPE_FULL_BOMBS=1 runs the bombs at full size.
"""

from __future__ import annotations

import asyncio
import html
import io
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile import corpus

WORKERS = 3  # subprocesses at once (2 cores; each run is mostly a short Python start)


def _param(c: corpus.Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else []
    return pytest.param(c, id=c.name, marks=marks)


@pytest.fixture(scope="session")
def corpus_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """Build and run every selected case, in parallel; name -> future of its Outcome."""
    wanted: dict[str, corpus.Case] = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        c = params.get("case")
        if isinstance(c, corpus.Case) and item.name.startswith("test_case["):
            wanted[c.name] = c
    workdir = tmp_path_factory.mktemp("hostile")
    # slow ones first, so they overlap with the many quick ones
    order = sorted(wanted.values(), key=lambda c: (not c.bomb, c.name))
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {c.name: pool.submit(corpus.run_case, c, workdir, corpus.FULL) for c in order}
    return futures


def test_corpus_is_complete() -> None:
    names = [c.name for c in corpus.CASES]
    assert len(names) == len(set(names)), "case names are unique"
    assert len(names) >= 40
    for c in corpus.CASES:
        assert c.exit in (0, 2)
        assert (c.error is not None) == (c.exit == 2), c.name
        assert c.bug is None or c.bug.startswith("BUG: "), c.name


@pytest.mark.parametrize("case", [_param(c) for c in corpus.CASES])
def test_case(case: corpus.Case, corpus_runs: dict[str, Future]) -> None:
    corpus.check_outcome(corpus_runs[case.name].result(), corpus.FULL)


# --------------------------------------------------------------------------- the app

_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _make_app():  # noqa: ANN202
    try:
        from explorer.tui.app import LayerscopeApp
    except Exception as exc:  # the UI is written elsewhere; its absence is not this suite's failure
        pytest.skip(f"explorer.tui.app.LayerscopeApp is not importable ({exc!r}): app checks skipped")
    return LayerscopeApp


def _screen_text(app: object) -> str:
    """The screen as plain text, one line per row (what export_screenshot draws, without the SVG)."""
    from rich.console import Console

    width, height = app.size  # type: ignore[attr-defined]
    try:
        console = Console(
            width=width,
            height=height,
            file=io.StringIO(),
            force_terminal=True,
            color_system="truecolor",
            record=True,
            legacy_windows=False,
            safe_box=False,
        )
        update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)  # type: ignore[attr-defined]
        console.print(update)
        return console.export_text(styles=False)
    except AttributeError:  # Textual internals moved: fall back to the SVG's text
        svg = app.export_screenshot()  # type: ignore[attr-defined]
        return "\n".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)).replace("\xa0", " ")


async def _drive(make_app, image: Path, texts: tuple[str, ...]) -> tuple[str, bool, int]:  # noqa: ANN001
    app = make_app(str(image), animate=False)
    clicks = 0
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        screen = _screen_text(app)
        # click each name where it is drawn: were it markup, its @click action would run now
        for needle in texts:
            for y, line in enumerate(screen.splitlines()):
                x = line.find(needle)
                if x >= 0:
                    await pilot.click(offset=(x + min(3, len(needle) - 1), y))
                    await pilot.pause()
                    clicks += 1
        running = app.is_running and app.return_code is None
    return screen, running, clicks


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in corpus.CASES if c.app])
def test_app_shows_names_escaped(case: corpus.Case, tmp_path: Path) -> None:
    make_app = _make_app()
    image = case.build(tmp_path, False)
    before = corpus.fingerprint(image)
    screen, running, clicks = asyncio.run(asyncio.wait_for(_drive(make_app, image, case.app), 60))
    assert running, "the app quit (a name was taken as markup?)"
    for text in case.app:
        assert text in screen, f"{text!r} not shown literally; the screen:\n{screen}"
    assert clicks >= len(case.app)
    bad = _CONTROL.search(screen.replace("\n", ""))
    assert not bad, f"control character {bad.group()!r} on the screen"
    assert corpus.fingerprint(image) == before
