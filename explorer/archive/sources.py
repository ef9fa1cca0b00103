"""Where an image's files live: a directory, a tar file on disk, or a forward-only stream.

A source answers three questions by archive path ("manifest.json", "blobs/sha256/<hex>"):
does it exist, what JSON does it hold, and what does its layer scan give. A file on disk is
indexed once (headers only) and each blob read by seeking, so the manifest and config come
first however large the image. A stream (standard input, a gzip-wrapped archive) is read in
one forward pass: every blob that looks like a layer is scanned as it passes, keyed by its
path, and the layers are put in order when the manifest arrives at the end.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .blobs import GZIP_MAGIC, ZSTD_MAGIC, CountingReader, Prefixed, SliceReader, decompressed, sniff
from .errors import CorruptBlob, ImageError
from .layerscan import LayerScan, Location, scan_layer
from .limits import DEFAULT_LIMITS, MAX_EXTENDED_HEADER, Limits
from .tarstream import _checksum_ok

MAX_JSON = 64 << 20  # a manifest, index or config larger than this is not one
MAX_KEPT = 256 << 20  # metadata a forward pass keeps in all
BLOCK_SIZE = 512
Progress = Callable[[int], None]


def _parse_json(data: bytes, name: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{name}: malformed JSON ({exc})") from None
    except RecursionError:
        raise ImageError(f"{name}: malformed JSON (nested too deep)") from None


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile takes sizes as they come (a base-256 field can be negative) and reads an extended
    header whole, at whatever size it claims: refuse both."""

    EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE)

    def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:
        if self.size < 0:
            raise tarfile.HeaderError(f"negative size {self.size}")
        if self.type in self.EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise tarfile.HeaderError(f"extended header of {self.size} bytes")
        return super()._proc_member(tf)


def _resolve_links(links: dict[str, str], table: dict) -> dict:
    """For each link, the entry of `table` it leads to through chains of links (loops lead nowhere)."""
    resolved: dict[str, object] = {}
    for start in links:
        chain, target = [], start
        while target in links and target not in resolved and target not in chain:
            chain.append(target)
            target = links[target]
        found = resolved.get(target, table.get(target)) if target not in chain else None
        for name in chain:
            resolved[name] = found
    return {name: value for name, value in resolved.items() if value is not None}


def _member_name(name: str) -> str:
    return posixpath.normpath(name.lstrip("/")).removeprefix("./")


def _link_target(name: str, info: tarfile.TarInfo) -> str:
    """The member a symlink (relative to its folder) or a hard link (from the top) names."""
    if info.issym():
        return posixpath.normpath(posixpath.join(posixpath.dirname(name), info.linkname))
    return _member_name(info.linkname)


class Source:
    """Files of an image archive, by path."""

    seekable = True

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def read_bytes(self, name: str) -> bytes:
        raise NotImplementedError

    def read_json(self, name: str) -> object:
        if not self.exists(name):
            raise ImageError(f"{name}: missing from the archive")
        if self.size(name) > MAX_JSON:
            raise ImageError(f"{name}: too large to be image metadata ({self.size(name)} bytes)")
        return _parse_json(self.read_bytes(name), name)

    def open(self, name: str) -> BinaryIO:
        """A stream of exactly the blob's bytes (truncation raises CorruptBlob)."""
        raise NotImplementedError

    def locate(self, name: str) -> Location | None:
        """Where a blob's bytes lie on disk, so another process can read them; None for a stream."""
        return None

    def scan(
        self,
        name: str,
        label: str,
        on_progress: Progress | None = None,
        verify: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> LayerScan:
        if not self.exists(name):
            raise ImageError(f"{label}: layer blob {name} is missing from the archive")
        with self.open(name) as raw:
            return scan_layer(raw, label, self.size(name), on_progress, verify, limits)

    def close(self) -> None:
        """Release open files."""


class DirSource(Source):
    """An OCI image layout (or an unpacked `docker save`) as a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        try:
            path = (self.root / name).resolve()
        except (OSError, ValueError) as exc:
            raise ImageError(f"{name}: not a valid file name ({exc})") from None
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise ImageError(f"{name}: points outside the image directory")
        return path

    def exists(self, name: str) -> bool:
        try:
            return self._path(name).is_file()
        except (ImageError, OSError, ValueError):
            return False

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def read_bytes(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def open(self, name: str) -> BinaryIO:
        return open(self._path(name), "rb")

    def locate(self, name: str) -> Location | None:
        return Location(str(self._path(name)), 0, self.size(name)) if self.exists(name) else None


class _Member:
    __slots__ = ("offset", "size")

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size


class TarFileSource(Source):
    """An image archive that is a plain tar file on disk: indexed once, then read by seeking."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self.members: dict[str, _Member] = {}
        links: dict[str, str] = {}
        try:
            with tarfile.open(fileobj=self._file, mode="r:", tarinfo=_BoundedTarInfo) as tf:
                for info in tf:
                    if info.size < 0:  # a PAX size record is applied after _BoundedTarInfo's check
                        raise tarfile.HeaderError(f"negative size {info.size}")
                    name = _member_name(info.name)
                    if info.isreg():
                        self.members[name] = _Member(info.offset_data, info.size)
                    elif info.issym() or info.islnk():
                        links[name] = _link_target(name, info)
                self._check_end(tf.offset)
        except (tarfile.TarError, EOFError, ValueError, OverflowError) as exc:
            self._file.close()
            raise ImageError(f"{path}: not a readable tar archive ({exc})") from None
        except OSError as exc:
            self._file.close()
            raise ImageError(f"{path}: {exc.strerror or exc}") from None
        except ImageError:
            self._file.close()
            raise
        for name, member in _resolve_links(links, self.members).items():
            self.members[name] = member

    def _check_end(self, stop: int) -> None:
        """tarfile stops silently at a cut or broken header; only zeros or nothing may follow."""
        size = os.fstat(self._file.fileno()).st_size
        end = max((m.offset + m.size for m in self.members.values()), default=0)
        self._file.seek(stop)
        if end > size or stop > size or self._file.read(BLOCK_SIZE).strip(b"\0"):
            raise ImageError(f"{self.path}: truncated or corrupt tar archive at byte {min(stop, end, size)}")

    def exists(self, name: str) -> bool:
        return name in self.members

    def size(self, name: str) -> int:
        return self.members[name].size

    def read_bytes(self, name: str) -> bytes:
        member = self.members[name]
        with self.open(name) as f:
            return f.read(member.size)

    def open(self, name: str) -> BinaryIO:
        member = self.members[name]
        f = open(self.path, "rb")  # noqa: SIM115 (closed by the returned reader)
        f.seek(member.offset)
        return _Owned(SliceReader(f, member.size, name), f)

    def locate(self, name: str) -> Location | None:
        member = self.members.get(name)
        return Location(str(self.path), member.offset, member.size) if member else None

    def close(self) -> None:
        self._file.close()


class _Owned:
    """A reader that closes the file under it."""

    def __init__(self, reader: SliceReader, file: BinaryIO) -> None:
        self._reader = reader
        self._file = file

    def read(self, n: int = -1) -> bytes:
        return self._reader.read(n)

    def __enter__(self) -> _Owned:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _looks_like_layer(head: bytes) -> bool:
    if head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC):
        return True
    if len(head) < 512:
        return False
    return not head[:512].strip(b"\0") or _checksum_ok(head[:512])


class StreamSource(Source):
    """An archive read in one forward pass (standard input, or a compressed archive).

    Every member is consumed as it passes: small non-layer files (JSON) are kept, layers are
    scanned at once and only their scans kept, so memory stays flat and nothing touches disk.
    A layer that cannot be read is remembered as an error and raised only if the chosen image
    uses it (other platforms' blobs may be broken or absent without harm).
    """

    seekable = False

    def __init__(
        self,
        stream: BinaryIO,
        label: str,
        on_progress: Progress | None = None,
        verify: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.label = label
        self.files: dict[str, bytes] = {}
        self.scans: dict[str, LayerScan] = {}
        self.errors: dict[str, CorruptBlob] = {}
        self.sizes: dict[str, int] = {}
        self._kept = 0
        links: dict[str, str] = {}
        _, inner = decompressed(stream, label)
        counter = CountingReader(inner, on_progress)
        try:
            with tarfile.open(fileobj=counter, mode="r|", tarinfo=_BoundedTarInfo) as tf:
                for info in tf:
                    if info.size < 0:  # a PAX size record is applied after _BoundedTarInfo's check
                        raise tarfile.HeaderError(f"negative size {info.size}")
                    name = _member_name(info.name)
                    if info.issym() or info.islnk():
                        links[name] = _link_target(name, info)
                    elif info.isreg():
                        self._take(name, info, tf, verify, limits)
        except CorruptBlob:
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError, OverflowError) as exc:
            raise ImageError(f"{label}: not a readable tar archive ({exc})") from None
        for table in (self.files, self.scans, self.errors, self.sizes):
            table.update(_resolve_links(links, table))

    def _take(self, name: str, info: tarfile.TarInfo, tf: tarfile.TarFile, verify: bool, limits: Limits) -> None:
        member = tf.extractfile(info)
        raw = SliceReader(member, info.size, name)
        self.sizes[name] = info.size
        head = raw.read(min(info.size, 512))
        if _looks_like_layer(head):
            try:
                self.scans[name] = scan_layer(Prefixed(head, raw), name, info.size, None, verify, limits)
            except CorruptBlob as exc:
                self.errors[name] = exc
            raw.skip_rest()
        elif head.lstrip()[:1] in (b"{", b"[") and info.size <= min(MAX_JSON, MAX_KEPT - self._kept):
            self.files[name] = head + raw.read()  # JSON: a manifest, index or config
            self._kept += info.size
        else:
            raw.skip_rest()

    def exists(self, name: str) -> bool:
        return name in self.sizes

    def size(self, name: str) -> int:
        return self.sizes[name]

    def read_bytes(self, name: str) -> bytes:
        if name not in self.files:
            raise ImageError(f"{name}: not image metadata")
        return self.files[name]

    def scan(
        self,
        name: str,
        label: str,
        on_progress: Progress | None = None,
        verify: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> LayerScan:
        if name in self.errors:
            raise self.errors[name]
        if name in self.scans:
            return self.scans[name]
        if name in self.files:
            raise CorruptBlob(f"{label}: layer blob {name} is not a tar archive")
        raise ImageError(f"{label}: layer blob {name} is missing from the archive")


def open_source(
    path: str, on_progress: Progress | None = None, verify: bool = False, limits: Limits = DEFAULT_LIMITS
) -> Source:
    """Open an image archive: "-" for standard input, a directory, or a file; or an image in a
    registry (`registry://…`, or a reference where no such file exists), or of a local
    engine (`docker:IMAGE`, `podman:IMAGE`)."""
    if path != "-" and not os.path.lexists(path):
        from .engines import engine_of, open_engine
        from .registry import open_registry

        if (engine := engine_of(path)) is not None:
            return open_engine(*engine, on_progress, verify, limits)
        if (registry := open_registry(path)) is not None:
            return registry
    if path == "-":
        stream = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
        with stream:
            return StreamSource(stream, "standard input", on_progress, verify, limits)
    p = Path(path)
    if p.is_dir():
        return DirSource(p)
    if p.exists() and not p.is_file():  # a pipe (`<(...)`, /dev/fd/N): one forward pass, no reopening
        try:
            stream = open(p, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise ImageError(f"{path}: {exc.strerror or exc}") from None
        with stream:
            return StreamSource(stream, str(path), on_progress, verify, limits)
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise ImageError(f"{path}: {exc.strerror or exc}") from None
    if not head:
        raise ImageError(f"{path}: empty file, not an image archive")
    if sniff(head) != "none":
        with open(p, "rb") as f:
            return StreamSource(f, str(path), on_progress, verify, limits)
    return TarFileSource(p)
