"""The union read path of one path: what each layer that has an entry for it did, top-down.

A container reads a path from the top-most layer with an entry for it; the layers below keep
their copies, hidden. This is the path's change list of the union tree (`filesystem.Node`),
read from the top, with what only the tree around it knows: whether a deletion was the path's
own whiteout or came from above it (an opaque directory, a deleted or replaced parent), and
which layers made the directory itself opaque.
"""

from __future__ import annotations

from dataclasses import dataclass

from .filesystem import DELETED, TYPE_CHANGED, Change, FileSystem, Node

# how a layer's entry acts on the path, besides the change kinds of `filesystem`
WHITEOUT = "whiteout"  # its own `.wh.NAME`
OPAQUE = "opaque"  # the directory was made opaque (`.wh..wh..opq` in it): lower contents hidden
UNDER_OPAQUE = "under_opaque"  # a directory above it was made opaque
PARENT_DELETED = "parent_deleted"  # a directory above it was whited out
PARENT_REPLACED = "parent_replaced"  # a directory above it was replaced by a non-directory
# the part a layer's entry plays in the lookup
WINS, GONE, BELOW = "wins", "gone", "below"


@dataclass(frozen=True)
class Hit:
    """One layer's entry for the path. `how` is a change kind of `filesystem` or one of the
    deletion causes above; `by` the path whose deletion or opaque marker hid this one;
    `stored` the bytes this layer stores for the path (its own copy; a hard link stores none),
    `wasted` whether that copy is one the final image cannot reach."""

    layer: int
    how: str
    role: str
    change: Change | None  # None for an opaque marker on a directory that did not change otherwise
    by: str | None = None
    stored: int = 0
    wasted: bool = False

    @property
    def metadata(self) -> list[str]:
        """What a re-stored entry changed ("mode", "owner", "mtime"): all its layer meant to do."""
        change = self.change
        if change is None or change.entry is None or change.old is None:
            return []
        return change.entry.metadata_changes(change.old)


def read_path(fs: FileSystem, node: Node) -> list[Hit]:
    """Every layer with an entry for `node`, top-most first; the first one decides what a
    container sees (WINS, or GONE for a deletion), the others lie BELOW it."""
    changes = {change.layer: change for change in node.changes if change.layer >= 0}
    opaque = {layer for layer, nodes in fs.opaque.items() if any(n is node for n in nodes)}
    hits = []
    for layer in sorted(changes.keys() | opaque, reverse=True):
        change = changes.get(layer)
        by = None
        if change is None or (layer in opaque and change.kind != DELETED):
            how = OPAQUE
        elif change.kind == DELETED:
            how, by = _deletion(fs, node, layer)
        else:
            how = change.kind
        copy = change.copy if change is not None else None
        own = copy is not None and copy.layer == layer and copy.where is node
        role = BELOW if hits else (GONE if change is not None and change.kind == DELETED else WINS)
        hits.append(
            Hit(
                layer,
                how,
                role,
                change,
                by,
                copy.size if own else 0,  # type: ignore[union-attr]
                own and copy.hidden_by is not None,  # type: ignore[union-attr]
            )
        )
    return hits


def _deletion(fs: FileSystem, node: Node, layer: int) -> tuple[str, str | None]:
    """Why `layer` deleted `node`: its own whiteout, or what happened above it in that layer."""
    top = node
    while top.parent is not None and _kind_in(top.parent, layer) == DELETED:
        top = top.parent
    parent = top.parent
    if parent is not None and any(n is parent for n in fs.opaque.get(layer, ())):
        return UNDER_OPAQUE, parent.path
    if parent is not None and _kind_in(parent, layer) == TYPE_CHANGED:
        return PARENT_REPLACED, parent.path
    if top is not node:
        return PARENT_DELETED, top.path
    return WHITEOUT, None


def _kind_in(node: Node, layer: int) -> str | None:
    change = node.change_in(layer)
    return change.kind if change is not None else None


def hidden_bytes(hits: list[Hit]) -> int:
    """Bytes stored for the path that no one reads: copies below the top, and a deleted top's."""
    return sum(hit.stored for hit in hits if hit.wasted)
