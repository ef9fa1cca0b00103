"""Comparing two analysed images: which layers they share, and how their final filesystems differ.

Layers are matched by `diff_id` (the sha256 of the uncompressed tar, the same whatever the
archive format or compression). The final filesystems are compared path by path, in one walk
over both union trees: content by size and xxh3 digest (hashed for every regular file during
the scan), symlinks by target, then mode, owner and mtime (a directory's mtime is left out: it
moves whenever a child changes). Sizes are regular-file bytes by path, each stored copy counted
once, as the file browser counts it: at its stored path, or where that path no longer holds it, at
the first hard link (in stacking order) that still does. So the totals are the bytes each image
makes visible, and a deleted name whose bytes a hard link still reaches leaves them in the totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..archive.entries import DIR, FILE, HARDLINK, Entry
from ..archive.layerscan import LayerScan, Location
from ..archive.limits import DEFAULT_LIMITS, Limits
from ..archive.pool import LayerBlob, ScanPool
from ..archive.sources import Progress, Source
from .collector import collector_paused
from .filesystem import FileSystem, Node
from .image import Image, through_cache
from .packages import Package, Packages

ADDED, REMOVED, MODIFIED, METADATA, TYPE_CHANGED = "added", "removed", "modified", "metadata", "type_changed"
STATUSES = (ADDED, REMOVED, MODIFIED, METADATA, TYPE_CHANGED)
_FILE_LIKE = (FILE, HARDLINK)
GROWTH_SHARE = 0.5  # the verdict names the deepest directory holding at least this share of the growth


@dataclass(frozen=True)
class PathDiff:
    """One path whose final state differs. `fields` names what differs for METADATA
    ("mode", "owner", "mtime", "hardlink", "link"); `old_bytes`/`new_bytes` the file bytes
    counted at the path (a hard link: only where it carries a copy no earlier path holds)."""

    path: str
    status: str
    old: Entry | None
    new: Entry | None
    fields: tuple[str, ...] = ()
    old_bytes: int = 0
    new_bytes: int = 0

    @property
    def delta(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True)
class DirChange:
    """A directory whose file bytes differ; `grown`/`shrunk` sum the per-path growths and cuts under it."""

    path: str
    old_bytes: int
    new_bytes: int
    grown: int
    shrunk: int

    @property
    def delta(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True)
class LayerMatch:
    """Layers matched by diff_id: the common prefix, other layers in both, and the rest."""

    shared_base: int  # layers 0..shared_base-1 are the same in both
    also_shared: list[tuple[int, int]]  # (old index, new index) of identical layers outside the base
    old_only: list[int]
    new_only: list[int]

    @property
    def shared(self) -> int:
        return self.shared_base + len(self.also_shared)


@dataclass
class Comparison:
    old: Image
    new: Image
    layers: LayerMatch
    diffs: list[PathDiff]  # in path order
    dirs: dict[str, DirChange]  # directories whose bytes changed ("" is the root)
    old_bytes: int  # regular-file bytes of the final filesystems
    new_bytes: int

    @property
    def identical(self) -> bool:
        """The final filesystems hold the same paths with the same contents and metadata."""
        return not self.diffs

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for d in self.diffs:
            counts[d.status] += 1
        return counts

    @property
    def root(self) -> DirChange:
        return self.dirs.get("") or DirChange("", self.old_bytes, self.new_bytes, 0, 0)

    def growth_dir(self) -> tuple[str, float] | None:
        """The deepest directory holding at least half of the growth (or, when NEW is smaller,
        of the reduction), with its share; None when nothing grew (shrank)."""
        root = self.root
        shrinking = root.delta < 0
        total = root.shrunk if shrinking else root.grown
        if total <= 0:
            return None
        # Directories holding more than half of it are nested in one another: take the deepest.
        held = [
            (d.path.count("/"), amount, d.path)
            for d in self.dirs.values()
            if d.path and (amount := d.shrunk if shrinking else d.grown) >= GROWTH_SHARE * total
        ]
        if not held:
            return None
        _, amount, path = max(held)
        return path, amount / total

    def largest_growths(self, top: int | None = None) -> list[PathDiff]:
        """Paths whose bytes grew, largest first."""
        grown = sorted((d for d in self.diffs if d.delta > 0), key=lambda d: (-d.delta, d.path))
        return grown[:top]

    def directories(self, top: int | None = None) -> list[DirChange]:
        """Directories whose bytes changed, largest change first (parents before children on ties)."""
        return sorted(self.dirs.values(), key=lambda d: (-abs(d.delta), d.path.count("/"), d.path))[:top]

    def package_changes(self) -> list[PackageDiff]:
        """The packages installed at the end of one image and not the other, or at another version."""
        return compare_packages(self.old.packages, self.new.packages)


UPGRADED, DOWNGRADED = "upgraded", "downgraded"
PACKAGE_STATUSES = (ADDED, REMOVED, UPGRADED, DOWNGRADED)


@dataclass(frozen=True)
class PackageDiff:
    """A package installed at the end of OLD or NEW (or both, at two versions); its bytes are
    the visible bytes of its files in each image (0 where it is not installed)."""

    ecosystem: str
    name: str
    arch: str
    location: str  # the site-packages or node_modules folder; "" for deb and apk
    status: str  # added, removed, upgraded, downgraded
    old_version: str | None
    new_version: str | None
    old_bytes: int
    new_bytes: int

    @property
    def delta(self) -> int:
        return self.new_bytes - self.old_bytes


def compare_packages(old: Packages, new: Packages) -> list[PackageDiff]:
    """Packages added, removed or at another version from OLD to NEW (versions ordered as dpkg
    orders them), by ecosystem then name."""

    def installed(found: Packages) -> dict[tuple[str, str, str, str], Package]:
        return {(p.ecosystem, p.name, p.arch, p.location): p for p in found.packages if p.removed_in is None}

    before, after = installed(old), installed(new)
    diffs = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None:
            order = compare_versions(was.version, now.version)
            if order == 0:
                continue
            status = UPGRADED if order < 0 else DOWNGRADED
        else:
            status = ADDED if was is None else REMOVED
        diffs.append(
            PackageDiff(
                *key,
                status,
                was.version if was is not None else None,
                now.version if now is not None else None,
                was.visible if was is not None else 0,
                now.visible if now is not None else 0,
            )
        )
    return diffs


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version `a` is lower than, equal to or higher than `b`, by dpkg's rules
    (epoch, then upstream and revision; `~` sorts before anything, even the end). Other
    ecosystems' versions (1.2.10 > 1.2.9) mostly order the same way."""
    if a == b:
        return 0
    ea, _, ra = a.rpartition(":") if ":" in a else ("0", "", a)
    eb, _, rb = b.rpartition(":") if ":" in b else ("0", "", b)
    if ea != eb and ea.isdigit() and eb.isdigit():
        return -1 if int(ea) < int(eb) else 1
    ua, _, va = ra.rpartition("-") if "-" in ra else (ra, "", "")
    ub, _, vb = rb.rpartition("-") if "-" in rb else (rb, "", "")
    return _verrevcmp(ua, ub) or _verrevcmp(va, vb)


def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's comparison of one version part: runs of non-digits (letters before other
    characters, `~` first), then runs of digits as numbers."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            cb = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ca != cb:
                return -1 if ca < cb else 1
            i, j = i + 1, j + 1
        si, sj = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        na, nb = int(a[si:i] or 0), int(b[sj:j] or 0)
        if na != nb:
            return -1 if na < nb else 1
    return 0


def _carriers(fs: FileSystem, layer: int) -> dict[Node, int]:
    """The hard links that count a copy at `layer` because its stored path no longer holds it:
    each such copy at the first link (in stacking order, as the file browser counts) still
    holding it, with its size."""
    carriers: dict[Node, int] = {}
    settled: set[int] = set()  # ids of the copies whose counting path is known
    for node in dict.fromkeys(fs.links):
        state = node.state_at(layer)
        copy = state.copy if state is not None else None
        if copy is None or copy.where is node or id(copy) in settled:
            continue
        settled.add(id(copy))
        stored = copy.where.state_at(layer)
        if stored is None or stored.copy is not copy:
            carriers[node] = copy.size
    return carriers


def _bytes(node: Node | None, entry: Entry | None, carriers: dict[Node, int]) -> int:
    """The file bytes counted at a path: a stored file's size, a carrying hard link's (see `_carriers`)."""
    if entry is None:
        return 0
    if entry.kind == FILE:
        return entry.size
    return carriers.get(node, 0) if entry.kind == HARDLINK else 0  # type: ignore[arg-type]


def match_layers(old: Image, new: Image) -> LayerMatch:
    old_ids = [layer.diff_id for layer in old.layers]
    new_ids = [layer.diff_id for layer in new.layers]
    base = 0
    while base < min(len(old_ids), len(new_ids)) and old_ids[base] and old_ids[base] == new_ids[base]:
        base += 1
    new_at: dict[str, list[int]] = {}
    for j in range(base, len(new_ids)):
        if new_ids[j]:
            new_at.setdefault(new_ids[j], []).append(j)
    also, old_only = [], []
    for i in range(base, len(old_ids)):
        spots = new_at.get(old_ids[i] or "")
        if spots:
            also.append((i, spots.pop(0)))
        else:
            old_only.append(i)
    matched = {j for _, j in also}
    new_only = [j for j in range(base, len(new_ids)) if j not in matched]
    return LayerMatch(base, also, old_only, new_only)


def _metadata(old: Entry, new: Entry) -> tuple[str, ...]:
    fields = []
    if old.mode != new.mode:
        fields.append("mode")
    if old.uid != new.uid or old.gid != new.gid:
        fields.append("owner")
    if old.mtime != new.mtime and new.kind != DIR:
        fields.append("mtime")
    if old.kind != new.kind:  # a regular file and a hard link with the same bytes
        fields.append("hardlink")
    elif old.kind == HARDLINK and old.link != new.link:
        fields.append("link")
    return tuple(fields)


def _status(old: Entry, new: Entry) -> str | None:
    """How `new` differs from `old` at one path, or None when it does not."""
    ok, nk = old.kind, new.kind
    if ok != nk and not (ok in _FILE_LIKE and nk in _FILE_LIKE):
        return TYPE_CHANGED
    if ok in _FILE_LIKE:
        if old.size != new.size or old.digest != new.digest or old.digest is None:
            if old.digest is None and new.digest is None and old.link == new.link and old.size == new.size:
                pass  # two unresolved hard links to the same name
            else:
                return MODIFIED
    elif old.link != new.link:
        return MODIFIED
    return METADATA if _metadata(old, new) else None


class _Walk:
    """Both union trees walked together; each call returns (old bytes, new bytes, grown, shrunk).

    Growth and cuts are those of differing paths: a hard link whose entry is the same in both
    but that carries a copy in one image only (its stored name deleted) moves bytes between
    directories, in their totals, without growing or cutting anything."""

    def __init__(self, old: FileSystem, old_layer: int, new: FileSystem, new_layer: int) -> None:
        self.old_layer = old_layer
        self.new_layer = new_layer
        self.old_carriers = _carriers(old, old_layer) if old.links else {}
        self.new_carriers = _carriers(new, new_layer) if new.links else {}
        self.diffs: list[PathDiff] = []
        self.dirs: dict[str, DirChange] = {}

    def pair(self, old: Node | None, new: Node | None, path: str) -> tuple[int, int, int, int]:
        oe = old.entry_at(self.old_layer) if old is not None else None
        ne = new.entry_at(self.new_layer) if new is not None else None
        if oe is None and ne is None:
            return 0, 0, 0, 0
        ob, nb = _bytes(old, oe, self.old_carriers), _bytes(new, ne, self.new_carriers)
        status = ADDED if oe is None else REMOVED if ne is None else _status(oe, ne)
        if status is not None:
            fields = _metadata(oe, ne) if status == METADATA else ()  # type: ignore[arg-type]
            self.diffs.append(PathDiff(path, status, oe, ne, fields, ob, nb))
            grown, shrunk = max(nb - ob, 0), max(ob - nb, 0)
        else:
            grown = shrunk = 0
        o_dir = oe is not None and oe.kind == DIR
        n_dir = ne is not None and ne.kind == DIR
        if not (o_dir or n_dir):
            return ob, nb, grown, shrunk
        o_children = (old.children or {}) if o_dir else {}  # type: ignore[union-attr]
        n_children = (new.children or {}) if n_dir else {}  # type: ignore[union-attr]
        prefix = f"{path}/" if path else ""
        for name in sorted(o_children.keys() | n_children.keys()):
            o, n, g, s = self.pair(o_children.get(name), n_children.get(name), prefix + name)
            ob += o
            nb += n
            grown += g
            shrunk += s
        if grown or shrunk or ob != nb:
            self.dirs[path] = DirChange(path, ob, nb, grown, shrunk)
        return ob, nb, grown, shrunk


def compare(old: Image, new: Image) -> Comparison:
    """Compare the final filesystems of two analysed images."""
    assert old.analysed and new.analysed, "analyse() both images first"
    walk = _Walk(old.fs, len(old.layers) - 1, new.fs, len(new.layers) - 1)
    ob, nb, _, _ = walk.pair(old.fs.root, new.fs.root, "")
    diffs = [d for d in walk.diffs if d.path]  # the root itself: only its metadata, not a path
    return Comparison(old, new, match_layers(old, new), diffs, walk.dirs, ob, nb)


class _Both(Source):
    """The layer blobs of two images as one source (names prefixed `0:` and `1:`), so that one
    pool scans them all."""

    def __init__(self, first: Source, second: Source) -> None:
        self._sources = (first, second)

    def _split(self, name: str) -> tuple[Source, str]:
        which, _, blob = name.partition(":")
        return self._sources[int(which)], blob

    def exists(self, name: str) -> bool:
        source, blob = self._split(name)
        return source.exists(blob)

    def size(self, name: str) -> int:
        source, blob = self._split(name)
        return source.size(blob)

    def locate(self, name: str) -> Location | None:
        source, blob = self._split(name)
        return source.locate(blob)

    def retain(self, blobs: list[str]) -> None:
        for which, source in enumerate(self._sources):
            source.retain([name.partition(":")[2] for name in blobs if name.startswith(f"{which}:")])

    def scan(
        self,
        name: str,
        label: str,
        on_progress: Progress | None = None,
        verify: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> LayerScan:
        source, blob = self._split(name)
        return source.scan(blob, label, on_progress, verify, limits)


def analyse_both(old: Image, new: Image, pool: ScanPool) -> None:
    """Analyse two images (opened with the same options) at once: the layers of both go to one
    pool, biggest blob first, so neither image's last big layer is scanned alone."""
    blobs = [
        LayerBlob(f"{which}:{layer.ref.blob}", image.label(layer), layer.blob_size)
        for which, image in enumerate((old, new))
        for layer in image.layers
    ]
    split = len(old.layers)
    options = old.options
    both = _Both(old.source, new.source)
    with collector_paused():
        cached = through_cache([old, new], both, blobs)
        if cached is not None:
            scans = cached.scans(pool, largest_first=True)
        else:
            scans = pool.scan(both, blobs, options.verify, options.limits, largest_first=True)
        for index, scan in scans:
            image, i = (old, index) if index < split else (new, index - split)
            image.add_scan(i, scan)
        old.finish()
        new.finish()
