"""Errors a user can cause: each carries a one-line message for the CLI and the app."""

from __future__ import annotations


class ImageError(Exception):
    """The input is not a readable image (missing, not an image, corrupt, truncated, ambiguous)."""


class CorruptBlob(ImageError):
    """A blob's bytes cannot be read as what the image says it is."""


class UsageError(ImageError):
    """An option's value that cannot be meant (a negative count)."""
