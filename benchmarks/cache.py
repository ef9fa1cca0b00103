"""The layer cache: `report --json` without it, on a first run that fills it, on a second, and
on a copy of the archive at another path.

    python benchmarks/cache.py IMAGE [IMAGE ...] [--reps 3] [--baseline DIR] [--rss]

Interleaved in each repetition: `--no-cache`; a first run into an empty cache (the records
written, kept by the blobs' places: no blob hashed; the report kept); a run from a cache filled
beforehand (no layer read: the kept report printed, nothing analysed); from that cache with a
`--top` not asked before ("layers": no layer read, the analysis made again from the records); a
run on a copy of the archive (a new path: what a new `docker save` of an image on the same base
looks like) with a cache that has seen only the original (both copies of each blob hashed, then
every layer from the cache). Medians of wall time and of CPU time (the process and its
children), each also as a ratio to `--no-cache` in the same repetitions. With `--rss`, the
peak RSS summed over the process and its workers of `--no-cache` and of a first run into an
empty cache, sampled in runs of their own (the sampler takes CPU).
`--baseline DIR` runs the same from another checkout (e.g. `git archive main | tar -x -C DIR`)
in the same loop, and gives each figure of this code as a ratio to the baseline's.

    python benchmarks/cache.py IMAGE --app [--reps 5] [--baseline DIR]

the app instead, headless (Pilot), from process start to "loaded" (`app.loaded`: the tree,
the layers and the waste shown) and to everything analysed (the hints and packages too, worked
out after): from a warm cache (*second*) and with
`--no-cache` (*cold*), interleaved; CPU of the process (and of its finished children) when it
gets there, and the floor: the CPU spent once Textual and the app are imported, and once the
first screen is mounted (the loading thread has started by then), and when the first screen
was drawn (wall). Worker processes are started as the command line starts them (none for an
archive the layer cache remembers). With `--keys`, a key is pressed while the
image loads (its answer time is printed).
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks.run import byte_compile, timed  # noqa: E402

MODES = ("no cache", "first", "second", "layers", "copy")
RSS_MODES = ("no cache", "first")


def environment(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "LAYERSCOPE_NO_CACHE")}
    env["LAYERSCOPE_CACHE_DIR"] = str(cache)
    return env


def run(root: Path, image: str | Path, cache: Path, *extra: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one `report --json` of the code in `root`, the cache in `cache`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "explorer", "report", str(image), "--json", *extra]
    subprocess.run(command, cwd=root, env=environment(cache), stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def one_rep(root: Path, image: str, copy: Path, folder: Path, rep: int) -> dict[str, tuple[float, float]]:
    """Each mode once, with the code in `root` (its caches in `folder`); `rep` numbers the
    repetition (the "layers" mode asks for a report not kept yet: `--top` of another value)."""
    warm, seed, fresh, scratch = (folder / name for name in ("warm", "seed", "fresh", "scratch"))
    if not seed.exists():
        run(root, image, warm)  # fills the warm cache (and the page cache)
        run(root, image, seed)  # a cache that has seen only the original
    times = {"no cache": run(root, image, folder / "unused", "--no-cache")}
    shutil.rmtree(fresh, ignore_errors=True)
    times["first"] = run(root, image, fresh)
    times["second"] = run(root, image, warm)
    times["layers"] = run(root, image, warm, "--top", str(1000 + rep))
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(seed, scratch)
    times["copy"] = run(root, copy, scratch)
    return times


def peaks(root: Path, image: str, folder: Path) -> dict[str, float]:
    """Peak RSS (MB, summed over the process and its workers) of `--no-cache`, and of a first
    run into an empty cache (the records written and the report kept)."""
    fresh = folder / "fresh-rss"
    shutil.rmtree(fresh, ignore_errors=True)
    command = [sys.executable, "-m", "explorer", "report", str(image), "--json"]
    return {
        mode: timed(command + extra, rss=True, cwd=root, env=environment(fresh))[1] / 1024
        for mode, extra in (("no cache", ["--no-cache"]), ("first", []))
    }


APP_PROBE = r"""
import os, resource, sys, time
start = time.perf_counter()
from explorer.archive.pool import ScanPool
from explorer.archive.cachefile import remembered
# as the command line does (`start_pool`): no workers for an archive the layer cache remembers
pool = ScanPool() if sys.argv[2] == "cache" and remembered(sys.argv[1]) else ScanPool.start(sys.argv[1])
import asyncio, json
from explorer.archive.options import DEFAULT_OPTIONS
from explorer.tui.app import LayerscopeApp

def cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

mount = LayerscopeApp.on_mount

def on_mount(self):
    mount(self)
    self.call_after_refresh(lambda: marks.setdefault("drawn", time.perf_counter() - start))

LayerscopeApp.on_mount = on_mount

marks = {}

async def main(path, cache):
    marks["imported"] = cpu()
    app = LayerscopeApp(path, DEFAULT_OPTIONS._replace(cache=cache), pool=pool, animate=False)
    async with app.run_test(size=(200, 60)) as pilot:
        marks["mounted"] = cpu()
        if os.environ.get("PRESS_KEY"):  # a key while loading: answered between the loading's steps
            t = time.perf_counter()
            await pilot.press("2")
            marks["key"] = time.perf_counter() - t
            marks["key_before_loaded"] = not app.loaded
        while not app.loaded:
            await asyncio.sleep(0.002)
        marks["wall"], marks["cpu"] = time.perf_counter() - start, cpu()
        while app.hints is None or app.packages_view.packages is None:  # worked out after
            await asyncio.sleep(0.002)
        marks["all_wall"], marks["all_cpu"] = time.perf_counter() - start, cpu()
    print(json.dumps(marks))

with pool:
    asyncio.run(main(sys.argv[1], sys.argv[2] == "cache"))
"""
APP_MODES = ("second", "cold")


def app_run(root: Path, image: str, cache: Path, mode: str, key: bool) -> dict[str, float]:
    """The app of the code in `root` from start to "all analysed", as `APP_PROBE` measures it."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "LAYERSCOPE_NO_CACHE", "PRESS_KEY")}
    env["LAYERSCOPE_CACHE_DIR"] = str(cache)
    if key:
        env["PRESS_KEY"] = "1"
    command = [sys.executable, "-c", APP_PROBE, image, "cache" if mode == "second" else "no cache"]
    out = subprocess.run(command, cwd=root, env=env, capture_output=True, check=True).stdout
    return json.loads(out.decode().strip().splitlines()[-1])


def bench_app(image: str, reps: int, folder: Path, roots: dict[str, Path], key: bool) -> str:
    """`--app`: each checkout's app, warm and cold, interleaved in each repetition."""
    runs: dict[str, dict[str, list[dict[str, float]]]] = {name: {m: [] for m in APP_MODES} for name in roots}
    for name, root in roots.items():
        run(root, image, folder / name / "warm")  # fills the cache (and the page cache)
    for _ in range(reps):
        for name, root in roots.items():
            for mode in APP_MODES:
                runs[name][mode].append(app_run(root, image, folder / name / "warm", mode, key))
    lines = [image]
    for name, modes in runs.items():
        for mode, marks in modes.items():
            keys = ("wall", "cpu", "all_wall", "all_cpu", "imported", "mounted", "drawn")
            med = {k: statistics.median(m[k] for m in marks) for k in keys}
            line = f"  {name:8} {mode:6}: loaded: wall {med['wall']:.2f} s, CPU {med['cpu']:.2f} s"
            line += f"; with hints and packages: wall {med['all_wall']:.2f} s, CPU {med['all_cpu']:.2f} s"
            line += f" (CPU imported {med['imported']:.2f} s, first screen {med['mounted']:.2f} s"
            line += f", drawn at {med['drawn']:.2f} s)"
            if name != "baseline" and "baseline" in runs:
                for k in ("cpu", "wall", "all_cpu", "all_wall"):
                    base = statistics.median(m[k] for m in runs["baseline"][mode])
                    line += f"; {k} {med[k] / base:.2f}x"
                line += " the baseline's"
            if key:
                line += f"; a key while loading: {1000 * statistics.median(m['key'] for m in marks):.0f} ms"
                line += f" ({sum(bool(m['key_before_loaded']) for m in marks)} of {len(marks)} before all analysed)"
            lines.append(line)
    return "\n".join(lines)


def bench(image: str, reps: int, folder: Path, roots: dict[str, Path], rss: bool) -> str:
    copy = folder / ("copy-" + Path(image).name)
    shutil.copyfile(image, copy)
    time.sleep(2.5)  # older than the cache's `RACY`: remembered by its place
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {name: {m: [] for m in MODES} for name in roots}
    rss_runs: dict[str, dict[str, list[float]]] = {name: {m: [] for m in RSS_MODES} for name in roots}
    for rep in range(reps):
        for name, root in roots.items():
            for mode, measured in one_rep(root, image, copy, folder / name / Path(image).name, rep).items():
                runs[name][mode].append(measured)
            if rss:
                for mode, peak in peaks(root, image, folder / name).items():
                    rss_runs[name][mode].append(peak)
    copy.unlink()
    lines = [image]
    medians = {
        name: {m: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for m, v in modes.items()}
        for name, modes in runs.items()
    }
    for name, modes in medians.items():
        base_wall, base_cpu = modes["no cache"]
        for mode, (wall, cpu) in modes.items():
            line = f"  {name:8} {mode:8}: wall {wall:.2f} s ({wall / base_wall:.2f}x)"
            line += f", CPU {cpu:.2f} s ({cpu / base_cpu:.2f}x)"
            if name != "baseline" and "baseline" in medians:
                line += f"; CPU {cpu / medians['baseline'][mode][1]:.2f}x the baseline's"
            lines.append(line)
        if rss:
            line = f"  {name:8} peak RSS"
            for mode, values in rss_runs[name].items():
                line += f"; {mode}: {min(values):.0f}–{max(values):.0f} MB"
                if name != "baseline" and "baseline" in rss_runs:
                    line += f" ({statistics.median(values) / statistics.median(rss_runs['baseline'][mode]):.2f}x)"
            lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout, run in the same loop")
    parser.add_argument("--app", action="store_true", help='the app\'s "all analysed", warm and cold')
    parser.add_argument("--keys", action="store_true", help="with --app: press a key while loading")
    parser.add_argument("--rss", action="store_true", help="peak RSS of --no-cache and of a first run too")
    args = parser.parse_args()
    roots = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    byte_compile(*roots.values())
    with tempfile.TemporaryDirectory(prefix="layerscope-cache-bench-") as folder:
        for image in args.images:
            if args.app:
                print(bench_app(image, args.reps, Path(folder), roots, args.keys), flush=True)
            else:
                print(bench(image, args.reps, Path(folder), roots, args.rss), flush=True)


if __name__ == "__main__":
    main()
