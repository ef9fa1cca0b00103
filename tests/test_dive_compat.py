"""Parity tests: explorer.analysis.dive_compat against the real dive v0.13.1 binary."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import posixpath
import random
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.analysis.dive_compat import DiveCompat, DiveEntry, dive_compat  # noqa: E402

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
REAL_ARCHIVES = [
    "real/small-bloat.docker-archive.tar",
    "real/small-bloat-ovl.docker-archive.tar",
    "dive/test-docker-image.tar",
    "real/scratch-empty.docker-archive.tar",
]
DIVE = shutil.which("dive")
needs_testdata = pytest.mark.skipif(not TESTDATA.is_dir(), reason=f"shared test data not found at {TESTDATA}")
needs_dive = pytest.mark.skipif(DIVE is None, reason="dive binary not on PATH; skipping comparison with the real dive")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --- independent docker-archive loader (mirrors what dive's docker-archive reader sees) ---


def _layer_entries(layer: tarfile.TarFile) -> list[DiveEntry]:
    entries = []
    for info in layer:
        name = posixpath.normpath(info.name).lstrip("/")
        if name in ("", "."):
            continue
        entries.append(DiveEntry(name, info.type, info.size, info.mode))
    return entries


def load_docker_archive(path: Path) -> tuple[list[list[DiveEntry]], list[int]]:
    """Return (entries per manifest layer, dive layer sizes) of a legacy docker-archive."""
    with tarfile.open(path) as outer:
        members = {member.name: member for member in outer.getmembers()}
        manifest = json.load(outer.extractfile(members["manifest.json"]))
        layers = []
        for name in manifest[0]["Layers"]:
            member = members[name]
            if member.issym():
                # dive reads the symlink's (empty) body as the layer tar
                layers.append([])
                continue
            raw = outer.extractfile(member).read()
            if name.endswith((".tar.gz", "tgz")):
                raw = gzip.decompress(raw)
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as layer:
                layers.append(_layer_entries(layer))
    return layers, [sum(entry.size for entry in layer) for layer in layers]


# --- running the real dive ---


def run_dive_ci(archive: Path, cwd: Path) -> dict[str, str]:
    """Run dive in CI mode; return the printed metrics (and the exact ratio from a failing rule, if any)."""
    proc = subprocess.run(
        [DIVE, "--source", "docker-archive", str(archive), "--highestUserWastedPercent", "0"],
        cwd=cwd,
        env={**os.environ, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = ANSI.sub("", proc.stdout + proc.stderr)
    metrics = {}
    for key, pattern in {
        "efficiency": r"efficiency: (\S+) %",
        "wasted": r"wastedBytes: (\d+) bytes",
        "user": r"userWastedPercent: (\S+) %",
        "user_exact": r"%-user-wasted-bytes=(\S+) >",
    }.items():
        match = re.search(pattern, out)
        if match:
            metrics[key] = match.group(1)
    assert {"efficiency", "wasted", "user"} <= metrics.keys(), out
    return metrics


def run_dive_json(archive: Path, cwd: Path) -> dict:
    target = cwd / "dive-export.json"
    target.unlink(missing_ok=True)
    subprocess.run(
        [DIVE, "--source", "docker-archive", str(archive), "--json", str(target)],
        cwd=cwd,
        capture_output=True,
        timeout=300,
        check=True,
    )
    return json.loads(target.read_text())


def go_percent(value: float) -> str:
    """Go's fmt %2.4f of value*100."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf"
    return f"{value * 100:.4f}"


def assert_matches_dive(archive: Path, tmp_path: Path) -> DiveCompat:
    layers, sizes = load_docker_archive(archive)
    result = dive_compat(layers, sizes)
    printed = run_dive_ci(archive, tmp_path)
    assert int(printed["wasted"]) == result.wasted_bytes
    assert printed["efficiency"] == go_percent(result.efficiency)
    assert printed["user"] == go_percent(result.user_wasted_percent)
    if "user_exact" in printed:
        assert float(printed["user_exact"]) == result.user_wasted_percent
    exported = run_dive_json(archive, tmp_path)
    assert exported["image"]["efficiencyScore"] == result.efficiency
    assert exported["image"]["inefficientBytes"] == result.wasted_bytes
    assert [layer["sizeBytes"] for layer in exported["layer"]] == sizes
    references = exported["image"]["fileReference"] or []
    assert [(ref["file"], ref["count"], ref["sizeBytes"]) for ref in references] == result.inefficient_files
    return result


@needs_testdata
@needs_dive
@pytest.mark.parametrize("relpath", REAL_ARCHIVES)
def test_real_archives_match_dive(relpath: str, tmp_path: Path) -> None:
    archive = TESTDATA / relpath
    if not archive.is_file():
        pytest.skip(f"{archive} not present")
    assert_matches_dive(archive, tmp_path)


@needs_testdata
def test_real_archive_known_values() -> None:
    """Values printed by dive 0.13.1 for small-bloat (guards the module even without dive)."""
    archive = TESTDATA / "real/small-bloat.docker-archive.tar"
    if not archive.is_file():
        pytest.skip(f"{archive} not present")
    result = dive_compat(*load_docker_archive(archive))
    assert result.wasted_bytes == 242140
    assert go_percent(result.efficiency) == "92.6598"
    assert go_percent(result.user_wasted_percent) == "97.3083"
    assert result.inefficient_files[0] == ("/usr/share/man/man1/busybox.1.gz", 2, 75624)


# --- synthetic cases: (path, kind, size) with kind d=dir, f=file, s=symlink, h=hardlink ---

Spec = list[list[tuple[str, str, int]]]
TYPEFLAGS = {"d": b"5", "f": b"0", "s": b"2", "h": b"1"}


def entries_of(spec: Spec) -> tuple[list[list[DiveEntry]], list[int]]:
    layers = [[DiveEntry(path, TYPEFLAGS[kind], size) for path, kind, size in layer] for layer in spec]
    return layers, [sum(entry.size for entry in layer) for layer in layers]


# name -> (layers, efficiency, wasted bytes, user wasted fraction, inefficient files); worked out by hand
SYNTHETIC: dict[str, tuple[Spec, float, int, float, list[tuple[str, int, int]]]] = {
    # /a/f seen 3x (100, 50, 30): cum 180, min 30; /a/once seen once (7). 37/187; 180 / (50+30)
    "overwrite-twice-and-once": (
        [
            [("a", "d", 0), ("a/f", "f", 100), ("a/once", "f", 7)],
            [("a", "d", 0), ("a/f", "f", 50)],
            [("a", "d", 0), ("a/f", "f", 30)],
        ],
        37 / 187,
        180,
        180 / 80,
        [("/a/f", 3, 180)],
    ),
    # whiting out a file counts 0 bytes: /a/f cum 100+0, min 0; /b 10. 10/110; 100/10
    "whiteout-file": (
        [
            [("a", "d", 0), ("a/f", "f", 100)],
            [("a", "d", 0), ("a/.wh.f", "f", 0), ("b", "f", 10)],
        ],
        10 / 110,
        100,
        100 / 10,
        [("/a/f", 2, 100)],
    ),
    # whiting out a dir sums the stacked subtree: /d = 0 + x(10, overwritten) + sub 0 + y 60 = 70.
    # /d/x: cum 40+10, min 10; /d/sub/y 60; /d 70 (seen once). (10+60+70)/(50+60+70); 50 / (10+0)
    "whiteout-dir": (
        [
            [("d", "d", 0), ("d/x", "f", 40), ("d/sub", "d", 0), ("d/sub/y", "f", 60)],
            [("d", "d", 0), ("d/x", "f", 10)],
            [(".wh.d", "f", 0)],
        ],
        140 / 180,
        50,
        50 / 10,
        [("/d/x", 2, 50)],
    ),
    # opaque marker ignored: nothing is removed, /o/a and /o/b counted once each; dir /q made opaque
    # with nothing added becomes a leaf again -> /q counted twice with 0 bytes
    "opaque-ignored": (
        [
            [("o", "d", 0), ("o/a", "f", 30), ("q", "d", 0)],
            [("o", "d", 0), ("o/.wh..wh..opq", "f", 0), ("o/b", "f", 20), ("q", "d", 0), ("q/.wh..wh..opq", "f", 0)],
        ],
        1.0,
        0,
        0.0,
        [("/q", 2, 0)],
    ),
    # a whiteout of a path absent below aborts the rest of the layer (/b, /c never visited) and leaves
    # min=-1 for /ghost: (10 - 1) / 10
    "whiteout-missing-aborts-layer": (
        [
            [("a", "f", 10)],
            [(".wh.ghost", "f", 0), ("b", "f", 5), ("c", "f", 7)],
        ],
        9 / 10,
        0,
        0.0,
        [],
    ),
    # a dir that only existed implicitly (no dir header) is not IsDir, so its whiteout counts 0 bytes;
    # /p is then re-added as an empty dir: /p seen twice with 0 + 0 (a real dir would give 40 + 0)
    "whiteout-implicit-dir": (
        [
            [("p/x", "f", 40)],
            [(".wh.p", "f", 0), ("z", "f", 1)],
            [("p", "d", 0)],
        ],
        1.0,
        0,
        0.0,
        [("/p", 2, 0)],
    ),
    # symlinks and hard links count 0 bytes; /t rewritten: cum 128, min 64. (0+0+64)/(0+0+128); 128/64
    "links": (
        [
            [("t", "f", 64), ("s", "s", 0), ("h", "h", 0)],
            [("t", "f", 64), ("s", "s", 0)],
        ],
        64 / 128,
        128,
        2.0,
        [("/t", 2, 128), ("/s", 2, 0)],
    ),
}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_by_hand(name: str) -> None:
    spec, efficiency, wasted, user, files = SYNTHETIC[name]
    result = dive_compat(*entries_of(spec))
    assert result.efficiency == pytest.approx(efficiency, rel=1e-15)
    assert result.wasted_bytes == wasted
    assert result.user_wasted_percent == pytest.approx(user, rel=1e-15)
    assert result.inefficient_files == files


def test_no_layers() -> None:
    result = dive_compat([], [])
    assert result.efficiency == 1.0
    assert result.wasted_bytes == 0
    assert math.isnan(result.user_wasted_percent)
    assert result.inefficient_files == []


def test_layer_sizes_must_align() -> None:
    with pytest.raises(ValueError):
        dive_compat([[]], [])


# --- synthetic docker-archives checked against the real dive ---


def _layer_tar(layer: list[tuple[str, str, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, kind, size in layer:
            info = tarfile.TarInfo(path)
            info.type = {"d": tarfile.DIRTYPE, "f": tarfile.REGTYPE, "s": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}[kind]
            info.mode = 0o755 if kind == "d" else 0o644
            if kind in "sh":
                info.linkname = "t"
            info.size = size if kind == "f" else 0
            tar.addfile(info, io.BytesIO(bytes(info.size)) if kind == "f" else None)
    return buffer.getvalue()


def write_archive(path: Path, spec: Spec, symlinked_layers: bool = False) -> Path:
    """Write a podman-style docker-archive: <sha>.tar blobs, <n>/layer.tar symlinks, manifest.json."""
    blobs = [_layer_tar(layer) for layer in spec]
    digests = [hashlib.sha256(blob).hexdigest() for blob in blobs]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}" for digest in digests]},
            "history": [{"created_by": f"layer {index}"} for index in range(len(blobs))],
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_names = [
        f"{index}/layer.tar" if symlinked_layers else f"{digest}.tar" for index, digest in enumerate(digests)
    ]
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["synthetic:latest"], "Layers": layer_names}]).encode()

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w") as tar:
        for index, (digest, blob) in enumerate(zip(digests, blobs, strict=True)):
            add(tar, f"{digest}.tar", blob)
            link = tarfile.TarInfo(f"{index}/layer.tar")
            link.type, link.linkname = tarfile.SYMTYPE, f"../{digest}.tar"
            tar.addfile(link)
        add(tar, config_name, config)
        add(tar, "manifest.json", manifest)
    return path


def _many_ties_spec() -> Spec:
    """Enough equal-size inefficiencies for Go's unstable pdqsort (> 12 items) to pick the order."""
    sizes = [(i * 7919) % 5 for i in range(150)]
    base = [(f"m/f{i:03d}", "f", size) for i, size in enumerate(sizes)]
    again = [(f"m/f{i:03d}", "f", (size * 3) % 4) for i, size in enumerate(sizes) if i % 3]
    return [[("m", "d", 0), *base], [("m", "d", 0), *again], [("m", "d", 0), *again[::2]]]


@needs_dive
@pytest.mark.parametrize("name", [*SYNTHETIC, "many-ties"])
def test_synthetic_archives_match_dive(name: str, tmp_path: Path) -> None:
    spec = _many_ties_spec() if name == "many-ties" else SYNTHETIC[name][0]
    archive = write_archive(tmp_path / f"{name}.tar", spec)
    loaded, sizes = load_docker_archive(archive)
    expected, expected_sizes = entries_of(spec)
    assert [[entry._replace(mode=0) for entry in layer] for layer in loaded] == expected
    assert sizes == expected_sizes
    assert_matches_dive(archive, tmp_path)


@needs_dive
def test_symlinked_manifest_layers_are_empty_for_dive(tmp_path: Path) -> None:
    """dive reads a manifest layer that is a symlink member as an empty tar; the loader mirrors it."""
    archive = write_archive(tmp_path / "symlinked.tar", SYNTHETIC["overwrite-twice-and-once"][0], symlinked_layers=True)
    result = assert_matches_dive(archive, tmp_path)
    assert result.wasted_bytes == 0
    assert math.isnan(result.user_wasted_percent)


def _random_spec(seed: int) -> Spec:
    """Small random layers: dirs, files, links, whiteouts, opaque markers, implicit parents, duplicates."""
    rng = random.Random(seed)
    plain = ["a", "b", "c", "-x"]
    leaf = [*plain, ".wh.a", ".wh.b", ".wh.c", ".wh..wh..opq"]
    spec = []
    for _ in range(rng.randint(1, 5)):
        layer = []
        for _ in range(rng.randint(0, 10)):
            parts = [rng.choice(plain) for _ in range(rng.randint(0, 2))] + [rng.choice(leaf)]
            kind = "f" if parts[-1].startswith(".wh.") else rng.choice("ddffffsh")
            size = rng.choice([0, 1, 5, 17, 100, 1000]) if kind == "f" and not parts[-1].startswith(".wh.") else 0
            layer.append(("/".join(parts), kind, size))
        spec.append(layer)
    return spec


@needs_dive
@pytest.mark.parametrize("seed", range(40))
def test_random_archives_match_dive(seed: int, tmp_path: Path) -> None:
    assert_matches_dive(write_archive(tmp_path / "random.tar", _random_spec(seed)), tmp_path)
