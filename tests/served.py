"""`layerscope serve` run for real in a test: on a free loopback port, stopped whatever happens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    url: str
    proc: subprocess.Popen


@contextmanager
def serving(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 30) -> Iterator[Served]:
    """Run `layerscope serve ARGS --port P` in `cwd` (`env` added to the environment); yield it
    once it accepts connections.

    The server and the app processes it starts share a new process group, which is ended on
    the way out (the server by SIGINT first, as a user would, then anything left by SIGKILL).
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:  # not a pipe: nobody reads it while the server runs
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "explorer", "serve", *args, "--port", str(port)],
            cwd=cwd,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                **(env or {}),
            },  # the app processes import this worktree's explorer too
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_listening(proc, port, log, timeout)
            yield Served(f"http://127.0.0.1:{port}/", proc)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait_listening(proc: subprocess.Popen, port: int, log: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"serve exited {proc.returncode}: {log.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not listen on port {port} in {timeout} s") from None
            time.sleep(0.05)
