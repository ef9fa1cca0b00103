"""Per-entry cost of the tar reader and of stacking, each alone, in one process: this tree
against another checkout, interleaved (each repetition runs both, in turn, in fresh processes).

    python benchmarks/entry_cost.py IMAGE.docker-archive.tar [--against CHECKOUT] [--reps 5]

Reads the plain layer tars of a docker-archive into memory first (not timed), then times, in
CPU time: parsing every layer (`TarReader.rows`, hashing included), and stacking the parsed
layers onto a `FileSystem` (`Image` does the same). Prints microseconds an entry, and the
resident memory the finished `FileSystem` holds (tracemalloc, in a run of its own).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import gc, json, sys, tarfile, time, tracemalloc
image, memory = sys.argv[1], sys.argv[2] == "1"
from explorer.archive.tarstream import TarReader
from explorer.archive.layerscan import LayerScan
from explorer.analysis.filesystem import FileSystem
gc.disable()
with tarfile.open(image) as tf:
    manifest = json.load(tf.extractfile("manifest.json"))[0]
    tars = [tf.extractfile(name).read() for name in manifest["Layers"]]
def chunks(data, size=1 << 20):
    view = memoryview(data)
    return (bytes(view[i:i + size]) for i in range(0, len(data), size))
if memory:
    tracemalloc.start()
t0 = time.process_time()
scans = [LayerScan(list(TarReader(chunks(t), "layer").rows()), len(t), "none", len(t), []) for t in tars]
t1 = time.process_time()
base = tracemalloc.get_traced_memory()[0] if memory else 0
fs = FileSystem()
for i, scan in enumerate(scans):
    fs.apply(i, scan.rows)
t2 = time.process_time()
rows = sum(len(s.rows) for s in scans)
del scans
gc.collect()
held = tracemalloc.get_traced_memory()[0] if memory else 0
print(json.dumps({"rows": rows, "parse": t1 - t0, "stack": t2 - t1, "held": held}))
"""


def probe(tree: Path, image: str, memory: bool = False) -> dict:
    cmd = [sys.executable, "-c", PROBE, image, "1" if memory else "0"]
    out = subprocess.run(cmd, cwd=tree, capture_output=True, check=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    trees = {"this": ROOT, **({"other": args.against} if args.against else {})}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.reps):
        for name, tree in trees.items():
            runs[name].append(probe(tree, args.image))
    for name, tree in trees.items():
        rows = runs[name][0]["rows"]
        parse = statistics.median(r["parse"] for r in runs[name])
        stack = statistics.median(r["stack"] for r in runs[name])
        held = probe(tree, args.image, memory=True)["held"]
        line = f"{name:>6}: {rows} entries; parse {1e6 * parse / rows:.2f} µs"
        line += f", stack {1e6 * stack / rows:.2f} µs an entry"
        line += f"; the tree holds {held / rows:.0f} B an entry"
        if name == "other":
            this = runs["this"]
            p = statistics.median(r["parse"] for r in this) / parse
            s = statistics.median(r["stack"] for r in this) / stack
            line += f"  | this/other CPU: parse {p:.3f}×, stack {s:.3f}×"
        print(line, flush=True)


if __name__ == "__main__":
    main()
