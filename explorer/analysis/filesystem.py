"""The union filesystem: every path the image ever had, with its history across layers.

One tree holds every path of every layer. Each node keeps the list of changes made to it,
in layer order, so the merged filesystem at layer N is a lookup per node (the last change
at or below N) rather than one tree per layer, and a path's history is its change list.

Layers are applied in order as they are scanned. Each layer's whiteouts and opaque markers
act first, on lower layers only; then its entries in tar order, each replacing what is at its
path, as a runtime extracts them. Every stored copy of a regular file is the change that
stored it, a `Copy`, with a reference count (hard links share one); when the last path that reaches a copy is hidden,
the copy is wasted, and the layer and cause that hid it are recorded.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Iterable, Iterator

from ..archive.entries import DIR, FILE, HARDLINK, OPAQUE, WHITEOUT, Entry, Row

ADDED, MODIFIED, RESTORED, TYPE_CHANGED, DELETED = "added", "modified", "restored", "type_changed", "deleted"
CHANGE_KINDS = (ADDED, MODIFIED, RESTORED, TYPE_CHANGED, DELETED)
# Waste causes
CAUSE_DELETED, CAUSE_OVERWRITTEN, CAUSE_RESTORED = "deleted", "overwritten", "restored"
_CAUSE_OF = {MODIFIED: CAUSE_OVERWRITTEN, RESTORED: CAUSE_RESTORED, TYPE_CHANGED: CAUSE_DELETED}


class Change:
    """What one layer did to one path. `entry` is None for a deletion; `old` the entry below;
    `copy` the stored copy the path holds after the change (its own, or a hard link's)."""

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


class Copy(Change):
    """A change that stores a regular file's content: also that stored copy, and what became
    of it (one object, not a change and its copy: a tree of a million files holds one each).

    `where` is the tree node it was stored at (its `node`), `copy` itself. Hard links of
    this or a later layer share it (their changes' `copy`); `refs` counts the paths that reach it.
    """

    __slots__ = ("size", "digest", "refs", "hidden_by", "cause")  # size, digest: the entry's, at hand

    where = Change.node  # the same slot, under the name the analyses of copies use

    def __init__(
        self, node: Node, layer: int, kind: str, entry: Entry, old: Entry | None, old_layer: int | None
    ) -> None:
        self.node = node  # `Change.__init__`'s, inline: one call less for every file stacked
        self.layer = layer
        self.kind = kind
        self.entry = entry
        self.old = old
        self.old_layer = old_layer
        self.copy = self
        self.size = entry.size
        self.digest = entry.digest
        self.refs = 1
        self.hidden_by: int | None = None
        self.cause: str | None = None


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
        node = self.parent
        if node is None:
            return ""
        parts = [self.name]
        while node.parent is not None:
            parts.append(node.name)
            node = node.parent
        parts.reverse()
        return "/".join(parts)

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


def paths_of(nodes: Iterable[Node]) -> list[str]:
    """The paths of many nodes (`Node.path` of each): a folder's path is made once, not once
    for every file below it."""
    folders: dict[Node, str] = {}

    def folder(node: Node) -> str:
        climbed = []  # the folders above `node` whose paths are not made yet, nearest first
        while node not in folders:
            if node.parent is None:
                folders[node] = ""
                break
            climbed.append(node)
            node = node.parent
        path = folders[node]
        for node in reversed(climbed):
            path = folders[node] = f"{path}/{node.name}" if path else node.name
        return path

    out = []
    for node in nodes:
        parent = node.parent
        if parent is None:
            out.append("")
            continue
        above = folders.get(parent)
        if above is None:
            above = folder(parent)
        out.append(f"{above}/{node.name}" if above else node.name)
    return out


ALIKE_KEPT = 4096  # records kept to be shared (`FileSystem._alike`): their keys cost ~150 bytes each
SLICE = 5000  # entries stacked between two pauses of `stack_in_slices` (about 15 ms)
IMPLICIT_DIR_MODE = 0o755
# A directory that no tar entry names, there because of what it holds: one shared record, with
# the mode and owner a runtime gives it and no time of its own (its mtime 0 means nothing).
IMPLICIT_DIR = Entry("", DIR, mode=IMPLICIT_DIR_MODE)


class _Stacking:
    """What stacking one layer remembers until the layer is done."""

    __slots__ = ("layer", "order", "reordered", "lower_copies", "dirs")

    def __init__(self, layer: int) -> None:
        self.layer = layer
        # The one change this layer makes to each path (its node's last change, when of this
        # layer), in the order the paths were first touched; a path whose change was dropped
        # (the same directory as below after all) and made again, at its last place. Each is
        # appended when made for a path with none of this layer: a change replaced or dropped
        # since stays until the end of the layer (`reordered`), when `_in_order` sorts them out.
        # (A list, not a dict by node: most paths are touched once, and a dict of 100,000s of
        # nodes cost as much as making their changes.)
        self.order: list[Change] = []
        self.reordered = False
        self.lower_copies: dict[Node, Copy] = {}  # the copy a touched path held below this layer
        self.dirs: dict[str, Node] = {}  # paths that are directories now (emptied when one is replaced)


class FileSystem:
    """The union tree, built one layer at a time with `apply`."""

    def __init__(self) -> None:
        self.root = Node("", None)
        self.root._add(Change(self.root, -1, ADDED, IMPLICIT_DIR, None, None))
        self.layer_changes: list[list[Change]] = []
        self.opaque: dict[int, list[Node]] = {}  # directories each layer made opaque (`.wh..wh..opq`)
        self.copies: list[Copy] = []
        self.links: list[Node] = []  # paths that hard links made share a copy stored elsewhere
        self.warnings: list[str] = []
        self._shared: dict[int, int] = {}  # one int object per distinct mode, owner and time
        self._names: dict[str, str] = {}  # one str object per distinct name (site-packages, __init__.py…)
        # one record for the directories and the empty files alike in all but their paths (up to
        # ALIKE_KEPT, emptied when full): placed records are never changed, so they can be shared
        self._alike: dict[tuple, Entry] = {}

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
    def apply(self, layer: int, rows: list[Row]) -> None:
        """Stack one layer's tar entries (its scan's rows, in tar order) onto the filesystem.

        Its whiteouts and opaque markers act first, on the layers below only; then each entry,
        in tar order, replaces what is at its path (a non-directory over a directory hides the
        directory's subtree, entries of this layer included). Each path gets one change: what
        it holds at the end of the layer against what it held below. Entries are made without
        their path (the tree node knows it) and share equal metadata values, and directories
        and empty files alike in all else share one record: per-file records stay small on
        images of 100,000s of files.
        """
        for _ in self.stack_in_slices(layer, rows):
            pass

    def stack_in_slices(
        self, layer: int, rows: list[Row], size: int = SLICE, hiding: list[Row] | None = None
    ) -> Iterator[None]:
        """`apply` in slices: it pauses (yields) after every `size` entries, so that a UI thread
        can draw and answer keys in between. At each pause every layer below `layer` reads as
        before; `layer` itself is complete only at the end. `hiding`: the rows' whiteouts and
        opaque markers, when known (else they are looked for)."""
        if hiding is None:
            hiding = [row for row in rows if row[1] in (WHITEOUT, OPAQUE)]
        return self.stack_batches(layer, hiding, (rows[i : i + size] for i in range(0, len(rows), size)))

    def stack_batches(self, layer: int, hiding: list[Row], batches: Iterable[list[Row]]) -> Iterator[None]:
        """`stack_in_slices` of a layer's rows as they come, a batch at a time (none is kept
        once placed), given its whiteouts and opaque markers first (`hiding`: they act first)."""
        assert layer == len(self.layer_changes), "layers are applied in order"
        self.layer_changes.append([])
        stacking = _Stacking(layer)
        self._hide_lower(stacking, hiding)
        for i, batch in enumerate(batches):
            if i:
                yield
            self._place(stacking, batch)
        self.layer_changes[layer] = _in_order(stacking) if stacking.reordered else stacking.order

    def _hide_lower(self, stacking: _Stacking, rows: list[Row]) -> None:
        """The layer's whiteouts and opaque markers, on what the layers below left."""
        whiteouts = sorted(row[0] for row in rows if row[1] == WHITEOUT)
        opaques = sorted(row[0] for row in rows if row[1] == OPAQUE)
        for path in whiteouts:
            node = self.lookup(path)
            if node is not None:
                self._hide(stacking, node)
        for path in opaques:
            node = self.lookup(path)
            if node is not None and node.current() is not None:
                self.opaque.setdefault(stacking.layer, []).append(node)
                for child in list((node.children or {}).values()):
                    self._hide(stacking, child)

    def _place(self, stacking: _Stacking, rows: list[Row]) -> None:
        """Each row in tar order, replacing what is at its path. Its entry is made here, without
        its path (the tree node knows it) and sharing equal metadata values with the entries
        before it; a directory or an empty file takes a placed record alike in all else.

        Where the C helper was built, it places each run of rows that add paths new to the
        image under a directory of this layer (most rows), and this loop the others."""
        layer, order, dirs, shared = stacking.layer, stacking.order, stacking.dirs, self._shared
        copies, names, alike = self.copies, self._names, self._alike
        fast = _fast_place
        i, count = 0, len(rows)
        while i < count:
            if fast is not None:
                i = fast(rows, i, layer, dirs, order, copies, names, alike, shared)
                if i == count:
                    break
            row = rows[i]
            i += 1
            path, kind, size, mode, uid, gid, mtime, link, digest = row
            if kind in (WHITEOUT, OPAQUE):
                continue
            if size == 0 and kind in (DIR, FILE):  # most are alike: one record each
                key = row[1:]
                entry = alike.get(key)  # type: ignore[assignment]
                if entry is None:
                    if len(alike) == ALIKE_KEPT:
                        alike.clear()
                    entry = alike[key] = Entry(
                        "", kind, 0, shared.setdefault(mode, mode), shared.setdefault(uid, uid),
                        shared.setdefault(gid, gid), shared.setdefault(mtime, mtime), link, digest,
                    )  # fmt: skip
            else:
                entry = Entry(
                    "", kind, size, shared.setdefault(mode, mode), shared.setdefault(uid, uid),
                    shared.setdefault(gid, gid), shared.setdefault(mtime, mtime), link, digest,
                )  # fmt: skip
            head, _, name = path.rpartition("/")
            parent = dirs.get(head) or self._directory(stacking, head)
            children = parent.children
            if children is None:
                children = parent.children = {}
            node = children.get(name)
            if node is None:
                name = names.setdefault(name, name)
                node = children[name] = Node(name, parent)
                new = True
            else:
                new = node._changes is None  # a path new to the image: nothing to replace
            if not new and kind != DIR:
                held = node.current()
                if held is not None and held.entry.is_dir:  # gone first, subtree and all
                    dirs.clear()
                    for child in list((node.children or {}).values()):
                        self._hide(stacking, child)
            copy = None
            if kind == HARDLINK:
                copy = self._link_target(entry, path)
                if copy is not None:
                    copy.refs += 1
                    self.links.append(node)
            if not new:
                self._replace(stacking, node, entry, copy, kind == FILE)
            elif kind == FILE:
                change = node._changes = Copy(node, layer, ADDED, entry, None, None)
                copies.append(change)
                order.append(change)
            else:
                change = node._changes = Change(node, layer, ADDED, entry, None, None, copy)
                order.append(change)
            if kind == DIR:
                dirs[path] = node

    def _child(self, parent: Node, name: str) -> Node:
        if parent.children is None:
            parent.children = {}
        node = parent.children.get(name)
        if node is None:
            name = self._names.setdefault(name, name)
            node = parent.children[name] = Node(name, parent)
        return node

    def _directory(self, stacking: _Stacking, path: str) -> Node:
        """The directory at `path`, made (implicitly, replacing what is there) where missing."""
        node = stacking.dirs.get(path)
        if node is not None:
            return node
        if not path:
            node = self.root
        else:
            head, _, name = path.rpartition("/")
            node = self._child(self._directory(stacking, head), name)
            state = node.current()
            if state is None or not state.entry.is_dir:
                self._replace(stacking, node, IMPLICIT_DIR, None)
        stacking.dirs[path] = node
        return node

    def _hide(self, stacking: _Stacking, node: Node) -> None:
        """Delete `node` and its visible subtree (a whiteout, an opaque marker, a type change)."""
        for sub in node.walk():
            self._replace(stacking, sub, None, None)

    def _replace(
        self, stacking: _Stacking, node: Node, entry: Entry | None, copy: Copy | None, stores: bool = False
    ) -> None:
        """Make `entry` (None: nothing) what `node` holds in this layer, in place of what it held,
        and record the one change of this layer at `node` against the state below the layer:
        a `Copy` when it `stores` the entry's content, else a `Change` (`copy`: a hard link's).

        A copy that becomes unreachable is wasted, hidden by this layer: one of this layer's own
        for how the entry replacing it differs from it, a lower one for the change recorded.
        """
        layer = stacking.layer
        last = node._changes  # this layer's change, if it made one: the node's last
        if type(last) is list:
            last = last[-1]
        if last is not None and last.layer != layer:  # type: ignore[union-attr]
            last = None
        if last is None:  # first touched in this layer: what it held comes from below
            state = node.current()
            if state is None:
                if entry is None:
                    return
                old = old_layer = None
            else:
                old, old_layer = state.entry, state.layer
                held = state.copy
                if held is not None:
                    stacking.lower_copies[node] = held
                    held.refs -= 1
                    if held.refs == 0:
                        held.hidden_by = layer
        else:  # replaced again in this layer
            stacking.reordered = True
            old, old_layer = last.old, last.old_layer  # type: ignore[union-attr]
            node._remove(last)  # type: ignore[arg-type]
            mine = last.copy if last.kind != DELETED else None
            if mine is not None:
                mine.refs -= 1
                if mine.refs == 0:
                    mine.hidden_by = layer
                    how = _classify(entry, last.entry) if entry is not None else None  # type: ignore[arg-type]
                    mine.cause = _CAUSE_OF.get(how, CAUSE_DELETED)  # type: ignore[arg-type]
        if entry is None:
            kind = DELETED if old is not None else None
        else:
            kind = ADDED if old is None else _classify(entry, old)
        lower = stacking.lower_copies.get(node)
        if lower is not None and lower.refs == 0 and lower.hidden_by == layer:
            lower.cause = _CAUSE_OF.get(kind, CAUSE_DELETED)  # type: ignore[arg-type]
        if kind is None:  # nothing, or the same directory as below: no change of this layer
            return
        if stores:
            change: Change = Copy(node, layer, kind, entry, old, old_layer)  # type: ignore[arg-type]
            self.copies.append(change)  # type: ignore[arg-type]
        else:
            change = Change(node, layer, kind, entry, old, old_layer, None if kind == DELETED else copy)
        node._add(change)
        if last is None:
            stacking.order.append(change)

    def _link_target(self, entry: Entry, path: str) -> Copy | None:
        """The stored copy a hard link at `path` shares: what its target holds at this point of the tar."""
        node = self.lookup(entry.link)
        state = node.current() if node is not None else None
        copy = state.copy if state is not None else None
        if copy is None:
            self.warnings.append(
                f"hard link {path} -> {entry.link}: target is not a regular file of this or a lower layer"
            )
            return None
        entry.size, entry.digest = copy.size, copy.digest
        return copy


def _in_order(stacking: _Stacking) -> list[Change]:
    """A layer's changes in order (see `_Stacking.order`) once some were replaced or dropped:
    each path's change at its path's last place in the list, none for a path left without."""
    layer, seen, out = stacking.layer, set(), []
    for change in reversed(stacking.order):
        node = change.node
        if node in seen:
            continue
        seen.add(node)
        mine = node._changes
        if type(mine) is list:
            mine = mine[-1]
        if mine is not None and mine.layer == layer:  # type: ignore[union-attr]
            out.append(mine)
    out.reverse()
    return out  # type: ignore[return-value]


def _classify(entry: Entry, old: Entry) -> str | None:
    """How `entry` changes `old` at the same path (None: a directory with no change of its own)."""
    if entry.is_dir and old.is_dir:
        # a directory's mtime moves whenever a child changes: only mode and owner are its own
        return RESTORED if [m for m in entry.metadata_changes(old) if m != "mtime"] else None
    file_like = (FILE, HARDLINK)
    if entry.kind != old.kind and not (entry.kind in file_like and old.kind in file_like):
        return TYPE_CHANGED
    return RESTORED if entry.same_content(old) else MODIFIED


# Stacking's common case in C, where it was built (`_place.c`: a run of rows adding new paths,
# the objects made as above); else, or with LAYERSCOPE_PURE_PYTHON set, `_place` does it all.
try:
    from . import _place as _fast_module
except ImportError:
    _fast_module = None  # type: ignore[assignment]
if os.environ.get("LAYERSCOPE_PURE_PYTHON"):
    _fast_module = None  # type: ignore[assignment]
_fast_place = _fast_count = None
if _fast_module is not None:
    _fast_module.prepare(Entry, Node, Change, Copy, (FILE, DIR, HARDLINK, WHITEOUT, OPAQUE), ADDED, ALIKE_KEPT)
    _fast_place, _fast_count = _fast_module.place, _fast_module.count


def count_rows(rows: list[Row], kinds: dict[str, int]) -> int:
    """Count `rows` by kind into `kinds`; the content bytes of their regular files (only a
    regular file's row has a size)."""
    if _fast_count is not None and type(rows) is list:
        content = _fast_count(rows, kinds)
        if content is not None:
            return content
    content = 0
    for row in rows:
        kind = row[1]
        kinds[kind] = kinds.get(kind, 0) + 1
        content += row[2]
    return content
