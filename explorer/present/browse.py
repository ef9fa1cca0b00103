"""Questions a file browser asks of an analysed image: one directory at a time, never the whole tree."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import overload

from ..analysis.filesystem import (
    ADDED,
    DELETED,
    IMPLICIT_DIR,
    MODIFIED,
    RESTORED,
    TYPE_CHANGED,
    Change,
    Copy,
    FileSystem,
    Node,
)
from ..analysis.hints import Hints
from ..archive.entries import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, KIND_NAMES, SYMLINK, Entry
from .text import display_name, human_size

UNCHANGED = "unchanged"


class Mode(StrEnum):
    """What the file tree shows of a layer."""

    CHANGES = "changes"  # what this layer added, changed or deleted
    MERGED = "merged"  # the whole filesystem at this layer


class Sort(StrEnum):
    NAME = "name"  # directories first, then by name
    SIZE = "size"  # largest first


CHANGES, MERGED = Mode.CHANGES, Mode.MERGED

# A marker letter and a name for each change state (and for an unchanged path).
MARKS = {ADDED: "A", MODIFIED: "M", RESTORED: "R", TYPE_CHANGED: "T", DELETED: "D", UNCHANGED: " "}
OPAQUE_MARK = "O"  # a directory the layer made opaque: it hides what lower layers put in it
STATE_NAMES = {
    ADDED: "added",
    MODIFIED: "modified",
    RESTORED: "metadata only",
    TYPE_CHANGED: "type changed",
    DELETED: "deleted",
    UNCHANGED: "unchanged",
}


@dataclass(slots=True)
class FileRow:
    """One path as the file browser shows it at a layer."""

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

    Directory totals are summed once per layer, from that layer's changes alone; results are
    cached, so build one Browser per analysed image. A stored copy counts once: a copy that hard
    links give several paths counts at the first of them (in stacking order) that still holds it.
    """

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        # Layers fully stacked: the app stacks a layer in slices and browses in between, so a
        # layer being stacked is left out of searches until `layer_added` says it is done.
        self.stacked = len(fs.layer_changes)
        self._touched: dict[int, set[Node]] = {}
        self._totals: dict[Node, list[tuple[int, int]]] = {}  # directory -> (layer, visible bytes below)
        self._totalled = 0  # layers summed into _totals
        self._stored: dict[int, dict[Node, int]] = {}
        self._holders: dict[int, list[Node]] = {}  # id of a copy hard links share -> its paths, in order
        self._links_seen = 0  # the filesystem's hard links put into _holders
        self._index: list[tuple[str, Node]] | None = None
        self._names: dict[Node, list[Node]] = {}  # directory -> its children by name
        self.hinted: dict[str, str] = {}  # path -> the first hint's kind that covers it (see `mark_hints`)

    def mark_hints(self, hints: Hints) -> None:
        """Remember which paths a hint covers, by the first (most important) hint's kind."""
        hinted: dict[str, str] = {}
        for hint in hints.hints:
            for path in hint.paths:
                hinted.setdefault(path, hint.kind)
        self.hinted = hinted

    def layer_added(self) -> None:
        """Count a newly stacked layer in, and forget what it makes stale (the search index)."""
        self.stacked = len(self.fs.layer_changes)
        self._index = None

    def touched(self, layer: int) -> set[Node]:
        """Paths `layer` changed, with their ancestors (what the changes view shows)."""
        if layer not in self._touched:
            # a level of folders at a time, in set operations: a layer of 100,000s of changes
            # takes tens of milliseconds, not a node-by-node climb
            nodes: set[Node] = {change.node for change in self.fs.layer_changes[layer]}
            level = nodes
            while level:
                level = {node.parent for node in level}
                level.discard(None)  # type: ignore[arg-type]  (above the root)
                level -= nodes
                nodes |= level
            self._touched[layer] = nodes
        return self._touched[layer]

    def row(self, node: Node, layer: int) -> FileRow | None:
        """How `node` shows at `layer`: visible, or deleted by this very layer; else None."""
        state = node.state_at(layer)  # this layer's change, if it made one
        if state is None:
            return None
        if state.layer == layer:
            return FileRow(node, state.shown, state.kind, state)
        if state.kind == DELETED:
            return None
        return FileRow(node, state.entry, UNCHANGED, None)  # type: ignore[arg-type]

    def rows(
        self,
        node: Node,
        layer: int,
        mode: Mode = MERGED,
        sort: Sort = Sort.NAME,
        hide_unchanged: bool = False,
        within: set[Node] | frozenset[Node] | None = None,
    ) -> Rows:
        """The children of directory `node` to show at `layer`, in `sort` order.

        `within` keeps only those paths (a filter, see `matching`). The order is worked out
        from the nodes alone; a row is made when it is read (a directory of 200,000 entries
        shows a screenful).
        """
        if not node.children:
            return Rows(self, layer, [])
        children = self._by_name(node)
        if within is not None:
            children = [c for c in children if c in within]
        touched = self.touched(layer) if mode == CHANGES or hide_unchanged else frozenset()
        if mode == CHANGES:
            children = [c for c in children if c in touched]
        dirs: list[Node] = []
        files: list[Node] = []
        for child in children:
            state = child.state_at(layer)
            if state is None:
                continue
            if state.layer != layer:  # unchanged here
                if state.kind == DELETED:
                    continue
                if hide_unchanged and not (state.entry.kind == DIR and child in touched):  # type: ignore[union-attr]
                    continue
            (dirs if state.shown.kind == DIR else files).append(child)
        if sort == Sort.NAME:
            return Rows(self, layer, dirs + files)
        measure = self.stored_size if mode == CHANGES else self.size
        shown = dirs + files
        shown.sort(key=lambda c: c.name)  # then by size, largest first: a stable sort keeps names in order
        shown.sort(key=lambda c: -measure(c, layer))
        return Rows(self, layer, shown)

    def _by_name(self, directory: Node) -> list[Node]:
        """`directory`'s children sorted by name, kept while no child is added."""
        children = directory.children or {}
        known = self._names.get(directory)
        if known is None or len(known) != len(children):
            known = self._names[directory] = [children[name] for name in sorted(children)]
        return known

    def is_opaque(self, node: Node, layer: int) -> bool:
        """Whether `layer` made directory `node` opaque (quick: `opaque` counts what it hid)."""
        return node in self.fs.opaque.get(layer, ())

    def opaque(self, node: Node, layer: int) -> tuple[int, int] | None:
        """(entries, stored file bytes) of the lower layers that `layer` hid by making directory `node`
        opaque (`rm -rf dir && mkdir dir` in an overlay build), or None if it did not."""
        if not self.is_opaque(node, layer):
            return None
        count = size = 0
        for change in self.fs.layer_changes[layer]:
            if change.kind == DELETED and _below(change.node, node):
                count += 1
                size += _stored_bytes(change.old)
        return count, size

    def deleted_by(self, node: Node, layer: int) -> str | None:
        """How `layer` deleted `node`: a `.wh.` whiteout (of it or of a directory above), the
        opaque marker of a directory above, or a directory above that changed type; None if
        `layer` did not delete it."""
        change = node.change_in(layer)
        if change is None or change.kind != DELETED:
            return None
        opaque = self.fs.opaque.get(layer, ())
        walk = node.parent
        while walk is not None and walk.parent is not None:
            if walk in opaque:
                return f"by the opaque marker of /{display_name(walk.path)}/"
            above = walk.change_in(layer)
            if above is not None and above.kind == TYPE_CHANGED:
                return f"by /{display_name(walk.path)} becoming a {KIND_NAMES.get(above.shown.kind, above.shown.kind)}"
            if above is None or above.kind != DELETED:
                break
            node, walk = walk, walk.parent
        return f"by the whiteout .wh.{display_name(node.name)}"

    def has_changes_below(self, node: Node, layer: int) -> bool:
        return node in self.touched(layer)

    def size(self, node: Node, layer: int) -> int:
        """Content bytes of `node` at `layer`: a file's size, or a directory's visible total.

        A deleted path shows the size it had before.
        """
        state = node.state_at(layer)
        if state is None or (state.kind == DELETED and state.layer != layer):
            return 0
        entry = state.shown
        if entry.kind in (FILE, HARDLINK):
            return entry.size
        if entry.kind != DIR:
            return 0
        return self._total(node, layer - 1 if state.kind == DELETED else layer)

    def size_before(self, node: Node, layer: int) -> int:
        """Size of a path just below `layer` (what a deletion at `layer` removed)."""
        return self.size(node, layer - 1) if node.entry_at(layer - 1) is not None else 0

    def stored_size(self, node: Node, layer: int) -> int:
        """Content bytes `layer` stores at or below `node` (what the changes view totals): its
        regular files, as the layer list counts; a hard link stores no bytes of its own (busybox's
        400 links to one 1 MB file made `bin/` 400 MB)."""
        stored = self._stored.get(layer)
        if stored is None:
            stored = self._stored[layer] = _summed_up(
                (c.node.parent, _stored_bytes(c.entry)) for c in self.fs.layer_changes[layer]
            )
        change = node.change_in(layer)
        return (_stored_bytes(change.entry) if change is not None else 0) + stored.get(node, 0)

    def _total(self, directory: Node, layer: int) -> int:
        """Bytes of the files visible below `directory` at `layer`."""
        while self._totalled <= layer:
            self._add_totals(self._totalled)
            self._totalled += 1
        for at, total in reversed(self._totals.get(directory, ())):
            if at <= layer:
                return total
        return 0

    def _add_totals(self, layer: int) -> None:
        """Directory totals at `layer`: those below it, plus what each change of `layer` adds or hides."""
        changes = self.fs.layer_changes[layer]
        if self.fs.links:
            deltas = _summed_up(self._linked_deltas(changes, layer))
        else:
            deltas = _summed_up((c.node.parent, _file_bytes(c.entry) - _file_bytes(c.old)) for c in changes)
        for directory, delta in deltas.items():
            if delta:
                history = self._totals.setdefault(directory, [])
                history.append((layer, (history[-1][1] if history else 0) + delta))

    def _linked_deltas(self, changes: list[Change], layer: int) -> Iterator[tuple[Node | None, int]]:
        """What `changes` add to or take from each directory when hard links share copies: a
        shared copy moves to the first path that holds it after the layer, if that changed."""
        holders = self._holders
        for node in self.fs.links[self._links_seen :]:
            for change in node.changes:
                if change.copy is not None and change.copy.where is not node:
                    paths = holders.setdefault(id(change.copy), [change.copy.where])
                    if paths[-1] is not node:
                        paths.append(node)
        self._links_seen = len(self.fs.links)
        moved: dict[int, Copy] = {}
        for c in changes:
            old = c.node.state_at(layer - 1) if _file_bytes(c.old) else None
            for copy, sign, entry in ((old.copy if old else None, -1, c.old), (c.copy, 1, c.entry)):
                if copy is not None and id(copy) in holders:
                    moved[id(copy)] = copy
                else:
                    yield c.node.parent, sign * _file_bytes(entry)
        for key, copy in moved.items():
            before, after = _holding(holders[key], copy, layer - 1), _holding(holders[key], copy, layer)
            if before is not after:
                if before is not None:
                    yield before.parent, -copy.size
                if after is not None:
                    yield after.parent, copy.size

    def matching(self, query: str, limit: int = 5000) -> set[Node]:
        """Paths matching `query` (as `search`) and their ancestors: what a filtered tree shows."""
        keep: set[Node] = set()
        for node in self.search(query, limit):
            walk: Node | None = node
            while walk is not None and walk not in keep:
                keep.add(walk)
                walk = walk.parent
        return keep

    def last_visible_layer(self, node: Node) -> int | None:
        """The highest stacked layer at which `node` exists, or None if it never does."""
        last = node.state_at(self.stacked - 1)
        if last is None:
            return None
        # a deletion only ever hides what the layer below showed
        return self.stacked - 1 if last.kind != DELETED else last.layer - 1

    def search(self, query: str, limit: int = 200) -> list[Node]:
        """Paths containing `query` (case-insensitive; space-separated words must all match)."""
        if self._index is None:
            last = self.stacked - 1
            # by path components, so `doc/README` comes before `doc-base/`
            paths = sorted((n.path.split("/"), n.path, n) for n in self.fs.paths() if n.state_at(last) is not None)
            self._index = [(path, node) for _, path, node in paths]
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


class Rows(Sequence[FileRow]):
    """One directory's rows at a layer, in the order shown: the order is worked out for every
    child, a `FileRow` only for a row that is read (and then kept)."""

    __slots__ = ("browser", "layer", "nodes", "_made")

    def __init__(self, browser: Browser, layer: int, nodes: list[Node]) -> None:
        self.browser = browser
        self.layer = layer
        self.nodes = nodes
        self._made: list[FileRow | None] = [None] * len(nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @overload
    def __getitem__(self, index: int) -> FileRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[FileRow]: ...
    def __getitem__(self, index: int | slice) -> FileRow | list[FileRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.nodes)))]
        row = self._made[index]
        if row is None:
            row = self._made[index] = self.browser.row(self.nodes[index], self.layer)
        return row  # type: ignore[return-value]

    def position(self, node: Node, start: int = 0, end: int | None = None) -> int | None:
        """Where `node` is among rows `start`..`end`, or None."""
        try:
            return self.nodes.index(node, start, len(self.nodes) if end is None else end)
        except ValueError:
            return None


def _below(node: Node, directory: Node) -> bool:
    walk = node.parent
    while walk is not None:
        if walk is directory:
            return True
        walk = walk.parent
    return False


def opaque_note(hidden: tuple[int, int]) -> str:
    return f"opaque: hides {hidden[0]:,} lower entries, {human_size(hidden[1])}"


def _stored_bytes(entry: Entry | None) -> int:
    return entry.size if entry is not None and entry.kind == FILE else 0


def _file_bytes(entry: Entry | None) -> int:
    return entry.size if entry is not None and entry.kind in (FILE, HARDLINK) else 0


def _holding(paths: list[Node], copy: Copy, layer: int) -> Node | None:
    """The first of `paths` that holds `copy` at `layer`."""
    for node in paths:
        state = node.state_at(layer)
        if state is not None and state.copy is copy:
            return node
    return None


def _summed_up(amounts: Iterable[tuple[Node | None, int]]) -> dict[Node, int]:
    """Amounts per directory, each added to that directory and to every one above it."""
    direct: dict[Node, int] = {}
    for directory, amount in amounts:
        if directory is not None and amount:
            direct[directory] = direct.get(directory, 0) + amount
    totals: dict[Node, int] = {}
    for directory, amount in direct.items():
        walk: Node | None = directory
        while walk is not None:
            totals[walk] = totals.get(walk, 0) + amount
            walk = walk.parent
    return totals


_TYPE_BITS = {DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK, FIFO: stat.S_IFIFO, CHAR: stat.S_IFCHR, BLOCK: stat.S_IFBLK}


def mode_string(entry: Entry) -> str:
    """`ls -l` style mode: `drwxr-xr-x`, `-rw-------`."""
    return stat.filemode(_TYPE_BITS.get(entry.kind, stat.S_IFREG) | (entry.mode & 0o7777))


def mtime_string(entry: Entry) -> str:
    """An entry's tar mtime as UTC `YYYY-MM-DD HH:MM` (image metadata, so stable); "—" for a
    directory that no entry names (it has no time of its own)."""
    if entry is IMPLICIT_DIR:
        return "—"
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.mtime))
    except (OverflowError, OSError, ValueError):
        return str(entry.mtime)


def owner_string(entry: Entry) -> str:
    return f"{entry.uid}:{entry.gid}"


def link_text(entry: Entry) -> str:
    """Where a link points, with its arrow (`→ target` for a symlink, `⇒ target` for a hard
    link); "" for anything else."""
    if entry.kind == SYMLINK:
        return f"→ {display_name(entry.link)}"
    if entry.kind == HARDLINK:
        return f"⇒ {display_name(entry.link)}"
    return ""


def change_notes(change: Change) -> list[str]:
    """What a change altered, old → new (`mode -rw-r--r--→-rw-------`, `size 880 B→24 B`)."""
    old, new = change.old, change.entry
    if old is None or new is None:
        return []
    if change.kind == TYPE_CHANGED:
        return [f"was {KIND_NAMES.get(old.kind, old.kind)}"]
    if change.kind not in (MODIFIED, RESTORED):
        return []
    notes = []
    if change.kind == MODIFIED:
        if new.kind == SYMLINK:
            notes.append(f"target {display_name(old.link)}→{display_name(new.link)}")
        elif new.size != old.size:
            notes.append(f"size {human_size(old.size)}→{human_size(new.size)}")
        else:
            notes.append("content")
    changed = new.metadata_changes(old)
    if change.kind == RESTORED and not [c for c in changed if c != "mtime"]:
        notes.append("same content stored again")
    for name in changed:
        if name == "mode":
            notes.append(f"mode {mode_string(old)}→{mode_string(new)}")
        elif name == "owner":
            notes.append(f"owner {owner_string(old)}→{owner_string(new)}")
        else:
            notes.append(f"mtime {mtime_string(old)}→{mtime_string(new)}")
    return notes
