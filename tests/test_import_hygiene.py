"""Archive, analysis and present, the CLI module and the demo never import Textual (each checked in a
fresh interpreter); import-linter checks the direction of every import (see pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.imagebuilder import F, Image, Layer, write_oci

ROOT = Path(__file__).resolve().parents[1]
MODEL_MODULES = sorted(
    f"explorer.{layer}.{p.stem}" if p.stem != "__init__" else f"explorer.{layer}"
    for layer in ("archive", "analysis", "present")
    for p in (ROOT / "explorer" / layer).glob("*.py")
)
MODULES = [*MODEL_MODULES, "explorer.cli", "explorer.commands.report", "explorer.demo"]

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(",".join(loaded))
"""


def _textual_modules_after(code: str, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip().splitlines()
    return [m for m in (out[-1].split(",") if out else []) if m]


def test_every_model_module_is_listed():
    assert "explorer.analysis.filesystem" in MODULES and "explorer.archive.tarstream" in MODULES
    assert "explorer.present.browse" in MODULES
    assert len(MODEL_MODULES) >= 20


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_textual(module):
    assert _textual_modules_after(PROBE, module) == []


def test_report_command_does_not_import_textual(tmp_path):
    path = write_oci(Image([Layer([F("a", b"1")])]), tmp_path / "img.tar")
    code = """
import contextlib, io, sys
from explorer.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["report", sys.argv[1], "--json"])
assert code == 0, code
print(",".join(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))))
"""
    assert _textual_modules_after(code, str(path)) == []


def test_demo_image_analyses_without_textual(tmp_path):
    code = """
import sys
from pathlib import Path
from explorer.demo import write_demo
from explorer.analysis import load
img = load(str(write_demo(Path(sys.argv[1]) / "demo.tar")))
assert img.waste.wasted > 0
print(",".join(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))))
"""
    assert _textual_modules_after(code, str(tmp_path)) == []


def test_layers_import_one_way():
    """import-linter's contracts in pyproject.toml: archive -> analysis -> present -> tui, Textual only in tui."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
