"""Scanning one layer blob: decompress (sniffed), walk its tar, hash its files."""

from __future__ import annotations

import io
import mmap
import os
import pickle
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, NamedTuple

from .blobs import CHUNK, CountingReader, ReadAhead, Reader, SliceReader, decompressed, gunzip, sniff
from .capture import Capture
from .entries import OPAQUE, WHITEOUT, Row
from .errors import CorruptBlob
from .limits import DEFAULT_LIMITS, RATIO_FLOOR, TRAILER_READ, Limits
from .tarstream import TarReader
from .zstdindex import ZstdIndex

ROWS_BATCH = 4096
MAP_WINDOW = 1 << 20  # bytes of an uncompressed layer mapped at a time
# A compressed blob smaller than this is inflated in the reading thread: starting and joining
# a read-ahead thread costs more than the overlap gains (50,000 one-file layers: ~7 s of it).
READ_AHEAD_MIN = 1 << 20
# A blob this small is read whole and a gzip one inflated in one call (at most ~66 MB): the
# stream machinery costs about 0.2 ms a blob, most of the time of a one-file layer.
SMALL_BLOB = 64 << 10


class PackedRows:
    """A layer's rows as the pickled batches a worker process sent them in, kept so until the
    layer is stacked and decoded one batch at a time there (`LayerScan.batches`).

    A layer that arrives before the layers below it are stacked waits: as bytes it costs ~100
    bytes a row in a few large blocks, as tuples ~180 in small objects, whose memory, freed
    between the union tree's objects, the process mostly kept.
    """

    __slots__ = ("packed", "count", "hiding")

    def __init__(self) -> None:
        self.packed: list[bytes] = []
        self.count = 0
        self.hiding: list[Row] = []  # the whiteouts and opaque markers among them

    def add(self, packed: bytes, count: int, hiding: list[Row]) -> None:
        self.packed.append(packed)
        self.count += count
        self.hiding += hiding

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Row]:
        for packed in self.packed:
            yield from pickle.loads(packed)

    def batches(self) -> Iterator[list[Row]]:
        for packed in self.packed:
            yield pickle.loads(packed)


class LayerScan:
    """What one pass over a layer blob learned. Small and picklable (no file contents but
    the package metadata its `capture` kept)."""

    def __init__(
        self,
        rows: list[Row] | PackedRows,
        tar_size: int,
        compression: str,
        blob_size: int,
        warnings: list[str],
        blob_sha256: str | None = None,
        tar_sha256: str | None = None,
        sparse: dict[str, int] | None = None,
        capture: Capture | None = None,
        zstd_index: ZstdIndex | None = None,
        file_offsets: array | None = None,
    ) -> None:
        self.rows = rows  # its tar entries, in order
        self.tar_size = tar_size
        self.compression = compression
        self.blob_size = blob_size
        self.warnings = warnings
        self.blob_sha256 = blob_sha256
        self.tar_sha256 = tar_sha256
        self.sparse = sparse or {}  # path -> apparent size of each sparse file (rows hold stored bytes)
        self.capture = capture
        self.zstd_index = zstd_index  # a zstd layer of several frames: where its frames start
        # the tar offset of each regular file's data, in tar order (8 bytes a file: a file of a
        # plain layer is read straight from there, one of a multi-frame zstd layer from its frame)
        self.file_offsets = file_offsets

    def copy(self) -> LayerScan:
        """Another scan of the same rows (a blob used by several layers is stacked once for each)."""
        return LayerScan(
            self.rows,
            self.tar_size,
            self.compression,
            self.blob_size,
            self.warnings,
            self.blob_sha256,
            self.tar_sha256,
            self.sparse,
            self.capture,
            self.zstd_index,
            self.file_offsets,
        )

    def batches(self) -> Iterator[list[Row]]:
        """The rows, a batch at a time (decoded one at a time when they came packed)."""
        rows = self.rows
        if isinstance(rows, PackedRows):
            yield from rows.batches()
        else:
            for start in range(0, len(rows), ROWS_BATCH):
                yield rows[start : start + ROWS_BATCH]  # type: ignore[index]

    def hiding(self) -> list[Row]:
        """The whiteouts and opaque markers among the rows (a layer's act before its others)."""
        rows = self.rows
        if isinstance(rows, PackedRows):
            return rows.hiding
        return [row for row in rows if row[1] in (WHITEOUT, OPAQUE)]


def _sha256():  # noqa: ANN202 (hashlib loads OpenSSL: only for --verify)
    import hashlib

    return hashlib.sha256()


class _Sha256Tee:
    """Passes reads through while hashing them."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hash = _sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.hash.update(data)
        return data


class _RatioGuard(Reader):
    """Stops a decompression bomb: a layer that inflates far beyond what compression gives."""

    def __init__(self, inner: BinaryIO, compressed: CountingReader, name: str, max_ratio: int) -> None:
        self._inner = inner
        self._compressed = compressed
        self._name = name
        self._max_ratio = max_ratio
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self.count += len(data)
        if self.count > RATIO_FLOOR and self.count > self._max_ratio * max(self._compressed.count, 1):
            raise CorruptBlob(
                f"{self._name}: inflates more than {self._max_ratio}x (a decompression bomb?"
                " raise the limit with --max-ratio)"
            )
        return data


class _TarChunks:
    """The chunks of a layer's tar, counted (and hashed for --verify) as they pass."""

    def __init__(self, chunks: Iterable[bytes], verify: bool) -> None:
        self._chunks = chunks
        self.hash = _sha256() if verify else None
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.count += len(chunk)
            if self.hash is not None:
                self.hash.update(chunk)
            yield chunk


def read_at(fd: int, offset: int, size: int, name: str) -> bytes:
    """`size` bytes of a file from `offset` (thread-safe: no shared file position)."""
    data = os.pread(fd, size, offset)
    if len(data) < size:
        raise CorruptBlob(f"{name}: truncated ({size - len(data)} bytes missing)")
    return data


class Location(NamedTuple):
    """A blob's bytes on disk: `size` bytes of file `path` from `offset`."""

    path: str
    offset: int
    size: int


def _reads(stream: BinaryIO) -> Iterator[bytes]:
    while data := stream.read(CHUNK):
        yield data


def _walk(
    chunks: _TarChunks,
    name: str,
    on_progress: Callable[[int], None] | None,
    verify: bool,
    limits: Limits,
    on_rows: Callable[[list[Row]], None] | None,
    capture: Capture,
    file_offsets: array | None = None,
) -> tuple[list[Row], list[str], dict[str, int]]:
    """Read a layer tar from its chunks: (its rows, unless handed to `on_rows`; warnings;
    apparent sizes of sparse files). `file_offsets` gets the tar offset of each regular
    file's data."""
    reader = TarReader(chunks, name, on_progress, limits.max_entries, capture, file_offsets)
    rows: list[Row] = []
    for batch in reader.batches(ROWS_BATCH):
        if on_rows is not None:
            on_rows(batch)
        else:
            rows += batch
    # Read on past the end-of-archive blocks (padding, an estargz index) so the size covers
    # them and the gzip/zstd trailer is checked; all of it with --verify, else a bounded part.
    warnings = []
    trailer = 0
    for data in reader.rest():
        trailer += len(data)
        if not verify and trailer > TRAILER_READ:
            warnings.append(f"{name}: more than {TRAILER_READ} bytes follow the end of the tar; not read")
            break
    return rows, [f"{name}: {w}" for w in reader.warnings + capture.warnings] + warnings, reader.sparse


def scan_layer(
    raw: BinaryIO,
    name: str,
    blob_size: int,
    on_progress: Callable[[int], None] | None = None,
    verify: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    on_rows: Callable[[list[Row]], None] | None = None,
) -> LayerScan:
    """Read a layer blob once. `on_progress(bytes_of_blob_read)` is called as it goes.

    With `on_rows`, the entries are handed over in batches as they are read (the scan's own
    `rows` stay empty): a worker process then never holds a whole layer's entries.
    """
    if blob_size <= SMALL_BLOB:
        data = b"".join(iter(raw.read, b""))
        scan = scan_blob(data, name, verify, limits, on_rows)
        if on_progress:
            on_progress(len(data))
        return scan
    return _scan_stream(raw, name, blob_size, on_progress, verify, limits, on_rows)


def _scan_stream(
    raw: BinaryIO,
    name: str,
    blob_size: int,
    on_progress: Callable[[int], None] | None,
    verify: bool,
    limits: Limits,
    on_rows: Callable[[list[Row]], None] | None,
) -> LayerScan:
    blob_tee = _Sha256Tee(raw) if verify or limits.hash_blob else None
    counted = CountingReader(blob_tee or raw)
    frames = ZstdIndex()
    offsets = array("Q")
    compression, tar_stream = decompressed(counted, name, frames)
    if compression != "none":
        tar_stream = _RatioGuard(tar_stream, counted, name, limits.max_ratio)
    ahead = ReadAhead(tar_stream) if compression != "none" and blob_size >= READ_AHEAD_MIN else None
    chunks = _TarChunks(ahead if ahead is not None else _reads(tar_stream), verify)
    report = (lambda _: on_progress(counted.count)) if on_progress else None
    capture = Capture(limits.capture)
    try:
        rows, warnings, sparse = _walk(chunks, name, report, verify, limits, on_rows, capture, offsets)
        if blob_tee:
            while blob_tee.read(1 << 20):
                pass
    finally:
        if ahead:
            ahead.close()
    return LayerScan(
        rows=rows,
        tar_size=chunks.count,
        compression=compression,
        blob_size=blob_size,
        warnings=warnings,
        blob_sha256=blob_tee.hash.hexdigest() if blob_tee else None,
        tar_sha256=chunks.hash.hexdigest() if chunks.hash else None,
        sparse=sparse,
        capture=capture,
        zstd_index=frames if frames.usable(chunks.count) else None,
        file_offsets=offsets,
    )


def scan_blob(
    data: bytes,
    name: str,
    verify: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    on_rows: Callable[[list[Row]], None] | None = None,
) -> LayerScan:
    """Read a small layer blob held whole (see SMALL_BLOB; zstd, which may inflate without
    bound, is streamed all the same)."""
    compression = sniff(data[:4])
    if compression == "zstd":
        return _scan_stream(io.BytesIO(data), name, len(data), None, verify, limits, on_rows)
    tar = gunzip(data, name) if compression == "gzip" else data
    chunks = _TarChunks([tar] if tar else [], verify)
    capture = Capture(limits.capture)
    offsets = array("Q")
    rows, warnings, sparse = _walk(chunks, name, None, verify, limits, on_rows, capture, offsets)
    return LayerScan(
        rows=rows,
        tar_size=chunks.count,
        compression=compression,
        blob_size=len(data),
        warnings=warnings,
        blob_sha256=_sha256_of(data) if verify or limits.hash_blob else None,
        tar_sha256=chunks.hash.hexdigest() if chunks.hash else None,
        sparse=sparse,
        capture=capture,
        file_offsets=offsets,
    )


def _sha256_of(data: bytes) -> str:
    digest = _sha256()
    digest.update(data)
    return digest.hexdigest()


def mapped(f: BinaryIO, offset: int, size: int) -> Iterator[mmap.mmap]:
    """The bytes of a file region as memory-mapped windows: no copy on the way to the parser.

    The caller drops each window before taking the next, which unmaps it: only one window of
    the file is resident in this process at a time.
    """
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    end = offset + size
    skip = offset - start
    while start < end:
        length = min(MAP_WINDOW, end - start)
        window = mmap.mmap(f.fileno(), length, access=mmap.ACCESS_READ, offset=start)
        yield window[skip:] if skip else window  # type: ignore[misc]
        skip = 0
        start += length


def mappable(f: BinaryIO) -> bool:
    try:
        mmap.mmap(f.fileno(), 1, access=mmap.ACCESS_READ).close()
    except (OSError, ValueError):  # a file system without mmap
        return False
    return True


def scan_location(
    loc: Location,
    label: str,
    on_progress: Callable[[int], None] | None,
    verify: bool,
    limits: Limits,
    on_rows: Callable[[list[Row]], None] | None = None,
) -> LayerScan:
    """Scan a blob by its location (what a worker process does).

    An uncompressed blob that is all there is read through memory maps; the rest by reads.
    """
    with open(loc.path, "rb") as f:
        if loc.size <= SMALL_BLOB:
            scan = scan_blob(read_at(f.fileno(), loc.offset, loc.size, label), label, verify, limits, on_rows)
            if on_progress:
                on_progress(loc.size)
            return scan
        f.seek(loc.offset)
        head = f.read(4)
        whole = os.fstat(f.fileno()).st_size >= loc.offset + loc.size
        if verify or not whole or sniff(head) != "none" or loc.size < MAP_WINDOW or not mappable(f):
            f.seek(loc.offset)
            return scan_layer(SliceReader(f, loc.size, label), label, loc.size, on_progress, verify, limits, on_rows)
        # the tar is the blob: hashing the tar (all of it, trailer too) hashes the blob
        chunks = _TarChunks(mapped(f, loc.offset, loc.size), limits.hash_blob)
        report = (lambda _: on_progress(chunks.count)) if on_progress else None
        capture = Capture(limits.capture)
        offsets = array("Q")
        rows, warnings, sparse = _walk(chunks, label, report, limits.hash_blob, limits, on_rows, capture, offsets)
        blob_sha256 = chunks.hash.hexdigest() if chunks.hash else None
        return LayerScan(
            rows,
            chunks.count,
            "none",
            loc.size,
            warnings,
            blob_sha256,
            sparse=sparse,
            capture=capture,
            file_offsets=offsets,
        )
