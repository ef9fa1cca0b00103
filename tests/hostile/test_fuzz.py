"""A CI-sized run of the structured fuzzer (fuzz.py): a fixed seed, a fixed number of inputs.

Every input must end in `ok`, ImageError or CorruptBlob: any other exception, a hang or a
dead worker is a crash, and the test fails with the seeds to replay it.

Replay a crash: `python -m tests.hostile.fuzz --base-seed 0 --replay INDEX --save case.tar`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hostile import fuzz

COUNT = 8_000  # ~10-20 s with two workers on the CI machine
JOBS = 2
BASE_SEED = 0


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[fuzz.Stats, Path, float]:
    crash_dir = tmp_path_factory.mktemp("fuzz-crashes")
    began = time.monotonic()
    stats = fuzz.run_fuzz(COUNT, BASE_SEED, JOBS, str(crash_dir), timeout=10.0, max_mem_mb=3072, chunk=200)
    return stats, crash_dir, time.monotonic() - began


def test_inputs_are_reproducible() -> None:
    seeds = fuzz.build_seeds()
    assert len(seeds) >= 10
    for index in (0, 1, 77, 4321):
        assert fuzz.make_input(BASE_SEED, index, seeds)[0] == fuzz.make_input(BASE_SEED, index, seeds)[0]


def test_fuzz_runs_every_input(fuzz_run: tuple[fuzz.Stats, Path, float]) -> None:
    stats, _, seconds = fuzz_run
    assert stats.inputs == COUNT, stats.outcomes
    assert stats.outcomes.get("generator-error", 0) == 0
    # the mutations reach every outcome: some inputs still load, most are refused cleanly
    for outcome in ("ok", "ImageError", "CorruptBlob"):
        assert stats.outcomes[outcome] > COUNT // 50, stats.outcomes
    assert seconds < 120, f"{COUNT} inputs took {seconds:.0f} s"


def test_fuzz_finds_no_crash(fuzz_run: tuple[fuzz.Stats, Path, float]) -> None:
    stats, crash_dir, _ = fuzz_run
    assert stats.outcomes.get("hang", 0) == 0, stats.crashes
    assert stats.outcomes.get("worker-died", 0) == 0, stats.crashes
    new = {sig: first for sig, (_, first) in stats.crashes.items()}
    assert not new, "new crash signatures (inputs saved under {}):\n{}".format(
        crash_dir,
        "\n".join(
            f"  {sig}\n    python -m tests.hostile.fuzz --base-seed {b} --replay {i}" for sig, (b, i) in new.items()
        ),
    )
