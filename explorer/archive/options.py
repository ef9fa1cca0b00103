"""What opening an image takes, as one value the command line builds once and passes down."""

from __future__ import annotations

from typing import NamedTuple

from .limits import DEFAULT_LIMITS, Limits


class OpenOptions(NamedTuple):
    """Which image of an archive, how strictly it is checked, and within what limits.

    A named tuple, as `Limits` is: cheap to import and to send to a worker process."""

    platform: str | None = None  # `os/arch[/variant]` of a multi-platform image
    image: str | None = None  # tag or ref name, for an archive with several images
    verify: bool = False  # check every blob's sha256 and every diff_id
    limits: Limits = DEFAULT_LIMITS
    cache: bool = False  # layer scans from and to the user's layer cache (the CLI's default; `--no-cache`)


DEFAULT_OPTIONS = OpenOptions()
