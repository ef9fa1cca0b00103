"""Reading regular files' bytes back out of one layer blob, as a stream.

The scan keeps no file contents; once the analysis says which layer's copy of a file is
visible, that layer's blob is read again, decompressed as it passes (sniffed, as in the scan),
and the wanted members' data are handed out in tar order. Nothing is extracted to disk, and the
read stops as soon as every wanted member has been seen.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from .blobs import CHUNK, decompressed
from .entries import normalize
from .errors import CorruptBlob, ImageError

_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)  # what the scan reads as a file
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
    missing = next(iter(left))
    raise ImageError(f"{label}: {missing} is not in this layer any more (has the archive changed since it was read?)")
