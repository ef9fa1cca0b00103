"""Wasted space: stored copies that the final filesystem cannot reach, each with its cause.

stored  = content bytes of every regular-file entry of every layer (hard links store none);
visible = content bytes of the stored copies the final merged filesystem reaches, each once;
wasted  = stored − visible, exactly: the sum of the waste items.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from heapq import nlargest
from itertools import chain, islice
from operator import attrgetter

from .filesystem import CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED, Copy, FileSystem, paths_of

CAUSES = (CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED)
LARGEST_KEPT = 200  # the largest visible copies a waste keeps (the app lists 200 largest files, the report 20)


@dataclass(frozen=True, slots=True)
class WasteItem:
    """A stored copy the final filesystem cannot reach."""

    path: str
    size: int
    stored_in: int
    hidden_by: int
    cause: str


@dataclass(frozen=True, slots=True)  # slots: 56 bytes, not 96 (a million files have 100,000s)
class Duplicate:
    """Identical content visible under several paths (separate stored copies)."""

    size: int
    paths: tuple[str, ...]
    copies: tuple[Copy, ...] = field(default=(), compare=False, repr=False)  # the stored copy of each path

    @property
    def extra_bytes(self) -> int:
        """Bytes that one shared copy would save."""
        return self.size * (len(self.paths) - 1)


@dataclass
class Waste:
    stored: int
    visible: int
    items: list[WasteItem]
    duplicates: list[Duplicate]
    by_cause: dict[str, int] = field(default_factory=dict)
    stored_by_layer: dict[int, int] = field(default_factory=dict)  # bytes a layer stores that layers above hide
    hidden_by_layer: dict[int, int] = field(default_factory=dict)  # bytes of layers below that a layer hides
    wasted_copies: list[Copy] = field(default_factory=list, compare=False, repr=False)  # `items`, as stored
    # the LARGEST_KEPT largest visible copies, largest first (ties: stored first), for the largest files
    largest: list[Copy] = field(default_factory=list, compare=False, repr=False)
    duplicates_by_layer: dict[int, int] = field(default_factory=dict)  # copies in `duplicates`, by storing layer
    duplicate_bytes: int = 0  # what one shared copy of each group of `duplicates` would save

    @property
    def wasted(self) -> int:
        return self.stored - self.visible

    @property
    def efficiency(self) -> float:
        return self.visible / self.stored if self.stored else 1.0


def compute_waste(fs: FileSystem) -> Waste:
    """Account for every stored byte: visible once, or wasted with the layer and cause that hid it."""
    stored = visible = 0
    by_cause = dict.fromkeys(CAUSES, 0)
    stored_by_layer: dict[int, int] = defaultdict(int)
    hidden_by_layer: dict[int, int] = defaultdict(int)
    wasted = []
    # The same pass finds the visible contents stored more than once: it keeps the first visible
    # copy of each digest (the int each holds: no key object made for 100,000s of copies), and
    # pairs it with each later copy of that digest.
    first: dict[int | None, Copy] = {}
    hold = first.setdefault
    again: list[Copy] = []  # pairs: the first copy of a digest, then a later one
    mixed = False  # a digest held by copies of several sizes (content is its digest and its size)
    # And the largest visible copies: those larger than the smallest of the largest so far.
    largest: list[Copy] = []
    floor = -1
    for copy in fs.copies:
        size = copy.size
        stored += size
        if copy.refs > 0:
            visible += size
            if size > floor:
                largest.append(copy)
                if len(largest) == 2 * LARGEST_KEPT:  # ties: the one stored first is ahead in the list
                    largest = nlargest(LARGEST_KEPT, largest, key=_SIZE)
                    floor = largest[-1].size
            if size:
                held = hold(copy.digest, copy)
                if held is not copy:
                    again += held, copy
                    mixed = mixed or held.size != size
            continue
        wasted.append(copy)
        by_cause[copy.cause] += size
        stored_by_layer[copy.layer] += size
        hidden_by_layer[copy.hidden_by] += size
    del first, hold  # a dict of every visible content: not kept while paths are made
    paths = paths_of([copy.where for copy in wasted])  # each folder's path made once
    items = [
        WasteItem(path, copy.size, copy.layer, copy.hidden_by, copy.cause)
        for path, copy in zip(paths, wasted, strict=True)
    ]
    items.sort(key=lambda i: (-i.size, i.path, i.stored_in))
    duplicates, duplicate_bytes, duplicates_by_layer = _duplicates(fs, again, mixed)
    return Waste(
        stored=stored,
        visible=visible,
        items=items,
        duplicates=duplicates,
        by_cause=by_cause,
        stored_by_layer=dict(stored_by_layer),
        hidden_by_layer=dict(hidden_by_layer),
        wasted_copies=wasted,
        duplicate_bytes=duplicate_bytes,
        duplicates_by_layer=duplicates_by_layer,
        largest=nlargest(LARGEST_KEPT, largest, key=_SIZE),
    )


def _duplicates(fs: FileSystem, pairs: list[Copy], mixed: bool) -> tuple[list[Duplicate], int, dict[int, int]]:
    """The groups of visible copies of one content, from `pairs` of copies (flat: the first
    copy of a digest, then a later copy of it), in the order they were stored; the bytes that
    one shared copy of each would save; and how many of their copies each layer stored."""
    held: dict[Copy, list[Copy]] = {}  # by the first copy: a small dict, no digest looked up again
    later = iter(pairs)
    for first, copy in zip(later, later, strict=True):
        group = held.get(first)
        if group is None:
            held[first] = [first, copy]
        else:
            group.append(copy)
    groups = list(held.values())
    if mixed:  # a group of several sizes under one digest is split by size
        groups = [part for group in groups for part in _by_size(group)]
        by_layer = Counter(map(_LAYER, chain.from_iterable(groups)))
    else:  # counted in the order they were stored (copies near in memory are read faster)
        by_layer = Counter(map(_LAYER, chain(held, islice(pairs, 1, None, 2))))
    del held
    pairs.clear()  # scratch: its memory back before the paths are made
    grouped = list(chain.from_iterable(groups))  # paths are made for these alone
    if fs.links:
        path_of = _first_paths(fs, grouped)
        paths = [path_of[id(copy)] for copy in grouped]
    else:  # without hard links a visible copy is reached only where it was stored
        paths = paths_of(map(_WHERE, grouped))
    duplicates = []
    extra = start = 0
    for copies in groups:
        end = start + len(copies)
        run = paths[start:end]
        start = end
        size = copies[0].size
        extra += size * (len(copies) - 1)
        if run == sorted(run):  # the copies were stored in path order (the commonest case)
            duplicates.append(Duplicate(size, tuple(run), tuple(copies)))
        else:
            in_order = sorted(zip(run, range(len(copies)), copies, strict=True))
            ordered_paths, _, ordered = zip(*in_order, strict=True)
            duplicates.append(Duplicate(size, ordered_paths, ordered))
    duplicates.sort(key=_PATHS)  # then most bytes saved first (a stable sort: ties stay in path order)
    duplicates.sort(key=_more_saved_first)
    return duplicates, extra, dict(sorted(by_layer.items()))


_WHERE, _SIZE, _LAYER = attrgetter("where"), attrgetter("size"), attrgetter("layer")
_PATHS = attrgetter("paths")


def _more_saved_first(duplicate: Duplicate) -> int:
    return -duplicate.extra_bytes


def _by_size(copies: list[Copy]) -> list[list[Copy]]:
    """`copies` (of one digest) as the groups of two or more of one size among them."""
    sizes: dict[int, list[Copy]] = {}
    for copy in copies:
        sizes.setdefault(copy.size, []).append(copy)
    return [group for group in sizes.values() if len(group) > 1]


def _first_paths(fs: FileSystem, copies: list[Copy]) -> dict[int, str]:
    """The first (sorted) visible path of each copy, keyed by id(copy).

    A copy is reached where it was stored, or through hard links: only those paths are looked at.
    """
    paths: dict[int, str] = {}
    nodes = [copy.where for copy in copies] + fs.links
    for node, path in zip(nodes, paths_of(nodes), strict=True):
        state = node.current()
        if state is not None and state.copy is not None:
            key = id(state.copy)
            if key not in paths or path < paths[key]:
                paths[key] = path
    return paths
