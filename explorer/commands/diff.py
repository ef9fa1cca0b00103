"""`layerscope diff OLD NEW`: how two images differ (shared layers, then file by file).

Exit status as diff(1): 0 when the final filesystems are identical, 1 when they differ, 2 on
an error.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from .options import add_open_options, count, open_options, start_pool
from .remote import add_registry_options, apply_registry_options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope diff",
        description="Compare two images (any formats): shared layers, then the final filesystems path by path"
        " and by content. Exit status: 0 identical filesystems, 1 different, 2 error.",
    )
    where = "archive, OCI directory, -, registry://HOST/REPO:TAG, docker:IMAGE"
    parser.add_argument("old", metavar="OLD", help=where)
    parser.add_argument("new", metavar="NEW", help=where)
    parser.add_argument("--json", action="store_true", help="print JSON (schema in the README)")
    parser.add_argument(
        "--top", type=count("--top", 0), metavar="N", help="list at most N entries per list (default 20; JSON: all)"
    )
    add_open_options(parser)
    add_registry_options(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    """Analyse both images, compare them, print the result; 0 identical, 1 different."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.old == "-" and args.new == "-":
        parser.error("only one of OLD and NEW can be standard input")
    apply_registry_options(args, (args.old, args.new))
    with start_pool(args.old, args) as pool:  # the workers start while the model is imported
        from ..analysis.compare import analyse_both, compare
        from ..analysis.image import Image
        from ..present.compare import diff_dict

        gc.disable()  # as in `report`: the two models are many long-lived objects and no cycles
        try:
            options = open_options(args)
            old = Image.open(args.old, options, pool=pool)
            try:
                new = Image.open(args.new, options)
                try:
                    analyse_both(old, new, pool)
                    top = args.top if args.top is not None else (None if args.json else 20)
                    data = diff_dict(compare(old, new), top)
                finally:
                    new.close()
            finally:
                old.close()
            if args.json:
                from ..present.indented_json import dumps_indented

                sys.stdout.write(dumps_indented(data) + "\n")
            else:
                from ..present.compare_text import render_diff
                from .printing import print_text

                print_text(lambda console: render_diff(data, console))
            sys.stdout.flush()
        finally:
            gc.freeze()
            gc.enable()
    return 0 if data["identical"] else 1
