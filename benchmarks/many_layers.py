"""Per-layer overhead: an OCI archive of N one-file gzip layers, timed through `report`.

    python benchmarks/many_layers.py OUTDIR [--layers 50000] [--reps 3] [--against GITREF]

Writes OUTDIR/layers-N.tar (once) and prints the median wall time and CPU time (the command
and its worker processes) of `report --json` and of the text report (both to /dev/null). On a
busy machine the CPU time is the figure to compare. With `--against`, the same runs are made, interleaved,
with the code of GITREF (`git archive` into a temporary directory, without the optional C helpers:
they hardly matter for one-file layers): before/after in one loop.
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
from explorer.archive.writer import F, Image, Layer, write_oci  # noqa: E402


def write_image(path: Path, layers: int) -> Path:
    """Layer i holds one file, `f<i>`, of a few bytes: the archive is almost all overhead."""
    image = Image([Layer([F(f"f{i}", b"%d\n" % i)], records=True) for i in range(layers)], history=[])
    return write_oci(image, path)


def timed(code: Path, image: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its worker processes)."""
    env = dict(os.environ, PYTHONPATH=str(code))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "explorer", "report", str(image), *extra],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--layers", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--against", metavar="GITREF", help="also time this revision, interleaved")
    args = parser.parse_args()
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    image = out / f"layers-{args.layers}.tar"
    if not image.exists():
        write_image(image, args.layers)
    codes = {"this": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if args.against:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against], check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            codes[args.against] = Path(tmp)
        byte_compile(*codes.values())
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.reps):
            for name, code in codes.items():
                for mode, extra in (("--json", ("--json",)), ("text", ())):
                    times.setdefault((name, mode), []).append(timed(code, image, *extra))
        for (name, mode), values in times.items():
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            runs = ", ".join(f"{v[0]:.1f}/{v[1]:.1f}" for v in values)
            print(f"{name:>12} {mode:6} median wall {wall:6.2f} s, CPU {cpu:6.2f} s  (wall/CPU: {runs})")


if __name__ == "__main__":
    main()
