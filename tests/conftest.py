"""Shared fixtures: where the real test archives are, and a skip when they are absent."""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
REAL = SHARED / "real"
DIVE = SHARED / "dive"

needs_shared = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared test data not found at {SHARED}")


def run(test):
    """Run an async test in its own event loop (no async plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return wrapper


# The layer cache (explorer/archive/layercache.py) never touches the user's: every test gets an
# empty one of its own, so a test sees the cache only when it opens an image twice itself (the
# library's default is no cache; the CLI's is the cache). Processes started before any test
# (session fixtures) share one temp folder.
os.environ["LAYERSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="layerscope-test-cache-")
atexit.register(shutil.rmtree, os.environ["LAYERSCOPE_CACHE_DIR"], True)


@pytest.fixture(autouse=True)
def _own_layer_cache(tmp_path_factory, monkeypatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path_factory.mktemp("layer-cache")))


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory) -> str:
    """The demo archive (v2 and v1), written once into pytest's temp folder."""
    from explorer.demo import write_demo

    return str(write_demo(tmp_path_factory.mktemp("demo") / "demo.oci.tar"))


@pytest.fixture(scope="session")
def demo(demo_archive) -> str:
    """The demo archive's path, for the app (a module may mean the analysed image instead)."""
    return demo_archive


@pytest.fixture
def analyses(monkeypatch) -> dict[str, int]:
    """How many times an image was analysed (a kept report or verdict is printed without)."""
    from explorer.analysis.image import Image

    count = {"n": 0}
    analyse = Image.analyse

    def counted(self, *args, **kwargs):
        count["n"] += 1
        return analyse(self, *args, **kwargs)

    monkeypatch.setattr(Image, "analyse", counted)
    return count
