"""Questions a file browser asks of an analysed image: one directory at a time, never the whole tree."""

from __future__ import annotations

from dataclasses import dataclass

from .entries import DIR, FILE, HARDLINK, Entry
from .filesystem import DELETED, Change, FileSystem, Node

UNCHANGED = "unchanged"
CHANGES, MERGED = "changes", "merged"


@dataclass(slots=True)
class Row:
    """One path as the tree shows it at a layer."""

    node: Node
    entry: Entry  # for a deletion, the entry that was removed
    status: str  # a change kind of this layer, or "unchanged"
    change: Change | None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def is_dir(self) -> bool:
        return self.entry.kind == DIR


class Browser:
    """Lists directories of the merged filesystem or of one layer's changes, with sizes.

    Results are cached per (node, layer); build one Browser per analysed image.
    """

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._touched: dict[int, set[Node]] = {}
        self._sizes: dict[tuple[int, int], int] = {}
        self._index: list[tuple[str, Node]] | None = None

    def touched(self, layer: int) -> set[Node]:
        """Paths `layer` changed, with their ancestors (what the changes view shows)."""
        if layer not in self._touched:
            nodes: set[Node] = set()
            for change in self.fs.layer_changes[layer]:
                node: Node | None = change.node
                while node is not None and node not in nodes:
                    nodes.add(node)
                    node = node.parent
            self._touched[layer] = nodes
        return self._touched[layer]

    def row(self, node: Node, layer: int) -> Row | None:
        """How `node` shows at `layer`: visible, or deleted by this very layer; else None."""
        change = node.change_in(layer)
        if change is not None:
            return Row(node, change.shown, change.kind, change)
        state = node.state_at(layer)
        if state is None or state.kind == DELETED:
            return None
        return Row(node, state.entry, UNCHANGED, None)

    def rows(
        self,
        node: Node,
        layer: int,
        mode: str = MERGED,
        sort: str = "name",
        hide_unchanged: bool = False,
    ) -> list[Row]:
        """The children of directory `node` to show at `layer`, sorted by "name" or "size"."""
        if not node.children:
            return []
        children = node.children.values()
        if mode == CHANGES:
            touched = self.touched(layer)
            children = [c for c in children if c in touched]
        rows = [r for r in (self.row(c, layer) for c in children) if r is not None]
        if hide_unchanged:
            rows = [r for r in rows if r.status != UNCHANGED or (r.is_dir and self.has_changes_below(r.node, layer))]
        if sort == "size":
            rows.sort(key=lambda r: (-self.size(r.node, layer), r.name))
        else:
            rows.sort(key=lambda r: (not r.is_dir, r.name))
        return rows

    def has_changes_below(self, node: Node, layer: int) -> bool:
        return node in self.touched(layer)

    def size(self, node: Node, layer: int) -> int:
        """Content bytes of `node` at `layer`: a file's size, or a directory's visible total.

        A deleted path shows the size it had before.
        """
        key = (id(node), layer)
        cached = self._sizes.get(key)
        if cached is not None:
            return cached
        row = self.row(node, layer)
        total = 0
        if row is not None:
            if row.entry.kind in (FILE, HARDLINK):
                total = row.entry.size
            elif row.is_dir and node.children:
                if row.status == DELETED:
                    total = sum(self.size_before(c, layer) for c in node.children.values())
                else:
                    total = sum(self.size(c, layer) for c in node.children.values() if c.entry_at(layer) is not None)
        self._sizes[key] = total
        return total

    def size_before(self, node: Node, layer: int) -> int:
        """Size of a path just below `layer` (what a deletion at `layer` removed)."""
        return self.size(node, layer - 1) if node.entry_at(layer - 1) is not None else 0

    def search(self, query: str, limit: int = 200) -> list[Node]:
        """Paths containing `query` (case-insensitive; space-separated words must all match)."""
        if self._index is None:
            self._index = sorted((n.path, n) for n in self.fs.paths())
        words = query.lower().split()
        if not words:
            return []
        found = []
        for path, node in self._index:
            lowered = path.lower()
            if all(w in lowered for w in words):
                found.append(node)
                if len(found) >= limit:
                    break
        return found

    def ancestors(self, node: Node) -> list[Node]:
        """From the top-level directory down to `node`'s parent."""
        chain = []
        parent = node.parent
        while parent is not None and parent.parent is not None:
            chain.append(parent)
            parent = parent.parent
        return list(reversed(chain))
