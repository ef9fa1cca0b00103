"""Check that a speed change kept the output: `report --json`, `report` (text) and `diff --json`
of this tree and of another checkout, byte for byte, on each image given.

    python benchmarks/same_output.py --against CHECKOUT IMAGE [IMAGE ...]

Exit status 1 and the first differing line of each output that differs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def output(tree: Path, args: list[str]) -> bytes:
    done = subprocess.run([sys.executable, "-m", "explorer", *args], cwd=tree, capture_output=True)
    return done.stdout + f"\n[exit {done.returncode}] ".encode() + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--against", type=Path, required=True, metavar="CHECKOUT")
    args = parser.parse_args()
    images = [str(Path(image).resolve()) for image in args.images]
    runs = [["report", image, *mode] for image in images for mode in (["--json"], [], ["--top", "3"])]
    runs += [["diff", old, new, "--json"] for old, new in pairwise(images)]
    differ = 0
    for run in runs:
        mine, theirs = output(ROOT, run), output(args.against, run)
        if mine == theirs:
            print(f"same ({len(mine):,} bytes): {' '.join(run)}")
            continue
        differ += 1
        lines = zip([*mine.splitlines(), b""], [*theirs.splitlines(), b""], strict=False)
        line = next(n for n, (a, b) in enumerate(lines) if a != b)
        print(f"DIFFERENT at line {line + 1}: {' '.join(run)}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
