"""Scanning layers, in worker processes where that pays: a `ScanPool`, owned by whoever starts it.

    with ScanPool.start(path) as pool:  # before the heavy imports: workers start meanwhile
        image = Image.open(path, options, pool=pool)

Workers are lean interpreters running `explorer.archive.scanworker`: they import the tar
reader and the decompressors, not the model or the UI, each opening the archive itself and
seeking to its blob. Layers are handed out one at a time by a thread per worker that also
reads its results, so a worker never waits for the consumer; results come back in layer
order, so the filesystem is stacked as they arrive. Every worker is stopped in one place,
`ScanPool.close`.
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
from typing import TYPE_CHECKING, NamedTuple

from .errors import ImageError
from .scanmessages import Done, Failed, Progress, Rows, ScanJob, WorkerMessage

if TYPE_CHECKING:  # this module is imported early (see `ScanPool.start`): nothing heavy at run time
    from types import TracebackType

    from .layerscan import LayerScan, Location, PackedRows
    from .limits import Limits
    from .sources import Source

PARALLEL_MIN_BYTES = 16 << 20  # below this, starting workers costs more than it saves
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

LayerProgress = Callable[[int, int, int], None]  # (layer index, blob bytes read, blob size)


class LayerBlob(NamedTuple):
    """A layer to scan: its blob's name in the archive, the label its errors carry, its size."""

    name: str
    label: str
    size: int


def worker_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ScanPool:
    """Scans an image's layers: in worker processes when the blobs lie in a file on disk and
    are big enough to gain from them, else one after another in this process.

    One scan at a time. `close` (also the end of a `with` block, and of each scan) stops
    every worker the pool started.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = worker_count() if workers is None else workers
        self._idle: list[subprocess.Popen] = []  # started, waiting for their first job
        self._busy: list[subprocess.Popen] = []
        self._readers: list[threading.Thread] = []
        self._dispatcher: _Dispatcher | None = None
        self._closing = threading.Lock()  # the app's loading thread and its owner may both close

    @classmethod
    def start(cls, path: str, workers: int | None = None) -> ScanPool:
        """A pool whose workers start now if `path` is a file big enough to be scanned by them
        (never for `-`, standard input).

        They start while the caller imports the model and reads the manifest (about 60 ms of
        a bare interpreter each, otherwise spent after that); the scan takes them.
        """
        pool = cls(workers)
        if path == "-" or pool.workers < 2:
            return pool
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return pool
        if stat.S_ISREG(info.st_mode) and info.st_size >= PARALLEL_MIN_BYTES:
            pool._idle = [_start_worker() for _ in range(pool.workers)]
        return pool

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def processes(self) -> list[subprocess.Popen]:
        """The worker processes the pool holds now (prestarted, or taken by its scan)."""
        return self._idle + self._busy

    def scan(
        self,
        source: Source,
        layers: Sequence[LayerBlob],
        verify: bool,
        limits: Limits,
        on_progress: LayerProgress | None = None,
        largest_first: bool = False,
    ) -> Iterator[tuple[int, LayerScan]]:
        """Scan each layer; yield (index, scan) in layer order.

        In workers, jobs start in layer order, so the lower layers arrive first; or with
        `largest_first`, biggest blob first, so that no big layer is left to run alone at the
        end (sooner done in all, but the layers arrive later).
        """
        try:
            locations = [source.locate(layer.name) for layer in layers]
            if self._worth_workers(locations):
                jobs = [
                    ScanJob(index, location, layer.label, verify, limits)  # type: ignore[arg-type]
                    for index, (location, layer) in enumerate(zip(locations, layers, strict=True))
                ]
                yield from self._scan_in_workers(jobs, on_progress, largest_first)
                return
            self.close()  # prestarted workers are of no use
            for index, layer in enumerate(layers):
                progress = (lambda done, i=index, size=layer.size: on_progress(i, done, size)) if on_progress else None
                yield index, source.scan(layer.name, layer.label, progress, verify, limits)
        finally:
            self.close()  # on an error, Ctrl-C or an abandoned scan too: no worker is left behind

    def _worth_workers(self, locations: Sequence[Location | None]) -> bool:
        """Workers pay for their start when there are several blobs, all on disk, large in all
        (small blobs are cheaper to scan here than to hand to a worker and back)."""
        from .layerscan import SMALL_BLOB  # imported by now (the source is open)

        if self.workers < 2 or len(locations) < 2 or None in locations:
            return False
        return sum(loc.size for loc in locations if loc and loc.size > SMALL_BLOB) >= PARALLEL_MIN_BYTES

    def close(self) -> None:
        """Stop every worker: idle ones end at the end of their input, busy ones are killed."""
        with self._closing:
            if self._dispatcher is not None:
                self._dispatcher.stopped = True
            idle, busy, readers = self._idle, self._busy, self._readers
            self._idle, self._busy, self._readers, self._dispatcher = [], [], [], None
        for proc in idle:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # type: ignore[union-attr]
        for proc in busy:
            if proc.poll() is None:
                proc.kill()
        for proc in idle + busy:
            proc.wait()
        for reader in readers:  # each ends at its worker's end of output
            reader.join()
        for proc in idle + busy:
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()  # type: ignore[union-attr]

    # ---- a scan in worker processes: start them, gather their messages, yield in order ----
    def _scan_in_workers(
        self, jobs: Sequence[ScanJob], on_progress: LayerProgress | None, largest_first: bool
    ) -> Iterator[tuple[int, LayerScan]]:
        messages: queue.Queue = queue.Queue()
        self._start_workers(jobs, largest_first, messages)
        gathered = _Gathered(jobs, on_progress, running=len(self._busy))
        while gathered.want < len(jobs):
            gathered.take(messages.get())
            yield from gathered.in_order()

    def _start_workers(self, jobs: Sequence[ScanJob], largest_first: bool, messages: queue.Queue) -> None:
        """Give each worker (a prestarted one, or a new one) its first job and a reader thread."""
        self._dispatcher = dispatcher = _Dispatcher(jobs, largest_first)
        for _ in range(min(self.workers, len(jobs))):
            proc = self._idle.pop() if self._idle else _start_worker()
            self._busy.append(proc)
            dispatcher.send_next(proc)
            reader = threading.Thread(target=_read_results, args=(proc, dispatcher, messages), daemon=True)
            reader.start()
            self._readers.append(reader)


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


class _Exited(NamedTuple):
    """A reader thread → the scan: its worker's output ended."""

    proc: subprocess.Popen


# A worker is handed more jobs while what it has in hand is less than this: small layers then
# queue up in its pipe instead of each waiting for a round trip through the parent (50,000
# one-file layers: most of their time was those round trips).
AHEAD_BYTES = 1 << 20


class _Dispatcher:
    """Hands the next jobs to whichever worker is free: in layer order, or the largest first."""

    def __init__(self, jobs: Sequence[ScanJob], largest_first: bool) -> None:
        self._jobs = jobs
        order = range(len(jobs))
        self._order = sorted(order, key=lambda i: -jobs[i].location.size) if largest_first else order
        self._next = 0
        self._lock = threading.Lock()
        self._held: dict[int, dict[int, int]] = {}  # worker pid -> {job index: blob size} in hand
        self.stopped = False
        self.captured = 0  # package-metadata bytes the finished scans kept: later jobs get the rest

    def finished(self, scan: LayerScan) -> None:
        with self._lock:
            self.captured += scan.capture.used if scan.capture is not None else 0

    def send_next(self, worker: subprocess.Popen, finished: int | None = None) -> None:
        """Top up what `worker` has in hand (after it finished job `finished`, if given)."""
        with self._lock:
            held = self._held.setdefault(worker.pid, {})
            held.pop(finished, None)  # type: ignore[arg-type]
            batch: list[ScanJob] = []
            while self._next < len(self._jobs) and not self.stopped and (not held or sum(held.values()) < AHEAD_BYTES):
                job = self._jobs[self._order[self._next]]
                self._next += 1
                held[job.index] = job.location.size
                spec = job.limits.capture  # package metadata: a job gets what finished scans left
                left = spec._replace(budget=max(0, spec.budget - self.captured))
                batch.append(job._replace(limits=job.limits._replace(capture=left)))
            done = not held and (self._next >= len(self._jobs) or self.stopped)
        try:
            for job in [*batch, *[None] * done]:
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
            if isinstance(message, Done):
                dispatcher.finished(message.scan)
            if isinstance(message, Done | Failed):
                dispatcher.send_next(worker, message.index)
    except EOFError:
        pass
    except Exception:  # output that cannot be followed (garbled, a broken pipe): nothing more will come
        worker.kill()
    messages.put(_Exited(worker))


class _Gathered:
    """The workers' messages, put together: rows joined to their scan, scans released in order."""

    def __init__(self, jobs: Sequence[ScanJob], on_progress: LayerProgress | None, running: int) -> None:
        self._sizes = [job.location.size for job in jobs]
        self._on_progress = on_progress
        self._running = running
        self._rows: dict[int, PackedRows] = {}
        self._done: dict[int, LayerScan] = {}
        self.want = 0  # the next layer to yield

    def take(self, message: WorkerMessage | _Exited) -> None:
        match message:
            case Progress(index, done):
                if self._on_progress:
                    self._on_progress(index, done, self._sizes[index])
            case Rows(index, packed, count, hiding):
                rows = self._rows.get(index)
                if rows is None:
                    from .layerscan import PackedRows  # imported by now (the source is open)

                    rows = self._rows[index] = PackedRows()
                rows.add(packed, count, hiding)
            case Done(index, scan):
                if self._on_progress:
                    self._on_progress(index, self._sizes[index], self._sizes[index])
                scan.rows = self._rows.pop(index, None) or []
                self._done[index] = scan
            case Failed(_, error):
                raise error
            case _Exited(proc):
                self._running -= 1
                code = proc.wait()
                if code != 0 or (self._running == 0 and self.want + len(self._done) < len(self._sizes)):
                    raise ImageError(f"a layer-scanning worker process ended unexpectedly (exit code {code})")

    def in_order(self) -> Iterator[tuple[int, LayerScan]]:
        while self.want in self._done:
            yield self.want, self._done.pop(self.want)
            self.want += 1
