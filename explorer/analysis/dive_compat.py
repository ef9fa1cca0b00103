"""Bit-exact re-implementation of dive's CI metrics (wagoodman/dive v0.13.1).

``dive --ci`` prints ``efficiency``, ``wastedBytes`` and ``userWastedPercent``.
Users who gate CI on those numbers can keep their thresholds with
:func:`dive_compat`, which reproduces dive's results, quirks included.

What dive does (``dive/filetree/efficiency.go``, ``file_tree.go``,
``file_node.go``, ``dive/image/analysis.go``):

* Each layer tar becomes a tree through ``AddPath``.  Missing parent
  directories become implicit nodes with an empty FileInfo (size 0, not a
  directory).  A whiteout ``.wh.NAME`` is stored as a node with that literal
  name.  A path component that starts with ``.wh..wh..`` (the opaque marker
  ``.wh..wh..opq``) makes AddPath return early, so opaque directories are
  ignored, though their parent nodes have already been created.  The last
  entry for a path wins.
* For each layer in order, dive visits only the *leaf* nodes, depth first,
  children sorted bytewise.  The leaf path is ``/a/b/NAME``, with the
  ``.wh.`` prefix stripped from a whiteout leaf.  A normal leaf counts
  its header size.  For a whiteout leaf, dive stacks the lower trees
  (``StackTreeRange(trees, 0, i-1)``: a copy of layer 0, with layers
  0..i-1 stacked onto it; for layer 0 it is layer 0 itself) and looks the
  path up there:
  a directory counts the sum of the sizes of every node in its subtree, and
  anything else (a file, a symlink, or an implicit directory) counts **0**.
  A missing path is an error: the rest of that layer's leaves are skipped,
  and the path's entry stays in the map with its initial minimum of **-1**.
* Per path, dive tracks the number of visits, the cumulative size and the
  smallest size seen.  A path visited 2+ times is an "inefficiency", appended
  when its count reaches 2.  The list is sorted by cumulative size with Go's
  unstable ``sort.Sort`` (pdqsort) and then reported in reverse order.
* ``efficiency = sum(min) / sum(cumulative)`` over all paths, or 1.0 if the
  cumulative sum is 0.  ``wastedBytes = sum(cumulative)`` over the
  inefficiencies.  ``userWastedPercent = wastedBytes / sum(layer sizes except
  the first)``, which is NaN for 0/0 and +Inf for x/0.

dive re-stacks every lower layer for each whiteout, which makes it quadratic.
Here a single running stacked tree is kept instead: each whiteout lookup
walks only the subtree that the same layer then removes.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ..archive.entries import FILE, OPAQUE, WHITEOUT, Row

if TYPE_CHECKING:
    from .image import Image, Layer

_WHITEOUT = ".wh."
_DOUBLE_WHITEOUT = ".wh..wh.."
_TYPE_DIR = b"5"
_MODE_TYPE_BITS = ~0o7777
_C_ISDIR = 0o040000
_MASK64 = (1 << 64) - 1


class DiveEntry(NamedTuple):
    """One tar header of a layer, as dive reads it.

    ``mode`` is optional: dive (via Go's ``tar.Header.FileInfo``) also treats
    an entry as a directory when its mode's type bits are exactly
    ``0o040000``, whatever its typeflag.
    """

    path: str
    typeflag: bytes
    size: int
    mode: int = 0


@dataclass(frozen=True)
class DiveCompat:
    """dive's CI analysis figures."""

    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float
    inefficient_files: list[tuple[str, int, int]]


class _Node:
    __slots__ = ("children", "size", "is_dir")

    def __init__(self, size: int = 0, is_dir: bool = False) -> None:
        self.children: dict[str, _Node] = {}
        self.size = size
        self.is_dir = is_dir


class _Efficiency:
    __slots__ = ("path", "count", "cumulative", "minimum")

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self.cumulative = 0
        self.minimum = -1


def _go_key(name: str) -> bytes:
    """Sort key that matches Go's bytewise string order."""
    return name.encode("utf-8", "surrogateescape")


def _add_path(root: _Node, path: str, size: int, is_dir: bool) -> None:
    """FileTree.AddPath: create missing parents, then attach the payload to the last node."""
    cleaned = posixpath.normpath(path) if "." in path or "//" in path else path
    if cleaned == ".":
        return
    parts = [part for part in cleaned.split("/") if part]
    node = root
    for name in parts:
        child = node.children.get(name)
        if child is None:
            if name.startswith(_DOUBLE_WHITEOUT):
                return
            child = node.children[name] = _Node()
        node = child
    if parts:
        node.size, node.is_dir = size, is_dir


def _get_node(root: _Node, path: str) -> _Node | None:
    """FileTree.GetNode (does not clean the path)."""
    node = root
    for name in path.split("/"):
        if name:
            node = node.children.get(name)
            if node is None:
                return None
    return node


def _build_tree(entries: Sequence[DiveEntry]) -> _Node:
    root = _Node()
    for entry in entries:
        is_dir = entry.typeflag == _TYPE_DIR or entry.mode & _MODE_TYPE_BITS == _C_ISDIR
        _add_path(root, entry.path, entry.size, is_dir)
    return root


def _walk(root: _Node) -> Iterator[tuple[str, _Node, bool]]:
    """Yield (node.Path(), node, is_whiteout) for every node in sorted depth-first order.

    Leaves come out in the same order as dive's VisitDepthChildFirst.  Stacking
    gives the same result in this parent-first order.
    """
    stack: list[tuple[str, str, _Node]] = [("", name, child) for name, child in _sorted_children(root)]
    while stack:
        prefix, name, node = stack.pop()
        whiteout = name.startswith(_WHITEOUT)
        yield f"{prefix}/{name[len(_WHITEOUT) :] if whiteout else name}", node, whiteout
        here = f"{prefix}/{name}"
        stack.extend((here, child_name, child) for child_name, child in _sorted_children(node))


def _sorted_children(node: _Node) -> list[tuple[str, _Node]]:
    """Children in reverse Go order, ready to be pushed on a LIFO stack."""
    items = node.children.items()
    if all(name.isascii() for name in node.children):  # str order is byte order for ASCII
        return sorted(items, reverse=True)
    return sorted(items, key=lambda item: _go_key(item[0]), reverse=True)


def _subtree_size(node: _Node) -> int:
    total = 0
    pending = [node]
    while pending:
        current = pending.pop()
        total += current.size
        pending.extend(current.children.values())
    return total


def _stack(lower: _Node, upper: _Node) -> None:
    """FileTree.Stack: a whiteout removes its path, any other node is added or overwritten.

    dive walks `upper` depth first in sorted order, adding each node's payload at its path;
    merging the trees directory by directory does the same. Within a directory only the order
    of a whiteout against the name it removes matters, so children are sorted only there.
    """
    pending = [(lower, upper)]
    while pending:
        into, node = pending.pop()
        names = node.children
        if any(name.startswith(_WHITEOUT) for name in names):
            names = [name for name, _ in reversed(_sorted_children(node))]
        for name in names:
            child = node.children[name]
            if name.startswith(_WHITEOUT):
                into.children.pop(name[len(_WHITEOUT) :], None)
                if child.children:  # entries below a whiteout: dive adds them under its literal name
                    target = into.children.get(name) or into.children.setdefault(name, _Node())
                    pending.append((target, child))
                continue
            target = into.children.get(name)
            if target is None:
                target = into.children[name] = _Node()
            target.size, target.is_dir = child.size, child.is_dir
            if child.children:
                pending.append((target, child))


class _GoSort:
    """Go 1.24 ``sort.Sort`` (pdqsort) ordering _Efficiency items by cumulative size."""

    def __init__(self, data: list[_Efficiency]) -> None:
        self.data = data

    def less(self, i: int, j: int) -> bool:
        return self.data[i].cumulative < self.data[j].cumulative

    def swap(self, i: int, j: int) -> None:
        self.data[i], self.data[j] = self.data[j], self.data[i]

    def sort(self) -> None:
        n = len(self.data)
        if n > 1:
            self.pdqsort(0, n, n.bit_length())

    def insertion_sort(self, a: int, b: int) -> None:
        for i in range(a + 1, b):
            j = i
            while j > a and self.less(j, j - 1):
                self.swap(j, j - 1)
                j -= 1

    def sift_down(self, lo: int, hi: int, first: int) -> None:
        root = lo
        while True:
            child = 2 * root + 1
            if child >= hi:
                return
            if child + 1 < hi and self.less(first + child, first + child + 1):
                child += 1
            if not self.less(first + root, first + child):
                return
            self.swap(first + root, first + child)
            root = child

    def heap_sort(self, a: int, b: int) -> None:
        hi = b - a
        for i in range((hi - 1) // 2, -1, -1):
            self.sift_down(i, hi, a)
        for i in range(hi - 1, -1, -1):
            self.swap(a, a + i)
            self.sift_down(0, i, a)

    def pdqsort(self, a: int, b: int, limit: int) -> None:
        was_balanced = was_partitioned = True
        while True:
            length = b - a
            if length <= 12:
                self.insertion_sort(a, b)
                return
            if limit == 0:
                self.heap_sort(a, b)
                return
            if not was_balanced:
                self.break_patterns(a, b)
                limit -= 1
            pivot, hint = self.choose_pivot(a, b)
            if hint == "decreasing":
                self.reverse_range(a, b)
                pivot = (b - 1) - (pivot - a)
                hint = "increasing"
            if was_balanced and was_partitioned and hint == "increasing" and self.partial_insertion_sort(a, b):
                return
            if a > 0 and not self.less(a - 1, pivot):
                a = self.partition_equal(a, b, pivot)
                continue
            mid, was_partitioned = self.partition(a, b, pivot)
            left, right = mid - a, b - mid
            threshold = length // 8
            if left < right:
                was_balanced = left >= threshold
                self.pdqsort(a, mid, limit)
                a = mid + 1
            else:
                was_balanced = right >= threshold
                self.pdqsort(mid + 1, b, limit)
                b = mid

    def partition(self, a: int, b: int, pivot: int) -> tuple[int, bool]:
        self.swap(a, pivot)
        i, j = a + 1, b - 1
        while i <= j and self.less(i, a):
            i += 1
        while i <= j and not self.less(j, a):
            j -= 1
        if i > j:
            self.swap(j, a)
            return j, True
        self.swap(i, j)
        i, j = i + 1, j - 1
        while True:
            while i <= j and self.less(i, a):
                i += 1
            while i <= j and not self.less(j, a):
                j -= 1
            if i > j:
                break
            self.swap(i, j)
            i, j = i + 1, j - 1
        self.swap(j, a)
        return j, False

    def partition_equal(self, a: int, b: int, pivot: int) -> int:
        self.swap(a, pivot)
        i, j = a + 1, b - 1
        while True:
            while i <= j and not self.less(a, i):
                i += 1
            while i <= j and self.less(a, j):
                j -= 1
            if i > j:
                return i
            self.swap(i, j)
            i, j = i + 1, j - 1

    def partial_insertion_sort(self, a: int, b: int) -> bool:
        i = a + 1
        for _ in range(5):
            while i < b and not self.less(i, i - 1):
                i += 1
            if i == b:
                return True
            if b - a < 50:
                return False
            self.swap(i, i - 1)
            if i - a >= 2:
                for j in range(i - 1, 0, -1):
                    if not self.less(j, j - 1):
                        break
                    self.swap(j, j - 1)
            if b - i >= 2:
                for j in range(i + 1, b):
                    if not self.less(j, j - 1):
                        break
                    self.swap(j, j - 1)
        return False

    def break_patterns(self, a: int, b: int) -> None:
        length = b - a
        if length < 8:
            return
        random = length
        modulus = 1 << length.bit_length()
        for idx in range(a + (length // 4) * 2 - 1, a + (length // 4) * 2 + 2):
            random ^= (random << 13) & _MASK64
            random ^= random >> 7
            random ^= (random << 17) & _MASK64
            other = random & (modulus - 1)
            if other >= length:
                other -= length
            self.swap(idx, a + other)

    def choose_pivot(self, a: int, b: int) -> tuple[int, str]:
        length = b - a
        swaps = [0]
        i, j, k = a + length // 4, a + length // 4 * 2, a + length // 4 * 3
        if length >= 8:
            if length >= 50:
                i = self.median(i - 1, i, i + 1, swaps)
                j = self.median(j - 1, j, j + 1, swaps)
                k = self.median(k - 1, k, k + 1, swaps)
            j = self.median(i, j, k, swaps)
        if swaps[0] == 0:
            return j, "increasing"
        if swaps[0] == 12:
            return j, "decreasing"
        return j, "unknown"

    def order2(self, a: int, b: int, swaps: list[int]) -> tuple[int, int]:
        if self.less(b, a):
            swaps[0] += 1
            return b, a
        return a, b

    def median(self, a: int, b: int, c: int, swaps: list[int]) -> int:
        a, b = self.order2(a, b, swaps)
        b, c = self.order2(b, c, swaps)
        a, b = self.order2(a, b, swaps)
        return b

    def reverse_range(self, a: int, b: int) -> None:
        i, j = a, b - 1
        while i < j:
            self.swap(i, j)
            i, j = i + 1, j - 1


def _go_divide(numerator: int, denominator: int) -> float:
    """float64(numerator) / float64(denominator) with Go's IEEE result for a zero denominator."""
    if denominator:
        return float(numerator) / float(denominator)
    return math.inf if numerator else math.nan


class DiveAccumulator:
    """dive's figures computed one layer at a time, so no layer's entries need be kept."""

    def __init__(self) -> None:
        self._by_path: dict[str, _Efficiency] = {}
        self._inefficient: list[_Efficiency] = []
        # dive's StackTreeRange(trees, 0, i-1), kept up to date: a copy of layer 0, then every
        # earlier layer stacked on it
        self._stacked: _Node | None = None
        self._sizes: list[int] = []

    def add_layer(self, entries: Sequence[DiveEntry], size: int) -> None:
        """Visit the next layer: its tar entries in tar order, and its size as dive counts it."""
        by_path = self._by_path
        tree = _build_tree(entries)
        if self._stacked is None:
            self._stacked = _build_tree(entries)
        for path, node, whiteout in _walk(tree):
            if node.children:
                continue
            data = by_path.get(path)
            if data is None:
                data = by_path[path] = _Efficiency(path)
            if whiteout:
                previous = _get_node(self._stacked, path)
                if previous is None:
                    break  # GetNode error: dive abandons the rest of this layer
                size_here = _subtree_size(previous) if previous.is_dir else 0
            else:
                size_here = node.size
            data.cumulative += size_here
            if data.minimum < 0 or size_here < data.minimum:
                data.minimum = size_here
            data.count += 1
            if data.count == 2:
                self._inefficient.append(data)
        _stack(self._stacked, tree)
        self._sizes.append(size)

    def result(self, keep: Callable[[str], bool] | None = None) -> DiveCompat:
        """dive's figures; with `keep`, over only the paths (`/a/b`) it keeps (`ci --ignore`)."""
        values = [d for d in self._by_path.values() if keep(d.path)] if keep else self._by_path.values()
        discovered = sum(data.cumulative for data in values)
        minimum = sum(data.minimum for data in values)
        efficiency = 1.0 if discovered == 0 else float(minimum) / float(discovered)
        inefficient = [d for d in self._inefficient if keep(d.path)] if keep else list(self._inefficient)
        _GoSort(inefficient).sort()
        wasted = sum(data.cumulative for data in inefficient)
        return DiveCompat(
            efficiency=efficiency,
            wasted_bytes=wasted,
            user_wasted_percent=_go_divide(wasted, sum(self._sizes[1:])),
            inefficient_files=[(data.path, data.count, data.cumulative) for data in reversed(inefficient)],
        )


def dive_compat(layers: Sequence[Sequence[DiveEntry]], layer_sizes: Sequence[int]) -> DiveCompat:
    """Compute dive's CI figures for an image.

    ``layers`` holds, in manifest order, the layers dive reads.  Each layer is
    every header of its tar, in tar order.  dive skips a header whose cleaned
    name is ``.``; passing one does no harm.  Parity quirk: for a manifest
    layer whose archive member is a *symlink* (for example
    ``<id>/layer.tar -> ../<hex>.tar``), dive parses the symlink's empty body,
    so the caller must pass an empty layer and a size of 0 for it.

    ``layer_sizes[i]`` must be what dive uses as layer *i*'s Size
    (``FileTree.FileSize``): the sum of the tar header ``size`` fields of
    every header in the layer.  That includes directories, links, whiteouts
    and opaque markers, and leaves out headers whose name cleans to ``.``.
    It is not the byte size of the layer tar.  The first layer is only
    excluded from the denominator of ``user_wasted_percent``.
    """
    if len(layer_sizes) != len(layers):
        raise ValueError("layer_sizes must have one size per layer")
    accumulator = DiveAccumulator()
    for entries, size in zip(layers, layer_sizes, strict=True):
        accumulator.add_layer(entries, size)
    return accumulator.result()


def watch(image: Image) -> DiveAccumulator:
    """dive's figures for `image`, gathered as its layers are stacked (call before `analyse`;
    read `result()` after)."""
    accumulator = DiveAccumulator()

    def add_layer(layer: Layer, rows: Iterable[Row]) -> None:
        accumulator.add_layer(dive_entries(rows), layer.content_bytes)

    image.layer_hooks.append(add_layer)
    return accumulator


_TYPEFLAGS = {"f": b"0", "d": b"5", "l": b"2", "h": b"1", "p": b"6", "c": b"3", "b": b"4"}


def dive_entries(rows: Iterable[Row]) -> list[DiveEntry]:
    """A layer's tar entries as dive reads them (whiteouts and opaque markers by name)."""
    entries = []
    for path, kind, size, mode, *_ in rows:
        if kind == WHITEOUT:
            head, _, base = path.rpartition("/")
            entries.append(DiveEntry(f"{head}/.wh.{base}" if head else f".wh.{base}", b"0", 0))
        elif kind == OPAQUE:
            entries.append(DiveEntry(f"{path}/.wh..wh..opq" if path else ".wh..wh..opq", b"0", 0))
        else:
            entries.append(DiveEntry(path, _TYPEFLAGS.get(kind, b"0"), size if kind == FILE else 0, mode))
    return entries
