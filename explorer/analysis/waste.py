"""Wasted space: stored copies that the final filesystem cannot reach, each with its cause.

stored  = content bytes of every regular-file entry of every layer (hard links store none);
visible = content bytes of the stored copies the final merged filesystem reaches, each once;
wasted  = stored − visible, exactly: the sum of the waste items.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .filesystem import CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED, Copy, FileSystem, paths_of

CAUSES = (CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED)


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
    for copy in fs.copies:
        stored += copy.size
        if copy.refs > 0:
            visible += copy.size
            continue
        wasted.append(copy)
        by_cause[copy.cause] += copy.size
        stored_by_layer[copy.layer] += copy.size
        hidden_by_layer[copy.hidden_by] += copy.size
    paths = paths_of([copy.where for copy in wasted])  # each folder's path made once
    items = [
        WasteItem(path, copy.size, copy.layer, copy.hidden_by, copy.cause)
        for path, copy in zip(paths, wasted, strict=True)
    ]
    items.sort(key=lambda i: (-i.size, i.path, i.stored_in))
    return Waste(
        stored=stored,
        visible=visible,
        items=items,
        duplicates=_duplicates(fs),
        by_cause=by_cause,
        stored_by_layer=dict(stored_by_layer),
        hidden_by_layer=dict(hidden_by_layer),
    )


def _duplicates(fs: FileSystem) -> list[Duplicate]:
    # One pass groups the visible copies by digest (the int each holds: no key object made for
    # 100,000s of copies), a digest held once keeping its copy, not a list; a group of several
    # sizes under one digest is then split by size (content is its digest and its size).
    held: dict[int | None, Copy | list[Copy]] = {}
    for copy in fs.copies:
        if copy.refs > 0 and copy.size:
            key = copy.digest
            group = held.get(key)
            if group is None:
                held[key] = copy
            elif type(group) is list:
                group.append(copy)
            else:
                held[key] = [group, copy]  # type: ignore[list-item]
    groups: list[list[Copy]] = []
    for group in held.values():
        if type(group) is list:
            size = group[0].size
            if all(copy.size == size for copy in group):
                groups.append(group)
            else:
                groups += _by_size(group)
    del held
    grouped = [copy for copies in groups for copy in copies]  # paths are made for these alone
    if fs.links:
        path_of = _first_paths(fs, grouped)
        paths = [path_of[id(copy)] for copy in grouped]
    else:  # without hard links a visible copy is reached only where it was stored
        paths = paths_of([copy.where for copy in grouped])
    duplicates = []
    start = 0
    for copies in groups:
        end = start + len(copies)
        if end - start == 2:  # a pair (the commonest group) is ordered without a sort
            first, second = paths[start], paths[start + 1]
            if first <= second:
                ordered_paths, ordered = (first, second), tuple(copies)
            else:
                ordered_paths, ordered = (second, first), (copies[1], copies[0])
        else:
            pairs = sorted(zip(paths[start:end], range(len(copies)), copies, strict=True))
            ordered_paths, _, ordered = zip(*pairs, strict=True)
        start = end
        duplicates.append(Duplicate(copies[0].size, ordered_paths, ordered))
    duplicates.sort(key=lambda d: (-d.extra_bytes, d.paths))
    return duplicates


def _by_size(copies: list[Copy]) -> list[list[Copy]]:
    """The groups of two or more copies of one size among `copies`."""
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
