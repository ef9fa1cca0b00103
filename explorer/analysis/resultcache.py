"""A whole-image result (a report as printed) kept in the layer cache, so that a second look at
an unchanged image prints at once.

The layer cache spares reading the layers, not analysing them: on a 117,000-file image,
decoding the records, stacking them, the waste, hints and JSON still cost about 1 s of CPU. A
result is kept only when every layer came from, or went into, a record of the cache, under a
key made of everything that decides it:

- what the command was asked (which output, `--top`, `--dive`: the `variant`) and the image's
  path and open options (platform, limits, `--verify`);
- the code: a digest of every file of this package, and the Python version;
- what was read of the image before its layers: its manifest and config as parsed (the
  `ImageRef` and `ImageConfig` hold all the analysis reads of them), its blobs' sizes and the
  warnings so far;
- each layer's record: its key (the blob's verified digest, or its unchanged place in an
  archive file: see `layercache`), its `diff_id`, and its version (new each time a record is
  stored, so a record scanned again, say with `--verify`, makes the old result a miss).

Any change is another key, never a stale result; a result goes with the least recently used
records, under the same bound; `--no-cache` neither reads nor keeps one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .image import Image

VERSION = "layerscope.result/1"
_code: str | None = None


def code_digest() -> str:
    """The sha256 of every file of this package (the code that makes a result), in name order."""
    global _code
    if _code is None:
        root = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(folder, name)
                digest.update(f"{os.path.relpath(path, root)}\0".encode())
                with open(path, "rb") as f:
                    digest.update(f.read())
                digest.update(b"\0")
        _code = digest.hexdigest()
    return _code


class KeptResult:
    """The result of `variant` for `image`, opened but not yet analysed: `kept` is it when the
    cache has it; `keep` stores it once the image is analysed."""

    def __init__(self, image: Image, *variant: object) -> None:
        self.image = image
        self._head = [
            VERSION,
            code_digest(),
            sys.version,
            list(variant),
            image.path,
            repr(image.options),
            repr(image.ref),
            repr(image.config),
            list(image.warnings),
            [layer.blob_size for layer in image.layers],
        ]

    def _key(self) -> str | None:
        cached = self.image.cached_layers()
        records = cached.records() if cached is not None else None
        if records is None:
            return None
        text = json.dumps([*self._head, records], default=repr)
        return "result:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def kept(self) -> bytes | None:
        """The result kept for this image as it is now, or None (the layers' records are then
        marked as used, as a run that read them would)."""
        key = self._key()
        cache = self.image.layer_cache()
        data = cache.result(key) if key is not None and cache is not None else None
        if data is not None:
            cached = self.image.cached_layers()
            assert cached is not None
            cached.touch()
        return data

    def keep(self, data: bytes) -> None:
        """Keep the result of the analysed image (when every layer's scan is a record)."""
        key = self._key()
        cache = self.image.layer_cache()
        if key is not None and cache is not None:
            cache.put_result(key, data)
