"""The parent's work after stacking, phase by phase, in CPU time: this tree against another
checkout, interleaved (each repetition runs both, in turn, in fresh processes).

    python benchmarks/parent_cost.py IMAGE [IMAGE ...] [--against CHECKOUT] [--reps 3] [--loops 3]

Each process analyses the image as `report` does (the collector off, no layer cache), then
times, `--loops` times each (the fastest kept): the waste and duplicates pass
(`compute_waste`), the hints (`compute_hints`), the whole report dictionary (`report_dict`,
hints included, its duplicates lazy as `report --json` has them), the indented JSON (the
duplicates' records made as it is written), and the text report rendered to nowhere. Printed:
medians over the repetitions of those fastest loops, and this/other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import gc, io, json, sys, time
image_path, loops = sys.argv[1], int(sys.argv[2])
from explorer.commands.report import _parser
from explorer.commands.options import start_pool
from explorer.commands.opening import opened, analysing
from explorer.analysis.waste import compute_waste
from explorer.analysis.hints import compute_hints
from explorer.present.report import report_dict
from explorer.present.indented_json import dumps_indented
from explorer.present.report_text import render_report
from rich.console import Console
args = _parser().parse_args([image_path, "--no-cache"])

def best(fn):
    times = []
    for _ in range(loops):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return min(times), out

out = {}
t = time.process_time()
with start_pool(args.path, args) as pool, opened(args, pool) as image, analysing(image):
    out["open_and_analyse"] = time.process_time() - t
    gc.disable()
    out["packages"], _ = best(lambda: image.packages)  # found once, then remembered
    out["waste"], _ = best(lambda: compute_waste(image.fs))
    out["hints"], _ = best(lambda: compute_hints(image))
    out["report_dict"], data = best(lambda: report_dict(image, None, lazy=True))  # as `report --json`
    out["json"], _ = best(lambda: dumps_indented(data))
    text = report_dict(image, 20)
    longest = max((len(item["path"]) for item in text["waste"]), default=0)
    out["text"], _ = best(lambda: render_report(text, Console(file=io.StringIO(), width=max(100, longest + 60))))
print(json.dumps(out))
"""


def probe(tree: Path, image: str, loops: int) -> dict:
    env = {**os.environ, "LAYERSCOPE_NO_CACHE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, image, str(loops)], cwd=tree, capture_output=True, text=True, env=env
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--loops", type=int, default=3)
    args = parser.parse_args()
    trees = {"this": ROOT, **({"other": args.against} if args.against else {})}
    for image in args.images:
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.reps):
            for name, tree in trees.items():
                runs[name].append(probe(tree, image, args.loops))
        print(f"{image} (load average {os.getloadavg()[0]:.1f}), CPU seconds, medians of {args.reps}:")
        for phase in runs["this"][0]:
            line = f"  {phase:>17}:"
            medians = {name: statistics.median(r[phase] for r in rs) for name, rs in runs.items()}
            for name, value in medians.items():
                line += f"  {name} {value:6.3f}"
            if "other" in medians and medians["other"]:
                line += f"  this/other {medians['this'] / medians['other']:.2f}×"
            print(line, flush=True)


if __name__ == "__main__":
    main()
