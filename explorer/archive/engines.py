"""Images in a local engine: `docker:IMAGE` and `podman:IMAGE` stream `docker save` / `podman
save` into the single-pass reader (no temporary file: `save` writes a plain tar, which the
forward reader takes as it comes)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading

from .errors import ImageError
from .limits import DEFAULT_LIMITS, Limits
from .sources import Progress, StreamSource

ENGINES = ("docker", "podman")
STDERR_KEPT = 64 << 10


def engine_of(path: str) -> tuple[str, str] | None:
    """("docker", "IMAGE") for `docker:IMAGE` (unless a file of that name exists), else None."""
    engine, colon, image = path.partition(":")
    if not colon or engine not in ENGINES or os.path.lexists(path):
        return None
    if not image or image.startswith("-"):
        raise ImageError(f"{path}: give an image after {engine}: (like {engine}:alpine:3.20)")
    return engine, image


def _last_line(text: bytes) -> str:
    lines = [line.strip() for line in text.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def open_engine(
    engine: str, image: str, on_progress: Progress | None = None, verify: bool = False, limits: Limits = DEFAULT_LIMITS
) -> StreamSource:
    """Run `ENGINE save IMAGE` and read its output in one pass; its failure is one line."""
    label = f"{engine}:{image}"
    try:
        proc = subprocess.Popen(
            [engine, "save", image], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise ImageError(f"{label}: the `{engine}` command is not installed (or not on PATH)") from None
    except OSError as exc:
        raise ImageError(f"{label}: cannot run {engine} ({exc.strerror or exc})") from None
    errors = bytearray()

    def collect() -> None:  # stderr read aside, so a chatty engine never blocks on a full pipe
        while data := proc.stderr.read(4096):  # type: ignore[union-attr]
            if len(errors) < STDERR_KEPT:
                errors.extend(data)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    failed: ImageError | None = None
    finished = False
    try:
        source = StreamSource(proc.stdout, label, on_progress, verify, limits)  # type: ignore[arg-type]
        while proc.stdout.read(1 << 20):  # type: ignore[union-attr]  # what follows the tar's end
            pass
        finished = True
    except ImageError as exc:
        failed = exc
    finally:
        with contextlib.suppress(OSError):
            proc.stdout.close()  # type: ignore[union-attr]
        if not finished and proc.poll() is None:  # unreadable output, or Ctrl-C: stop the engine
            proc.terminate()
        code = proc.wait()
        reader.join(timeout=10)
    if code != 0:
        raise ImageError(f"{label}: `{engine} save` failed: {_last_line(bytes(errors))}")
    if failed is not None:
        raise failed
    return source
