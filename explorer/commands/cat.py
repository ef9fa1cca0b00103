"""`layerscope cat IMAGE PATH [--layer N]`: a file's bytes as of a layer, to standard output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .opening import opened
from .options import add_open_options, start_pool
from .remote import add_registry_options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope cat",
        description="Write a file's bytes as of a layer (default: the final filesystem) to standard output."
        " Symlinks are followed inside the image; a hard link gives its target's bytes.",
    )
    parser.add_argument("path", metavar="IMAGE", help="image archive or OCI directory (a file: it is read twice)")
    parser.add_argument("file", metavar="PATH", help="path of the file in the image")
    parser.add_argument("--layer", type=int, metavar="N", help="as of layer N (0 is the base; default: the last)")
    add_open_options(parser)
    add_registry_options(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    from ..analysis.contents import file_copy, layer_index, read_copies, refuse_one_pass

    refuse_one_pass(args.path)  # before anything is read
    # the workers start while the model is imported
    with start_pool(args.path, args) as pool, opened(args, pool) as image:
        layer = layer_index(image, args.layer)
        image.analyse()
        _, copy = file_copy(image, args.file, layer)
        out = sys.stdout.buffer
        for _, chunks in read_copies(image, [copy]):
            for chunk in chunks:
                out.write(chunk)
        out.flush()
    return 0
