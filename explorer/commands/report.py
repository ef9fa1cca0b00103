"""`layerscope report`: the analysis printed as text or JSON, without the app."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence

from .options import add_open_options, count, limits_from
from .remote import add_registry_options, apply_registry_options


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
    from ..archive.pool import prestart

    args = _parser().parse_args(argv)
    apply_registry_options(args)
    prestart(args.path)  # the workers start while the model is imported and the manifest read
    from ..analysis.image import load
    from ..present.report import report_dict

    # The model is 100,000s of long-lived objects and no garbage cycles: the cyclic collector
    # would only walk them, during the analysis, before the report and at exit (0.15 s and
    # 0.25 s on 117,000 files). It stays off, and the model is frozen out of its reach.
    gc.disable()
    try:
        image = load(args.path, args.platform, args.image, args.verify, limits_from(args), dive=args.dive)
        try:
            top = args.top if args.top is not None else (None if args.json else 20)
            data = report_dict(image, top)
        finally:
            image.close()
        if args.json:
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
        else:
            from rich.console import Console

            from ..present.report_text import render_report

            render_report(data, Console())
        sys.stdout.flush()
    finally:
        gc.freeze()
        gc.enable()
    return 0
