"""Analysis from a loopback registry against the same image from its OCI archive file.

    python benchmarks/registry.py /tmp/bench/big.oci-gzip.tar /tmp/bench/big.oci-zstd.tar --reps 5

Each archive is pushed (skopeo, layers unchanged) into Debian's docker-registry on a free
loopback port; then, interleaved, `layerscope report ARCHIVE --json` and `layerscope report
registry://127.0.0.1:PORT/bench:N --json` are timed from process start to exit, after one
untimed run of each. Target: registry ≤ 1.2× the archive.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.registry_server import running  # noqa: E402


def timed(image: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "explorer", "report", image, "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archives", nargs="+", type=Path, help="OCI archives (oci-archive: for skopeo)")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "explorer", quiet=1)
    with (
        tempfile.TemporaryDirectory(prefix="layerscope-bench-registry-") as folder,
        running(Path(folder), "open") as reg,
    ):
        print("| image | archive | registry | ratio |\n|---|---:|---:|---:|")
        for n, archive in enumerate(args.archives):
            reference = f"registry://{reg.host}/bench:{n}"
            reg.push(f"oci-archive:{archive}", f"bench:{n}")
            timed(str(archive)), timed(reference)  # warm-up: page cache, byte-code
            local, remote = [], []
            for _ in range(args.reps):
                local.append(timed(str(archive)))
                remote.append(timed(reference))
            a, r = statistics.median(local), statistics.median(remote)
            print(f"| {archive.name} ({archive.stat().st_size / 1e6:.0f} MB) | {a:.2f} s | {r:.2f} s | {r / a:.2f}× |")


if __name__ == "__main__":
    main()
