"""`layerscope extract IMAGE PATH… [--layer N] [--only-changes] -o DIR`: files out of an image.

Names come from the archive and are untrusted. Everything is written below DIR through
directory file descriptors, one component at a time, never following a symlink
(`O_NOFOLLOW`, `O_DIRECTORY`): a symlink already in DIR, or one the image holds, cannot lead a
write outside. Symlinks are written as symlinks (never followed), devices are skipped with a
warning, setuid, setgid and sticky bits are dropped, and directories stay writable by their
owner (u+rwx) so that DIR can be removed again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..analysis.filesystem import Copy
from ..archive.entries import DIR, FIFO, FILE, HARDLINK, KIND_NAMES, SYMLINK, Entry
from ..archive.errors import ImageError
from .opening import opened
from .options import add_open_options, start_pool
from .remote import add_registry_options

if TYPE_CHECKING:
    from ..analysis.image import Image

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
PERMISSIONS = 0o777  # what is kept of a mode


class UnsafeName(Exception):
    """A name that cannot be written below DIR as it stands."""


def _component(name: str) -> bytes:
    raw = os.fsencode(name)
    if raw in (b"", b".", b"..") or b"/" in raw or b"\0" in raw:
        raise UnsafeName(name)
    return raw


class Destination:
    """DIR, written through directory descriptors only."""

    def __init__(self, root: str) -> None:
        os.makedirs(root, exist_ok=True)
        self.root = os.open(root, _DIR_FLAGS)
        self._cached: tuple[tuple[bytes, ...], int] | None = None
        self.dir_modes: list[tuple[list[bytes], int]] = []

    def close(self) -> None:
        if self._cached:
            os.close(self._cached[1])
        os.close(self.root)

    def _parent(self, parts: list[bytes]) -> int:
        """A descriptor of the directory holding `parts[-1]`, made where missing (never closed by the caller)."""
        key = tuple(parts[:-1])
        if self._cached and self._cached[0] == key:
            return self._cached[1]
        fd = os.dup(self.root)
        try:
            for part in key:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)  # a symlink here fails: ELOOP / ENOTDIR
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        if self._cached:
            os.close(self._cached[1])
        self._cached = (key, fd)
        return fd

    def _clear(self, name: bytes, parent: int) -> None:
        """Remove what a previous extraction left at `name` (never a directory: that is kept)."""
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"a directory is in the way of {os.fsdecode(name)}")
        os.unlink(name, dir_fd=parent)

    def directory(self, parts: list[bytes], mode: int) -> None:
        parent = self._parent(parts)
        name = parts[-1]
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            os.close(os.open(name, _DIR_FLAGS, dir_fd=parent))  # a directory, not a symlink to one
        self.dir_modes.append((parts, (mode & PERMISSIONS) | 0o700))

    def file(self, parts: list[bytes]) -> int:
        """A new, empty file at `parts` (mode 0600 until `finish_file`)."""
        parent = self._parent(parts)
        self._clear(parts[-1], parent)
        return os.open(parts[-1], _FILE_FLAGS, 0o600, dir_fd=parent)

    @staticmethod
    def finish_file(fd: int, mode: int, mtime: int) -> None:
        os.fchmod(fd, mode & PERMISSIONS)
        os.utime(fd, (mtime, mtime))
        os.close(fd)

    def symlink(self, parts: list[bytes], target: str) -> None:
        parent = self._parent(parts)
        self._clear(parts[-1], parent)
        os.symlink(os.fsencode(target), parts[-1], dir_fd=parent)

    def fifo(self, parts: list[bytes], mode: int) -> None:
        parent = self._parent(parts)
        self._clear(parts[-1], parent)
        os.mkfifo(parts[-1], mode & PERMISSIONS, dir_fd=parent)

    def set_dir_modes(self) -> None:
        """Directories get their modes last (deepest first), so a read-only one was still writable while filled."""
        for parts, mode in sorted(self.dir_modes, key=lambda item: -len(item[0])):
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=self._parent(parts))
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope extract",
        description="Write files or whole directories of an image, as of a layer, below DIR (never outside it).",
    )
    parser.add_argument("path", metavar="IMAGE", help="image archive or OCI directory (a file: it is read twice)")
    parser.add_argument("files", metavar="PATH", nargs="+", help="files or directories of the image (/ for all)")
    parser.add_argument(
        "-o", "--output", metavar="DIR", required=True, help="directory to write into (made if missing)"
    )
    parser.add_argument("--layer", type=int, metavar="N", help="as of layer N (0 is the base; default: the last)")
    parser.add_argument("--only-changes", action="store_true", help="only what layer N added or changed there")
    add_open_options(parser)
    add_registry_options(parser)
    return parser


def _warn(message: str) -> None:
    from ..present.text import display_name

    print(f"layerscope: warning: {display_name(message)}", file=sys.stderr)


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    from ..analysis.contents import refuse_one_pass

    refuse_one_pass(args.path)  # before anything is read
    # the workers start while the model is imported
    with start_pool(args.path, args) as pool, opened(args, pool) as image:
        written = _extract(args, image)
    print(f"{written} entries written to {args.output}", file=sys.stderr)
    return 0


def _extract(args: argparse.Namespace, image: Image) -> int:
    """Analyse, then write; how many entries were written."""
    from ..analysis.contents import extract_plan, layer_index, read_copies

    layer = layer_index(image, args.layer)
    image.analyse()
    plan, notes = extract_plan(image, args.files, layer, args.only_changes)
    for note in notes:
        _warn(note)
    try:
        dest = Destination(args.output)
    except OSError as exc:
        raise ImageError(f"{args.output}: {exc.strerror or exc}") from None
    try:
        written, targets = _write_entries(dest, plan)
        for copy, chunks in read_copies(image, targets):
            written += _write_file(dest, targets[copy], chunks)
        dest.set_dir_modes()
    except OSError as exc:  # the disk, not a name: nothing more can be written
        raise ImageError(f"{args.output}: {exc.strerror or exc}") from None
    finally:
        dest.close()
    return written


Target = tuple[list[bytes], int, int]  # where a file goes: path components, mode, mtime


def _write_entries(
    dest: Destination, plan: list[tuple[str, Entry, Copy | None]]
) -> tuple[int, dict[Copy, list[Target]]]:
    """Write what needs no file data; return how many, and where each stored copy's bytes go."""
    written = 0
    targets: dict[Copy, list[Target]] = {}
    for path, entry, copy in plan:
        try:
            parts = [_component(name) for name in path.split("/")]
            if entry.kind == DIR:
                dest.directory(parts, entry.mode)
            elif entry.kind in (FILE, HARDLINK) and copy is not None:
                targets.setdefault(copy, []).append((parts, entry.mode, entry.mtime))
                continue
            elif entry.kind == SYMLINK:
                dest.symlink(parts, entry.link)
            elif entry.kind == FIFO:
                dest.fifo(parts, entry.mode)
            else:
                what = "hard link to a missing target" if entry.kind == HARDLINK else KIND_NAMES[entry.kind]
                _warn(f"/{path}: {what}, skipped")
                continue
            written += 1
        except UnsafeName as exc:
            _warn(f"/{path}: unsafe name {exc}, skipped")
        except OSError as exc:
            _warn(f"/{path}: {exc.strerror or exc}, skipped")
    return written, targets


def _write_file(dest: Destination, targets: list[Target], chunks: Iterator[bytes]) -> int:
    """One stored copy's bytes, to every path that shows it (a file and its hard links)."""
    fds = []
    for parts, mode, mtime in targets:
        try:
            fds.append((dest.file(parts), mode, mtime))
        except OSError as exc:
            _warn(f"/{os.fsdecode(b'/'.join(parts))}: {exc.strerror or exc}, skipped")
    try:
        for chunk in chunks:
            for fd, _, _ in fds:
                _write_all(fd, chunk)
    finally:
        for fd, mode, mtime in fds:
            dest.finish_file(fd, mode, mtime)
    return len(fds)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
