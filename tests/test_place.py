"""The compiled stacking helper (`explorer/analysis/_place.c`) builds exactly the tree the Python
loop builds: every layer of real and built images, random layer stacks (replacements within a
layer, files over directories, hard links, whiteouts, implicit directories) and rows of odd
types, stacked both ways in batches of any size, must give the same nodes, changes, copies,
warnings, and the same objects shared (entries, names, metadata values)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from explorer.analysis import filesystem
from explorer.analysis.filesystem import Copy, FileSystem, Node
from explorer.analysis.image import Image
from explorer.archive.entries import DIR, FILE, HARDLINK, OPAQUE, SYMLINK, WHITEOUT, Entry, Row
from explorer.archive.pool import ScanPool
from tests.hostile import fuzz

COMPILED = filesystem._fast_place
pytestmark = pytest.mark.skipif(COMPILED is None, reason="the C stacking helper is not built (pip install -e .)")
REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata"
HIDING = (WHITEOUT, OPAQUE)


def _stack(layers: list[list[Row]], compiled: object, batch: int) -> FileSystem:
    old = filesystem._fast_place
    filesystem._fast_place = compiled  # type: ignore[assignment]
    try:
        fs = FileSystem()
        for index, rows in enumerate(layers):
            hiding = [row for row in rows if row[1] in HIDING]
            batches = (rows[i : i + batch] for i in range(0, len(rows), batch))
            for _ in fs.stack_batches(index, hiding, batches):
                pass
        return fs
    finally:
        filesystem._fast_place = old  # type: ignore[assignment]


def _shape(fs: FileSystem) -> tuple:
    """Everything the tree holds, each object named by the order it is first met in (so that
    which objects are shared, and which are one, shows)."""
    ids: dict[int, int] = {}

    def ref(obj: object) -> int | None:
        return None if obj is None else ids.setdefault(id(obj), len(ids))

    def entry(e: Entry | None) -> tuple | None:
        if e is None:
            return None
        return (ref(e), *(getattr(e, slot) for slot in Entry.__slots__), *(ref(getattr(e, s)) for s in Entry.__slots__))

    nodes = []
    for node in fs.root.walk():
        changes = []
        for c in node.changes:
            record = (type(c).__name__, ref(c), ref(c.node), c.layer, c.kind, entry(c.entry), entry(c.old))
            record += (c.old_layer, ref(c.copy))
            if isinstance(c, Copy):
                record += (c.size, c.digest, c.refs, c.hidden_by, c.cause, ref(c.size), ref(c.digest))
            changes.append(record)
        kids = None if node.children is None else [(name, ref(name), ref(kid)) for name, kid in node.children.items()]
        held = type(node._changes).__name__
        nodes.append((ref(node), node.name, ref(node.name), ref(node.parent), kids, held, changes))
    return (
        nodes,
        [[ref(c) for c in layer] for layer in fs.layer_changes],
        [ref(c) for c in fs.copies],
        [ref(n) for n in fs.links],
        fs.warnings,
        {layer: [ref(n) for n in dirs] for layer, dirs in fs.opaque.items()},
        [(k, ref(v)) for k, v in fs._shared.items()],
        [(k, ref(v)) for k, v in fs._names.items()],
        [(k, ref(v)) for k, v in fs._alike.items()],
    )


def _same_both_ways(layers: list[list[Row]], rng: random.Random) -> tuple:
    batch = rng.choice([1, 2, 7, 4096])
    compiled = _shape(_stack(layers, COMPILED, batch))
    assert compiled == _shape(_stack(layers, None, batch))
    return compiled


def _image_layers(path: Path) -> list[list[Row]]:
    image = Image.open(str(path), pool=ScanPool(workers=1))
    try:
        return [list(scan.rows) for _, scan in image.scans()]
    finally:
        image.close()


def test_the_compiled_helper_places_new_paths() -> None:
    """It is used at all: a run of new paths is placed by it, up to the first row it leaves to Python."""
    fs = FileSystem()
    fs.apply(0, [("a", DIR, 0, 0o755, 0, 0, 0, "", None)])
    stacking = filesystem._Stacking(1)
    stacking.dirs[""] = fs.root
    stacking.dirs["a"] = fs.lookup("a")
    rows = [
        ("a/x", FILE, 3, 0o644, 0, 0, 5, "", 7),
        ("a/.wh.y", WHITEOUT, 0, 0, 0, 0, 0, "", None),
        ("b", DIR, 0, 0o755, 0, 0, 5, "", None),
        ("b/c", SYMLINK, 0, 0o777, 0, 0, 5, "x", None),
        ("a", FILE, 0, 0o644, 0, 0, 5, "", None),  # replaces the directory: Python's
        ("a/x", FILE, 0, 0o644, 0, 0, 5, "", None),
    ]
    args = (1, stacking.dirs, stacking.order, fs.copies, fs._names, fs._alike, fs._shared)
    assert COMPILED(rows, 0, *args) == 4
    x, b, c = fs.lookup("a/x"), fs.lookup("b"), fs.lookup("b/c")
    assert type(x._changes) is Copy and x._changes.copy is x._changes and x._changes.refs == 1
    assert x._changes.size == 3 and x._changes.digest == 7 and fs.copies == [x._changes]
    assert [c.node for c in stacking.order] == [x, b, c] and stacking.dirs["b"] is b
    assert c._changes.entry.link == "x" and c._changes.copy is None and c.parent is b
    assert COMPILED(rows, 4, *args) == 4  # a path the image has
    assert COMPILED(rows, 6, *args) == 6 and COMPILED(rows, 60, *args) == 60 and COMPILED(rows, -5, *args) == 0
    assert COMPILED([("z/q", FILE, 0, 0, 0, 0, 0, "", None)], 0, *args) == 0  # no directory z in this layer


def test_layers_of_real_images_stack_the_same() -> None:
    rng = random.Random(1)
    paths = sorted(REAL.glob("*/*.tar"))
    assert len(paths) > 10
    for path in paths:
        try:
            layers = _image_layers(path)
        except Exception:  # noqa: BLE001 (the not-images folder and the like: nothing to stack)
            continue
        for _ in range(2):
            _same_both_ways(layers, rng)


def test_seed_images_stack_the_same() -> None:
    """The structured fuzzer's seed images: every writer and format, hard links and whiteouts."""
    from explorer.archive.tarstream import TarReader

    rng = random.Random(2)
    for seed in fuzz.build_seeds():
        layers = [list(TarReader([m.tar], "layer").rows()) for m in seed.members if m.tar is not None]
        _same_both_ways(layers, rng)


NAMES = ("a", "b", "c", "é", "")
KINDS = (FILE, FILE, FILE, DIR, DIR, SYMLINK, HARDLINK, WHITEOUT, OPAQUE, "c")


def _random_row(rng: random.Random) -> Row:
    depth = rng.randint(1, 4)
    path = "/".join(rng.choice(NAMES[:4]) for _ in range(depth))
    kind = rng.choice(KINDS)
    size = rng.choice([0, 0, 1, 5]) if kind == FILE else 0
    digest = rng.choice([1, 2, 3]) if kind == FILE else None
    link = rng.choice(["a", "a/b", "zz", ""]) if kind in (SYMLINK, HARDLINK) else ""
    mode, uid, mtime = rng.choice([0o644, 0o755]), rng.choice([0, 1000]), rng.choice([0, 5, 1 << 40])
    return (path, kind, size, mode, uid, uid, mtime, link, digest)


def test_random_layer_stacks_stack_the_same() -> None:
    """Small name pools, so that paths recur: replaced within a layer and across layers, files
    over directories and back, hard links to anything, whiteouts and opaque markers."""
    rng = random.Random(3)
    for _ in range(600):
        layers = []
        for _ in range(rng.randint(1, 4)):
            rows = [_random_row(rng) for _ in range(rng.randint(0, 40))]
            if rng.random() < 0.5:  # a layer's own directories first, as most writers put them
                folders = sorted({row[0].rpartition("/")[0] for row in rows} - {""})
                rows = [(f, DIR, 0, 0o755, 0, 0, 0, "", None) for f in folders] + rows
            layers.append(rows)
        _same_both_ways(layers, rng)


ODD = [
    lambda r: list(r),  # a row that is no tuple
    lambda r: r[:8],  # too short (Python fails too: see below)
    lambda r: (r[0], r[1], True, *r[3:]),  # a bool for a size
    lambda r: (r[0], r[1], r[2], 420.0, *r[4:]),  # a float for a mode
    lambda r: (r[0], r[1], r[2], r[3], 1 << 70, *r[5:]),  # a huge owner
    lambda r: (r[0], r[1], 1 << 70, *r[3:]),  # a huge size
    lambda r: (*r[:7], None, r[8]),  # no link text
    lambda r: (*r[:8], "digest"),  # a digest that is no int
    lambda r: (r[0], r[1] + "x", *r[2:]),  # a kind of two characters
    lambda r: ("a/" + r[0], *r[1:]),
    lambda r: (r[0] + "/", *r[1:]),  # an empty name
]


def test_rows_of_odd_types_stack_the_same() -> None:
    """Rows the helper leaves to Python (not tuples, other types than the reader makes, huge
    numbers): the tree is the same, and an error is the same error."""
    rng = random.Random(4)
    for _ in range(400):
        layers = [[_random_row(rng) for _ in range(rng.randint(1, 30))] for _ in range(rng.randint(1, 3))]
        for rows in layers:
            for i in rng.sample(range(len(rows)), k=min(len(rows), 3)):
                rows[i] = rng.choice(ODD)(rows[i])  # type: ignore[call-overload]
        try:
            expected: object = _shape(_stack(layers, None, 7))
        except Exception as exc:  # noqa: BLE001 (compared below)
            expected = repr(exc)
        try:
            got: object = _shape(_stack(layers, COMPILED, 7))
        except Exception as exc:  # noqa: BLE001
            got = repr(exc)
        assert got == expected


def test_hostile_arguments_are_refused() -> None:
    fs = FileSystem()
    stacking = filesystem._Stacking(0)
    args = [0, stacking.dirs, stacking.order, fs.copies, fs._names, fs._alike, fs._shared]
    with pytest.raises(TypeError):
        COMPILED([], 0, *args[:-1])
    with pytest.raises(TypeError):
        COMPILED(iter([]), 0, *args)
    with pytest.raises(TypeError):
        COMPILED([], "0", *args)
    for i in range(1, len(args)):
        bad = list(args)
        bad[i] = [] if isinstance(bad[i], dict) else {}
        with pytest.raises(TypeError):
            COMPILED([], 0, *bad)
    stacking.dirs[""] = object()  # not a node: left to Python
    assert COMPILED([("x", FILE, 0, 0, 0, 0, 0, "", None)], 0, *args) == 0
    stacking.dirs[""] = fs.root
    fs.root.children = []  # type: ignore[assignment]
    assert COMPILED([("x", FILE, 0, 0, 0, 0, 0, "", None)], 0, *args) == 0


def test_prepare_refuses_classes_it_cannot_fill() -> None:
    """Classes whose fields are not all plain slots are refused, and the helper keeps what it had."""
    from explorer.analysis import _place

    class Loose:
        pass

    class Slotted(Node):
        __slots__ = ()
        name = property(lambda self: "x")  # type: ignore[assignment]

    class NotACopy(filesystem.Change):
        __slots__ = ("size",)

    kinds = (FILE, DIR, HARDLINK, WHITEOUT, OPAQUE)
    for classes in [
        (Loose, Node, filesystem.Change, Copy),
        (Entry, Slotted, filesystem.Change, Copy),
        (Entry, Node, filesystem.Change, NotACopy),
        (Entry, Node, Copy, filesystem.Change),
    ]:
        with pytest.raises(TypeError):
            _place.prepare(*classes, kinds, filesystem.ADDED, filesystem.ALIKE_KEPT)
    with pytest.raises(TypeError):
        _place.prepare(Entry, Node, filesystem.Change, Copy, ("ff", *kinds[1:]), filesystem.ADDED, 1)
    _same_both_ways([[("a", DIR, 0, 0, 0, 0, 0, "", None), ("a/b", FILE, 1, 0, 0, 0, 0, "", 1)]], random.Random(5))


def test_the_table_of_alike_records_is_emptied_when_full_the_same() -> None:
    """More distinct directories and empty files than `ALIKE_KEPT`: the table is emptied at
    the same row both ways, so the same records are shared."""
    kept = filesystem.ALIKE_KEPT
    rows: list[Row] = [("d", DIR, 0, 0o755, 0, 0, 0, "", None)]
    rows += [(f"d/{i}", FILE, 0, 0o644, 0, 0, i % (kept + 100), "", 0) for i in range(2 * kept + 300)]
    shape = _same_both_ways([rows], random.Random(6))
    assert len(shape[-1]) < kept


def test_rows_are_counted_the_same() -> None:
    """`count_rows` in C and in Python: the same content bytes and kinds, in the same order,
    on rows of odd types, huge sizes, many kinds and kinds equal but not the same object."""
    rng = random.Random(7)
    sizes = [0, 1, 5, 1 << 40, (1 << 63) - 1, 1 << 70, -3, True]
    kinds = [FILE, DIR, "l", "".join(["f"]), "é", "xy", *(chr(65 + i) for i in range(20))]
    for _ in range(3000):
        rows: list = [
            (f"p{i}", rng.choice(kinds[: rng.choice([3, 6, 26])]), rng.choice(sizes[: rng.choice([3, 8])]))
            for i in range(rng.randint(0, 30))
        ]
        if rows and rng.random() < 0.1:
            rows[rng.randrange(len(rows))] = rng.choice([["p", FILE, 1], ("p", FILE, 1.5), ("p", 7, 1)])
        start = {rng.choice(kinds): 1} if rng.random() < 0.3 else {}
        both = []
        for compiled in (filesystem._fast_count, None):
            old = filesystem._fast_count
            filesystem._fast_count = compiled  # type: ignore[assignment]
            counted = dict(start)
            try:
                both.append((filesystem.count_rows(rows, counted), list(counted.items())))
            finally:
                filesystem._fast_count = old  # type: ignore[assignment]
        assert both[0] == both[1]
