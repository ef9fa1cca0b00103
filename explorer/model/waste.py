"""Wasted space: stored copies that the final filesystem cannot reach, each with its cause.

stored  = content bytes of every regular-file entry of every layer (hard links store none);
visible = content bytes of the stored copies the final merged filesystem reaches, each once;
wasted  = stored − visible, exactly: the sum of the waste items.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .entries import FILE, HARDLINK
from .filesystem import CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED, FileSystem, Node

CAUSES = (CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED)


@dataclass(frozen=True)
class WasteItem:
    """A stored copy the final filesystem cannot reach."""

    path: str
    size: int
    stored_in: int
    hidden_by: int
    cause: str


@dataclass(frozen=True)
class Duplicate:
    """Identical content visible under several paths (separate stored copies)."""

    size: int
    paths: tuple[str, ...]

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
    items = []
    by_cause = dict.fromkeys(CAUSES, 0)
    stored_by_layer: dict[int, int] = defaultdict(int)
    hidden_by_layer: dict[int, int] = defaultdict(int)
    for copy in fs.copies:
        stored += copy.size
        if copy.refs > 0:
            visible += copy.size
            continue
        items.append(WasteItem(copy.path, copy.size, copy.layer, copy.hidden_by, copy.cause))
        by_cause[copy.cause] += copy.size
        stored_by_layer[copy.layer] += copy.size
        hidden_by_layer[copy.hidden_by] += copy.size
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
    # content held by several visible copies first: paths are built for those alone
    counts = Counter((copy.digest, copy.size) for copy in fs.copies if copy.refs > 0 and copy.size)
    shared = {key for key, n in counts.items() if n > 1}
    if not shared:
        return []
    groups: dict[tuple[int, int], dict[int, list[Node]]] = defaultdict(dict)
    for node in fs.paths():
        state = node.current()
        copy = state.copy if state is not None else None
        if copy is not None and (copy.digest, copy.size) in shared and state.entry.kind in (FILE, HARDLINK):
            groups[(copy.digest, copy.size)].setdefault(id(copy), []).append(node)
    duplicates = []
    for (_, size), by_copy in groups.items():
        if len(by_copy) > 1:
            paths = tuple(sorted(min(n.path for n in nodes) for nodes in by_copy.values()))
            duplicates.append(Duplicate(size, paths))
    duplicates.sort(key=lambda d: (-d.extra_bytes, d.paths))
    return duplicates
