"""`layerscope report`: the analysis printed as text or JSON, without the app."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from .opening import analysing, opened
from .options import add_open_options, count, start_pool
from .remote import add_registry_options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope report",
        description="Print an image's layers and wasted space (no interactive app).",
    )
    parser.add_argument(
        "path", metavar="IMAGE", help="archive, OCI directory, -, registry://HOST/REPO:TAG, docker:IMAGE"
    )
    parser.add_argument("--json", action="store_true", help="print JSON (schema in the README)")
    parser.add_argument(
        "--top", type=count("--top", 0), metavar="N", help="list at most N wasted items (default 20; JSON: all)"
    )
    parser.add_argument("--dive", action="store_true", help="add dive 0.13.1's own figures (for its CI thresholds)")
    add_open_options(parser)
    add_registry_options(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    """`layerscope report`: analyse the image and print the report (or print the one the
    layer cache kept, when nothing it was made of has changed: see `analysis/resultcache.py`)."""
    args = _parser().parse_args(argv)
    top = args.top if args.top is not None else (None if args.json else 20)
    # the workers start while the model is imported
    with start_pool(args.path, args) as pool, opened(args, pool) as image:
        from ..analysis.resultcache import KeptResult

        kept = KeptResult(image, "report", "json" if args.json else "text", top, args.dive)
        result = kept.kept()
        if result is not None:
            pool.close()
            _print(args, result)
            return 0
        with analysing(image, dive=args.dive) as dive:
            from ..present.report import report_dict

            data = report_dict(image, top, dive.result() if dive else None, lazy=args.json)
            keeping = image.layer_cache() is not None  # else the result is not gathered to be kept
            if args.json:
                _write_json(data, kept.keep if keeping else None)
            else:
                if keeping:
                    kept.keep(json.dumps(data).encode("ascii"))  # rendered to the terminal's width
                _render(data)
    return 0


def _write_json(data: dict, keep: Callable[[bytes], None] | None) -> None:
    """Print the JSON report as it is made, a part at a time (on a million entries its 17 MB of
    text never lie whole beside the image's tree), and `keep` its bytes."""
    from ..present.indented_json import write_indented

    kept = bytearray()  # kept as it grows: no list of parts joined into a second copy

    def write(text: str) -> None:
        sys.stdout.write(text)
        if keep is not None:
            kept.extend(text.encode("ascii"))

    write_indented(data, write)
    write("\n")
    sys.stdout.flush()
    if keep is not None:
        keep(kept)  # bytes-like: the cache stores it as a blob


def _print(args: argparse.Namespace, result: bytes) -> None:
    """A kept report: its JSON as it is, or the data it holds rendered as text."""
    if args.json:
        sys.stdout.write(result.decode("ascii"))
        sys.stdout.flush()
    else:
        _render(json.loads(result))


def _render(data: dict) -> None:
    """The report as text."""
    from ..present.report_text import render_report
    from .printing import print_text

    # Piped, no terminal's width applies: wide enough that no path is split.
    longest = max((len(item["path"]) for item in data["waste"]), default=0)
    print_text(lambda console: render_report(data, console), max(100, longest + 60))
    sys.stdout.flush()
