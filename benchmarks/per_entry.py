"""The per-entry benchmarks (`make_big_image.py --many-small`, `--million`, `--many-layers`):
layerscope against its baseline tool and, with `--against`, against another checkout, in one
interleaved loop.

    python benchmarks/per_entry.py IMAGE [IMAGE ...] [--against CHECKOUT] [--reps 5] [--text] [--rss] [--pure]

Each repetition runs, in turn: the baseline (`gzip -dc` or `zstd -dc -T1` over the layer blobs,
one after another; `CI=true dive` for a plain-tar docker-archive; nothing for many small
layers), `report IMAGE --json` of this tree, and of CHECKOUT if given (with `--text`, the text
report too); with `--pure`, this tree's `report --json` again without its compiled parts
(LAYERSCOPE_PURE_PYTHON=1: the tar reader and stacking all in Python). Printed: medians of wall time and of
CPU time (the command and every process it started), and the ratios. With `--rss`, one more
run of each measures the peak RSS summed over the process tree (sampled every 5 ms, in a run of
its own: the sampler takes CPU).
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
sys.path.insert(0, str(ROOT))

from benchmarks.run import byte_compile, extract_blobs, timed  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_and_wall(run: list[list[str]], **kw: object) -> tuple[float, float]:
    """(wall, CPU) seconds of commands run one after another."""
    cpu, start = _children_cpu(), time.perf_counter()
    for cmd in run:
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
        if done.returncode not in (0, 1):  # dive's CI mode exits 1 when a rule fails
            raise SystemExit(f"{' '.join(cmd)} failed with exit code {done.returncode}")
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--text", action="store_true", help="time the text report too")
    parser.add_argument("--rss", action="store_true", help="measure peak RSS too")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--pure", action="store_true", help="time this tree without its C helper too")
    args = parser.parse_args()
    trees = {"this": ROOT, **({"other": args.against} if args.against else {})}
    byte_compile(*trees.values())
    for image in args.images:
        with tempfile.TemporaryDirectory() as tmp:
            blobs, kind = extract_blobs(image, Path(tmp))
            commands: dict[str, tuple[list[list[str]], dict]] = {}
            if not args.no_baseline and len(blobs) <= 100:
                if kind in ("gzip", "zstd"):
                    tool = ["gzip", "-dc"] if kind == "gzip" else ["zstd", "-dc", "-T1", "-q"]
                    commands[" ".join(tool)] = ([[*tool, str(b)] for b in blobs], {})
                elif shutil.which("dive") and "docker-archive" in image:
                    dive = ["dive", "--source", "docker-archive", image]
                    commands["dive"] = ([dive], {"env": {**os.environ, "CI": "true"}})
            for name, tree in trees.items():
                for mode in ("--json", *(("text",) if args.text else ())):
                    cmd = [sys.executable, "-m", "explorer", "report", image, *((mode,) if mode != "text" else ())]
                    commands[f"{name} {mode}"] = ([cmd], {"cwd": tree})
                if name == "this" and args.pure:
                    cmd = [sys.executable, "-m", "explorer", "report", image, "--json"]
                    commands["this pure --json"] = (
                        [cmd],
                        {"cwd": tree, "env": {**os.environ, "LAYERSCOPE_PURE_PYTHON": "1"}},
                    )
            os.sync()
            for run, kw in commands.values():  # warm-up, untimed
                cpu_and_wall(run, **kw)
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
            for _ in range(args.reps):
                for name, (run, kw) in commands.items():
                    results[name].append(cpu_and_wall(run, **kw))
        load = os.getloadavg()[0]
        print(f"{image} ({kind}, {len(blobs)} layers; load average {load:.1f}), medians of {args.reps}:")
        medians = {
            name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for name, runs in results.items()
        }
        base = next(iter(medians)) if not args.no_baseline and not next(iter(medians)).startswith("this") else None
        for name, (wall, cpu) in medians.items():
            line = f"  {name:>18}: wall {wall:7.2f} s  CPU {cpu:7.2f} s"
            if base and name != base:
                line += f"  | vs {base}: wall {wall / medians[base][0]:.2f}×, CPU {cpu / medians[base][1]:.2f}×"
            if name.startswith("other") and f"this{name[5:]}" in medians:
                w, c = medians[f"this{name[5:]}"]
                line += f"  | this/other: wall {w / wall:.3f}×, CPU {c / cpu:.3f}×"
            if args.rss and not name.startswith(("gzip", "zstd")):
                run, kw = commands[name]
                line += f"  | peak RSS {timed(run[0], rss=True, **kw)[1] / 1024:.0f} MB"
            print(line, flush=True)


if __name__ == "__main__":
    main()
