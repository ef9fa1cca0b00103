"""`layerscope cache info|clear`: what the layer cache holds, and emptying it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..archive.errors import ImageError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope cache",
        description="The layer cache: each analysed layer's entries, kept so no layer is read twice"
        " (LAYERSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/layerscope, else ~/.cache/layerscope).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="info|clear")
    info = actions.add_parser("info", help="where the cache is, what it holds and its size")
    info.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser("clear", help="forget every cached layer")
    return parser


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    from ..archive.layercache import CacheUnusable, LayerCache

    try:
        cache = LayerCache()
    except CacheUnusable as exc:
        raise ImageError(f"layer cache: {exc}") from None
    try:
        if args.action == "clear":
            before = cache.info()
            cache.clear()
            print(f"cleared {cache.path}: {before['layers']} layers forgotten")
            return 0
        info = cache.info()
        if args.json:
            from ..present.indented_json import dumps_indented

            sys.stdout.write(dumps_indented(info) + "\n")
            return 0
        from ..present.text import display_name, human_size

        print(f"path         {display_name(info['path'])}")
        print(f"layers       {info['layers']} (of {info['images']} images)")
        print(f"results      {info['results']} (whole reports of unchanged images)")
        print(f"stored       {human_size(info['stored_bytes'])} of at most {human_size(info['max_bytes'])}")
        print(f"file         {human_size(info['file_bytes'])}")
        print(f"archive blobs {info['archive_blobs']} remembered, {info['verified_archive_blobs']} of them verified")
    finally:
        cache.close()
    return 0
