"""`layerscope report`: the analysis printed as text or JSON, without the app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .opening import analysed
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
    """`layerscope report`: analyse the image and print the report."""
    args = _parser().parse_args(argv)
    # the workers start while the model is imported
    with start_pool(args.path, args) as pool, analysed(args, pool, dive=args.dive) as (image, dive):
        from ..present.indented_json import dumps_indented
        from ..present.report import report_dict

        top = args.top if args.top is not None else (None if args.json else 20)
        data = report_dict(image, top, dive.result() if dive else None)
        if args.json:
            text = dumps_indented(data)
            del data  # on a million entries, the dictionary and the text are 10s of MB each
            sys.stdout.write(text)
            sys.stdout.write("\n")  # not `text + "\n"`: another copy of it
        else:
            from rich.console import Console

            from ..present.report_text import render_report

            # Piped to a file, no terminal width applies: wide enough that no path is split.
            longest = max((len(item["path"]) for item in data["waste"]), default=0)
            render_report(data, Console() if sys.stdout.isatty() else Console(width=max(100, longest + 60)))
        sys.stdout.flush()
    return 0
