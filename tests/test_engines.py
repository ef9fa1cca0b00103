"""`docker:IMAGE` and `podman:IMAGE`: the output of `docker save` / `podman save` read in one pass."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from explorer.analysis import dive_compat
from explorer.analysis.image import Image, load
from explorer.archive.engines import engine_of
from explorer.archive.errors import ImageError
from explorer.present.report import report_dict
from tests.conftest import DIVE, REAL, needs_shared

FAKE_DOCKER = """#!/bin/sh
# Stands in for the docker CLI: `docker save IMAGE` writes a real archive made by other tools.
[ "$1" = save ] || {{ echo "unexpected arguments: $*" >&2; exit 64; }}
case "$2" in
  dive-test:latest) exec cat '{dive}' ;;
  bloat:25) exec cat '{docker25}' ;;
  cut) head -c 700000 '{dive}'; exit 0 ;;
  down) echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2
        exit 1 ;;
  *) echo "Error response from daemon: reference does not exist" >&2; exit 1 ;;
esac
"""


def _figures(path: str) -> dict:
    """The report of the image at `path`, dive's figures included, without the path."""
    image = Image.open(path)
    try:
        dive = dive_compat.watch(image)
        image.analyse()
        data = report_dict(image, None, dive.result())
    finally:
        image.close()
    data["image"].pop("path")
    return data


@pytest.fixture
def fake_docker(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "docker"
    script.write_text(
        FAKE_DOCKER.format(dive=DIVE / "test-docker-image.tar", docker25=REAL / "small-bloat.docker25.tar")
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return script


def test_engine_references(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert engine_of("docker:alpine:3.20") == ("docker", "alpine:3.20")
    assert engine_of("podman:quay.io/org/img@sha256:" + "a" * 64) == ("podman", "quay.io/org/img@sha256:" + "a" * 64)
    assert engine_of("image.tar") is None and engine_of("registry://h/a") is None
    (tmp_path / "docker:file.tar").write_bytes(b"")
    assert engine_of("docker:file.tar") is None  # a file of that name comes first
    for bad in ("docker:", "podman:--help"):
        with pytest.raises(ImageError, match="give an image"):
            engine_of(bad)


@needs_shared
@pytest.mark.parametrize(
    ("name", "archive"),
    [("dive-test:latest", DIVE / "test-docker-image.tar"), ("bloat:25", REAL / "small-bloat.docker25.tar")],
)
def test_docker_save_is_read_as_it_streams(fake_docker, name, archive):
    assert _figures(f"docker:{name}") == _figures(str(archive))


@needs_shared
def test_engine_failures_are_one_line(fake_docker, monkeypatch):
    with pytest.raises(ImageError, match=r"docker:nope: `docker save` failed: Error response from daemon: reference"):
        load("docker:nope")
    with pytest.raises(ImageError, match="Cannot connect to the Docker daemon"):
        load("docker:down")
    with pytest.raises(ImageError, match="docker:cut: not a readable tar"):  # cut short, though docker said all is well
        load("docker:cut")
    monkeypatch.setenv("PATH", str(fake_docker.parent.parent))  # no docker, no podman
    with pytest.raises(ImageError, match="the `podman` command is not installed"):
        load("podman:alpine")


@needs_shared
@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (Debian package podman)")
def test_podman_for_real(tmp_path):
    archive = DIVE / "test-docker-image.tar"
    loaded = subprocess.run(["podman", "load", "-i", str(archive)], capture_output=True, text=True, timeout=300)
    if loaded.returncode != 0:
        pytest.skip(f"podman does not run here: {loaded.stderr.strip()[-200:]}")
    try:
        from_engine = load("podman:dive-test:latest")
        from_file = load(str(archive))
        assert from_engine.waste.wasted == from_file.waste.wasted
        assert [layer.diff_id for layer in from_engine.layers] == [layer.diff_id for layer in from_file.layers]
        from_engine.close()
        from_file.close()
        with pytest.raises(ImageError, match="podman:no-such-image: `podman save` failed: "):
            load("podman:no-such-image")
    finally:
        subprocess.run(["podman", "rmi", "dive-test:latest"], capture_output=True, timeout=120)
