"""A seek index for one gzip layer blob on disk, so that its files can be read again quickly.

Deflate data cannot be entered in the middle: a decompressor needs the 32 KiB of output
before the point and its bit position. One pass over the blob (with zlib, whose decompressor
state can be copied) keeps a copy of that state every `spacing` bytes of output, at the end of
a compressed read, where nothing is pending (the zran idea, without bit-level work), and the
tar offset of every regular file's data. A file is then read by resuming from the last access
point before it: at most `spacing` bytes are inflated for nothing. Each point costs about
40 KB; the spacing is chosen so that one layer's index stays under `MAX_POINTS` of them.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator

from .blobs import CHUNK, window
from .entries import FILE
from .errors import CorruptBlob
from .tarstream import TarReader

READ = 64 << 10  # compressed bytes a read: an access point can follow each one
MIN_SPACING = 4 << 20  # bytes of output between access points, at least
MAX_POINTS = 256  # per layer: about 10 MB of decompressor states
POINT_BYTES = 40 << 10  # what one access point costs (measured: a zlib inflate state and window)
_GZIP = 31  # zlib wbits for a gzip member


class GzipIndex:
    """Access points into a gzip blob and where each regular file's data lies in its tar."""

    def __init__(self) -> None:
        self.points: list[tuple[int, int, zlib._Decompress]] = []  # (blob offset, tar offset, state)
        self.files: dict[str, list[tuple[int, int]]] = {}  # path -> (tar offset, size) of each entry, in order

    @property
    def memory(self) -> int:
        """About how many bytes the index holds."""
        return len(self.points) * POINT_BYTES + len(self.files) * 150

    def locate(self, path: str, skip: int) -> tuple[int, int] | None:
        """(tar offset, size) of the data of `path`, passing over `skip` earlier entries of it."""
        spots = self.files.get(path)
        return spots[skip] if spots is not None and skip < len(spots) else None


class _Inflater:
    """A gzip blob (several members allowed) read from blob offset `start` with a copy of a
    decompressor state, as a stream of its output (at most CHUNK at a time: a bomb stays
    small); with `index`, access points are kept as it goes."""

    def __init__(
        self,
        read_at: Callable[[int, int], bytes],
        label: str,
        start: int,
        out: int,
        state: zlib._Decompress | None,
        index: GzipIndex | None = None,
        spacing: int = MIN_SPACING,
    ) -> None:
        self._read_at = read_at
        self._label = label
        self._pos = start  # blob offset of the next compressed read
        self._out = out  # tar offset of the next output byte
        self._state = state.copy() if state is not None else zlib.decompressobj(_GZIP)
        self._index = index
        self._spacing = spacing
        self._next_point = out + spacing
        self._fresh = state is None  # no input given to the decompressor yet
        self._buf = b""
        self._at = 0  # bytes of _buf already handed out

    def _input(self) -> bytes:
        """The next compressed bytes for the decompressor ("" at the end of the blob)."""
        state = self._state
        if state.eof:  # the next gzip member starts with what is left, or with the next read
            rest = state.unused_data
            self._state, self._fresh = zlib.decompressobj(_GZIP), True
            if rest:
                return rest
        elif state.unconsumed_tail:
            return state.unconsumed_tail
        data = self._read_at(READ, self._pos)
        self._pos += len(data)
        if not data and not self._fresh:
            raise CorruptBlob(f"{self._label}: gzip stream truncated")
        return data

    def _inflate(self) -> bytes:
        """The next output (b"" at the end)."""
        while data := self._input():
            self._fresh = False
            try:
                out = self._state.decompress(data, CHUNK)
            except zlib.error as exc:
                raise CorruptBlob(f"{self._label}: corrupt gzip data ({exc})") from None
            self._out += len(out)
            state = self._state
            settled = not state.unused_data if state.eof else not state.unconsumed_tail
            if self._index is not None and settled and self._out >= self._next_point:
                self._index.points.append((self._pos, self._out, state.copy()))
                self._next_point = self._out + self._spacing
            if out:
                return out
        return b""

    def read(self, n: int = -1) -> bytes:
        if self._at == len(self._buf):
            self._buf, self._at = self._inflate(), 0
        end = len(self._buf) if n < 0 else min(len(self._buf), self._at + n)
        data = self._buf[self._at : end]
        self._at = end
        return data


def build(read_at: Callable[[int, int], bytes], label: str, tar_hint: int = 0) -> GzipIndex:
    """Index a gzip layer blob in one pass (`read_at(n, offset)` reads the blob). `tar_hint`,
    the layer's uncompressed size if known, sets the spacing of the access points. The scan's
    own tar reader finds the files: the same paths as the analysis, at its speed."""
    index = GzipIndex()
    index.points.append((0, 0, zlib.decompressobj(_GZIP)))
    spacing = max(MIN_SPACING, tar_hint // MAX_POINTS + 1)
    stream = _Inflater(read_at, label, 0, 0, None, index, spacing)
    offsets = array("Q")
    reader = TarReader(iter(stream.read, b""), label, file_offsets=offsets)
    files = [(path, size) for path, kind, size, *_ in reader.rows() if kind == FILE]
    for (path, size), offset in zip(files, offsets, strict=True):
        index.files.setdefault(path, []).append((offset, size))
    return index


def read(read_at: Callable[[int, int], bytes], index: GzipIndex, label: str, offset: int, size: int) -> Iterator[bytes]:
    """`size` bytes of the layer's tar from `offset`, inflated from the access point before it."""
    i = bisect_right([p[1] for p in index.points], offset) - 1
    start, out, state = index.points[i]
    stream = _Inflater(read_at, label, start, out, state)
    yield from window(stream.read, offset - out, size, label, "gzip")
