"""Scanning layers in worker processes, each opening the archive itself and seeking to its blob.

Two cores read two blobs at once; results come back in layer order, so the filesystem is
stacked as they arrive. Workers ignore Ctrl-C (the parent stops them) and report progress
through a shared array, which the parent turns into progress callbacks.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

from .layerscan import LayerScan
from .limits import Limits
from .sources import Location, scan_location

PARALLEL_MIN_BYTES = 16 << 20  # below this, starting workers costs more than it saves
POLL = 0.1

_progress: Sequence[int] | None = None


def _init(progress: Sequence[int]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _progress
    _progress = progress


def _scan(index: int, loc: Location, label: str, verify: bool, limits: Limits) -> LayerScan:
    def report(done: int) -> None:
        _progress[index] = done  # type: ignore[index]

    return scan_location(loc, label, report, verify, limits)


@contextmanager
def _real_stderr() -> Iterator[None]:
    """Starting a process passes on stderr's file descriptor; inside the app, sys.stderr is
    Textual's capture, which has none. Processes start with the real one."""
    saved = sys.stderr
    sys.stderr = sys.__stderr__ or saved
    try:
        yield
    finally:
        sys.stderr = saved


def worker_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def scan_in_workers(
    jobs: Sequence[tuple[Location, str]],
    verify: bool,
    limits: Limits,
    on_progress: Callable[[int, int, int], None] | None,
    workers: int,
) -> Iterator[tuple[int, LayerScan]]:
    """Scan each (location, label) in `workers` processes; yield (index, scan) in order."""
    # fork is fast and safe in a single-threaded process (the CLI); beside threads (the app), spawn
    ctx = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
    progress = ctx.Array("q", len(jobs), lock=False)
    pool: ProcessPoolExecutor | None = None
    try:
        with _real_stderr():  # the resource tracker starts with the pool, the workers on submission
            pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(progress,))
            futures: list[Future[LayerScan]] = [
                pool.submit(_scan, i, loc, label, verify, limits) for i, (loc, label) in enumerate(jobs)
            ]
        for index, future in enumerate(futures):
            while True:
                try:
                    scan = future.result(timeout=POLL)
                    break
                except FutureTimeout:
                    if on_progress:
                        for j in range(index, min(index + 2 * workers, len(jobs))):
                            on_progress(j, progress[j], jobs[j][0].size)
            if on_progress:
                on_progress(index, jobs[index][0].size, jobs[index][0].size)
            yield index, scan
    finally:
        # On an error, Ctrl-C or an abandoned generator: no worker is left behind.
        if pool is not None:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
