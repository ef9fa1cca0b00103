"""Regenerate screenshots/*.svg from the built-in demo: `python scripts/screenshots.py` after any UI change."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.demo import demo_options, write_demo  # noqa: E402
from explorer.tui.app import LayerscopeApp  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (140, 40)
# name: keys pressed once the demo is analysed
SHOTS = {
    "main": ["j"] * 5,  # the chmod layer: a metadata-only change stores the whole file again
    "merged": ["right_square_bracket"] * 7 + ["m"],
    "waste": ["2"],
    "summary": ["3"],
    "find": ["slash", *"model"],
    "help": ["question_mark"],
    "stack": ["7", "tab", "ctrl+u", *"/app/model.bin", "enter"],  # the read path of the chmod-ed file
}
# name: the step of the guided tour (`--demo --tour`), from 0
TOUR_SHOTS = {"tour-union": 1, "tour-copy-on-write": 3, "tour-late-rm": 5, "tour-reuse": 7, "tour-fix": 9}


async def shoot(path: str, name: str, keys: list[str], tour: bool = False) -> Path:
    app = LayerscopeApp(path, demo_options(), display_name="demo", animate=False, tour=tour)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2):  # loading, then the hints it starts
            await app.workers.wait_for_complete()
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await app.workers.wait_for_complete()  # the tour's layer-reuse step compares in a worker
        await pilot.pause()
        return Path(app.save_screenshot(f"{name}.svg", str(OUT)))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layerscope-demo-") as folder:
        path = str(write_demo(Path(folder) / "demo.oci.tar"))
        for name, keys in SHOTS.items():
            print(asyncio.run(shoot(path, name, keys)).relative_to(ROOT))
        for name, step in TOUR_SHOTS.items():
            print(asyncio.run(shoot(path, name, ["n"] * step, tour=True)).relative_to(ROOT))


if __name__ == "__main__":
    main()
