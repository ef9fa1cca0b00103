"""The layer cache: `report --json` without it, on a first run that fills it, and on a second.

    python benchmarks/cache.py IMAGE [IMAGE ...] [--reps 3]

Interleaved in each repetition: `--no-cache`; a first run into an empty cache (every archive
blob hashed as it streams, the records written); a run from a cache filled beforehand (no
layer read). Medians of wall time and of CPU time (the process and its children), each
also as a ratio to `--no-cache` in the same repetitions.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(image: str, cache: Path, *extra: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one `report --json` with the layer cache in `cache`."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "LAYERSCOPE_NO_CACHE")}
    env["LAYERSCOPE_CACHE_DIR"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "explorer", "report", image, "--json", *extra]
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench(image: str, reps: int, folder: Path) -> str:
    warm, fresh = folder / "warm", folder / "fresh"
    run(image, warm)  # fills the warm cache (and the page cache)
    runs: dict[str, list[tuple[float, float]]] = {"no cache": [], "first": [], "second": []}
    for _ in range(reps):
        runs["no cache"].append(run(image, folder / "unused", "--no-cache"))
        shutil.rmtree(fresh, ignore_errors=True)
        runs["first"].append(run(image, fresh))
        runs["second"].append(run(image, warm))
    medians = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
    base_wall, base_cpu = medians["no cache"]
    parts = [
        f"{name}: wall {wall:.2f} s ({wall / base_wall:.2f}x), CPU {cpu:.2f} s ({cpu / base_cpu:.2f}x)"
        for name, (wall, cpu) in medians.items()
    ]
    return f"{image}\n  " + "\n  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "explorer")], check=True)
    with tempfile.TemporaryDirectory(prefix="layerscope-cache-bench-") as folder:
        for image in args.images:
            print(bench(image, args.reps, Path(folder)), flush=True)


if __name__ == "__main__":
    main()
