"""A worker process that scans layer blobs: `python -m explorer.archive.scanworker`.

It reads pickled `ScanJob`s on stdin (None to stop) and writes pickled messages on stdout
(`scanmessages`): `Progress` now and then, `Rows` batches as entries are read, then `Done`
(the scan, its rows left empty) or `Failed`. It imports only what a scan needs, so each
worker costs a bare interpreter and the decompressors, not the whole model.
"""

from __future__ import annotations

import gc
import io
import pickle
import signal
import sys
import time
from functools import partial
from typing import BinaryIO

from .entries import OPAQUE, WHITEOUT
from .errors import CorruptBlob, ImageError
from .layerscan import scan_location
from .scanmessages import Done, Failed, Progress, Rows, ScanJob, WorkerMessage

HIDING = (WHITEOUT, OPAQUE)
PROGRESS_EVERY = 0.05  # seconds between progress messages
# How long the parsing thread may hold the GIL while the decompressing thread waits for it
# (Python's default is 5 ms: the decompressor then idles for most of a chunk's parsing).
SWITCH_INTERVAL = 0.0002


def _send(out: BinaryIO, message: WorkerMessage) -> None:
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def _packed(batch: list) -> bytes:
    """A batch of rows pickled without a memo: a row holds no object twice but its kind and
    empty link, which unpickle as the same objects anyway (one-character and empty strings
    are shared), so remembering every tuple and path only costs time on both sides."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(batch)
    return buffer.getvalue()


def _next_job(jobs: BinaryIO) -> ScanJob | None:
    try:
        return pickle.load(jobs)
    except EOFError:  # a prestarted worker that no scan took
        return None


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.disable()  # a scan makes many objects and no garbage cycles: collections would only cost
    jobs, out = sys.stdin.buffer, sys.stdout.buffer
    while (job := _next_job(jobs)) is not None:
        index, location, label, verify, limits = job
        last = 0.0

        def progress(done: int, index: int = index) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY:
                last = now
                _send(out, Progress(index, done))

        def rows(batch: list, index: int = index) -> None:
            _send(out, Rows(index, _packed(batch), len(batch), [row for row in batch if row[1] in HIDING]))

        try:
            # a blob in a file (Location), or one that scans itself (registry.RemoteBlob)
            scan = location.scan if hasattr(location, "scan") else partial(scan_location, location)
            message: WorkerMessage = Done(index, scan(label, progress, verify, limits, rows))
        except (CorruptBlob, ImageError) as exc:
            message = Failed(index, exc)
        except OSError as exc:
            message = Failed(index, ImageError(f"{label}: {exc.strerror or exc}"))
        except Exception:
            import traceback

            message = Failed(index, RuntimeError(f"scanning {label} failed:\n{traceback.format_exc()}"))
        _send(out, message)


if __name__ == "__main__":
    main()
