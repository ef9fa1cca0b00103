"""The image model: archives, layers, file trees, diffs and waste. No UI imports here.

Its names load on first use, so a scanning worker process imports only what a scan needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import CorruptBlob, ImageError
    from .image import Image, Layer, load

__all__ = ["CorruptBlob", "Image", "ImageError", "Layer", "load"]


def __getattr__(name: str) -> Any:
    if name in ("CorruptBlob", "ImageError"):
        from . import errors

        return getattr(errors, name)
    if name in ("Image", "Layer", "load"):
        from . import image

        return getattr(image, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
