"""A CI-sized run of the structured fuzzer (fuzz.py): a fixed seed, a fixed number of inputs.

Every input must end in `ok`, ImageError or CorruptBlob. The model has known bugs that the
fuzzer finds within seconds (each has a strict-xfail case in the corpus); a crash whose
signature is one of those is tolerated by `test_fuzz_finds_no_new_crash`, anything else
fails it with the seeds to replay. `test_fuzz_finds_no_crash_at_all` is the goal: it is a
strict xfail while the known bugs stand, and fails (XPASS) once they are all fixed, so the
known list gets emptied.

Replay a crash: `python -m tests.hostile.fuzz --base-seed 0 --replay INDEX --save case.tar`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.hostile import fuzz

COUNT = 8_000  # ~10-20 s with two workers on the CI machine
JOBS = 2
BASE_SEED = 0

# crash signature (fuzz.signature) -> the corpus case that pins the same bug
KNOWN_BUGS = {
    r"^ValueError at model/tarstream\.py:\d+ _number": "layer-header-mode-not-octal",
    r"^(ValueError|OverflowError) at model/tarstream\.py:\d+ __iter__": "layer-pax-*-not-a-number / -infinite",
    r"^RecursionError at .*model/sources\.py:\d+ _parse_json": "json-nested-100000-deep",
    r"^TypeError at model/manifests\.py:\d+ _walk_index": "index-media-type-a-list",
    r"^TypeError at model/manifests\.py:\d+ (_docker_manifest|<listcomp>)": "repo-tags-a-number",
    r"^TypeError at model/config\.py:\d+ parse_config": "config-history-a-number",
    r"^(ValueError|OverflowError|MemoryError) at tarfile\.py:\d+ \w+ <- .*model/sources\.py:\d+ __init__": (
        "outer-pax-header-of-enormous-size"
    ),
    r"^UnescapedOutput in the report line starting 'Platform'": "hostile-platform-in-config",
}


def _known(signature: str) -> str | None:
    return next((case for pattern, case in KNOWN_BUGS.items() if re.search(pattern, signature)), None)


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


def test_fuzz_finds_no_new_crash(fuzz_run: tuple[fuzz.Stats, Path, float]) -> None:
    stats, crash_dir, _ = fuzz_run
    assert stats.outcomes.get("hang", 0) == 0, stats.crashes
    assert stats.outcomes.get("worker-died", 0) == 0, stats.crashes
    new = {sig: first for sig, (_, first) in stats.crashes.items() if not _known(sig)}
    assert not new, "new crash signatures (inputs saved under {}):\n{}".format(
        crash_dir,
        "\n".join(
            f"  {sig}\n    python -m tests.hostile.fuzz --base-seed {b} --replay {i}" for sig, (b, i) in new.items()
        ),
    )


@pytest.mark.xfail(strict=True, reason="BUG: the known crashes listed in KNOWN_BUGS (see the corpus xfails)")
def test_fuzz_finds_no_crash_at_all(fuzz_run: tuple[fuzz.Stats, Path, float]) -> None:
    stats, _, _ = fuzz_run
    assert stats.crash_count == 0, {sig: n for sig, (n, _) in stats.crashes.items()}
