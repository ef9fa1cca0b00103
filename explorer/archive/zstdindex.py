"""A seek index for a zstd layer of several frames, taken during the scan's one pass.

Every zstd frame can be decompressed on its own. The scan already follows the frame headers
(`blobs.ZstdFrames`); a frame header may state its content size, and when every frame does,
the tar offset at which each frame starts is known without decompressing anything. Those
starts, one every `SPACING` bytes of tar at most, make the index; with the tar offset of a
file's data (`LayerScan.file_offsets`), the file is read by decompressing from the last frame
start before it, never from the start of the blob. zstd:chunked and estargz-like layouts
compress each file (or chunk) as its own frame; a single-frame layer has no index and is read
from its start.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator

import zstandard

from .blobs import CHUNK, ZSTD_READ, window
from .errors import CorruptBlob

SPACING = 1 << 20  # bytes of tar between kept frame starts, at least: at most this is decompressed for nothing


class ZstdIndex:
    """Frame starts of a zstd blob: where kept ones start in the blob and in the tar."""

    def __init__(self) -> None:
        self.blob_offsets = array("Q")  # where kept frames start in the blob
        self.tar_offsets = array("Q")  # and in the tar
        self.frames = 0  # data frames seen
        self.sized = True  # every frame so far stated its content size
        self._tar = 0  # tar offset of the next frame's start

    def frame(self, blob_offset: int, content_size: int | None) -> None:
        """A data frame starts at `blob_offset` (its header read), holding `content_size` bytes."""
        self.frames += 1
        if content_size is None:
            self.sized = False
        if not self.sized:
            return
        if not self.tar_offsets or self._tar >= self.tar_offsets[-1] + SPACING:
            self.blob_offsets.append(blob_offset)
            self.tar_offsets.append(self._tar)
        self._tar += content_size

    def usable(self, tar_read: int) -> bool:
        """Files past the first frame can be reached without reading from the start; and the
        frames stated at least the `tar_read` bytes they gave (a stated size can lie)."""
        return self.sized and self.frames > 1 and len(self.tar_offsets) > 1 and self._tar >= tar_read

    @property
    def memory(self) -> int:
        return (len(self.blob_offsets) + len(self.tar_offsets)) * 8


def read(read_at: Callable[[int, int], bytes], index: ZstdIndex, label: str, offset: int, size: int) -> Iterator[bytes]:
    """`size` bytes of the layer's tar from `offset`, decompressed from the frame start before it."""
    i = bisect_right(index.tar_offsets, offset) - 1
    start, out = index.blob_offsets[i], index.tar_offsets[i]

    class _From:
        """The blob from a frame start, as the decompressor reads it."""

        pos = start

        def read(self, n: int = -1) -> bytes:
            data = read_at(n if n > 0 else CHUNK, self.pos)
            self.pos += len(data)
            return data

    reader = zstandard.ZstdDecompressor().stream_reader(_From(), read_size=ZSTD_READ, read_across_frames=True)
    try:
        yield from window(reader.read, offset - out, size, label, "zstd")
    except zstandard.ZstdError as exc:
        raise CorruptBlob(f"{label}: corrupt zstd data ({exc})") from None
    finally:
        reader.close()
