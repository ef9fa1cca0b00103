"""Options shared by every command that opens an image."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..archive.errors import UsageError
from ..archive.limits import DEFAULT_LIMITS, Limits


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
    limits = parser.add_argument_group("limits (for archives from anywhere; see the README)")
    limits.add_argument(
        "--max-entries",
        type=count("--max-entries", 1),
        default=DEFAULT_LIMITS.max_entries,
        metavar="N",
        help="tar entries over all layers (default %(default)s)",
    )
    limits.add_argument(
        "--max-layers",
        type=count("--max-layers", 1),
        default=DEFAULT_LIMITS.max_layers,
        metavar="N",
        help="layers (default %(default)s)",
    )
    limits.add_argument(
        "--max-ratio",
        type=count("--max-ratio", 1),
        default=DEFAULT_LIMITS.max_ratio,
        metavar="N",
        help="how far a layer may inflate, past 1 GiB (default %(default)s)",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(max_entries=args.max_entries, max_layers=args.max_layers, max_ratio=args.max_ratio)
