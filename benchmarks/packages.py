"""What reading packages adds to `report`: `report IMAGE --json` with the package analysis
and without it (its `find_packages` given no package metadata: no packages, no package hints,
no package JSON), interleaved, CPU of the command and every process it started.

    python benchmarks/packages.py IMAGE [IMAGE ...] [--reps 5] [--against CHECKOUT]
    python benchmarks/packages.py IMAGE [IMAGE ...] --in-process [--reps 9]

Target (issue 13): with ≤ 1.10× without. Both runs go through the same `python -c` prelude
and read every layer (`--no-cache`), with the tree's modules compiled first. `--against`
adds CHECKOUT's `report` with packages to the loop (another branch, say main: the ratio
before a change, measured beside the ratio after it). Under load the
CPU time of a whole run varies by 10 % and more, which hides a difference of a few %:
`--in-process` measures what packages add to the parent's work (the image analysed once;
alternately with its package metadata and with none: `find_packages`, `report_dict` with
the hints, the JSON text), min of the repetitions.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ["LAYERSCOPE_NO_CACHE"] = "1"  # every layer read each run

from benchmarks.per_entry import cpu_and_wall  # noqa: E402
from benchmarks.run import byte_compile  # noqa: E402

PRELUDE = """
import sys
import explorer.analysis.packages as packages
if {off}:
    found = packages._find_packages
    def without(image):
        for layer in image.layers:
            if layer.scan is not None and layer.scan.capture is not None:
                layer.scan.capture.files = {{}}
        return found(image)
    packages._find_packages = without
from explorer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def command(image: str, off: bool) -> list[str]:
    return [sys.executable, "-c", PRELUDE.format(off=off), "report", image, "--json", "--no-cache"]


def report_ratio(images: list[str], reps: int, against: Path | None) -> None:
    runs = {"with": (ROOT, False), "without": (ROOT, True)}
    if against is not None:
        runs["CHECKOUT with"] = (against, False)
    cpu: dict[tuple[str, str], list[float]] = {(image, run): [] for image in images for run in runs}
    for rep in range(reps):
        for image in images:
            order = list(runs)
            for run in order[rep % len(order) :] + order[: rep % len(order)]:  # which goes first rotates
                tree, off = runs[run]
                cpu[(image, run)].append(cpu_and_wall([command(image, off)], cwd=tree)[1])
    for image in images:
        base = cpu[(image, "without")]
        print(f"{Path(image).name}: without {min(base):.3f} s (median {statistics.median(base):.3f})")
        for run in runs:
            if run != "without":
                got = cpu[(image, run)]
                low, mid = min(got), statistics.median(got)
                print(
                    f"  {run}: {low:.3f} s (median {mid:.3f}):"
                    f" {low / min(base):.3f}× (min), {mid / statistics.median(base):.3f}× (median)"
                )


def in_process(image_path: str, reps: int) -> None:
    """The parent's share of `report --json`, with and without packages, in one process."""
    from explorer.analysis import load
    from explorer.present.indented_json import dumps_indented
    from explorer.present.report import report_dict

    gc.disable()  # as `report` runs
    image = load(image_path)
    kept = [layer.scan.capture.files if layer.scan and layer.scan.capture else None for layer in image.layers]
    phases = ("find_packages", "report_dict", "json")
    cpu: dict[tuple[bool, str], list[float]] = {(off, phase): [] for off in (False, True) for phase in phases}
    for rep in range(reps):
        for off in (rep % 2 == 1, rep % 2 == 0):
            for layer, files in zip(image.layers, kept, strict=True):
                if files is not None:
                    layer.scan.capture.files = {} if off else dict(files)  # type: ignore[union-attr]
            image._packages = None  # read them again
            start = time.process_time()
            found = image.packages
            middle = time.process_time()
            data = report_dict(image)
            end = time.process_time()
            dumps_indented(data)
            for phase, took in zip(phases, (middle - start, end - middle, time.process_time() - end), strict=True):
                cpu[(off, phase)].append(took)
            if not off:
                packages, listed = len(found.packages), len(found.owners)
    print(f"{Path(image_path).name}: {packages} packages, {listed} listed paths, {len(image.fs.copies)} stored copies")
    total = 0.0
    for phase in phases:
        on, off = min(cpu[(False, phase)]) * 1000, min(cpu[(True, phase)]) * 1000
        total += on - off
        print(f"  {phase}: with {on:.1f} ms, without {off:.1f} ms (min of {reps})")
    print(f"  packages add {total:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="the parent's work, with and without packages")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT", help="also CHECKOUT's report with packages")
    args = parser.parse_args()
    images = [str(Path(image).resolve()) for image in args.images]
    byte_compile(ROOT, *((args.against,) if args.against else ()))
    if args.in_process:
        for image in images:
            in_process(image, args.reps)
    else:
        report_ratio(images, args.reps, args.against)


if __name__ == "__main__":
    main()
