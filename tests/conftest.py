"""Shared fixtures: where the real test archives are, and a skip when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
REAL = SHARED / "real"
DIVE = SHARED / "dive"

needs_shared = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared test data not found at {SHARED}")
