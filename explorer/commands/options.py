"""Options shared by every command that opens an image."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from ..archive.errors import UsageError
from ..archive.limits import DEFAULT_LIMITS, Limits
from ..archive.options import OpenOptions
from ..archive.pool import ScanPool


def count(option: str, minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`. Text that is no number is
    argparse's usage error; a number out of range is the one-line error of the command."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise UsageError(f"{option} must be {minimum} or more, not {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its own message ("invalid int value")
    return parse


def add_open_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that opens an image takes."""
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="platform of a multi-platform image")
    parser.add_argument("--image", metavar="REF", help="image of an archive with several (tag or ref name)")
    parser.add_argument("--verify", action="store_true", help="check every blob's sha256 and every diff_id")
    parser.add_argument(
        "--no-cache", action="store_true", help="read every layer, neither from nor into the layer cache"
    )
    limits = parser.add_argument_group("limits (for archives from anywhere; see the README)")
    for field in _LIMITS:
        flag = "--" + field.replace("_", "-")
        what = f"{_LIMITS[field]} (default %(default)s)"
        limits.add_argument(flag, type=count(flag, 1), default=getattr(DEFAULT_LIMITS, field), metavar="N", help=what)


NO_CACHE_ENV = "LAYERSCOPE_NO_CACHE"  # set (non-empty): as --no-cache, for every command (benchmarks set it)

_LIMITS = {  # what each numeric field of `Limits` bounds: an option named after it
    "max_entries": "tar entries over all layers",
    "max_layers": "layers",
    "max_ratio": "how far a layer may inflate, past 1 GiB",
}


def open_options(args: argparse.Namespace) -> OpenOptions:
    """The options `add_open_options` parsed, as the one value passed down to open the image."""
    limits = Limits(**{field: getattr(args, field) for field in _LIMITS})
    cache = not (args.no_cache or os.environ.get(NO_CACHE_ENV))
    return OpenOptions(platform=args.platform, image=args.image, verify=args.verify, limits=limits, cache=cache)


def start_pool(path: str, args: argparse.Namespace) -> ScanPool:
    """`ScanPool.start(path)` (its workers start while the caller imports the model), unless
    the layer cache remembers this archive as it is: its layers will come from there, and
    workers would only be started to be stopped."""
    if not (args.no_cache or os.environ.get(NO_CACHE_ENV)):
        from ..archive.cachefile import remembered

        if remembered(path):
            return ScanPool()
    return ScanPool.start(path)
