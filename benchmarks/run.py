"""Measure layerscope on an image against baselines measured in the same run.

    python benchmarks/run.py IMAGE [IMAGE ...] [--reps 3] [--keys 30] [--no-app] [--json]
    python benchmarks/run.py IMAGE [IMAGE ...] --against CHECKOUT [--reps 5]

--against measures only `report --json`, of this tree and of another checkout (say the main
branch, without a change being measured), interleaved in the same run: their medians, peak RSS
and ratio.

For each image, medians over --reps runs of:
  analysis   `layerscope report IMAGE --json` wall time (every layer read, hashed, diffed, waste computed)
  baseline   `gzip -dc` (or `zstd -dc -T1`) over the same layer blobs, one after another;
             for an uncompressed archive, `cat` of the blobs
  dive       `CI=true dive --source docker-archive IMAGE` (its full analysis), when dive is installed
  first      process start → layer list on screen in the app (headless)
  loaded     process start → all layers analysed in the app
  key        median time the app takes to answer a key (cursor move, expand a directory, switch layer):
             Pilot's time for press-and-settle minus its time for an unbound key in the same run
  rss        peak resident memory summed over the process and its children (report, and app)

    python benchmarks/run.py --diff OLD NEW [--reps 3]

compares `layerscope diff OLD NEW --json` with analysing both images (`report --json` of each,
one after the other, and both at once), interleaved, all from this checkout.

    python benchmarks/run.py --contents IMAGE [IMAGE ...]

times reading a file's bytes back after the analysis (what `cat` and the contents view do),
for 9 files of the largest layer spread over it in path order: median and slowest.
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["LAYERSCOPE_NO_CACHE"] = "1"  # every layer read each run (benchmarks/cache.py measures the cache)
sys.path.insert(0, str(ROOT))

from explorer.analysis.image import Image  # noqa: E402
from explorer.archive.blobs import sniff  # noqa: E402


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


class PeakRSS:
    """Samples the summed RSS of a process tree every few milliseconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _descendants(self.pid)))
            time.sleep(0.005)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


def timed(cmd: list[str], rss: bool = False, **kw: object) -> tuple[float, int, bytes]:
    """Wall time, peak RSS (KiB, summed over children; 0 unless `rss`) and stdout of a command.

    The RSS sampler takes CPU of its own, so time and memory are measured in separate runs.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    sampler = PeakRSS(proc.pid) if rss else None
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    peak = sampler.stop() if sampler else 0
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed: {err.decode(errors='replace')[-500:]}")
    return elapsed, peak, out


def extract_blobs(image_path: str, into: Path) -> tuple[list[Path], str]:
    """Copy each layer blob to a file (not timed) and name the decompressor to compare with."""
    img = Image.open(image_path)
    paths, kinds = [], set()
    for layer in img.layers:
        dst = into / f"layer{layer.index}"
        with img.source.open(layer.ref.blob) as src, open(dst, "wb") as out:
            head = src.read(4)
            kinds.add(sniff(head))
            out.write(head)
            while chunk := src.read(1 << 20):
                out.write(chunk)
        paths.append(dst)
    img.close()
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    return paths, kind


def baseline(paths: list[Path], kind: str) -> tuple[str, float]:
    tool = {"gzip": ["gzip", "-dc"], "zstd": ["zstd", "-dc", "-T1", "-q"], "none": ["cat"]}[kind]
    start = time.perf_counter()
    for p in paths:
        subprocess.run([*tool, str(p)], stdout=subprocess.DEVNULL, check=True)
    return " ".join(tool), time.perf_counter() - start


APP_PROBE = r"""
import sys
from explorer.archive.pool import ScanPool
pool = ScanPool.start(sys.argv[1])  # as the command line does: the workers start while Textual is imported
import asyncio, json, statistics, time
from explorer.tui.app import LayerscopeApp
from explorer.tui.widgets.layers import LayerTable
from explorer.tui.widgets.filetree import FileTree

async def main(path, keys):
    app = LayerscopeApp(path, pool=pool, animate=False)
    marks = {}
    async with app.run_test(size=(200, 60)) as pilot:
        table = app.query_one(LayerTable)
        while table.row_count == 0 and not app.loaded:
            await asyncio.sleep(0.002)
        marks["first"] = time.time()
        while not app.loaded:
            await asyncio.sleep(0.005)
        marks["loaded"] = time.time()
        await pilot.pause()
        lat = {"noop": [], "cursor": [], "expand": [], "layer": []}
        table.focus()
        for i in range(keys):  # an unbound key: what Pilot itself takes to deliver a key and settle
            t = time.perf_counter()
            await pilot.press("x")
            lat["noop"].append(time.perf_counter() - t)
        for i in range(keys):
            t = time.perf_counter()
            await pilot.press("down" if i % 2 == 0 else "up")
            lat["layer"].append(time.perf_counter() - t)
        app.query_one(FileTree).focus()
        await pilot.press("m")  # the merged filesystem: the most to draw
        for i in range(keys):
            t = time.perf_counter(); await pilot.press("down"); lat["cursor"].append(time.perf_counter() - t)
        await pilot.press("home")
        for i in range(keys):
            t = time.perf_counter(); await pilot.press("right"); lat["expand"].append(time.perf_counter() - t)
            await pilot.press("down")
        marks["keys"] = {k: statistics.median(v) for k, v in lat.items() if v}
    print(json.dumps(marks))

with pool:
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def app_run(image: str, keys: int) -> tuple[float, float, dict[str, float], int]:
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_PROBE, image, str(keys)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    sampler = PeakRSS(proc.pid)
    out, err = proc.communicate()
    peak = sampler.stop()
    if proc.returncode:
        raise SystemExit(f"app probe failed: {err.decode(errors='replace')[-800:]}")
    marks = json.loads(out.decode().strip().splitlines()[-1])
    return marks["first"] - start, marks["loaded"] - start, marks["keys"], peak


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench(image: str, reps: int, keys: int, with_app: bool) -> dict:
    report = [sys.executable, "-m", "explorer", "report", image, "--json"]  # this tree's, not the installed one
    dive = ["dive", "--source", "docker-archive", image] if shutil.which("dive") else None
    dive_env = {**os.environ, "CI": "true"}
    with tempfile.TemporaryDirectory() as tmp:
        blobs, kind = extract_blobs(image, Path(tmp))
        os.sync()  # the extracted blobs' writeback must not run during the timed runs
        subprocess.run(report, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)  # warm the cache
        # Interleaved, so that a slower spell of the machine weighs on every command alike.
        base_runs, runs, dives = [], [], []
        for _ in range(reps):
            base_runs.append(baseline(blobs, kind))
            runs.append(timed(report, cwd=ROOT))
            if dive:
                dives.append(timed(dive, env=dive_env))
    result: dict = {"image": image, "compression": kind, "baseline": base_runs[0][0]}
    result["baseline_s"] = median([t for _, t in base_runs])
    result["analysis_s"] = median([t for t, _, _ in runs])
    result["report_rss_mb"] = timed(report, rss=True, cwd=ROOT)[1] / 1024
    summary = json.loads(runs[0][2])["summary"]
    result["layers"] = summary["layers"]
    result["uncompressed_mb"] = summary["uncompressed_bytes"] / 1e6
    if dive:
        result["dive_s"] = median([t for t, _, _ in dives])
        result["dive_rss_mb"] = timed(dive, rss=True, env=dive_env)[1] / 1024
    if with_app:
        apps = [app_run(image, keys) for _ in range(reps)]
        result["first_s"] = median([a[0] for a in apps])
        result["loaded_s"] = median([a[1] for a in apps])
        result["key_ms"] = {k: 1000 * median([a[2][k] for a in apps]) for k in apps[0][2]}
        result["app_rss_mb"] = max(a[3] for a in apps) / 1024
    return result


def byte_compile(*trees: Path) -> None:
    """Compile each tree's package, as a normal install does: an editable one in an environment
    with PYTHONDONTWRITEBYTECODE (this machine's) would compile every module again in every run
    and every worker (~50 ms a run), and a compiled tree measured against one that is not
    looks faster than it is."""
    for tree in trees:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tree) / "explorer")], check=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def against(image: str, other: Path, reps: int) -> dict:
    """`report --json` of this tree and of the checkout `other`, interleaved: wall time, CPU
    time over the process and its workers (steadier than wall time on a busy machine), peak RSS."""
    cmd = [sys.executable, "-m", "explorer", "report", image, "--json"]
    trees = {"this": ROOT, "other": other}
    for tree in trees.values():
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=tree)  # warm the cache
    times: dict[str, list[float]] = {name: [] for name in trees}
    cpus: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(reps):
        for name, tree in trees.items():
            cpu = _children_cpu()
            times[name].append(timed(cmd, cwd=tree)[0])
            cpus[name].append(_children_cpu() - cpu)
    result: dict = {"image": image, "other": str(other)}
    for name, tree in trees.items():
        result[f"{name}_s"] = median(times[name])
        result[f"{name}_cpu_s"] = median(cpus[name])
        result[f"{name}_rss_mb"] = max(timed(cmd, rss=True, cwd=tree)[1] for _ in range(3)) / 1024
    return result


def show_against(r: dict) -> str:
    return (
        f"{r['image']}: report --json {r['this_s']:.2f} s (CPU {r['this_cpu_s']:.2f} s), {r['this_rss_mb']:.1f} MB;"
        f" {r['other']}: {r['other_s']:.2f} s (CPU {r['other_cpu_s']:.2f} s), {r['other_rss_mb']:.1f} MB"
        f" → {r['this_s'] / r['other_s']:.3f}× time, {r['this_cpu_s'] / r['other_cpu_s']:.3f}× CPU,"
        f" {r['this_rss_mb'] - r['other_rss_mb']:+.1f} MB"
    )


def show(r: dict) -> str:
    lines = [
        f"{r['image']}: {r['layers']} layers, {r['uncompressed_mb']:.0f} MB as tar, {r['compression']} layers",
        f"  analysis {r['analysis_s']:.2f} s; {r['baseline']} {r['baseline_s']:.2f} s → ratio "
        f"{r['analysis_s'] / r['baseline_s']:.2f}×; report peak RSS {r['report_rss_mb']:.0f} MB",
    ]
    if "dive_s" in r:
        lines.append(
            f"  dive {r['dive_s']:.2f} s (peak RSS {r['dive_rss_mb']:.0f} MB) → layerscope/dive "
            f"{r['analysis_s'] / r['dive_s']:.2f}×"
        )
    if "first_s" in r:
        noop = r["key_ms"]["noop"]
        keys = ", ".join(f"{k} {v - noop:.0f} ms" for k, v in r["key_ms"].items() if k != "noop")
        keys += f" (net of Pilot's {noop:.0f} ms for an unbound key)"
        lines.append(
            f"  app: layer list {r['first_s']:.2f} s, all analysed {r['loaded_s']:.2f} s, "
            f"keys (median) {keys}, peak RSS {r['app_rss_mb']:.0f} MB"
        )
    return "\n".join(lines)


def _wall(cmds: list[list[str]], cpu: list[float] | None = None) -> float:
    """Wall time of commands run at once (exit status 0 or 1, as diff's); their CPU time, with
    their workers', is added to `cpu[0]`."""
    before = _children_cpu()
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT) for cmd in cmds]
    for proc, cmd in zip(procs, cmds, strict=True):
        err = proc.communicate()[1]
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-500:]}")
    wall = time.perf_counter() - start
    if cpu is not None:
        cpu[0] += _children_cpu() - before
    return wall


def bench_diff(old: str, new: str, reps: int) -> str:
    """`diff OLD NEW` against analysing both, in interleaved runs of this checkout's code."""
    here = [sys.executable, "-m", "explorer"]
    report_old, report_new = [*here, "report", old, "--json"], [*here, "report", new, "--json"]
    diff = [*here, "diff", old, new, "--json"]
    _wall([diff])  # warm the cache
    sequential, together, diffs, cpu_reports, cpu_diffs = [], [], [], [], []
    for _ in range(reps):
        cpu = [0.0]
        sequential.append(_wall([report_old], cpu) + _wall([report_new], cpu))
        cpu_reports.append(cpu[0])
        together.append(_wall([report_old, report_new]))
        cpu = [0.0]
        diffs.append(_wall([diff], cpu))
        cpu_diffs.append(cpu[0])
    seq, tog, d = median(sequential), median(together), median(diffs)
    c_rep, c_diff = median(cpu_reports), median(cpu_diffs)
    return (
        f"diff {old} {new}\n  diff {d:.2f} s; analysing both one after the other {seq:.2f} s → {d / seq:.2f}×;"
        f" both at once {tog:.2f} s → {d / tog:.2f}×; CPU (with workers): diff {c_diff:.2f} s,"
        f" both analysed {c_rep:.2f} s → {c_diff / c_rep:.2f}×"
    )


def _show_times(img: Image, layer: int, nodes: list, frames: bool = False) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds to show each node's contents as the app does (`file_contents`: the
    first 256 KiB, a gzip layer through its seek index)."""
    from explorer.present.contents import file_contents

    walls, cpus = [], []
    for node in nodes:
        wall, cpu = time.perf_counter(), time.process_time()
        file_contents(img, node, layer)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def _index_memory(img: Image) -> int:
    """Bytes held by the gzip seek indexes built so far, and by what the scans of `img` kept
    to find files: zstd frame starts and every file's tar offset."""
    from explorer.archive.members import INDEXES

    return INDEXES.memory + _scan_memory(img)


def _scan_memory(img: Image) -> int:
    total = 0
    for layer in img.layers:
        if layer.scan is not None:
            total += layer.scan.zstd_index.memory if layer.scan.zstd_index else 0
            total += len(layer.scan.file_offsets or ()) * 8
    return total


def _multi_frame_copy(img: Image, index: int, into: Path, frame: int = 1 << 20) -> str:
    """A one-layer image of layer `index`'s tar cut into zstd frames of `frame` bytes (each
    stating its size, as zstd:chunked writers do), to read files of it through the frame index."""
    import zstandard

    from explorer.archive.blobs import decompressed
    from explorer.archive.writer import Image as Spec
    from explorer.archive.writer import LayerFile, write_oci

    blob = into / "layer.tar.zst"
    compressor = zstandard.ZstdCompressor(level=3)
    with img.source.open(img.layers[index].ref.blob) as raw, open(blob, "wb") as out:
        _, tar = decompressed(raw, "layer")
        while piece := tar.read(frame):
            while len(piece) < frame and (more := tar.read(frame - len(piece))):
                piece += more
            out.write(compressor.compress(piece))
    return str(write_oci(Spec([LayerFile(blob, compression="none")]), into / "multi.tar"))


def bench_contents(image: str, reps: int) -> str:
    """Time to show a file's contents after the analysis (in this process), for 9 files of the
    largest layer spread over it in path order; for a zstd layer, the same files in a copy of
    that layer cut into 1 MiB frames too, measured in the same loop."""
    from explorer.analysis.image import load

    img = load(image)
    multi = None
    tmp = Path(tempfile.mkdtemp(prefix="layerscope-frames-"))
    try:
        big = max(img.layers, key=lambda layer: layer.blob_size)
        copies = sorted((c for c in img.fs.copies if c.layer == big.index), key=lambda c: c.path)
        picks = [copies[i * (len(copies) - 1) // 8].where for i in range(9)]
        compression = big.scan.compression if big.scan else "?"
        first = _show_times(img, big.index, picks[:1]) if compression == "gzip" else None  # builds the index
        if compression == "zstd":
            multi = load(_multi_frame_copy(img, big.index, tmp))
        walls, cpus, m_walls, m_cpus, o_walls, o_cpus = [], [], [], [], [], []
        scan = big.scan
        for _ in range(reps):
            w, c = _show_times(img, big.index, picks)
            walls += w
            cpus += c
            if compression == "none":  # as before the scan kept file offsets: the tar walked to the file
                offsets, scan.file_offsets = scan.file_offsets, None
                w, c = _show_times(img, big.index, picks)
                scan.file_offsets = offsets
                o_walls += w
                o_cpus += c
            if multi is not None:
                m_nodes = [multi.fs.lookup(node.path) for node in picks]
                w, c = _show_times(multi, 0, m_nodes)
                m_walls += w
                m_cpus += c
        memory = _index_memory(img) + (_scan_memory(multi) if multi is not None else 0)
    finally:
        img.close()
        if multi is not None:
            multi.close()
        shutil.rmtree(tmp)
    line = (
        f"contents {image}: layer {big.index} ({big.blob_size / 1e6:.0f} MB, {compression}, {len(copies)} files),"
        f" 9 files x {reps}: median {1000 * median(walls):.0f} ms wall / {1000 * median(cpus):.0f} ms CPU,"
        f" slowest {1000 * max(walls):.0f} ms"
    )
    if o_walls:
        line += (
            f"; walking the tar to each (no offsets kept): median {1000 * median(o_walls):.0f} ms wall"
            f" / {1000 * median(o_cpus):.0f} ms CPU ({median(cpus) / median(o_cpus):.3f}x the CPU)"
        )
    if first is not None:
        line += f"; the first read builds the seek index: {1000 * first[0][0]:.0f} ms"
    if m_walls:
        line += (
            f"; the same files in 1 MiB frames: median {1000 * median(m_walls):.0f} ms wall"
            f" / {1000 * median(m_cpus):.0f} ms CPU, slowest {1000 * max(m_walls):.0f} ms"
            f" ({median(m_cpus) / median(cpus):.3f}x the CPU of one frame)"
        )
    return line + f"; index memory added {memory / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*")
    parser.add_argument("--contents", action="store_true", help="time reading files back instead")
    parser.add_argument("--diff", nargs=2, metavar=("OLD", "NEW"), help="time `diff OLD NEW` against `report` of both")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--no-app", action="store_true", help="skip the app measurements")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT", help="compare report with another checkout")
    args = parser.parse_args()
    byte_compile(ROOT, *((args.against,) if args.against else ()))
    if args.diff:
        print(bench_diff(*args.diff, args.reps), flush=True)
    if args.contents:
        for image in args.images:
            print(bench_contents(image, args.reps), flush=True)
        return
    results = []
    for image in args.images:
        if args.against:
            r = against(image, args.against, args.reps)
        else:
            r = bench(image, args.reps, args.keys, not args.no_app)
        results.append(r)
        print(show_against(r) if args.against else show(r), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
