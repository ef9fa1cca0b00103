"""`layerscope diff` compares packages: added, removed, upgraded (old → new) and downgraded
between the final states of two images, in text and JSON; versions ordered as dpkg orders them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.analysis.compare import compare_versions
from tests.imagebuilder import F, Image, Layer, write_docker_archive, write_oci
from tests.test_packages import status

ROOT = Path(__file__).resolve().parents[1]


def _image(packages: list[tuple[str, str, bytes]], extra: list[F] = ()) -> Image:  # type: ignore[assignment]
    """One layer: each package's file usr/bin/NAME, its list, and the status naming them all."""
    files = [F(f"usr/bin/{name}", data) for name, _, data in packages]
    files += [F(f"var/lib/dpkg/info/{name}.list", f"/.\n/usr/bin/{name}\n".encode()) for name, _, _ in packages]
    files.append(F("var/lib/dpkg/status", status(*[(name, version) for name, version, _ in packages])))
    return Image([Layer(files + list(extra), created_by="RUN apt-get install")])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("pkdiff")
    old = _image([("bash", "5.2-1", b"b" * 100), ("gcc-12", "12.2.0", b"g" * 500), ("zlib", "1:1.3-1", b"z" * 10)])
    new = _image(
        [("bash", "5.2-2", b"B" * 160), ("make", "4.3", b"m" * 70), ("zlib", "1:1.2-1", b"z" * 10)],
        [F("app/site/requests-2.0.dist-info/METADATA", b"Name: requests\nVersion: 2.0\n")],
    )
    return write_oci(old, tmp / "old.tar"), write_docker_archive(new, tmp / "new.tar")


def _diff(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", "diff", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


def test_diff_json_packages(pair: tuple[Path, Path]) -> None:
    proc = _diff(*pair, "--json")
    assert proc.returncode == 1, proc.stderr
    packages = json.loads(proc.stdout)["packages"]
    assert {k: packages[k] for k in ("added", "removed", "upgraded", "downgraded", "changes_total")} == {
        "added": 2,
        "removed": 1,
        "upgraded": 1,
        "downgraded": 1,
        "changes_total": 5,
    }
    rows = [
        (c["ecosystem"], c["name"], c["status"], c["old_version"], c["new_version"], c["old_bytes"], c["new_bytes"])
        for c in packages["changes"]
    ]
    assert rows == [
        ("deb", "bash", "upgraded", "5.2-1", "5.2-2", 100, 160),
        ("deb", "gcc-12", "removed", "12.2.0", None, 500, 0),
        ("deb", "make", "added", None, "4.3", 0, 70),
        ("deb", "zlib", "downgraded", "1:1.3-1", "1:1.2-1", 10, 10),
        ("python", "requests", "added", None, "2.0", 0, 0),
    ]
    bash = packages["changes"][0]
    assert (bash["arch"], bash["location"], bash["delta_bytes"]) == ("amd64", "", 60)
    assert packages["changes"][-1]["location"] == "app/site"

    top = json.loads(_diff(*pair, "--json", "--top", "2").stdout)["packages"]
    assert [c["name"] for c in top["changes"]] == ["bash", "gcc-12"] and top["changes_total"] == 5


def test_diff_text_packages(pair: tuple[Path, Path]) -> None:
    proc = _diff(*pair)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "2 added, 1 removed, 1 upgraded, 1 downgraded" in out
    assert "Packages (5 differ)" in out
    line = next(line for line in out.splitlines() if "deb:bash" in line)
    assert "^" in line and "+60 B" in line and "5.2-1 → 5.2-2" in line
    assert "12.2.0" in next(line for line in out.splitlines() if "deb:gcc-12" in line)
    assert "python:requests (app/site)" in out


def test_same_packages_no_package_section(pair: tuple[Path, Path]) -> None:
    proc = _diff(pair[0], pair[0], "--json")
    packages = json.loads(proc.stdout)["packages"]
    assert packages["changes"] == [] and packages["changes_total"] == 0
    assert "Packages" not in _diff(pair[0], pair[0]).stdout


VERSIONS = [
    ("1.0", "1.0"),
    ("1.0", "1.1"),
    ("1.2.10", "1.2.9"),
    ("1.0~rc1", "1.0"),
    ("1.0~~", "1.0~"),
    ("1:0.9", "2.0"),
    ("5.2-1", "5.2-2"),
    ("5.2.15-2+b2", "5.2.15-2"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1.0a", "1.0"),
    ("1.0a", "1.0+"),
    ("1.0-1", "1.0"),
    ("2.0-1ubuntu1", "2.0-1"),
    ("0.9.8-3.1", "0.9.8-3.01"),
]


@pytest.mark.parametrize(("a", "b"), VERSIONS)
def test_versions_ordered_as_dpkg_orders_them(a: str, b: str) -> None:
    got = compare_versions(a, b)
    assert compare_versions(b, a) == -got
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg not installed")
    for op, want in (("lt", -1), ("eq", 0), ("gt", 1)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0:
            assert got == want
