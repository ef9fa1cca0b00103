"""The image a non-interactive command names, opened and analysed the one way they share."""

from __future__ import annotations

import argparse
import contextlib
import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .options import open_options
from .remote import apply_registry_options

if TYPE_CHECKING:
    from ..analysis.dive_compat import DiveAccumulator
    from ..analysis.image import Image
    from ..archive.pool import ScanPool


@contextlib.contextmanager
def opened(args: argparse.Namespace, pool: ScanPool) -> Iterator[Image]:
    """The image `args.path` names, opened (its layers not yet read) with the options of
    `add_open_options` and `add_registry_options`; closed on leaving."""
    apply_registry_options(args)
    from ..analysis.image import Image

    image = Image.open(args.path, open_options(args), pool=pool)
    try:
        yield image
    finally:
        image.close()


@contextlib.contextmanager
def analysing(image: Image, dive: bool = False) -> Iterator[DiveAccumulator | None]:
    """Analyse the opened `image` (and gather dive's figures, with `dive`).

    The model is 100,000s of long-lived objects and no garbage cycles: the cyclic collector
    would only walk them, during the analysis, before the output and at exit (0.15 s and 0.25 s
    on 117,000 files). It stays off, and the model is frozen out of its reach.
    """
    from ..analysis import dive_compat

    gc.disable()
    try:
        figures = dive_compat.watch(image) if dive else None
        image.analyse()
        yield figures
    finally:
        gc.freeze()
        gc.enable()
