"""Scanning layers in worker processes, each opening the archive itself and seeking to its blob.

Workers are lean interpreters running `explorer.archive.scanworker`: they import the tar
reader and the decompressors, not the model or the UI, and exit as soon as no layer is left
for them. Layers are handed out in order, one at a time, by a thread per worker that also
reads its results, so a worker never waits for the consumer; results come back in layer
order, so the filesystem is stacked as they arrive.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ImageError

if TYPE_CHECKING:  # this module is imported early (see `prestart`): nothing heavy at run time
    from .entries import Row
    from .layerscan import LayerScan, Location
    from .limits import Limits

PARALLEL_MIN_BYTES = 16 << 20  # below this, starting workers costs more than it saves
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def worker_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_spares: list[subprocess.Popen] = []  # started by `prestart`, waiting for their first job


def prestart(path: str) -> None:
    """Start the worker processes now if `path` is a file big enough to be scanned by them.

    They start while the caller imports the model and reads the manifest (about 60 ms of a
    bare interpreter each, otherwise spent after that); the next `scan_in_workers` takes them,
    and `release_spares` stops any left unused.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return
    count = worker_count()
    if count > 1 and not _spares and stat.S_ISREG(info.st_mode) and info.st_size >= PARALLEL_MIN_BYTES:
        _spares.extend(_start_worker() for _ in range(count))


def release_spares() -> None:
    """Stop the prestarted workers that no scan took (each exits at the end of its input)."""
    while _spares:
        proc = _spares.pop()
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.close()  # type: ignore[union-attr]
        proc.wait()
        with contextlib.suppress(OSError, ValueError):
            proc.stdout.close()  # type: ignore[union-attr]


def _start_worker() -> subprocess.Popen:
    # -S: no site processing (it imports whatever .pth files name); the path is ours instead
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_ROOT, *(p for p in sys.path if p)])
    return subprocess.Popen(
        [sys.executable, "-S", "-m", "explorer.archive.scanworker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the terminal may belong to the app; errors come as messages
        env=env,
    )


# A worker is handed more jobs while what it has in hand is less than this: small layers then
# queue up in its pipe instead of each waiting for a round trip through the parent (50,000
# one-file layers: most of their time was those round trips).
AHEAD_BYTES = 1 << 20


class _Dispatcher:
    """Hands the next jobs to whichever worker is free: in layer order, or the largest first."""

    def __init__(self, jobs: Sequence[tuple[Location, str]], verify: bool, limits: Limits, largest_first: bool) -> None:
        self._jobs = jobs
        self._verify = verify
        self._limits = limits
        self._order = sorted(range(len(jobs)), key=lambda i: -jobs[i][0].size) if largest_first else range(len(jobs))
        self._next = 0
        self._lock = threading.Lock()
        self._held: dict[int, dict[int, int]] = {}  # worker pid -> {job index: blob size} in hand
        self.stopped = False

    def send_next(self, worker: subprocess.Popen, finished: int | None = None) -> None:
        """Top up what `worker` has in hand (after it finished job `finished`, if given)."""
        with self._lock:
            held = self._held.setdefault(worker.pid, {})
            held.pop(finished, None)  # type: ignore[arg-type]
            batch: list[int] = []
            while self._next < len(self._jobs) and not self.stopped and (not held or sum(held.values()) < AHEAD_BYTES):
                index = self._order[self._next]
                self._next += 1
                held[index] = self._jobs[index][0].size
                batch.append(index)
            done = not held and (self._next >= len(self._jobs) or self.stopped)
        jobs: list[tuple | None] = [(i, *self._jobs[i], self._verify, self._limits) for i in batch]
        try:
            for job in jobs + [None] * done:
                pickle.dump(job, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
            worker.stdin.flush()  # type: ignore[union-attr]
            if done:
                worker.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):  # the worker is gone; its reader reports that
            pass


def _read_results(worker: subprocess.Popen, dispatcher: _Dispatcher, messages: queue.Queue) -> None:
    """Pass a worker's messages on, and give it its next job when it finishes one."""
    try:
        while True:
            message = pickle.load(worker.stdout)  # type: ignore[arg-type]
            messages.put(message)
            if message[0] in ("done", "error"):
                dispatcher.send_next(worker, message[1])
    except (EOFError, OSError, pickle.UnpicklingError):
        pass
    messages.put(("exit", worker))


def scan_in_workers(
    jobs: Sequence[tuple[Location, str]],
    verify: bool,
    limits: Limits,
    on_progress: Callable[[int, int, int], None] | None,
    workers: int,
    largest_first: bool = False,
) -> Iterator[tuple[int, LayerScan]]:
    """Scan each (location, label) in `workers` processes; yield (index, scan) in order.

    Jobs start in layer order, so the lower layers arrive first; or with `largest_first`,
    biggest blob first, so that no big layer is left to run alone at the end (sooner done in
    all, but the layers arrive later).
    """
    messages: queue.Queue = queue.Queue()
    dispatcher = _Dispatcher(jobs, verify, limits, largest_first)
    procs: list[subprocess.Popen] = []
    readers: list[threading.Thread] = []
    results: dict[int, LayerScan] = {}
    rows: dict[int, list[Row]] = {}
    want = 0
    try:
        for _ in range(min(workers, len(jobs))):
            proc = _spares.pop() if _spares else _start_worker()
            procs.append(proc)
            dispatcher.send_next(proc)
            reader = threading.Thread(target=_read_results, args=(proc, dispatcher, messages), daemon=True)
            reader.start()
            readers.append(reader)
        running = len(procs)
        while want < len(jobs):
            message = messages.get()
            kind = message[0]
            if kind == "progress":
                if on_progress:
                    on_progress(message[1], message[2], jobs[message[1]][0].size)
            elif kind == "rows":
                rows.setdefault(message[1], []).extend(message[2])
            elif kind == "done":
                index, scan = message[1], message[2]
                if on_progress:
                    on_progress(index, jobs[index][0].size, jobs[index][0].size)
                scan.rows = rows.pop(index, [])
                results[index] = scan
            elif kind == "error":
                raise message[2]
            else:  # a worker exited
                running -= 1
                code = message[1].wait()
                if code != 0 or (running == 0 and want + len(results) < len(jobs)):
                    raise ImageError(f"a layer-scanning worker process ended unexpectedly (exit code {code})")
            while want in results:
                yield want, results.pop(want)
                want += 1
    finally:
        # On an error, Ctrl-C or an abandoned generator: no worker is left behind.
        release_spares()
        dispatcher.stopped = True
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for reader in readers:  # each ends at its worker's end of output
            reader.join()
        for proc in procs:
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()  # type: ignore[union-attr]
