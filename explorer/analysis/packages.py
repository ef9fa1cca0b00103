"""Packages: what each layer installed, removed or upgraded, which package owns each file, and
the bytes (stored, visible, wasted) of each package.

Works from the package-metadata files the layer scans kept (`archive/capture.py`) and the
union filesystem. The package database at layer N is read from the metadata files visible at
N (each layer that runs dpkg rewrites the whole status file: comparing the databases of
consecutive layers tells what a layer changed). A file belongs to the package whose file
list names it, through the image's directory symlinks (usr-merge: `bash.list` says
`/bin/bash`, the layer stores `usr/bin/bash`); a Node package owns the files under its folder.
Bytes come from the stored copies: a copy at a package's path counts for that package, and
is wasted when no visible path reaches it (the package was removed, or upgraded over it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING

from ..archive.capture import metadata_kind
from ..archive.entries import DIR, FILE, SYMLINK
from . import package_formats as fmt
from .collector import collector_paused
from .filesystem import Copy, FileSystem, Node, paths_of

if TYPE_CHECKING:
    from .image import Image

ADDED, REMOVED, UPGRADED = "added", "removed", "upgraded"
ECOSYSTEMS = ("deb", "apk", "python", "npm")
RPM_DATABASES = ("var/lib/rpm/Packages", "var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")

Key = tuple[str, str, str]  # (ecosystem, identity, arch): one package across its versions


@dataclass(eq=False)
class Package:
    """One package across the image's layers (its figures are for all its versions)."""

    ecosystem: str
    name: str
    version: str  # the last version installed
    arch: str
    location: str  # where its metadata lives (site-packages, node_modules folder); "" for deb/apk
    installed_in: int  # the layer that first installed it
    removed_in: int | None = None  # the layer that removed it (for good)
    installed_size: int | None = None  # bytes, as its package manager states it
    listed: tuple[str, ...] | None = None  # its last file list (None: the metadata lists none)
    files: int = 0  # visible regular files it owns
    stored: int = 0  # bytes of every stored copy of its files, in every layer
    visible: int = 0  # bytes of those copies the final filesystem reaches
    by_layer: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))  # bytes stored per layer
    copies: list[Copy] = field(default_factory=list, repr=False)  # the stored copies of its files
    actions: list[PackageChange] = field(default_factory=list)  # what layers did to it, in order

    @property
    def wasted(self) -> int:
        return self.stored - self.visible

    @property
    def size_only(self) -> bool:
        """True when its metadata lists no files (distroless `status.d`): only its stated size is known."""
        return self.listed is None and self.ecosystem != "npm"


@dataclass(frozen=True)
class PackageChange:
    """What one layer did to one package."""

    layer: int
    action: str  # added, removed, upgraded (its version changed)
    package: Package
    version: str
    old_version: str | None = None

    @property
    def bytes(self) -> int:
        """Bytes this layer stored in the package's files."""
        return self.package.by_layer.get(self.layer, 0)


@dataclass
class Packages:
    """Every package of the image, the changes of each layer, and file ownership."""

    packages: list[Package]
    changes: list[list[PackageChange]]  # per layer
    notes: list[str]
    warnings: list[str]
    owners: dict[str, Package]  # "/path" as the metadata names it -> its package
    aliases: list[tuple[str, str]]  # ("/usr/bin/", "/bin/"): a directory and a symlink to it
    npm_dirs: dict[str, Package]
    fs: FileSystem
    unowned: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes): visible files no
    # package owns in a folder where packages own files, largest first

    def owner_of(self, path: str) -> Package | None:
        """The package that owns `path` (an image path, no leading "/"), if any."""
        return _owner(self, "/" + path)

    def paths_of(self, package: Package) -> list[str]:
        """The image paths of the package's files (not folders) at any layer, sorted: a
        package removed later still shows where it was."""
        found = set()
        if package.ecosystem == "npm":
            node = self.fs.lookup(package.location)
            if node is not None:
                found.update(path for sub, path in _files_under(node, package.location) if _is_file(sub))
            return sorted(found)
        links = {alias for _, alias in self.aliases}
        for listed in package.listed or ():
            if listed + "/" in links:  # a directory the image keeps as a symlink (usr-merge)
                continue
            path = _canonical(listed, self.aliases)[1:]
            node = self.fs.lookup(path) if path else None
            if node is not None and _is_file(node):
                found.add(path)
        return sorted(found)

    def totals(self) -> dict[str, dict[str, int]]:
        """Per ecosystem: packages installed at the end, and their stored, visible, wasted bytes."""
        result: dict[str, dict[str, int]] = {}
        for pkg in self.packages:
            t = result.setdefault(pkg.ecosystem, {"packages": 0, "stored": 0, "visible": 0, "wasted": 0})
            t["packages"] += pkg.removed_in is None
            t["stored"] += pkg.stored
            t["visible"] += pkg.visible
            t["wasted"] += pkg.wasted
        return result


@dataclass
class _Installed:
    """One package in the database of one layer."""

    record: fmt.Record
    location: str
    files: tuple[str, ...] | None


def find_packages(image: Image) -> Packages:
    """The packages of an analysed image (see the module's docstring)."""
    with collector_paused():
        found = _find_packages(image)
    for layer in image.layers:  # read: the bytes kept for this go (what they said is in `found`)
        if layer.scan is not None and layer.scan.capture is not None:
            layer.scan.capture.files = {}
    return found


def _find_packages(image: Image) -> Packages:
    fs = image.fs
    count = len(image.layers)
    kept = [layer.scan.capture.files if layer.scan and layer.scan.capture else {} for layer in image.layers]
    meta: dict[str, Node] = {}
    for files in kept:
        for path in files:
            if path not in meta and (node := fs.lookup(path)) is not None:
                meta[path] = node
    touched = [False] * count
    for node in meta.values():
        for change in node.changes:
            if 0 <= change.layer < count:
                touched[change.layer] = True

    reader = _Reader(kept)
    packages: dict[Key, Package] = {}
    owners: dict[str, Package] = {}
    npm_dirs: dict[str, Package] = {}
    changes: list[list[PackageChange]] = []
    state: dict[Key, _Installed] = {}
    applied: dict[Key, tuple[str, ...]] = {}  # the file list last entered in `owners`, per package
    for layer in range(count):
        if not touched[layer]:
            changes.append([])
            continue
        new = reader.database(meta, layer)
        changes.append(_diff(state, new, layer, packages))
        for key, item in new.items():
            pkg = packages[key]
            if item.files is not None and applied.get(key) is not item.files:
                owners.update(zip(item.files, repeat(pkg)))
                applied[key] = item.files
            elif item.record.ecosystem == "npm":
                npm_dirs[item.location] = pkg
        state = new

    aliases = _directory_aliases(fs)
    result = Packages(
        packages=sorted(packages.values(), key=lambda p: (p.ecosystem, p.name, p.location, p.arch)),
        changes=changes,
        notes=[],
        warnings=reader.warnings,
        owners=owners,
        aliases=aliases,
        npm_dirs=npm_dirs,
        fs=fs,
    )
    _count_bytes(result)
    if any((node := fs.lookup(p)) is not None and node.current() is not None for p in RPM_DATABASES):
        result.notes.append("RPM not read: this image has an RPM database (a binary format layerscope does not parse)")
    return result


class _Reader:
    """Reads the package database visible at a layer, parsing each metadata file version once."""

    def __init__(self, kept: list[dict[str, bytes]]) -> None:
        self._kept = kept
        self._parsed: dict[tuple[str, int], object] = {}
        self._last: dict[str, tuple[bytes, object]] = {}  # path -> its last bytes parsed, and what they gave
        self.warnings: list[str] = []

    def _data(self, node: Node, path: str, layer: int) -> tuple[bytes, int] | None:
        state = node.state_at(layer)
        if state is None or state.entry is None or state.entry.kind != FILE:
            return None
        data = self._kept[state.layer].get(path)
        if data is None:
            return None
        return data, state.layer

    def _parse(self, path: str, kind: str, layer: int, data: bytes) -> object:
        key = (path, layer)
        last = self._last.get(path)
        if key not in self._parsed and last is not None and last[0] == data:  # stored again unchanged
            self._parsed[key] = last[1]
        if key not in self._parsed:
            head = path.rpartition("/")[0]
            if kind == "dpkg-status":
                value: object = fmt.dpkg_status(data)
            elif kind == "dpkg-status.d":
                value = fmt.dpkg_status(data, need_status=False)
            elif kind == "dpkg-list":
                value = fmt.dpkg_list(data)
            elif kind == "apk":
                value = fmt.apk_installed(data)
            elif kind == "python-record":
                value = fmt.python_record(data, head.rpartition("/")[0])
            elif kind == "egg-files":
                value = fmt.egg_files(data, head)
            elif kind == "npm":
                value = fmt.npm_package(data, head)
            else:  # python-metadata, egg-info: their files come with the RECORD
                value = data
            self._parsed[key] = value
            self._last[path] = (data, value)
        return self._parsed[key]

    def database(self, meta: dict[str, Node], layer: int) -> dict[Key, _Installed]:
        """Every package installed at `layer`, by key."""
        found: dict[str, dict[str, object]] = {}  # kind -> path -> parsed
        for path, node in meta.items():
            got = self._data(node, path, layer)
            if got is not None:
                kind = metadata_kind(path)
                assert kind is not None
                found.setdefault(kind, {})[path] = self._parse(path, kind, got[1], got[0])
        db: dict[Key, _Installed] = {}
        self._dpkg(found, db)
        for records in found.get("apk", {}).values():
            for record in records:  # type: ignore[attr-defined]
                db[("apk", record.name, "")] = _Installed(record, "", record.files)
        self._python(found, db)
        for path, record in found.get("npm", {}).items():
            folder = path.rpartition("/")[0]
            db[("npm", folder, "")] = _Installed(record, folder, None)  # type: ignore[arg-type]
        return db

    def _dpkg(self, found: dict[str, dict[str, object]], db: dict[Key, _Installed]) -> None:
        lists: dict[tuple[str, str], tuple[str, ...]] = {}
        for path, files in found.get("dpkg-list", {}).items():
            lists[fmt.list_package(path)] = files  # type: ignore[assignment]
        records = [r for kind in ("dpkg-status", "dpkg-status.d") for rs in found.get(kind, {}).values() for r in rs]  # type: ignore[attr-defined]
        for record in records:
            files = lists.get((record.name, record.arch)) or lists.get((record.name, ""))
            db[("deb", record.name, record.arch)] = _Installed(record, "", files)

    def _python(self, found: dict[str, dict[str, object]], db: dict[Key, _Installed]) -> None:
        records = found.get("python-record", {})
        for kind, files_kind in (("python-metadata", "python-record"), ("egg-info", "egg-files")):
            for path, data in found.get(kind, {}).items():
                folder = path if path.endswith(".egg-info") else path.rpartition("/")[0]
                site = folder.rpartition("/")[0]
                files = (records if files_kind == "python-record" else found.get("egg-files", {})).get(
                    f"{folder}/{'RECORD' if files_kind == 'python-record' else 'installed-files.txt'}"
                )
                record = fmt.python_metadata(data, folder, files)  # type: ignore[arg-type]
                db[("python", f"{site}/{fmt.normalize_python_name(record.name)}", "")] = _Installed(
                    record, site, record.files
                )
        return None


def _diff(
    old: dict[Key, _Installed], new: dict[Key, _Installed], layer: int, packages: dict[Key, Package]
) -> list[PackageChange]:
    """The changes from one layer's database to the next, recorded on the packages."""
    changes = []
    for key, item in new.items():
        record = item.record
        before = old.get(key)
        pkg = packages.get(key)
        if pkg is None:
            pkg = packages[key] = Package(
                record.ecosystem, record.name, record.version, record.arch, item.location, layer
            )
        pkg.name, pkg.installed_size = record.name, record.installed_size
        if item.files is not None:
            pkg.listed = item.files
        if before is None:
            pkg.removed_in = None
            pkg.version = record.version
            changes.append(PackageChange(layer, ADDED, pkg, record.version))
        elif before.record.version != record.version:
            pkg.version = record.version
            changes.append(PackageChange(layer, UPGRADED, pkg, record.version, before.record.version))
    for key, item in old.items():
        if key not in new:
            pkg = packages[key]
            pkg.removed_in = layer
            changes.append(PackageChange(layer, REMOVED, pkg, item.record.version))
    changes.sort(key=lambda c: (c.action, c.package.ecosystem, c.package.name))
    for change in changes:
        change.package.actions.append(change)
    return changes


def _directory_aliases(fs: FileSystem) -> list[tuple[str, str]]:
    """Symlinks to directories in the top two levels of the final filesystem, as
    ("/usr/bin/", "/bin/") pairs: how dpkg's lists name usr-merged paths."""
    aliases = []
    for top in (fs.root.children or {}).values():
        for node in [top, *((top.children or {}).values())]:
            state = node.current()
            if state is None or state.entry.kind != SYMLINK:
                continue
            path = node.path
            target = _resolve_dir(fs, path)
            if target is not None and target != path:
                aliases.append((f"/{target}/", f"/{path}/"))
    return aliases


def _resolve_dir(fs: FileSystem, path: str, hops: int = 32) -> str | None:
    """Where a path leads through symlinks in the final filesystem, if it is a directory."""
    parts = path.split("/")
    done: list[str] = []
    node = fs.root
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if done:
                done.pop()
                node = fs.lookup("/".join(done)) or fs.root
            continue
        child = (node.children or {}).get(part)
        state = child.current() if child is not None else None
        if state is None:
            return None
        if state.entry.kind == SYMLINK:
            hops -= 1
            if hops < 0:
                return None
            link = state.entry.link
            if link.startswith("/"):
                done, node = [], fs.root
            parts = link.split("/") + parts
            continue
        done.append(part)
        node = child  # type: ignore[assignment]
    return "/".join(done) if node.current() is not None and node.current().entry.kind == DIR else None


def _canonical(listed: str, aliases: list[tuple[str, str]]) -> str:
    """A listed path as the image stores it: "/bin/bash" -> "/usr/bin/bash" under usr-merge."""
    for target, alias in aliases:
        if listed.startswith(alias):
            return target + listed[len(alias) :]
    return listed


def _owner(packages: Packages, path: str) -> Package | None:
    """The owner of a stored path ("/usr/bin/bash"), by its own name or a symlinked alias."""
    owner = packages.owners.get(path)
    if owner is None:
        head, _, name = path.rpartition("/")
        other = _elsewhere(packages, head)
        if other is not None:
            owner = _owner_in(packages, other, head, name)
    return owner


def _elsewhere(packages: Packages, head: str) -> tuple[list[str], bool] | None:
    """How else lists may name the files of folder `head` ("/usr/bin"): the folder's paths
    through the symlinks to it, in order ("/bin"), and whether it is under a node_modules
    folder (whose package owns what it holds). None: only by their own paths."""
    slashed = head + "/"
    heads = [(alias + slashed[len(target) :])[:-1] for target, alias in packages.aliases if slashed.startswith(target)]
    under_npm = bool(packages.npm_dirs) and "/node_modules/" in slashed
    return (heads, under_npm) if heads or under_npm else None


def _owner_in(packages: Packages, other: tuple[list[str], bool], head: str, name: str) -> Package | None:
    """The owner of file `name` of folder `head` that no list names by its own path."""
    heads, under_npm = other
    for alias in heads:
        owner = packages.owners.get(f"{alias}/{name}")
        if owner is not None:
            return owner
    return _npm_owner(packages.npm_dirs, f"{head}/{name}") if under_npm else None


def _npm_owner(npm_dirs: dict[str, Package], path: str) -> Package | None:
    """The innermost node_modules package folder holding `path`."""
    parts = path[1:].split("/")
    for i in range(len(parts) - 2, 0, -1):
        if parts[i - 1] == "node_modules" or (
            i >= 2 and parts[i - 2] == "node_modules" and parts[i - 1].startswith("@")
        ):
            owner = npm_dirs.get("/".join(parts[: i + 1]))
            if owner is not None:
                return owner
    return None


def _is_file(node: Node) -> bool:
    """True when some layer stored something other than a directory at this path."""
    return any(c.entry is not None and c.entry.kind != DIR for c in node.changes)


def _files_under(node: Node, path: str) -> Iterator[tuple[Node, str]]:
    """The nodes under a package folder (not under its own node_modules) with their paths."""
    stack = [(node, path)]
    while stack:
        current, where = stack.pop()
        for name, child in (current.children or {}).items():
            if name == "node_modules":
                continue
            sub = f"{where}/{name}"
            yield child, sub
            stack.append((child, sub))


def _count_bytes(packages: Packages) -> None:
    """Each package's stored, visible and per-layer bytes and visible files, from the copies;
    and the visible files no package owns in a folder where packages own files.

    One pass over the stored copies gives each its package: a copy is named by its path
    ("/usr/bin/bash"), a folder's path built once. Then the sums, package by package."""
    if not packages.owners and not packages.npm_dirs:  # no file lists: no file to count
        return
    fs = packages.fs
    owner = packages.owners.get
    folders: dict[Node, str] = {fs.root: ""}
    others: dict[Node, tuple[list[str], bool]] = {}  # folders whose files lists may name otherwise

    def folder(node: Node) -> str:
        path = folders.get(node)
        if path is None:
            path = folders[node] = f"{folder(node.parent)}/{node.name}"  # type: ignore[arg-type]
            other = _elsewhere(packages, path)
            if other is not None:
                others[node] = other
        return path

    orphans: list[Copy] = []  # visible copies no package owns
    for copy in fs.copies:
        where = copy.where
        parent = where.parent
        head = folders.get(parent)  # type: ignore[arg-type]
        if head is None:
            head = folder(parent)  # type: ignore[arg-type]
        pkg = owner(f"{head}/{where.name}")
        if pkg is None:
            other = others.get(parent)  # type: ignore[arg-type]
            if other is None or (pkg := _owner_in(packages, other, head, where.name)) is None:
                if copy.refs > 0:
                    orphans.append(copy)
                continue
        pkg.copies.append(copy)
    managed: set[Node] = set()  # folders holding a visible file some package owns
    for pkg in packages.packages:
        copies = pkg.copies
        if not copies:
            continue
        by_layer = pkg.by_layer
        for copy in copies:
            by_layer[copy.layer] += copy.size
        visible = [copy for copy in copies if copy.refs > 0]
        pkg.stored = sum(by_layer.values())
        pkg.visible = sum([copy.size for copy in visible])
        pkg.files = len(visible)
        managed.update([copy.where.parent for copy in visible])  # type: ignore[misc]
    orphans = [copy for copy in orphans if copy.where.parent in managed]
    unowned = list(zip(paths_of([copy.where for copy in orphans]), [copy.size for copy in orphans], strict=True))
    unowned.sort(key=lambda item: (-item[1], item[0]))
    packages.unowned = unowned
