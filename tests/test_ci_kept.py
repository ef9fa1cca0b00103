"""`layerscope ci` verdicts kept in the layer cache (explorer/analysis/resultcache.py): a second
`ci` of an unchanged image under the same rules prints the kept verdict and writes its JUnit
file without analysing; a change to anything that decides the verdict (the rules from a flag or
a file, the ignored paths, the figures, the output, the code) is a miss, never a stale verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.analysis import resultcache
from explorer.archive import layercache
from explorer.commands import ci
from tests.imagebuilder import F, Image, Layer, whiteout, write_oci

RULES = '[ci]\nhighest-wasted-bytes = 100\nlowest-efficiency = "disabled"\nhighest-user-wasted-ratio = "disabled"\n'


@pytest.fixture(autouse=True)
def not_racy(monkeypatch):
    monkeypatch.setattr(layercache, "RACY", 0.0)


@pytest.fixture
def wasteful(tmp_path: Path, monkeypatch) -> Path:
    """An image that wastes 3,500 bytes, and a working directory with rules it fails."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".layerscope.toml").write_text(RULES)
    image = Image(
        layers=[
            Layer([F("bin/sh", b"s" * 1000), F("etc/conf", b"a" * 500)]),
            Layer([F("var/cache/apt/pkg.deb", b"x" * 3000), F("app/main", b"m" * 200)]),
            Layer([whiteout("var/cache/apt/pkg.deb"), F("etc/conf", b"b" * 400)]),
        ]
    )
    return write_oci(image, tmp_path / "wasteful.tar")


def verdict(capsys, *argv: object) -> tuple[int, str]:
    code = ci.run([str(a) for a in argv])
    return code, capsys.readouterr().out


def test_a_second_ci_is_the_verdict_kept(wasteful, tmp_path, capsys, analyses):
    for mode in ((), ("--json",)):
        fresh = verdict(capsys, wasteful, *mode, "--no-cache", "--junit", tmp_path / "fresh.xml")
        assert fresh[0] == 1 and "highest-wasted-bytes" in fresh[1]  # a rule fails: exit 1
        assert verdict(capsys, wasteful, *mode) == fresh  # analysed, and kept
        analysed = analyses["n"]
        # kept: not analysed again, and the JUnit file is written though the first run wrote none
        assert verdict(capsys, wasteful, *mode, "--junit", tmp_path / "kept.xml") == fresh
        assert analyses["n"] == analysed
        assert (tmp_path / "kept.xml").read_bytes() == (tmp_path / "fresh.xml").read_bytes()
    (tmp_path / ".layerscope.toml").write_text(RULES.replace("100", "5000"))
    passing = verdict(capsys, wasteful)
    assert passing[0] == 0 and verdict(capsys, wasteful) == passing  # a pass is kept as a pass
    assert analyses["n"] == 5
    verdict(capsys, wasteful, "--no-cache")  # --no-cache neither reads nor keeps one
    assert analyses["n"] == 6


@pytest.mark.parametrize("change", ["rule flag", "rules file", "--ignore", "--json", "--figures", "code"])
def test_a_kept_verdict_is_a_miss_once_anything_it_was_made_of_changes(wasteful, tmp_path, capsys, analyses, change):
    first = verdict(capsys, wasteful)
    assert verdict(capsys, wasteful) == first and analyses["n"] == 1
    options: tuple[str, ...] = ()
    if change == "rule flag":
        options = ("--lowest-efficiency", "0.2")
    elif change == "rules file":  # the same file, another threshold: the verdict turns
        (tmp_path / ".layerscope.toml").write_text(RULES.replace("100", "5000"))
    elif change == "--ignore":
        options = ("--ignore", "var/**")
    elif change == "--json":
        options = ("--json",)
    elif change == "--figures":
        options = ("--figures", "dive")
    elif change == "code":
        resultcache._code = "another version of layerscope"
    try:
        again = verdict(capsys, wasteful, *options)
        assert analyses["n"] == 2
        assert again == verdict(capsys, wasteful, *options, "--no-cache")
        assert again != first or change == "code"
    finally:
        resultcache._code = None


def test_the_rules_come_from_a_dive_ci_too(wasteful, tmp_path, capsys, analyses):
    """dive's `.dive-ci`: its contents decide the verdict as layerscope's own file does."""
    (tmp_path / ".layerscope.toml").unlink()
    dive_ci = "rules:\n  lowestEfficiency: disabled\n  highestUserWastedPercent: disabled\n"
    (tmp_path / ".dive-ci").write_text(dive_ci + "  highestWastedBytes: 100\n")
    first = verdict(capsys, wasteful)
    assert first[0] == 1 and verdict(capsys, wasteful) == first and analyses["n"] == 1
    (tmp_path / ".dive-ci").write_text(dive_ci + "  highestWastedBytes: 1MB\n")
    again = verdict(capsys, wasteful)
    assert again[0] == 0 and analyses["n"] == 2
