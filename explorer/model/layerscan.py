"""Scanning one layer blob: decompress (sniffed), walk its tar, hash its files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from .blobs import CountingReader, ReadAhead, Reader, decompressed
from .entries import Entry
from .errors import CorruptBlob
from .limits import DEFAULT_LIMITS, RATIO_FLOOR, TRAILER_READ, Limits
from .tarstream import TarReader


@dataclass
class LayerScan:
    """What one pass over a layer blob learned. Small and picklable (no file contents)."""

    entries: list[Entry]
    tar_size: int
    compression: str
    blob_size: int
    warnings: list[str] = field(default_factory=list)
    blob_sha256: str | None = None
    tar_sha256: str | None = None


class _Sha256Tee:
    """Passes reads through while hashing them."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()

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


def scan_layer(
    raw: BinaryIO,
    name: str,
    blob_size: int,
    on_progress: Callable[[int], None] | None = None,
    verify: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> LayerScan:
    """Read a layer blob once. `on_progress(bytes_of_blob_read)` is called as it goes."""
    blob_tee = _Sha256Tee(raw) if verify else None
    counted = CountingReader(blob_tee or raw)
    compression, tar_stream = decompressed(counted, name)
    ahead = ReadAhead(_RatioGuard(tar_stream, counted, name, limits.max_ratio)) if compression != "none" else None
    tar_tee = _Sha256Tee(ahead or tar_stream) if verify else None
    tar_counted = CountingReader(tar_tee or ahead or tar_stream)
    reader = TarReader(
        tar_counted, name, (lambda _: on_progress(counted.count)) if on_progress else None, limits.max_entries
    )
    warnings = []
    try:
        entries = list(reader)
        # Read on past the end-of-archive blocks (padding, an estargz index) so the size covers
        # them and the gzip/zstd trailer is checked; all of it with --verify, else a bounded part.
        trailer = 0
        while (verify or trailer < TRAILER_READ) and (data := tar_counted.read(1 << 16)):
            trailer += len(data)
        if not verify and trailer >= TRAILER_READ and tar_counted.read(1):
            warnings.append(f"{name}: more than {TRAILER_READ} bytes follow the end of the tar; not read")
        if blob_tee:
            while blob_tee.read(1 << 20):
                pass
    finally:
        if ahead:
            ahead.close()
    warnings += [f"{name}: {w}" for w in reader.warnings]
    return LayerScan(
        entries=entries,
        tar_size=tar_counted.count,
        compression=compression,
        blob_size=blob_size,
        warnings=warnings,
        blob_sha256=blob_tee.hash.hexdigest() if blob_tee else None,
        tar_sha256=tar_tee.hash.hexdigest() if tar_tee else None,
    )
