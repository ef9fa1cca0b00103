"""Bounds on what one archive may ask of us, so a hostile one ends with an error, not a hang."""

from __future__ import annotations

from typing import NamedTuple

from .capture import DEFAULT_SPEC, CaptureSpec

MAX_EXTENDED_HEADER = 1 << 20  # a PAX or GNU long-name record larger than this is not a name
MAX_DEPTH = 256  # directories in one path; deeper entries are skipped with a warning
TRAILER_READ = 1 << 20  # bytes read past a tar's end-of-archive blocks (all of them with --verify)
RATIO_FLOOR = 1 << 30  # the ratio limit applies once a layer has inflated past this


class Limits(NamedTuple):
    """Adjustable from the command line (`--max-entries`, `--max-layers`, `--max-ratio`; not
    `capture`, what a scan may keep of package metadata, nor `hash_blob`, set by the layer cache).

    A named tuple, not a dataclass: worker processes import this, and dataclasses costs them
    13 ms of their start."""

    max_entries: int = 5_000_000  # tar entries over all layers
    max_layers: int = 50_000
    max_ratio: int = 2_000  # uncompressed bytes per compressed byte, past RATIO_FLOOR
    capture: CaptureSpec = DEFAULT_SPEC  # the file bytes a scan may keep (package metadata)
    hash_blob: bool = False  # compute each blob's sha256 as it streams (for the layer cache)


DEFAULT_LIMITS = Limits()
