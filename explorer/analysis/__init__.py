"""What an image means: the union filesystem, waste, duplicates and dive-compatible figures.

Built on `explorer.archive`; never imports Textual (checked by import-linter and a test).
"""

from ..archive.errors import CorruptBlob, ImageError
from .image import Image, Layer, load

__all__ = ["CorruptBlob", "Image", "ImageError", "Layer", "load"]
