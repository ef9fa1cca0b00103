"""What each part of `report` costs an entry, against what the per-entry targets allow.

    python benchmarks/floor.py IMAGE [IMAGE ...] [--reps 3]

For each image, interleaved in each repetition: the baseline tool over the layer blobs (`gzip
-dc` or `zstd -dc -T1`; nothing for plain tar), `report IMAGE --json` (CPU of the command and
its workers), and one process that times, in CPU, each part alone on the same layers:

  inflate   the blobs decompressed as the scan does it (isal, zstandard), output dropped
  walk      the least a Python tar reader does: each header's size field read, the content
            skipped (no names, no objects): the interpreter's floor per entry
  hash      xxh3-64 of every regular file's content (the duplicate and rewrite checks)
  reader    `TarReader.rows` over the uncompressed layers in memory (hashing included)
  stack     `FileSystem.apply` of those rows (the entries are made there)
  after     waste, the report dictionary and the indented JSON (`analysed` image, in process)
  start     the interpreter and the imports `report` needs, in a fresh process

Printed: seconds and microseconds an entry (medians), and the ratio to the baseline tool's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import extract_blobs  # noqa: E402

PROBE = r"""
import gc, json, sys, time
blobs, image = sys.argv[1].split(","), sys.argv[2]
gc.disable()
from explorer.archive.blobs import CHUNK, decompressed
from explorer.archive.tarstream import TarReader
from explorer.archive.layerscan import LayerScan
from explorer.analysis.filesystem import FileSystem
import xxhash
out = {}

def cpu(name, fn):
    t = time.process_time()
    result = fn()
    out[name] = time.process_time() - t
    return result

def inflate(keep):
    tars = []
    for path in blobs:
        with open(path, "rb") as raw:
            _, stream = decompressed(raw, path)
            parts = []
            while chunk := stream.read(CHUNK):
                if keep:
                    parts.append(chunk)
            tars.append(b"".join(parts))
    return tars

cpu("inflate", lambda: inflate(False))  # the output dropped, as the scan drops each chunk
tars = inflate(True)

def walk():
    n = 0
    for tar in tars:
        at, end = 0, len(tar) - 512
        while at <= end:
            field = tar[at + 124 : at + 136]
            if field[0] == 0:  # a zero block: the end
                break
            size = int(field.rstrip(b" \0") or b"0", 8)
            at += 512 + (size + 511) // 512 * 512
            n += 1
    return n

entries = cpu("walk", walk)

def hash_files():
    h = xxhash.xxh3_64_intdigest
    for tar in tars:
        view = memoryview(tar)
        at, end = 0, len(tar) - 512
        while at <= end:
            field = tar[at + 124 : at + 136]
            if field[0] == 0:
                break
            size = int(field.rstrip(b" \0") or b"0", 8)
            if tar[at + 156] in b"0\0" and size:
                h(view[at + 512 : at + 512 + size])
            at += 512 + (size + 511) // 512 * 512

cpu("hash", hash_files)

def chunks(data, size=CHUNK):
    view = memoryview(data)
    return (bytes(view[i : i + size]) for i in range(0, len(data), size))

def read():
    return [LayerScan(list(TarReader(chunks(t), "layer").rows()), len(t), "none", len(t), []) for t in tars]

scans = cpu("reader", read)
layers = [scan.rows for scan in scans]
out["entries"] = sum(len(s.rows) for s in scans)
fs = FileSystem()
def stack():
    for i, layer in enumerate(layers):
        fs.apply(i, layer)
cpu("stack", stack)
del tars, scans, layers, fs

from explorer.commands.report import _parser
from explorer.commands.options import start_pool
from explorer.commands.opening import analysing, opened
from explorer.present.report import report_dict
from explorer.present.indented_json import dumps_indented
args = _parser().parse_args([image, "--no-cache"])
with start_pool(args.path, args) as pool, opened(args, pool) as img, analysing(img):
    gc.disable()
    t = time.process_time()
    from explorer.analysis.waste import compute_waste
    compute_waste(img.fs)
    dumps_indented(report_dict(img, None, lazy=True))  # as `report --json` has it
    out["after"] = time.process_time() - t
print(json.dumps(out))
"""

START = (
    "import explorer.commands.report, explorer.commands.opening, explorer.analysis.image,"
    " explorer.present.report, explorer.present.indented_json"
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cpu(cmd: list[str]) -> float:
    """CPU seconds of a command and every process it started."""
    before = _children_cpu()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    return _children_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    os.environ["LAYERSCOPE_NO_CACHE"] = "1"
    for image in args.images:
        with tempfile.TemporaryDirectory() as tmp:
            blobs, kind = extract_blobs(image, Path(tmp))
            tool = {"gzip": ["gzip", "-dc"], "zstd": ["zstd", "-dc", "-T1", "-q"]}.get(kind)
            runs: dict[str, list[float]] = {}
            for _ in range(args.reps):
                if tool:
                    runs.setdefault(" ".join(tool), []).append(sum(run_cpu([*tool, str(b)]) for b in blobs))
                probe = [sys.executable, "-c", PROBE, ",".join(map(str, blobs)), image]
                done = subprocess.run(probe, capture_output=True, text=True, check=True, cwd=ROOT)
                for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                    runs.setdefault(name, []).append(value)
                runs.setdefault("start", []).append(run_cpu([sys.executable, "-c", START]))
                started = time.perf_counter()
                runs.setdefault("report --json", []).append(
                    run_cpu([sys.executable, "-m", "explorer", "report", image, "--json"])
                )
                runs.setdefault("report wall", []).append(time.perf_counter() - started)
        entries = int(runs.pop("entries")[0])
        medians = {name: statistics.median(values) for name, values in runs.items()}
        base = medians.get(" ".join(tool)) if tool else None
        print(f"{image} ({kind}, {entries:,} entries; load average {os.getloadavg()[0]:.1f}), medians of {args.reps}:")
        for name, value in medians.items():
            line = f"  {name:>14}: {value:6.3f} s  {1e6 * value / entries:6.2f} µs an entry"
            if base and name != "report wall":
                line += f"  {value / base:5.2f}× the baseline's CPU"
            print(line, flush=True)


if __name__ == "__main__":
    main()
