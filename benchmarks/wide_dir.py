"""Keys in the app on a directory of 200,000 files (the file tree shows it whole, with no page limit).

    python benchmarks/wide_dir.py /tmp/wide            # writes /tmp/wide/wide.tar once, then measures
    python benchmarks/wide_dir.py /tmp/wide --keys 20
    python benchmarks/wide_dir.py /tmp/wide --against /tmp/old-checkout --rounds 5

Layer 0 holds `wide/` with 200,000 files, layer 1 overwrites every other one. In the merged view
the probe opens `wide/` (its first listing, then cached), moves the cursor and pages inside it,
switches layers with it open, and closes it, five times; each figure is the median (and the
worst) time to answer a key, net of what Pilot takes for an unbound key, as `run.py` measures:
wall time, and CPU time of the app's process (what load on a shared machine does not inflate).
`first` is the first opening alone (the listing is built then). With `--against`, the probe
runs in this checkout and in the other one in turn, and the medians of the rounds are compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
        await pilot.press("m")
        kinds = ("noop", "first", "open", "cursor", "page", "layer", "close")
        wall = {k: [] for k in kinds}
        cpu = {k: [] for k in kinds}
        async def timed(kind, key):
            t, c = time.perf_counter(), time.process_time()
            await pilot.press(key)
            wall[kind].append(time.perf_counter() - t)
            cpu[kind].append(time.process_time() - c)
        for _ in range(keys):
            await timed("noop", "x")
        for turn in range(5):
            app.query_one(FileTree).focus()  # the keys below are the tree's
            await pilot.press("home", "down")  # wide/
            await timed("first" if turn == 0 else "open", "right")
            for _ in range(keys):
                await timed("cursor", "down")
            for _ in range(10):
                await timed("page", "pagedown")
            for i in range(6):
                await timed("layer", "left_square_bracket" if i % 2 == 0 else "right_square_bracket")
            app.query_one(FileTree).focus()
            await pilot.press("home", "down")
            await timed("close", "left")
        out = {}
        for name, lat in (("wall", wall), ("cpu", cpu)):
            noop = statistics.median(lat["noop"])
            out[name] = {k: [round(1000 * (statistics.median(v) - noop)), round(1000 * (max(v) - noop))]
                         for k, v in lat.items() if k != "noop"}
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


def probe(root: Path, image: Path, keys: int) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(image), str(keys)], cwd=root, capture_output=True)
    if out.returncode:
        raise SystemExit(out.stderr.decode(errors="replace")[-800:])
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--against", type=Path, help="another checkout, measured in turn with this one")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    image = args.outdir / "wide.tar"
    if not image.exists():
        args.outdir.mkdir(parents=True, exist_ok=True)
        write_image(image)
    roots = {"this": ROOT, **({"other": args.against.resolve()} if args.against else {})}
    runs: dict[str, list[dict]] = {name: [] for name in roots}
    for _ in range(args.rounds):
        for name, root in roots.items():
            result = probe(root, image, args.keys)
            runs[name].append(result)
            for clock in ("cpu", "wall"):
                keys = ", ".join(f"{k} {v[0]} / {v[1]}" for k, v in result[clock].items())
                print(f"{name} {clock}, median / worst ms: {keys}", flush=True)
            print(f"{name} app RSS {result['rss_mb']} MB", flush=True)
    if args.against:
        for clock in ("cpu", "wall"):
            medians = {
                name: {k: statistics.median(r[clock][k][0] for r in results) for k in results[0][clock]}
                for name, results in runs.items()
            }
            print(f"median of {args.rounds} rounds ({clock}, ms), this vs other:")
            for key, mine in medians["this"].items():
                other = medians["other"][key]
                print(f"  {key:7} {mine:6.0f} vs {other:6.0f}" + (f"  ({mine / other:.2f}x)" if other > 0 else ""))


if __name__ == "__main__":
    main()
