"""Keys in the app on a directory of 200,000 files (the file tree shows it whole, with no page limit).

    python benchmarks/wide_dir.py /tmp/wide            # writes /tmp/wide/wide.tar once, then measures
    python benchmarks/wide_dir.py /tmp/wide --keys 20

Layer 0 holds `wide/` with 200,000 files, layer 1 overwrites every other one. In the merged view
the probe opens `wide/` (its first listing, then cached), moves the cursor and pages inside it,
switches layers with it open, and closes it, five times; each figure is the median (and the
worst) time to answer a key, net of what Pilot takes for an unbound key, as `run.py` measures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = 200_000

PROBE = r"""
import asyncio, json, resource, statistics, sys, time
from explorer.tui.app import LayerscopeApp
from explorer.tui.widgets.filetree import FileTree

async def main(path, keys):
    app = LayerscopeApp(path, animate=False)
    async with app.run_test(size=(200, 60)) as pilot:
        while not app.loaded:
            await asyncio.sleep(0.01)
        await pilot.pause()
        app.query_one(FileTree).focus()
        await pilot.press("m")
        lat = {"noop": [], "open": [], "cursor": [], "page": [], "layer": [], "close": []}
        async def timed(kind, key):
            t = time.perf_counter()
            await pilot.press(key)
            lat[kind].append(time.perf_counter() - t)
        for _ in range(keys):
            await timed("noop", "x")
        for _ in range(5):
            await pilot.press("home", "down")  # wide/
            await timed("open", "right")
            for _ in range(keys):
                await timed("cursor", "down")
            for _ in range(10):
                await timed("page", "pagedown")
            for i in range(6):
                await timed("layer", "left_square_bracket" if i % 2 == 0 else "right_square_bracket")
            await pilot.press("home", "down")
            await timed("close", "left")
        noop = statistics.median(lat.pop("noop"))
        out = {k: [round(1000 * (statistics.median(v) - noop)), round(1000 * (max(v) - noop))] for k, v in lat.items()}
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def write_image(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.imagebuilder import F, Image, Layer, write_docker_archive

    files = [F("wide/", kind="dir")] + [F(f"wide/f{i:06d}", b"x" * (i % 50)) for i in range(COUNT)]
    top = [F(f"wide/f{i:06d}", b"y" * 10) for i in range(0, COUNT, 2)]
    write_docker_archive(Image(layers=[Layer(files, compression="none"), Layer(top, compression="none")]), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args()
    image = args.outdir / "wide.tar"
    if not image.exists():
        args.outdir.mkdir(parents=True, exist_ok=True)
        write_image(image)
    out = subprocess.run([sys.executable, "-c", PROBE, str(image), str(args.keys)], cwd=ROOT, capture_output=True)
    if out.returncode:
        raise SystemExit(out.stderr.decode(errors="replace")[-800:])
    result = json.loads(out.stdout.decode().strip().splitlines()[-1])
    print("keys, median / worst ms: " + ", ".join(f"{k} {v[0]} / {v[1]}" for k, v in result.items() if k != "rss_mb"))
    print(f"app RSS {result['rss_mb']} MB")


if __name__ == "__main__":
    main()
