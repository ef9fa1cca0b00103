"""The union read path (analysis), the Stack view's words and bars (present), the Stack tab
driven by Pilot on builder images, and the demo's two tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.widgets import TabbedContent

from explorer.analysis import load
from explorer.analysis.compare import match_layers
from explorer.analysis.filesystem import ADDED, MODIFIED, RESTORED, TYPE_CHANGED
from explorer.analysis.readpath import (
    BELOW,
    GONE,
    OPAQUE,
    PARENT_DELETED,
    PARENT_REPLACED,
    UNDER_OPAQUE,
    WHITEOUT,
    WINS,
    hidden_bytes,
    read_path,
)
from explorer.analysis.waste import compute_waste
from explorer.demo import V1, V2, demo_options
from explorer.present.browse import CHANGES
from explorer.present.stack import Bar, bar_cells, read_path_of, stack_bars, widest
from explorer.present.text import end_cut
from explorer.tui.app import LayerscopeApp
from explorer.tui.screens.history import HistoryScreen

from .conftest import run
from .imagebuilder import F, Image, Layer, opaque, whiteout, write_oci
from .test_layer_semantics import build, d, f, h, o, w

# ---- analysis: the read path over the union tree ---------------------------------------------


def hits_of(fs, path):
    return [(hit.layer, hit.how, hit.role, hit.by, hit.stored, hit.wasted) for hit in read_path(fs, fs.lookup(path))]


def test_a_whiteout_above_hides_the_copy_below():
    fs = build([d("etc"), f("etc/a", b"12345")], [w("etc/a")])
    compute_waste(fs)
    assert hits_of(fs, "etc/a") == [(1, WHITEOUT, GONE, None, 0, False), (0, ADDED, BELOW, None, 5, True)]


def test_under_an_opaque_directory_the_directory_and_its_layer_are_named():
    fs = build([d("docs"), d("docs/sub"), f("docs/sub/x", b"abc")], [d("docs"), o("docs"), f("docs/y")])
    assert hits_of(fs, "docs/sub/x") == [(1, UNDER_OPAQUE, GONE, "docs", 0, False), (0, ADDED, BELOW, None, 3, True)]
    assert hits_of(fs, "docs/sub")[0][:4] == (1, UNDER_OPAQUE, GONE, "docs")
    # the directory itself stays: its own entry is the opaque marker's layer
    assert [hit[:3] for hit in hits_of(fs, "docs")] == [(1, OPAQUE, WINS), (0, ADDED, BELOW)]


def test_a_deleted_or_replaced_parent_is_named():
    fs = build([d("a"), d("a/b"), f("a/b/x")], [w("a/b")])
    assert hits_of(fs, "a/b/x")[0][:4] == (1, PARENT_DELETED, GONE, "a/b")
    assert hits_of(fs, "a/b")[0][:4] == (1, WHITEOUT, GONE, None)
    fs = build([d("a"), f("a/x")], [f("a", b"now a file")])
    assert hits_of(fs, "a/x")[0][:4] == (1, PARENT_REPLACED, GONE, "a")
    assert hits_of(fs, "a")[0][:3] == (1, TYPE_CHANGED, WINS)


def test_copy_up_stores_the_whole_file_again():
    fs = build([f("m", b"x" * 1000, mode=0o644)], [f("m", b"x" * 1000, mode=0o600)], [f("m", b"y")])
    compute_waste(fs)
    hits = read_path(fs, fs.lookup("m"))
    assert [(hit.layer, hit.how, hit.role, hit.stored, hit.wasted) for hit in hits] == [
        (2, MODIFIED, WINS, 1, False),
        (1, RESTORED, BELOW, 1000, True),
        (0, ADDED, BELOW, 1000, True),
    ]
    assert hits[1].metadata == ["mode"] and hidden_bytes(hits) == 2000


def test_a_copy_a_hard_link_still_reaches_is_not_hidden():
    fs = build([f("a", b"data"), h("b", "a")], [f("a", b"data", mode=0o600)])
    compute_waste(fs)
    hits = read_path(fs, fs.lookup("a"))
    assert [(hit.how, hit.stored, hit.wasted) for hit in hits] == [(RESTORED, 4, False), (ADDED, 4, False)]
    assert hidden_bytes(hits) == 0
    # the link stores nothing of its own
    assert hits_of(fs, "b") == [(0, ADDED, WINS, None, 0, False)]


# ---- present: bars and words -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_archive):
    return load(demo_archive, demo_options())


def test_bars_are_every_step_top_first_with_the_waste_split(demo):
    bars = stack_bars(demo)
    assert [bar.layer for bar in bars if bar.layer is not None] == list(range(len(demo.layers)))[::-1]
    assert [bar.instruction.split()[0] for bar in bars if bar.layer is None] == ["CMD", "ENV"]
    assert bars[0].layer is None and bars[-1].layer == 0 and bars[-2].layer is None  # CMD on top, ENV above 0
    waste = demo.waste
    assert sum(bar.wasted for bar in bars) == waste.wasted
    assert sum(bar.visible for bar in bars) == waste.visible
    apk = next(bar for bar in bars if bar.instruction.startswith("RUN apk add python3"))
    database = read_path_of(demo, demo.fs.lookup("lib/apk/db/installed"))
    db = next(row.size for row in database.rows if row.layer == apk.layer)
    # the cache is hidden, and so is the apk database the next `apk add` rewrites; the library is not
    assert apk.wasted == 2_400_000 + db and apk.visible == 900_000


def test_bar_cells_scale_and_keep_small_parts_visible():
    assert bar_cells(Bar(0, "", 1000, 500, 500), 1500, 30) == (10, 10, 10)
    assert bar_cells(Bar(0, "", 1000, 1, 0), 1000, 10) == (9, 1, 0)  # one byte wasted still shows
    assert bar_cells(Bar(0, "", 0), 0, 10) == (0, 0, 0)


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(4, 80))
def test_a_bar_never_runs_past_its_width(stored, wasted, hides, more, width):
    """The demo's chmod layer (3.0 MB seen, 3.0 MB hidden below, the widest) rounded each half up:
    12 cells of 11, and its instruction stood one cell right of the others."""
    bar = Bar(0, "", stored + wasted, wasted, hides)
    most = stored + wasted + hides + more
    parts = bar_cells(bar, most, width)
    assert sum(parts) <= width
    assert [cells > 0 for cells in parts] == [size > 0 for size in (stored, wasted, hides)]
    if most and not more:
        assert sum(parts) == width  # the widest bar fills its width
    assert widest([Bar(0, "", 10, 0, 5), Bar(1, "", 12)]) == 15


def test_read_path_words_for_the_demo(demo):
    model = read_path_of(demo, demo.fs.lookup("app/model.bin"))
    chmod = next(layer.index for layer in demo.layers if layer.instruction.startswith("RUN chmod"))
    assert model.winner == chmod and model.hidden == 3_000_000
    assert [(row.action, row.role) for row in model.rows] == [("re-stored", "wins"), ("added", "below")]
    assert "stored all 3.0 MB again" in model.cow and "stays in the image, hidden" in model.cow
    assert model.verdict == f"A container reads it from layer {chmod}; 3.0 MB stored below, hidden."
    cache = read_path_of(demo, demo.fs.lookup("var/cache/apk/APKINDEX.tar.gz"))
    assert cache.winner is None and cache.verdict.startswith("Not found: layer 2 deleted it; 2.4 MB")
    assert cache.rows[0].note == "/var/cache/apk was whited out, and all in it"
    assert read_path_of(demo, demo.fs.lookup("bin/sh")).cow is None


def test_the_demo_holds_two_tags_sharing_their_base(demo_archive, demo):
    v1 = load(demo_archive, demo_options()._replace(image=V1))
    assert demo.names == [V2] and v1.names == [V1] and not demo.warnings
    match = match_layers(v1, demo)
    assert match.shared_base == 4 and match.old_only == [4]
    assert [layer.digest for layer in v1.layers[:4]] == [layer.digest for layer in demo.layers[:4]]
    # opened without --image, the archive says it holds two
    assert "holds 2 images" in load(demo_archive).warnings[0]


# ---- the Stack tab, driven by Pilot on a builder image -----------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    """A whiteout above a file, an opaque directory, a chmod copy-up."""
    image = Image(
        [
            Layer([F("etc/"), F("etc/a.conf", b"a" * 3000), F("docs/"), F("docs/x.txt", b"x" * 5000)], "base"),
            Layer([F("app/"), F("app/bin", b"b" * 7000, mode=0o644)], "COPY app"),
            Layer([whiteout("etc/a.conf"), F("docs/"), opaque("docs"), F("docs/new.txt", b"n")], "RUN cleanup"),
            Layer([F("app/bin", b"b" * 7000, mode=0o755)], "RUN chmod +x /app/bin"),
        ]
    )
    return str(write_oci(image, tmp_path_factory.mktemp("stack") / "stack.tar"))


async def settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def read(app, pilot, path: str) -> str:
    """Type `path` into the Stack tab's path field; the read path's text."""
    app.stack_view.path_input.focus()
    app.stack_view.path_input.value = ""
    await pilot.press(*path, "enter")
    await pilot.pause()
    return str(app.stack_view.body.visual)


@run
async def test_stack_tab_reads_paths_through_the_layers(built):
    app = LayerscopeApp(built, animate=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("7")
        assert app.query_one(TabbedContent).active == "stack"
        bars = app.stack_view.list
        assert bars.option_count == 4 and bars.get_option_at_index(0).id == "layer-3"
        text = await read(app, pilot, "/etc/a.conf")
        assert "Not found: layer 2 deleted it; 3.0 kB stored below, hidden." in text
        assert "whiteout" in text and "a .wh. marker deletes it" in text
        text = await read(app, pilot, "docs/x.txt")
        assert "hidden by opaque dir" in text and "/docs was made opaque" in text
        text = await read(app, pilot, "app/bin")
        assert "re-stored" in text and "Copy-on-write: layer 3 changed its mode, yet stored all 7.0 kB again" in text
        # the bars mark the layers with an entry: the winner and the copy below
        prompts = [str(bars.get_option_at_index(i).prompt) for i in range(4)]
        assert prompts[0].lstrip().startswith("▶") and prompts[2].lstrip().startswith("•")
        assert not prompts[1].lstrip().startswith(("▶", "•"))
        # a path no layer has: said, and the read path stays
        await read(app, pilot, "nope")
        assert "app/bin" in str(app.stack_view.body.visual)
        # moving on the bars selects the layer for the whole app
        bars.focus()
        await pilot.press("up")  # from layer 0, at the bottom
        assert app.view.layer == 1 and app.layers.cursor_row == 1
        # h: the history of the stack's path
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen) and app.screen.node.path == "app/bin"
        await pilot.press("escape")
        # Enter on a bar of the read path: the path in that layer's changes
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "explorer"
        assert app.view.layer == 1 and app.view.mode == CHANGES and app.file_tree.cursor_path.path == "app/bin"
        # Enter on a layer without an entry for it: that layer
        await pilot.press("7")
        app.stack_view.list.focus()
        await pilot.press("up")  # layer 2
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "explorer" and app.view.layer == 2


@run
async def test_a_bar_s_instruction_cut_to_the_room_ends_in_an_ellipsis(demo_archive):
    app = LayerscopeApp(demo_archive, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("7")
        await pilot.pause()
        bars = app.stack_view.list
        prompts = [str(bars.get_option_at_index(i).prompt) for i in range(bars.option_count)]
        long = [p for p in prompts if p.lstrip().startswith("1 ")]  # RUN apk add python3 # leaves the cache…
        assert long and all(p.endswith("…") for p in long), prompts
        assert prompts[0].startswith("  ┄ CMD") and all(len(p) <= bars.size.width for p in prompts)
        starts = {p.index(p.split("█")[-1].split("░")[-1].lstrip()) for p in prompts if "█" in p or "░" in p}
        assert len(starts) == 1, prompts  # every instruction starts in one column: no bar runs into it
        shown = app.query_one("#stack-legend")
        legend = [shown.render_line(y).text.rstrip() for y in range(shown.size.height)]
        for words, swatch in (("visible", "█"), ("hidden above)", "█"), ("hides below", "░")):  # never apart
            assert any(f"{words} {swatch}" in line for line in legend), legend


def test_end_cut() -> None:
    assert [end_cut("abcdef", n) for n in (0, 1, 3, 6, 9)] == ["", "…", "ab…", "abcdef", "abcdef"]


@run
async def test_seven_reads_the_tree_cursors_path(built):
    app = LayerscopeApp(built, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        node = app.image.fs.lookup("etc/a.conf")
        app.file_tree.reveal(node)
        await pilot.press("7")
        await pilot.pause()
        assert app.stack_view.read is not None and app.stack_view.read.path == "/etc/a.conf"
        assert app.stack_view.path_input.value == "/etc/a.conf"


@run
async def test_names_in_the_read_path_are_data(tmp_path):
    name = "[red]x\x1b[2J"
    image = Image([Layer([F(name, b"1")], "ADD [bold]a"), Layer([whiteout(name)], "RUN rm")])
    app = LayerscopeApp(str(write_oci(image, tmp_path / "odd.tar")), animate=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("7")
        app.stack_view.pick(app.image.fs.lookup(name))
        await pilot.pause()
        text = str(app.stack_view.body.visual)
        assert "/[red]x\\x1b[2J" in text and "\x1b" not in text and "ADD [bold]a" in text
        assert app.stack_view.path_input.value == "/[red]x\\x1b[2J"


def test_serve_demo_sessions_open_v2():
    from explorer.commands.serve import _parser, _validate, app_argv

    parser = _parser()
    args = parser.parse_args(["--demo"])
    _validate(args, parser)
    assert app_argv("demo.tar", args)[1:] == ["--image", V2]
