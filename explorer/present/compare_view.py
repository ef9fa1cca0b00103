"""The app's Compare tab in words and numbers: the two images' layers side by side, matched by
`diff_id`, and the differing paths as a tree whose directories carry their size change.

Plain values built once from a `Comparison`, read by the widgets without Textual here. The
tree is an index of children by directory, so the widget can fill in one directory at a time
(100,000s of differing paths, as a vfs against an overlay build gives, never become nodes
before they are opened).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.compare import Comparison, PathDiff
from ..analysis.image import Image
from .compare import layers_phrase, packages_dict, signed_size, verdict
from .text import human_size

# How a layer matches: in the shared base, shared out of place, or in one image only.
BASE, ALSO, ONLY = "base", "also", "only"


def match_words(bar: LayerBar, side: str) -> str:
    """`shared base`, `shared = 2` (its index in the other image), `only in NEW`."""
    if bar.match == BASE:
        return "shared base"
    return f"shared = {bar.partner}" if bar.match == ALSO else f"only in {side}"


@dataclass(frozen=True)
class LayerBar:
    """One layer of one image: its size (the file content it stores, as the layer list's `size`)
    and how it matches."""

    index: int
    size: int
    instruction: str
    match: str
    partner: int | None  # the same layer's index in the other image


@dataclass(frozen=True)
class DiffEntry:
    """A row of the differences tree: a differing path, or a directory holding some (or both)."""

    path: str
    name: str
    status: str | None  # the path's own difference (compare.ADDED…); None: only what is below differs
    delta: int  # bytes NEW minus OLD, everything below included
    below: int  # differing paths below (0 for a file)

    @property
    def is_dir(self) -> bool:
        return self.below > 0


@dataclass(frozen=True)
class CompareView:
    """Everything the Compare tab shows."""

    old_name: str
    new_name: str
    verdict: str
    layers: str  # "3 layers shared, 2 replaced"
    counts: dict[str, int]
    old_bytes: int
    new_bytes: int
    rows: list[tuple[LayerBar | None, LayerBar | None]]  # the layer bars side by side
    largest: int  # the largest layer of either image (bars are drawn to its scale)
    children: dict[str, list[DiffEntry]]  # directory path ("" the root) -> its rows, largest change first
    packages: dict  # packages added, removed, upgraded or downgraded: `compare.packages_dict`

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _bars(image: Image, matched: dict[int, tuple[str, int | None]]) -> list[LayerBar]:
    return [
        LayerBar(layer.index, layer.content_bytes, layer.instruction, *matched.get(layer.index, (ONLY, None)))
        for layer in image.layers
    ]


def layer_rows(c: Comparison) -> list[tuple[LayerBar | None, LayerBar | None]]:
    """The shared base side by side; above it, layers shared out of place on one row, and the
    layers only one image has beside the other's (replaced), each image's in its own order."""
    m = c.layers
    old_match: dict[int, tuple[str, int | None]] = {i: (BASE, i) for i in range(m.shared_base)}
    new_match = dict(old_match)
    for i, j in m.also_shared:
        old_match[i], new_match[j] = (ALSO, j), (ALSO, i)
    old, new = _bars(c.old, old_match), _bars(c.new, new_match)
    base = m.shared_base
    rows: list[tuple[LayerBar | None, LayerBar | None]] = list(zip(old[:base], new[:base], strict=True))
    i = j = base
    while i < len(old) or j < len(new):
        o = old[i] if i < len(old) else None
        n = new[j] if j < len(new) else None
        if o is not None and n is not None and (o.match == n.match == ONLY or o.partner == n.index):
            rows.append((o, n))
            i, j = i + 1, j + 1
        elif o is not None and (n is None or o.match == ONLY or n.match != ONLY):
            rows.append((o, None))  # on its own; a shared one crossing another waits on the NEW side
            i += 1
        else:
            rows.append((None, n))
            j += 1
    return rows


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def diff_children(c: Comparison) -> dict[str, list[DiffEntry]]:
    """Each directory's differing children (a path of its own, or holding some below), largest
    change first, then by name."""
    own: dict[str, PathDiff] = {d.path: d for d in c.diffs}
    below: dict[str, int] = {}
    for d in c.diffs:
        parent = _parent(d.path)
        while True:
            below[parent] = below.get(parent, 0) + 1
            if not parent:
                break
            parent = _parent(parent)
    children: dict[str, list[DiffEntry]] = {}
    for path in own.keys() | below.keys():
        if not path:
            continue
        diff = own.get(path)
        change = c.dirs.get(path)
        delta = change.delta if change is not None else diff.delta if diff is not None else 0
        entry = DiffEntry(path, path.rpartition("/")[2], diff.status if diff else None, delta, below.get(path, 0))
        children.setdefault(_parent(path), []).append(entry)
    for rows in children.values():
        rows.sort(key=lambda e: (-abs(e.delta), -e.below, e.name))
    return children


def compare_view(c: Comparison, old_name: str, new_name: str) -> CompareView:
    rows = layer_rows(c)
    largest = max((bar.size for pair in rows for bar in pair if bar is not None), default=0)
    return CompareView(
        old_name,
        new_name,
        verdict(c),
        layers_phrase(c.layers),
        c.counts(),
        c.old_bytes,
        c.new_bytes,
        rows,
        largest,
        diff_children(c),
        packages_dict(c.package_changes()),
    )


def bar_cells(size: int, largest: int, width: int) -> int:
    """How many cells of a `width`-cell bar a layer of `size` fills (at least one if not empty)."""
    if size <= 0 or largest <= 0:
        return 0
    return max(1, round(width * size / largest))


def entry_note(entry: DiffEntry) -> str:
    """What a tree row says after its name: the size change, and how many paths differ below."""
    parts = [signed_size(entry.delta)] if entry.delta or entry.status is None else []
    if entry.below:
        parts.append(f"{entry.below:,} path{'s' if entry.below != 1 else ''}")
    return ", ".join(parts)


def sizes_line(view: CompareView) -> str:
    """`OLD 120.3 MB of files → NEW 168.5 MB (+48.2 MB)`."""
    delta = view.new_bytes - view.old_bytes
    return f"files: OLD {human_size(view.old_bytes)} → NEW {human_size(view.new_bytes)} ({signed_size(delta)})"
