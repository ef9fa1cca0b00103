"""Where an image's files live: a directory, a tar file on disk, or a forward-only stream.

A source answers three questions by archive path ("manifest.json", "blobs/sha256/<hex>"):
does it exist, what JSON does it hold, and what does its layer scan give. A file on disk is
indexed once (headers only) and each blob read by seeking, so the manifest and config come
first however large the image. A stream (standard input, a gzip-wrapped archive) is read in
one forward pass: every blob but JSON is scanned as a layer as it passes, keyed by its path,
and the layers are put in order when the manifest arrives at the end.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .blobs import CountingReader, Prefixed, SliceReader, decompressed, sniff
from .errors import CorruptBlob, ImageError
from .layerscan import SMALL_BLOB, LayerScan, Location, read_at, scan_blob, scan_layer
from .limits import DEFAULT_LIMITS, MAX_EXTENDED_HEADER, Limits
from .tarstream import checksum_ok

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
    return _target(name, info.linkname, info.issym())


def _target(name: str, linkname: str, symlink: bool) -> str:
    if symlink:
        return posixpath.normpath(posixpath.join(posixpath.dirname(name), linkname))
    return _member_name(linkname)


def _decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")  # as tarfile decodes names


_PLAIN_TYPES = (b"0", b"\0", b"1", b"2", b"5")  # ustar files, hard and symbolic links, directories
INDEX_READ = 64 << 10  # bytes `_plain_index` reads at a time


def _plain_index(fd: int) -> tuple[dict[str, _Member], dict[str, str], int] | None:
    """The members, links and end of a tar made only of plain ustar headers (files,
    directories, links), read by its headers alone: about 8x faster than tarfile, which
    matters with 50,000 layers. None at anything else (PAX or GNU records, base-256 numbers,
    a bad or cut header, an empty archive): tarfile then reads it, and words its errors."""
    members: dict[str, _Member] = {}
    links: dict[str, str] = {}
    offset = 0
    window, start = b"", 0  # bytes read ahead from `start`: small members' headers come many to a read
    while True:
        at = offset - start
        if at < 0 or at + BLOCK_SIZE > len(window):
            window, start, at = os.pread(fd, INDEX_READ, offset), offset, 0
        header = window[at : at + BLOCK_SIZE]
        if len(header) < BLOCK_SIZE:
            return None
        if header[:1] == b"\0" and not header.strip(b"\0"):
            return (members, links, offset) if offset else None
        typeflag = header[156:157]
        if typeflag not in _PLAIN_TYPES or header[124] & 0x80 or not checksum_ok(header):
            return None
        try:
            size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        except ValueError:
            return None
        raw = header[:100].partition(b"\0")[0]
        if header[257:265] == b"ustar\x0000" and header[345] != 0:
            raw = header[345:500].partition(b"\0")[0] + b"/" + raw
        name = _member_name(_decode_name(raw))
        if typeflag in b"0\0" and not (typeflag == b"\0" and raw.endswith(b"/")):
            members[name] = _Member(offset + BLOCK_SIZE, size)
            offset += BLOCK_SIZE + size + (-size % BLOCK_SIZE)
            continue
        if typeflag in b"12":
            links[name] = _target(name, _decode_name(header[157:257].partition(b"\0")[0]), typeflag == b"2")
        offset += BLOCK_SIZE  # tarfile skips no data for these


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

    def retain(self, blobs: list[str]) -> None:
        """The layer blobs the chosen image will scan, once per use (a forward pass keeps only
        their scans, each until its last use)."""

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
            plain = _plain_index(self._file.fileno())
            if plain is not None:
                self.members, links, stop = plain
                self._check_end(stop)
            else:
                self._index(links)
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

    def _index(self, links: dict[str, str]) -> None:
        self._file.seek(0)
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

    def scan(
        self,
        name: str,
        label: str,
        on_progress: Progress | None = None,
        verify: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> LayerScan:
        member = self.members.get(name)
        if member is None or member.size > SMALL_BLOB:
            return super().scan(name, label, on_progress, verify, limits)
        scan = scan_blob(read_at(self._file.fileno(), member.offset, member.size, name), label, verify, limits)
        if on_progress:
            on_progress(member.size)
        return scan

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


def _looks_like_json(head: bytes) -> bool:
    """A manifest, index or config (a tar whose first name starts with "{" is still a tar)."""
    return head.lstrip()[:1] in (b"{", b"[") and not (len(head) >= BLOCK_SIZE and checksum_ok(head[:BLOCK_SIZE]))


def _relabel(text: str, name: str, label: str) -> str:
    """A message about the blob at `name` (how a forward pass knows it) said of `label`, as
    the file route says it."""
    return label + text[len(name) :] if text.startswith(name + ":") else text


class StreamSource(Source):
    """An archive read in one forward pass (standard input, or a compressed archive).

    Every member is consumed as it passes: small JSON files are kept, every other member is
    scanned as a layer at once and only its scan kept, so memory stays flat and nothing touches
    disk. A blob that cannot be read as a layer is remembered as an error and raised only if the
    chosen image uses it (other platforms' blobs may be broken or absent without harm). Scans
    are handed out as copies, so a blob used by two layers is stacked twice, as from a file.
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
        self._captured = 0  # package-metadata bytes all the scans kept: one budget for the archive
        self._uses: dict[str, int] | None = None  # set by `retain`
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
        head = raw.read(min(info.size, BLOCK_SIZE))
        if _looks_like_json(head) and info.size <= min(MAX_JSON, MAX_KEPT - self._kept):
            self.files[name] = head + raw.read()  # a manifest, index or config (scanned if a layer names it)
            self._kept += info.size
            return
        try:
            scan = scan_layer(Prefixed(head, raw), name, info.size, None, verify, self._capture_left(limits))
            self._captured += scan.capture.used if scan.capture else 0
            self.scans[name] = scan
        except CorruptBlob as exc:
            self.errors[name] = exc
        raw.skip_rest()

    def _capture_left(self, limits: Limits) -> Limits:
        spec = limits.capture
        return limits._replace(capture=spec._replace(budget=max(0, spec.budget - self._captured)))

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
            raise CorruptBlob(_relabel(str(self.errors[name]), name, label))
        if name in self.files:  # JSON named as a layer: read as the file route reads it
            return scan_layer(io.BytesIO(self.files[name]), label, self.sizes[name], None, verify, limits)
        scan = self.scans.get(name)
        if scan is None:
            raise ImageError(f"{label}: layer blob {name} is missing from the archive")
        if self._uses is not None:
            self._uses[name] = self._uses.get(name, 1) - 1
            if self._uses[name] <= 0:
                del self.scans[name]  # its last use: the rows go once stacked
        copy = scan.copy()
        copy.warnings = [_relabel(w, name, label) for w in scan.warnings]
        return copy

    def retain(self, blobs: list[str]) -> None:
        uses: dict[str, int] = {}
        for name in blobs:
            uses[name] = uses.get(name, 0) + 1
        for name in [n for n in self.scans if n not in uses]:
            del self.scans[name]
        self._uses = uses


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
