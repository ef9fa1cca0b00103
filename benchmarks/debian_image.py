"""A realistic Debian image from this machine's dpkg database (`make_big_image.py --debian`).

The benchmark images of `make_big_image.py` carry the machine's whole dpkg database over a
part of /usr: their lists name five times what they store. A real image lists about what it
stores; this one is built the way `apt-get` builds one, from the packages installed here:

    layer 0  the base system: the Priority required and important packages and what they
             depend on, under the usr-merge symlinks (/bin -> usr/bin), as a debootstrap does
    layer 1  `apt-get update && apt-get install` of INSTALL and their dependencies: their
             files, the status rewritten, apt's lists and debconf's caches left behind
    layer 2  `apt-get purge` of PURGE and `rm -rf /var/lib/apt/lists/*`: whiteouts over the
             files, their info files gone from the status (their bytes are wasted)
    layer 3  `apt-get install --reinstall` of UPGRADE under a new version: its files stored
             again over the old copies

Each package brings the files its `info/*.list` names that exist here (regular files,
symlinks, directories; unreadable files skipped), all its `info/` files, and the layer's
`status` holds its paragraph only.
"""

from __future__ import annotations

import os
import stat
from functools import cache
from pathlib import Path

from benchmarks.synthetic import TarWriter

DPKG = Path("/var/lib/dpkg")
BASE_PRIORITIES = ("required", "important")
INSTALL = ("python3", "python3-pip", "python3-venv", "perl", "gcc-12", "make", "git", "curl", "ca-certificates")
PURGE = ("git", "make")
UPGRADE = "tzdata"
APT_LEFTOVERS = ("var/lib/apt/lists", "var/cache/debconf/config.dat", "var/cache/debconf/templates.dat")
STEPS = (
    "/bin/sh -c #(nop) ADD rootfs.tar.xz /",
    f"/bin/sh -c apt-get update && apt-get install -y {' '.join(INSTALL)}",
    f"/bin/sh -c apt-get purge -y {' '.join(PURGE)} && rm -rf /var/lib/apt/lists/*",
    f"/bin/sh -c apt-get install -y --reinstall {UPGRADE}",
)


def paragraphs(status: bytes) -> dict[str, bytes]:
    """The paragraphs of a dpkg status file by package name (status files name each once)."""
    found = {}
    for block in status.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"Package:"):
                found[line.partition(b":")[2].strip().decode()] = block.strip(b"\n")
                break
    return found


def _field(paragraph: bytes, name: bytes) -> str:
    for line in paragraph.split(b"\n"):
        if line.startswith(name + b":"):
            return line.partition(b":")[2].strip().decode()
    return ""


def closure(roots: list[str], db: dict[str, bytes]) -> set[str]:
    """`roots` and every installed package they depend on (Pre-Depends, Depends; of a set of
    alternatives or a virtual package, the first one installed), as apt would install them."""
    provides: dict[str, str] = {}
    for name, paragraph in db.items():
        for virtual in _field(paragraph, b"Provides").split(","):
            provides.setdefault(virtual.split("(")[0].strip(), name)
    found: set[str] = set()
    todo = [root for root in roots if root in db]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for field in (b"Pre-Depends", b"Depends"):
            for need in _field(db[name], field).split(","):
                for alternative in need.split("|"):
                    wanted = alternative.split("(")[0].strip().partition(":")[0]
                    chosen = wanted if wanted in db else provides.get(wanted)
                    if chosen:
                        todo.append(chosen)
                        break
    return found


def status_of(names: set[str], db: dict[str, bytes], versions: dict[str, str] | None = None) -> bytes:
    """A status file of `names` only (in the machine's order), with versions replaced as given."""
    kept = []
    for name, paragraph in db.items():
        if name in names:
            version = (versions or {}).get(name)
            if version:
                old = _field(paragraph, b"Version")
                paragraph = paragraph.replace(f"Version: {old}".encode(), f"Version: {version}".encode(), 1)
            kept.append(paragraph)
    return b"\n\n".join(kept) + b"\n"


@cache
def _info_index() -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for path in sorted((DPKG / "info").iterdir()):
        index.setdefault(path.name.rpartition(".")[0].partition(":")[0], []).append(path)
    return index


def info_files(name: str) -> list[Path]:
    """dpkg's `info/` files of a package (`NAME.list`, `NAME:amd64.md5sums`, `NAME.postinst`…)."""
    return _info_index().get(name, [])


def listed(name: str) -> list[str]:
    """The paths a package's `.list` names."""
    for path in info_files(name):
        if path.suffix == ".list":
            return [line for line in path.read_text("utf-8", "surrogateescape").split("\n") if line not in ("", "/.")]
    return []


@cache
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder or "/")


def stored_path(listed_path: str) -> str:
    """Where an image stores a listed path: its folder through the machine's directory
    symlinks (`/bin/bash` -> `usr/bin/bash` under the usr-merge), without the leading "/"."""
    head, _, name = listed_path.rpartition("/")
    return f"{_real_folder(head)}/{name}".lstrip("/")


class Layer:
    """One layer's tar: each path once, every folder named before what it holds."""

    def __init__(self, path: Path) -> None:
        self.tar = TarWriter(path)
        self.done: set[str] = set()
        self.links: dict[tuple[int, int], str] = {}  # (device, inode) -> first path stored

    def _folders(self, path: str) -> None:
        head = path.rpartition("/")[0]
        if head and head not in self.done:
            self.add(head)

    def add(self, path: str) -> None:
        """The machine's `/path` as it is: a folder, a symlink or a regular file (a hard link to
        a file this layer stored already); nothing if it is missing or unreadable."""
        if path in self.done:
            return
        try:
            info = os.lstat("/" + path)
            self._folders(path)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISDIR(info.st_mode):
                self.tar.dir(path, mode)
            elif stat.S_ISLNK(info.st_mode):
                self.tar.symlink(path, os.readlink("/" + path))
            elif stat.S_ISREG(info.st_mode):
                first = self.links.get((info.st_dev, info.st_ino)) if info.st_nlink > 1 else None
                if first is not None:
                    self.tar.hardlink(path, first)
                else:
                    self.tar.file(path, Path("/" + path).read_bytes(), mode)
                    self.links[(info.st_dev, info.st_ino)] = path
            else:
                return
        except OSError:
            return
        self.done.add(path)

    def whiteout(self, path: str) -> None:
        """A whiteout hiding `path` of a lower layer."""
        self._folders(path)
        self.tar.whiteout(path)

    def data(self, path: str, data: bytes) -> None:
        """A file of the given bytes."""
        self._folders(path)
        self.tar.file(path, data)
        self.done.add(path)

    def packages(self, names: set[str]) -> None:
        """The packages' listed paths and their info files."""
        paths = {stored_path(p) for name in names for p in listed(name)}
        paths.update(str(p)[1:] for name in names for p in info_files(name))
        for path in sorted(paths):
            self.add(path)

    def tree(self, path: str) -> None:
        """Everything under the machine's `/path` (itself included)."""
        self.add(path)
        for folder, dirs, files in os.walk("/" + path):
            dirs.sort()
            for name in sorted(dirs + files):
                self.add(f"{folder}/{name}"[1:])

    def close(self) -> Path:
        return self.tar.close()


def debian_layers(work: Path) -> tuple[list[Path], list[str], int]:
    """The four layers described above. Returns (tars, steps, entries)."""
    db = paragraphs((DPKG / "status").read_bytes())
    base = closure([n for n, p in db.items() if _field(p, b"Priority") in BASE_PRIORITIES], db)
    added = closure(list(INSTALL), db) - base
    purged = set(PURGE) & added
    status = "var/lib/dpkg/status"
    tars, entries = [], 0

    def finish(layer: Layer) -> None:
        nonlocal entries
        tars.append(layer.close())
        entries += layer.tar.entries

    layer = Layer(work / "layer0.tar")
    for link in ("bin", "lib", "lib64", "sbin"):  # the usr-merge, before anything lands under it
        layer.add(link)
    layer.packages(base)
    layer.data(status, status_of(base, db))
    finish(layer)

    layer = Layer(work / "layer1.tar")
    layer.packages(added)
    layer.data(status, status_of(base | added, db))
    layer.data(status + "-old", status_of(base, db))
    for path in APT_LEFTOVERS:
        layer.tree(path)
    finish(layer)

    layer = Layer(work / "layer2.tar")
    gone = {stored_path(p) for name in purged for p in listed(name) if not os.path.isdir(p)}
    gone.update(str(p)[1:] for name in purged for p in info_files(name))
    gone.update(f"var/lib/apt/lists/{name}" for name in os.listdir("/var/lib/apt/lists"))
    for path in sorted(gone):
        layer.whiteout(path)
    layer.data(status, status_of(base | (added - purged), db))
    layer.data(status + "-old", status_of(base | added, db))
    finish(layer)

    layer = Layer(work / "layer3.tar")
    upgraded = {UPGRADE} & base
    layer.packages(upgraded)
    versions = {name: _field(db[name], b"Version") + "+b1" for name in upgraded}
    layer.data(status, status_of(base | (added - purged), db, versions))
    layer.data(status + "-old", status_of(base | (added - purged), db))
    finish(layer)

    print(
        f"{len(base)} base packages, {len(added)} installed, {len(purged)} purged, {len(upgraded)} reinstalled;"
        f" {sum(len(listed(n)) for n in base | added)} listed paths"
    )
    return tars, list(STEPS), entries
