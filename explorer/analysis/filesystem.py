"""The union filesystem: every path the image ever had, with its history across layers.

One tree holds every path of every layer. Each node keeps the list of changes made to it,
in layer order, so the merged filesystem at layer N is a lookup per node (the last change
at or below N) rather than one tree per layer, and a path's history is its change list.

Layers are applied in order as they are scanned. Each layer's whiteouts and opaque markers
act first, on lower layers only; then its entries, parents before children. Every stored
copy of a regular file is a `Copy` with a reference count (hard links share one); when the
last path that reaches a copy is hidden, the copy is wasted, and the layer and cause that
hid it are recorded.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from ..archive.entries import DIR, FILE, HARDLINK, OPAQUE, WHITEOUT, Entry

ADDED, MODIFIED, RESTORED, TYPE_CHANGED, DELETED = "added", "modified", "restored", "type_changed", "deleted"
CHANGE_KINDS = (ADDED, MODIFIED, RESTORED, TYPE_CHANGED, DELETED)
# Waste causes
CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED = "deleted", "overwritten", "restored"
_CAUSE_OF = {MODIFIED: CAUSE_OVERWRITTEN, RESTORED: CAUSE_RESTORED, TYPE_CHANGED: CAUSE_DELETED}


class Copy:
    """One stored copy of a regular file's content, and what became of it.

    `where` is the tree node it was stored at (or, for a copy its own layer replaced before
    stacking, the path).
    """

    __slots__ = ("layer", "where", "size", "digest", "refs", "hidden_by", "cause")

    def __init__(self, layer: int, where: Node | str, size: int, digest: int | None) -> None:
        self.layer = layer
        self.where = where
        self.size = size
        self.digest = digest
        self.refs = 0
        self.hidden_by: int | None = None
        self.cause: str | None = None

    @property
    def path(self) -> str:
        return self.where if isinstance(self.where, str) else self.where.path


class Change:
    """What one layer did to one path. `entry` is None for a deletion; `old` the entry below."""

    __slots__ = ("node", "layer", "kind", "entry", "old", "old_layer", "copy")

    def __init__(
        self,
        node: Node,
        layer: int,
        kind: str,
        entry: Entry | None,
        old: Entry | None,
        old_layer: int | None,
        copy: Copy | None = None,
    ) -> None:
        self.node = node
        self.layer = layer
        self.kind = kind
        self.entry = entry
        self.old = old
        self.old_layer = old_layer
        self.copy = copy

    @property
    def path(self) -> str:
        return self.node.path

    @property
    def shown(self) -> Entry:
        """The entry to show: the new one, or for a deletion the one it removed."""
        return self.entry or self.old  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Change({self.path!r}, layer={self.layer}, {self.kind})"


class Node:
    """A path of the union tree.

    Its changes are kept as None, one Change, or a list of them: most paths change once, and
    a list per path would be the largest part of a tree of 100,000s of paths.
    """

    __slots__ = ("name", "parent", "children", "_changes")

    def __init__(self, name: str, parent: Node | None) -> None:
        self.name = name
        self.parent = parent
        self.children: dict[str, Node] | None = None
        self._changes: Change | list[Change] | None = None

    @property
    def changes(self) -> list[Change]:
        """Every change made to this path, in layer order."""
        changes = self._changes
        if changes is None:
            return []
        return changes if type(changes) is list else [changes]  # type: ignore[list-item]

    def _add(self, change: Change) -> None:
        changes = self._changes
        if changes is None:
            self._changes = change
        elif type(changes) is list:
            changes.append(change)
        else:
            self._changes = [changes, change]  # type: ignore[list-item]

    def _remove(self, change: Change) -> None:
        changes = self._changes
        if type(changes) is list:
            changes.remove(change)
            if len(changes) == 1:
                self._changes = changes[0]
        elif changes is change:
            self._changes = None

    @property
    def path(self) -> str:
        parts = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))

    def state_at(self, layer: int) -> Change | None:
        """The last change at or below `layer`, or None if the path did not exist yet."""
        changes = self._changes
        if type(changes) is not list:
            return changes if changes is not None and changes.layer <= layer else None  # type: ignore[union-attr]
        if changes[0].layer > layer:
            return None
        if changes[-1].layer <= layer:
            return changes[-1]
        return changes[bisect_right([c.layer for c in changes], layer) - 1]

    def entry_at(self, layer: int) -> Entry | None:
        """The entry visible at `layer` (None if absent or deleted)."""
        state = self.state_at(layer)
        return state.entry if state is not None else None

    def change_in(self, layer: int) -> Change | None:
        """The change `layer` made to this path, if any."""
        changes = self._changes
        if type(changes) is not list:
            return changes if changes is not None and changes.layer == layer else None  # type: ignore[union-attr]
        for change in reversed(changes):
            if change.layer == layer:
                return change
            if change.layer < layer:
                return None
        return None

    def current(self) -> Change | None:
        """While building: the visible state (None when absent or deleted)."""
        changes = self._changes
        if type(changes) is list:
            changes = changes[-1]
        if changes is not None and changes.kind != DELETED:  # type: ignore[union-attr]
            return changes  # type: ignore[return-value]
        return None

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(node.children.values())


STEP = 5000  # entries stacked between two yields of `apply_steps` (about 15 ms)
IMPLICIT_DIR_MODE = 0o755
# A directory that no tar entry names, there because of what it holds: one shared record, with
# the mode and owner a runtime gives it and no time of its own (its mtime 0 means nothing).
IMPLICIT_DIR = Entry("", DIR, mode=IMPLICIT_DIR_MODE)


class FileSystem:
    """The union tree, built one layer at a time with `apply`."""

    def __init__(self) -> None:
        self.root = Node("", None)
        self.root._add(Change(self.root, -1, ADDED, IMPLICIT_DIR, None, None))
        self.layer_changes: list[list[Change]] = []
        self.copies: list[Copy] = []
        self.links: list[Node] = []  # paths that hard links made share a copy stored elsewhere
        self.warnings: list[str] = []
        self._shared: dict[int, int] = {}  # one int object per distinct mode, owner and time

    # ---- queries -------------------------------------------------------------------------
    def lookup(self, path: str) -> Node | None:
        node = self.root
        if not path:
            return node
        for part in path.split("/"):
            if node.children is None or part not in node.children:
                return None
            node = node.children[part]
        return node

    def children_at(self, node: Node, layer: int) -> list[Node]:
        """Children of a directory visible in the merged filesystem at `layer`."""
        if not node.children:
            return []
        return [c for c in node.children.values() if c.entry_at(layer) is not None]

    def paths(self) -> Iterator[Node]:
        """Every node of the union tree but the root."""
        it = self.root.walk()
        next(it)
        return it

    # ---- building ------------------------------------------------------------------------
    def _child(self, parent: Node, name: str) -> Node:
        if parent.children is None:
            parent.children = {}
        node = parent.children.get(name)
        if node is None:
            node = parent.children[name] = Node(name, parent)
        return node

    def _record(self, change: Change) -> Change:
        change.node._add(change)
        self.layer_changes[change.layer].append(change)
        return change

    def _release(self, change: Change | None, layer: int, cause: str) -> None:
        copy = change.copy if change is not None else None
        if copy is not None:
            copy.refs -= 1
            if copy.refs == 0:
                copy.hidden_by, copy.cause = layer, cause

    def _delete(self, node: Node, layer: int, removed: dict[Node, Change]) -> None:
        """Hide `node` and its visible subtree (a whiteout, an opaque marker, a type change)."""
        for sub in node.walk():
            state = sub.current()
            if state is None:
                continue
            self._release(state, layer, CAUSE_DELETED)
            removed[sub] = self._record(Change(sub, layer, DELETED, None, state.entry, state.layer, state.copy))

    def _directory(self, path: str, layer: int, removed: dict[Node, Change], dirs: dict[str, Node]) -> Node:
        """The directory node at `path`, made (implicitly) where missing; `dirs` caches them per layer."""
        node = dirs.get(path)
        if node is not None:
            return node
        if not path:
            dirs[path] = self.root
            return self.root
        head, _, name = path.rpartition("/")
        node = self._child(self._directory(head, layer, removed, dirs), name)
        state = node.current()
        if state is None or not state.entry.is_dir:
            implicit = IMPLICIT_DIR
            if state is not None:  # a file where a directory must be: replaced
                self._release(state, layer, CAUSE_DELETED)
                self._record(Change(node, layer, TYPE_CHANGED, implicit, state.entry, state.layer))
            else:
                self._readd(node, layer, ADDED, implicit, removed)
        dirs[path] = node
        return node

    def _readd(
        self, node: Node, layer: int, kind: str, entry: Entry, removed: dict[Node, Change], copy: Copy | None = None
    ) -> None:
        deleted = removed.pop(node, None)
        if deleted is None:
            self._record(Change(node, layer, kind, entry, None, None, copy))
            return
        # deleted and stored again by the same layer: a replacement of the lower entry
        old = deleted.old
        node._remove(deleted)
        self.layer_changes[layer].remove(deleted)
        kind = _classify(entry, old)
        if deleted.copy is not None and deleted.copy.hidden_by == layer and kind in _CAUSE_OF:
            deleted.copy.cause = _CAUSE_OF[kind]
        if kind is not None:  # None: the same directory again, so the lower one stays
            self._record(Change(node, layer, kind, entry, old, deleted.old_layer, copy))

    def apply(self, layer: int, entries: list[Entry]) -> None:
        """Stack one layer's tar entries (in tar order) onto the filesystem.

        Entries lose their `path` (the tree node knows it) and share equal metadata values:
        per-file records stay small on images of 100,000s of files.
        """
        for _ in self.apply_steps(layer, entries):
            pass

    def apply_steps(self, layer: int, entries: list[Entry], step: int = STEP) -> Iterator[None]:
        """`apply` in slices: it yields after every `step` entries, so that a UI thread can draw
        and answer keys in between. At each yield every layer below `layer` reads as before;
        `layer` itself is complete only at the end."""
        assert layer == len(self.layer_changes), "layers are applied in order"
        self.layer_changes.append([])
        whiteouts: list[str] = []
        opaques: list[str] = []
        latest: dict[str, Entry] = {}
        copies: dict[str, Copy] = {}
        for n, entry in enumerate(entries, 1):
            if n % step == 0:
                yield
            kind, path = entry.kind, entry.path
            if kind == WHITEOUT:
                whiteouts.append(path)
                continue
            if kind == OPAQUE:
                opaques.append(path)
                continue
            if path in latest:
                shadowed = copies.pop(path, None)
                if shadowed is not None:  # the last of duplicate entries wins; the earlier copy is waste
                    self.copies.append(shadowed)
                    same = kind == FILE and entry.digest == shadowed.digest and entry.size == shadowed.size
                    shadowed.hidden_by = layer
                    shadowed.cause = CAUSE_RESTORED if same else CAUSE_OVERWRITTEN if kind == FILE else CAUSE_DELETED
            latest[path] = entry
            if kind == FILE:
                copies[path] = Copy(layer, path, entry.size, entry.digest)

        removed: dict[Node, Change] = {}
        for path in sorted(whiteouts):
            node = self.lookup(path)
            if node is not None:
                self._delete(node, layer, removed)
        for path in sorted(opaques):
            node = self.lookup(path)
            if node is not None and node.children and node.current() is not None:
                for child in list(node.children.values()):
                    self._delete(child, layer, removed)

        dirs: dict[str, Node] = {}  # directories known to exist in this layer (sorted order: parents first)
        links: dict[str, Copy | None] = {}  # hard links of this layer, resolved
        for n, path in enumerate(sorted(latest), 1):
            if n % step == 0:
                yield
            entry = latest[path]
            kind = entry.kind
            head, _, name = path.rpartition("/")
            node = self._child(dirs.get(head) or self._directory(head, layer, removed, dirs), name)
            if kind == DIR:
                dirs[path] = node
            copy = copies.get(path)  # only a regular file has one
            if copy is not None:
                copy.where = node
                self.copies.append(copy)
            elif kind == HARDLINK:
                copy = self._resolve_link(entry, latest, copies, links)
                if copy is not None:
                    self.links.append(node)
            if copy is not None:
                copy.refs += 1
            if node._changes is None:  # a path new to the image: nothing below to compare with
                self._record(Change(node, layer, ADDED, entry, None, None, copy))
                continue
            state = node.current()
            if state is None:
                self._readd(node, layer, ADDED, entry, removed, copy)
                continue
            change_kind = _classify(entry, state.entry)
            if change_kind is None:  # a directory written again with no change of its own
                continue
            if state.entry.is_dir and kind != DIR:  # hides the whole lower subtree
                for child in list((node.children or {}).values()):
                    self._delete(child, layer, removed)
            self._release(state, layer, _CAUSE_OF[change_kind])
            self._record(Change(node, layer, change_kind, entry, state.entry, state.layer, copy))

        shared = self._shared
        for entry in entries:
            entry.path = ""
            entry.mode = shared.setdefault(entry.mode, entry.mode)
            entry.mtime = shared.setdefault(entry.mtime, entry.mtime)
            entry.uid = shared.setdefault(entry.uid, entry.uid)
            entry.gid = shared.setdefault(entry.gid, entry.gid)

    def _resolve_link(
        self, entry: Entry, latest: dict[str, Entry], copies: dict[str, Copy], resolved: dict[str, Copy | None]
    ) -> Copy | None:
        """The stored copy a hard link shares: its target in this layer, else below.

        Links to links are followed; `resolved` remembers every link of a chain, so a chain of
        n links costs O(n), not O(n²).
        """
        chain, seen = [entry.path], {entry.path}
        target = entry.link
        while target in latest and latest[target].kind == HARDLINK and target not in resolved and target not in seen:
            chain.append(target)
            seen.add(target)
            target = latest[target].link
        if target in resolved:
            copy = resolved[target]
        elif target in seen:  # a loop of links
            copy = None
        else:
            copy = copies.get(target)
            if copy is None and target not in latest:
                node = self.lookup(target)
                state = node.current() if node is not None else None
                copy = state.copy if state is not None else None
        for path in chain:
            resolved[path] = copy
        if copy is None:
            self.warnings.append(
                f"hard link {entry.path} -> {entry.link}: target is not a regular file of this or a lower layer"
            )
            return None
        entry.size, entry.digest = copy.size, copy.digest
        return copy


def _classify(entry: Entry, old: Entry) -> str | None:
    """How `entry` changes `old` at the same path (None: a directory with no change of its own)."""
    if entry.is_dir and old.is_dir:
        # a directory's mtime moves whenever a child changes: only mode and owner are its own
        return RESTORED if [m for m in entry.metadata_changes(old) if m != "mtime"] else None
    file_like = (FILE, HARDLINK)
    if entry.kind != old.kind and not (entry.kind in file_like and old.kind in file_like):
        return TYPE_CHANGED
    return RESTORED if entry.same_content(old) else MODIFIED
