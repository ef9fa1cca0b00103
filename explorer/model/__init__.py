"""The image model: archives, layers, file trees, diffs and waste. No UI imports here."""

from .errors import CorruptBlob, ImageError
from .image import Image, Layer, load

__all__ = ["CorruptBlob", "Image", "ImageError", "Layer", "load"]
