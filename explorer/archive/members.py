"""Reading regular files' bytes back out of one layer blob, as a stream.

The scan keeps no file contents; once the analysis says which layer's copy of a file is
visible, that layer's blob is read again and the wanted members' data are handed out in tar
order. A compressed blob is decompressed as it passes (sniffed, as in the scan) and read with
`tarfile`; an uncompressed one on disk is walked by the scan's own tar reader (the same paths
as the analysis, at its speed), and each wanted member's data is then read at its offset; a
gzip one can be read through a seek index (`gzindex`, for the app, which reads many files).
Nothing is extracted to disk, and the read stops as soon as every wanted member has been seen.
"""

from __future__ import annotations

import io
import os
import tarfile
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import BinaryIO

from . import gzindex, zstdindex
from .blobs import CHUNK, decompressed, sniff
from .entries import FILE, normalize
from .errors import CorruptBlob, ImageError
from .gzindex import GzipIndex
from .layerscan import Location, mappable, mapped
from .tarstream import TarReader
from .zstdindex import ZstdIndex

INDEX_BUDGET = 32 << 20  # bytes of gzip seek indexes kept in all
ReadProgress = Callable[[int, int], None]  # (offset reached in the blob, blob size)
_REGULAR = (
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.CONTTYPE,
    tarfile.GNUTYPE_SPARSE,
)  # files, as the scan reads them
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, ValueError, OverflowError)


def _chunks(data: BinaryIO, size: int, label: str, path: str) -> Iterator[bytes]:
    left = size
    try:
        while left:
            chunk = data.read(min(CHUNK, left))
            if not chunk:
                raise CorruptBlob(f"{label}: layer tar truncated inside {path}")
            left -= len(chunk)
            yield chunk
    except CorruptBlob:
        raise
    except _READ_ERRORS as exc:
        raise CorruptBlob(f"{label}: cannot read {path} back ({exc})") from None


class BlobWindow(io.RawIOBase):
    """A blob's bytes on disk as a file of its own, read in order or at any offset (`pread`s:
    no position shared with other readers of the file). `on_read(offset reached, blob size)`
    is told of each read."""

    def __init__(self, fd: int, offset: int, size: int, on_read: ReadProgress | None = None) -> None:
        self._fd = fd
        self._offset = offset
        self._size = size
        self._pos = 0
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.pread(len(buffer), self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def pread(self, n: int, at: int) -> bytes:
        """Up to `n` bytes from `at`, leaving the position alone."""
        n = min(n, self._size - at)
        data = os.pread(self._fd, n, self._offset + at) if n > 0 else b""
        if self._on_read is not None:
            self._on_read(at + len(data), self._size)
        return data

    def chunks(self, at: int, size: int, label: str, path: str) -> Iterator[bytes]:
        """`size` bytes from `at`, a read at a time (a blob cut short is an error)."""
        end = at + size
        while at < end:
            data = self.pread(min(CHUNK, end - at), at)
            if not data:
                raise CorruptBlob(f"{label}: layer tar truncated inside {path}")
            at += len(data)
            yield data


def _walked(
    window: BlobWindow, chunks: Iterable[bytes], label: str, wanted: Mapping[str, int]
) -> Iterator[tuple[str, Iterator[bytes]]]:
    """The wanted members of an uncompressed tar (its bytes in `chunks`), found by the scan's
    tar reader; their data read from `window`."""
    left = dict(wanted)
    offsets = array("Q")  # each regular file's data, as the reader finds them
    files = -1
    for path, kind, size, *_ in TarReader(chunks, label, file_offsets=offsets).rows():
        if kind != FILE:
            continue
        files += 1
        skip = left.get(path)
        if skip is None:
            continue
        if skip:
            left[path] = skip - 1
            continue
        del left[path]
        yield path, window.chunks(offsets[files], size, label, path)
        if not left:
            return
    _missing(label, left)


def _missing(label: str, left: Mapping[str, int]) -> None:
    missing = next(iter(left))
    raise ImageError(f"{label}: {missing} is not in this layer any more (has the archive changed since it was read?)")


class IndexCache:
    """Seek indexes of gzip layer blobs, by where the blob lies, the oldest dropped past a budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._indexes: OrderedDict[Location, GzipIndex] = OrderedDict()

    @property
    def memory(self) -> int:
        return sum(index.memory for index in self._indexes.values())

    def get(self, location: Location) -> GzipIndex | None:
        index = self._indexes.get(location)
        if index is not None:
            self._indexes.move_to_end(location)
        return index

    def put(self, location: Location, index: GzipIndex) -> None:
        self._indexes[location] = index
        while len(self._indexes) > 1 and self.memory > self.budget:
            self._indexes.popitem(last=False)


INDEXES = IndexCache(INDEX_BUDGET)


def _indexed(
    window: BlobWindow, location: Location, label: str, wanted: Mapping[str, int], tar_size: int
) -> Iterator[tuple[str, Iterator[bytes]]]:
    index = INDEXES.get(location)
    if index is None:
        index = gzindex.build(window.pread, label, tar_size)
        INDEXES.put(location, index)
    spots = []
    for path, skip in wanted.items():
        spot = index.locate(path, skip)
        if spot is None:
            _missing(label, {path: skip})
        spots.append((spot, path))
    for (offset, size), path in sorted(spots):  # type: ignore[type-var]
        yield path, gzindex.read(window.pread, index, label, offset, size)


def located_member_data(
    location: Location,
    label: str,
    wanted: Mapping[str, int],
    indexed: bool = False,
    tar_size: int = 0,
    spots: Mapping[str, tuple[int, int]] | None = None,
    frames: ZstdIndex | None = None,
    on_read: ReadProgress | None = None,
) -> Iterator[tuple[str, Iterator[bytes]]]:
    """`member_data` of a blob on disk. An uncompressed one is walked by the tar reader and
    only the wanted data read; with `indexed`, a gzip one is read through a seek index (built
    on the first read of the blob, in one whole pass, then kept: `tar_size` sets its spacing).
    With `spots` (the tar offset and size of each wanted path's data, from the scan), a plain
    one is read there at once, and a zstd one of several frames from the frame start before
    (`frames`, the index its scan took). `on_read` is told how far into the blob each read
    reaches."""
    with open(location.path, "rb") as f:
        window = BlobWindow(f.fileno(), location.offset, location.size, on_read)
        kind = sniff(window.pread(4, 0))
        if spots is not None and (kind == "none" or (kind == "zstd" and frames is not None)):
            for path, (offset, size) in sorted(spots.items(), key=lambda item: item[1]):
                if kind == "none":
                    yield path, window.chunks(offset, size, label, path)
                else:
                    yield path, zstdindex.read(window.pread, frames, label, offset, size)  # type: ignore[arg-type]
        elif kind == "none":
            # memory maps, as the scan reads a plain layer: 4-5x faster here than reads
            whole = os.fstat(f.fileno()).st_size >= location.offset + location.size
            chunks = (
                mapped(f, location.offset, location.size)
                if whole and mappable(f)
                else iter(lambda: window.read(CHUNK), b"")
            )
            yield from _walked(window, chunks, label, wanted)
        elif kind == "gzip" and indexed:
            yield from _indexed(window, location, label, wanted, tar_size)
        else:
            yield from member_data(window, label, wanted)  # type: ignore[arg-type]


def member_data(raw: BinaryIO, label: str, wanted: Mapping[str, int]) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Yield (path, its data as chunks) for each wanted path of a layer blob, in tar order.

    `wanted` maps a path to the number of earlier regular-file entries of that path to pass over
    (a tar may hold a path several times; the last one counts). Consume each member's chunks
    before asking for the next.
    """
    left = dict(wanted)
    if not left:
        return
    _, stream = decompressed(raw, label)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tf:
            for info in tf:
                if info.type not in _REGULAR:
                    continue
                path = normalize(info.name)
                skip = left.get(path)
                if skip is None:
                    continue
                if skip:
                    left[path] = skip - 1
                    continue
                del left[path]
                yield path, _chunks(tf.extractfile(info), info.size, label, path)  # type: ignore[arg-type]
                if not left:
                    return
    except CorruptBlob:
        raise
    except _READ_ERRORS as exc:
        raise CorruptBlob(f"{label}: cannot read the layer back ({exc})") from None
    _missing(label, left)
