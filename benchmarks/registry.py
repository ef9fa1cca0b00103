"""Analysis from a loopback registry against the same image from its OCI archive file.

    python benchmarks/registry.py /tmp/bench/big.oci-gzip.tar /tmp/bench/big.oci-zstd.tar --reps 5

Each archive is pushed (skopeo, layers unchanged) into Debian's docker-registry on a free
loopback port; then, interleaved, `layerscope report ARCHIVE --json` and `layerscope report
registry://127.0.0.1:PORT/bench:N --json` are timed from process start to exit, after one
untimed run of each. Target: registry ≤ 1.2× the archive. CPU seconds (layerscope and its
workers; the registry's own beside them) are printed too: on a shared machine they say more
than the wall clock.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["LAYERSCOPE_NO_CACHE"] = "1"  # every layer read each run (benchmarks/cache.py measures the cache)
sys.path.insert(0, str(ROOT))

from benchmarks.run import byte_compile  # noqa: E402
from tests.registry_server import running  # noqa: E402


def timed(image: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of layerscope and its workers) of one `report --json`."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "explorer", "report", image, "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def server_cpu(pid: int) -> float:
    """CPU seconds the registry process has used (it runs on the same cores)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archives", nargs="+", type=Path, help="OCI archives (oci-archive: for skopeo)")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    byte_compile(ROOT)
    with (
        tempfile.TemporaryDirectory(prefix="layerscope-bench-registry-") as folder,
        running(Path(folder), "open") as reg,
    ):
        print("| image | archive | registry | ratio | CPU: archive | registry (+ server) | ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for n, archive in enumerate(args.archives):
            reference = f"registry://{reg.host}/bench:{n}"
            reg.push(f"oci-archive:{archive}", f"bench:{n}")
            timed(str(archive)), timed(reference)  # warm-up: page cache, byte-code
            local, remote, server = [], [], []
            for _ in range(args.reps):
                local.append(timed(str(archive)))
                cpu = server_cpu(reg.process.pid)
                remote.append(timed(reference))
                server.append(server_cpu(reg.process.pid) - cpu)
            a, r = (statistics.median(t[0] for t in runs) for runs in (local, remote))
            ca, cr = (statistics.median(t[1] for t in runs) for runs in (local, remote))
            cs = statistics.median(server)
            print(
                f"| {archive.name} ({archive.stat().st_size / 1e6:.0f} MB) | {a:.2f} s | {r:.2f} s | {r / a:.2f}× "
                f"| {ca:.2f} s | {cr:.2f} s (+{cs:.2f} s) | {cr / ca:.2f}× ({(cr + cs) / ca:.2f}×) |"
            )


if __name__ == "__main__":
    main()
