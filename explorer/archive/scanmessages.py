"""What goes over the pipes between the pool (`pool.py`) and its worker processes (`scanworker.py`).

Named tuples, not dataclasses: typed and matched by class, yet as cheap to import and to
pickle as bare tuples (a worker would pay 13 ms to import dataclasses). Rows travel in
batches of thousands, each row a compact tuple, so a message's own cost does not count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .entries import Row
    from .layerscan import LayerScan, Location
    from .limits import Limits


class ScanJob(NamedTuple):
    """Pool → worker: scan the blob at `location` (None instead of a job: no more work)."""

    index: int  # the layer's place in the image, echoed in every message about it
    location: Location
    label: str
    verify: bool
    limits: Limits


class Progress(NamedTuple):
    """Worker → pool, at most every `scanworker.PROGRESS_EVERY` seconds: blob bytes read."""

    index: int
    done: int


class Rows(NamedTuple):
    """Worker → pool: the next batch of the layer's entries, as they are read."""

    index: int
    packed: bytes  # the batch (list[Row]) pickled: the parent keeps it so until it stacks the layer
    count: int
    hiding: list[Row]  # its whiteouts and opaque markers (also in `packed`): they are stacked first


class Done(NamedTuple):
    """Worker → pool: the layer is read (its rows came in `Rows` batches; `scan.rows` is empty)."""

    index: int
    scan: LayerScan


class Failed(NamedTuple):
    """Worker → pool: the layer could not be read (the error to raise in the parent)."""

    index: int
    error: Exception


WorkerMessage = Progress | Rows | Done | Failed
