"""End to end: `python -m explorer report ...` (and the `layerscope` script) as a user runs it."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pty
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from explorer.present.text import human_size
from tests.conftest import DIVE, REAL, needs_shared
from tests.imagebuilder import F, Image, Layer, whiteout, write_docker_archive, write_oci

ROOT = Path(__file__).resolve().parents[1]
DIVE_BIN = shutil.which("dive")
REPORT_KEYS = {
    "schema",
    "image",
    "summary",
    "layers",
    "history",
    "waste",
    "hints",
    "hints_total",
    "waste_items_total",
    "duplicates",
    "largest",
    "dive_compat",
    "packages",
    "package_totals",
    "package_notes",
    "unowned_files",
    "warnings",
}
SUMMARY_BYTES = (
    "stored_bytes",
    "visible_bytes",
    "wasted_bytes",
    "compressed_bytes",
    "uncompressed_bytes",
    "duplicate_bytes",
    "reclaimable_bytes",
)
COLOR_SGR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def run(*args: str, stdin=None, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def report_json(path: Path | str, *extra: str) -> dict:
    proc = run("report", str(path), "--json", *extra)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    return json.loads(proc.stdout)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerscope: "), err
    assert proc.stdout == b""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def bloated() -> Image:
    return Image(
        [
            Layer(
                [
                    F("app/big.bin", b"B" * 5000),
                    F("app/conf", b"v1" * 100),
                    F("app/copy1", b"dup" * 50),
                    F("app/copy2", b"dup" * 50),
                    F("tmp/cache", b"C" * 3000),
                ],
                created_by="COPY app /app",
            ),
            Layer(
                [whiteout("tmp/cache"), F("app/conf", b"v2"), F("app/big.bin", b"B" * 5000, mode=0o600)],
                created_by="RUN rm -rf /tmp/cache && chmod 600 /app/big.bin",
            ),
        ],
        config={"Cmd": ["/app/big.bin"], "Env": ["A=1"], "WorkingDir": "/app"},
        tags=["example.com/bloated:1.0"],
    )


@pytest.fixture(scope="module")
def image_path(tmp_path_factory) -> Path:
    return write_oci(bloated(), tmp_path_factory.mktemp("cli") / "bloated.tar")


@pytest.fixture(scope="module")
def uncompressed_dir(tmp_path_factory) -> Path:
    image = bloated()
    for layer in image.layers:
        layer.compression = "none"
    return write_oci(image, tmp_path_factory.mktemp("cli") / "layout", as_dir=True)


def _blob_paths(layout: Path) -> tuple[Path, list[Path]]:
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    return blobs / manifest["config"]["digest"].split(":")[1], [
        blobs / layer["digest"].split(":")[1] for layer in manifest["layers"]
    ]


# ---- the report ---------------------------------------------------------------------------


def test_human_report(image_path):
    proc = run("report", str(image_path))
    assert proc.returncode == 0 and proc.stderr == b""
    out = proc.stdout.decode()
    for text in ("Image", "Platform", "linux/amd64", "Stored", "Visible", "Wasted", "Efficiency"):
        assert text in out
    assert "8,200 bytes" in out  # wasted: 5000 re-stored + 3000 deleted + 200 overwritten
    assert "Top wasted (3 of 3)" in out
    assert "/tmp/cache" in out and "re-stored identical" in out and "overwritten" in out
    assert "Duplicates" in out
    assert "What to change (4 of 4 hints; 8.3 kB reclaimable" in out and "fix: Set mode and owner" in out
    assert "Largest files of the final image" in out
    assert out.index("Efficiency") < out.index("What to change") < out.index("Layers (")
    cells = ([c.strip() for c in line.strip("│ ").split("│")] for line in out.splitlines())
    sizes = {int(row[0]): row[1] for row in cells if len(row) == 7 and row[0].isdigit()}  # the layer table
    layers = report_json(image_path)["layers"]
    assert sizes == {layer["index"]: human_size(layer["content_bytes"]) for layer in layers}  # as the app's size
    assert "dive figures" not in out
    assert "dive figures" in run("report", str(image_path), "--dive").stdout.decode()


def test_piped_text_ends_each_line_where_its_text_does(image_path):
    """Piped, `report` and `diff` lines carry no spaces padded to a width no terminal has."""
    for args in (("report", str(image_path)), ("diff", str(image_path), str(image_path))):
        proc = run(*args)
        assert proc.returncode == 0
        lines = proc.stdout.decode().splitlines()
        assert len(lines) > 3
        assert [line for line in lines if line.endswith(" ")] == []


def test_json_report_schema(image_path):
    data = report_json(image_path)
    assert set(data) == REPORT_KEYS
    assert data["schema"] == "layerscope.report/v1"
    summary = data["summary"]
    for key in SUMMARY_BYTES:
        assert isinstance(summary[key], int) and not isinstance(summary[key], bool), key
    assert summary["layers"] == 2
    assert summary["stored_bytes"] == 5000 + 200 + 150 + 150 + 3000 + 2 + 5000
    assert summary["wasted_bytes"] == 8200
    assert summary["visible_bytes"] == summary["stored_bytes"] - 8200
    assert summary["wasted_by_cause"] == {"deleted": 3000, "overwritten": 200, "restored": 5000}
    assert summary["duplicate_bytes"] == 150
    assert 0 <= summary["efficiency"] <= 1
    assert data["waste_items_total"] == 3
    assert [(w["path"], w["bytes"], w["cause"], w["stored_in"], w["hidden_by"]) for w in data["waste"]] == [
        ("app/big.bin", 5000, "restored", 0, 1),
        ("tmp/cache", 3000, "deleted", 0, 1),
        ("app/conf", 200, "overwritten", 0, 1),
    ]
    assert data["duplicates"] == [{"bytes": 150, "paths": ["app/copy1", "app/copy2"]}]
    assert [(h["kind"], h["bytes_saved"], h["layers"], h["paths"]) for h in data["hints"]] == [
        ("metadata_restore", 5000, [0, 1], ["app/big.bin"]),
        ("deleted_later", 3000, [0, 1], ["tmp/cache"]),
        ("overwritten", 200, [0, 1], ["app/conf"]),
        ("duplicate", 150, [0], ["app/copy1", "app/copy2"]),
    ]
    assert data["hints"][0]["instructions"] == ["COPY app /app", "RUN rm -rf /tmp/cache && chmod 600 /app/big.bin"]
    assert all(h["fix"] and h["why"] and h["title"] for h in data["hints"])
    assert data["hints_total"] == 4 and summary["reclaimable_bytes"] == 8200 + 150
    assert data["largest"] == [
        {"path": "app/big.bin", "bytes": 5000, "layer": 1},
        {"path": "app/copy1", "bytes": 150, "layer": 0},
        {"path": "app/copy2", "bytes": 150, "layer": 0},
        {"path": "app/conf", "bytes": 2, "layer": 1},
    ]
    image = data["image"]
    assert image["layout"] == "oci" and image["platform"] == "linux/amd64"
    assert image["config"]["cmd"] == ["/app/big.bin"] and image["config"]["workdir"] == "/app"
    for layer in data["layers"]:
        for key in ("blob_bytes", "tar_bytes", "content_bytes", "wasted_here_bytes", "hides_bytes"):
            assert isinstance(layer[key], int), key
        assert set(layer["changes"]) == {"added", "modified", "restored", "type_changed", "deleted"}
    assert [layer["wasted_here_bytes"] for layer in data["layers"]] == [8200, 0]
    assert [layer["hides_bytes"] for layer in data["layers"]] == [0, 8200]
    assert data["layers"][1]["changes"] == {
        "added": 0,
        "modified": 1,
        "restored": 1,
        "type_changed": 0,
        "deleted": 1,
    }
    assert [h["layer"] for h in data["history"]] == [0, 1]
    assert data["dive_compat"] is None  # only with --dive
    assert data["warnings"] == []


def test_top_limits_the_lists(image_path):
    data = report_json(image_path, "--top", "1")
    assert len(data["waste"]) == 1 and data["waste"][0]["path"] == "app/big.bin"
    assert data["waste_items_total"] == 3
    assert len(data["duplicates"]) == 1 and len(data["hints"]) == 1 and len(data["largest"]) == 1
    data = report_json(image_path, "--top", "0")
    assert data["waste"] == [] and data["duplicates"] == [] and data["waste_items_total"] == 3
    assert data["hints"] == [] and data["largest"] == [] and data["hints_total"] == 4
    out = run("report", str(image_path), "--top", "2").stdout.decode()
    assert "Top wasted (2 of 3)" in out and "/app/conf" not in out


def test_human_top_defaults_to_twenty(tmp_path):
    image = Image(
        [
            Layer([F(f"f{i:02}", bytes([i]) * (100 + i)) for i in range(30)]),
            Layer([whiteout(f"f{i:02}") for i in range(30)]),
        ]
    )
    out = run("report", str(write_oci(image, tmp_path / "many.tar"))).stdout.decode()
    assert "Top wasted (20 of 30)" in out
    assert len(report_json(tmp_path / "many.tar")["waste"]) == 30  # JSON: all


def test_console_script(image_path):
    beside = Path(sys.executable).with_name("layerscope")
    script = str(beside) if beside.exists() else shutil.which("layerscope")
    assert script, "the layerscope console script is not installed"
    proc = subprocess.run([script, "report", str(image_path), "--json"], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["wasted_bytes"] == 8200
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("layerscope ")


def test_report_of_an_oci_directory(uncompressed_dir):
    assert report_json(uncompressed_dir)["summary"]["wasted_bytes"] == 8200


# ---- errors -------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert_user_error(run("report", str(tmp_path / "nope.tar")), "nope.tar", "no such file")


def test_directory_that_is_not_an_image(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    assert_user_error(run("report", str(tmp_path)), "not an image")


def test_empty_file(tmp_path):
    (tmp_path / "empty.tar").write_bytes(b"")
    assert_user_error(run("report", str(tmp_path / "empty.tar")), "empty")


def _rootfs_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in (("README.md", b"# hello\n"), ("etc/passwd", b"root\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _not_images(tmp_path: Path) -> list[Path]:
    shared = DIVE / "not-images"
    if shared.is_dir():
        return sorted(shared.glob("*.tar"))
    return [_rootfs_tar(tmp_path / "rootfs.tar")]


def test_plain_tar_that_is_not_an_image(tmp_path):
    for path in [*_not_images(tmp_path), _rootfs_tar(tmp_path / "built.tar")]:
        assert_user_error(run("report", str(path)), "not an image archive")


def test_zip_file(tmp_path):
    with zipfile.ZipFile(tmp_path / "image.zip", "w") as zf:
        zf.writestr("manifest.json", "[]")
        zf.writestr("index.json", "{}")
    assert_user_error(run("report", str(tmp_path / "image.zip")), "image.zip")


def test_truncated_archive(image_path, tmp_path):
    data = image_path.read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    assert_user_error(run("report", str(tmp_path / "cut.tar")), "cut.tar")


def test_truncated_layer(uncompressed_dir, tmp_path):
    layout = shutil.copytree(uncompressed_dir, tmp_path / "layout")
    _, layers = _blob_paths(layout)
    data = layers[0].read_bytes()
    layers[0].write_bytes(data[:700])  # inside the first file's content
    assert_user_error(run("report", str(layout)), "truncated")


def test_truncated_gzip_layer(image_path, tmp_path):
    layout = write_oci(bloated(), tmp_path / "layout", as_dir=True)
    _, layers = _blob_paths(layout)
    data = layers[0].read_bytes()
    layers[0].write_bytes(data[: len(data) - 30])
    assert_user_error(run("report", str(layout)), "gzip")


def test_corrupt_gzip_archive(image_path, tmp_path):
    data = gzip.compress(image_path.read_bytes(), mtime=0)
    (tmp_path / "bad.tar.gz").write_bytes(data[:300] + bytes(200) + data[500:])
    assert_user_error(run("report", str(tmp_path / "bad.tar.gz")), "bad.tar.gz")


def test_gzip_layer_with_a_bad_crc(tmp_path):
    layout = write_oci(bloated(), tmp_path / "layout", as_dir=True)
    _, layers = _blob_paths(layout)
    data = bytearray(layers[0].read_bytes())
    data[-8:-4] = bytes(a ^ 0xFF for a in data[-8:-4])
    layers[0].write_bytes(bytes(data))
    assert_user_error(run("report", str(layout)), layers[0].name, "gzip")


def test_corrupt_zstd_layer(tmp_path):
    image = bloated()
    for layer in image.layers:
        layer.compression = "zstd"
    layout = write_oci(image, tmp_path / "layout", as_dir=True)
    _, layers = _blob_paths(layout)
    data = bytearray(layers[0].read_bytes())
    data[12:40] = bytes(28)
    layers[0].write_bytes(bytes(data))
    assert_user_error(run("report", str(layout)), layers[0].name)


def test_corrupt_gzip_layer(tmp_path):
    layout = write_oci(bloated(), tmp_path / "layout", as_dir=True)
    _, layers = _blob_paths(layout)
    data = bytearray(layers[0].read_bytes())
    data[20:60] = bytes(40)
    layers[0].write_bytes(bytes(data))
    assert_user_error(run("report", str(layout)))


def test_layer_blob_that_is_not_a_tar(uncompressed_dir, tmp_path):
    layout = shutil.copytree(uncompressed_dir, tmp_path / "layout")
    _, layers = _blob_paths(layout)
    layers[0].write_bytes(b"this is not a tar archive, just some text that goes on and on. " * 20)
    assert_user_error(run("report", str(layout)), "not a tar")


def test_standard_input(image_path):
    with open(image_path, "rb") as stdin:
        proc = run("report", "-", "--json", stdin=stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["summary"]["wasted_bytes"] == 8200


def test_standard_input_that_is_not_an_image():
    assert_user_error(run("report", "-"))  # /dev/null: nothing to read


def test_malformed_manifest(tmp_path):
    layout = write_oci(bloated(), tmp_path / "layout", as_dir=True)
    (layout / "index.json").write_text("{not json")
    assert_user_error(run("report", str(layout)), "index.json", "malformed JSON")


def test_bad_option_is_a_usage_error(image_path):
    proc = run("report", str(image_path), "--top", "many")
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr and b"usage:" in proc.stderr


def test_unknown_platform_and_image(image_path):
    assert_user_error(run("report", str(image_path), "--platform", "linux/riscv64"), "linux/riscv64", "linux/amd64")
    assert_user_error(run("report", str(image_path), "--image", "nope:1"), "nope:1", "1.0")


# ---- output hygiene -----------------------------------------------------------------------


def test_json_into_a_closed_pipe(tmp_path):
    image = Image([Layer([F(f"d/f{i:04}", b"x" * (i + 1)) for i in range(2500)]), Layer([whiteout("d")])])
    path = write_oci(image, tmp_path / "big.tar")
    script = f"set +o pipefail; {sys.executable} -m explorer report {path} --json 2>{tmp_path / 'err'} | head -c 100"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=ROOT, timeout=120)
    assert len(proc.stdout) == 100 and proc.stdout.startswith(b"{")
    err = (tmp_path / "err").read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_no_color_piped(image_path):
    proc = run("report", str(image_path), env={"NO_COLOR": "1"})
    assert proc.returncode == 0 and b"\x1b" not in proc.stdout


def _run_in_pty(args: list[str], env: dict) -> bytes:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer", *args],
        stdout=terminal,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}, "COLUMNS": "160", **env},
    )
    os.close(terminal)
    out = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(controller)
    proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read()
    return out


def test_no_color_on_a_terminal(image_path):
    colored = _run_in_pty(["report", str(image_path)], {"TERM": "xterm-256color"})
    assert COLOR_SGR.search(colored)  # the check below can see colour
    plain = _run_in_pty(["report", str(image_path)], {"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert not COLOR_SGR.search(plain), set(re.findall(rb"\x1b\[[0-9;]*m", plain))


def test_input_is_never_modified(image_path, tmp_path):
    copy = shutil.copy2(image_path, tmp_path / "img.tar")
    layout = write_oci(bloated(), tmp_path / "layout", as_dir=True)
    listing = sorted(layout.rglob("*"))
    files = [Path(copy), *(p for p in listing if p.is_file())]
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files}
    dir_mtime = layout.stat().st_mtime_ns
    for target in (copy, layout):
        assert run("report", str(target)).returncode == 0
        assert run("report", str(target), "--json", "--verify").returncode == 0
    after = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files}
    assert after == before
    assert layout.stat().st_mtime_ns == dir_mtime
    assert sorted(layout.rglob("*")) == listing  # nothing added
    assert sorted(tmp_path.iterdir()) == sorted([Path(copy), layout])


def test_verify_good_image(image_path, uncompressed_dir, tmp_path):
    docker = write_docker_archive(bloated(), tmp_path / "docker.tar")
    for path in (image_path, uncompressed_dir, docker):
        proc = run("report", str(path), "--verify")
        assert proc.returncode == 0, proc.stderr.decode()


def test_verify_blob_not_matching_its_digest(uncompressed_dir, tmp_path):
    layout = shutil.copytree(uncompressed_dir, tmp_path / "layout")
    _, layers = _blob_paths(layout)
    data = bytearray(layers[1].read_bytes())
    at = data.index(b"v2")
    data[at : at + 2] = b"v3"  # same size, still a valid tar
    layers[1].write_bytes(bytes(data))
    assert run("report", str(layout)).returncode == 0  # without --verify nothing checks
    line = assert_user_error(run("report", str(layout), "--verify"), layers[1].name)
    assert "digest" in line


def test_verify_layer_not_matching_its_diff_id(tmp_path):
    path = write_docker_archive(bloated(), tmp_path / "docker.tar")
    data = bytearray(path.read_bytes())
    at = data.index(b"v2" + bytes(510))  # the content of app/conf in layer 1
    data[at : at + 2] = b"v3"
    path.write_bytes(bytes(data))
    assert run("report", str(path)).returncode == 0
    assert_user_error(run("report", str(path), "--verify"), "diff_id")


def test_blob_size_differing_from_its_descriptor(uncompressed_dir, tmp_path):
    layout = shutil.copytree(uncompressed_dir, tmp_path / "layout")
    _, layers = _blob_paths(layout)
    layers[1].write_bytes(layers[1].read_bytes() + bytes(1024))  # an extra end block: still a tar
    data = report_json(layout)
    assert any(layers[1].name in w and "descriptor" in w for w in data["warnings"])
    assert data["summary"]["wasted_bytes"] == 8200
    assert_user_error(run("report", str(layout), "--verify"), layers[1].name)


def test_hard_link_to_a_missing_target_is_a_warning(tmp_path):
    image = Image([Layer([F("bin/app", b"a" * 10), F("bin/alias", kind="hardlink", link="bin/gone")])])
    path = write_oci(image, tmp_path / "link.tar")
    data = report_json(path)
    assert len(data["warnings"]) == 1 and "bin/alias" in data["warnings"][0] and "bin/gone" in data["warnings"][0]
    proc = run("report", str(path))
    assert proc.returncode == 0 and proc.stderr == b""
    out = proc.stdout.decode()
    assert "Warnings" in out and "bin/gone" in out


def test_hostile_names_are_shown_as_text(tmp_path):
    image = Image(
        [
            Layer(
                [
                    F("[bold]not-bold[/bold]", b"m" * 40),
                    F("", b"e" * 30, raw_name=b"esc-\x1b[31mred\x1b[0m"),
                    F("", b"b" * 20, raw_name=b"bidi-\xe2\x80\xaeevil"),
                    F("", b"l" * 10, raw_name=b"latin1-caf\xe9"),
                ],
                created_by="RUN echo \x1b[2J [red]x[/red]",
            ),
            Layer(
                [
                    whiteout("[bold]not-bold[/bold]"),
                    F("", b"", raw_name=b".wh.esc-\x1b[31mred\x1b[0m"),
                    F("", b"", raw_name=b".wh.bidi-\xe2\x80\xaeevil"),
                    F("", b"", raw_name=b".wh.latin1-caf\xe9"),
                ]
            ),
        ],
        tags=["[blink]tag[/blink]:1"],
    )
    path = write_oci(image, tmp_path / "odd.tar", ref_names=["[blink]ref[/blink]"])
    proc = run("report", str(path), env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout
    plain = re.sub(rb"\x1b\[[0-9;]*m", b"", out)  # Rich's own styling
    assert b"\x1b" not in plain  # no escape sequence came from a name
    assert b"\xe2\x80\xae" not in out
    text = plain.decode()
    assert "/[bold]not-bold[/bold]" in text
    assert "\\x1b[31mred\\x1b[0m" in text
    assert "\\u202eevil" in text
    assert "latin1-caf\\xe9" in text
    assert "[blink]ref[/blink]" in text
    assert "\\x1b[2J [red]x[/red]" in text
    data = report_json(path)  # JSON keeps the names exactly (ASCII escapes)
    assert "[bold]not-bold[/bold]" in {w["path"] for w in data["waste"]}
    assert "esc-\x1b[31mred\x1b[0m" in {w["path"] for w in data["waste"]}


# ---- dive's figures -----------------------------------------------------------------------


def _dive_figures(archive: Path, cwd: Path) -> tuple[str, int, str]:
    proc = subprocess.run(
        [DIVE_BIN, "--source", "docker-archive", str(archive)],
        cwd=cwd,
        env={**os.environ, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    eff = re.search(r"efficiency: (\S+) %", out)
    wasted = re.search(r"wastedBytes: (\d+) bytes", out)
    user = re.search(r"userWastedPercent: (\S+) %", out)
    assert eff and wasted and user, out
    return eff.group(1), int(wasted.group(1)), user.group(1)


def _go_percent(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.4f}"


@needs_shared
@pytest.mark.skipif(DIVE_BIN is None, reason="dive is not on PATH: cannot compare with the real dive")
@pytest.mark.parametrize(
    "archive",
    [
        REAL / "small-bloat.docker-archive.tar",
        REAL / "small-bloat-ovl.docker-archive.tar",
        DIVE / "test-docker-image.tar",
    ],
    ids=lambda p: p.name,
)
def test_dive_compat_matches_the_real_dive(archive, tmp_path):
    if not archive.exists():
        pytest.skip(f"{archive} not present")
    efficiency, wasted, user = _dive_figures(archive, tmp_path)
    figures = report_json(archive, "--dive")["dive_compat"]
    assert figures["wasted_bytes"] == wasted
    assert _go_percent(figures["efficiency"] * 100) == efficiency
    assert _go_percent(figures["user_wasted_percent"]) == user
    human = run("report", str(archive), "--dive").stdout.decode()
    assert f"wastedBytes {wasted}" in human and f"efficiency {efficiency} %" in human


def test_corrupt_layer_scanned_in_a_worker_process(tmp_path):
    """Past PARALLEL_MIN_BYTES on disk, layers are scanned in other processes: errors stay one line."""
    from explorer.archive.pool import PARALLEL_MIN_BYTES

    filler = bytes(range(256)) * (PARALLEL_MIN_BYTES // 256 + 1)
    image = Image([Layer([F("a", b"1" * 100)]), Layer([F("big", filler)], compression="none"), Layer([F("c", b"3")])])
    layout = write_oci(image, tmp_path / "layout", as_dir=True)
    _, layers = _blob_paths(layout)
    data = layers[1].read_bytes()
    layers[1].write_bytes(data[: len(data) // 2])
    assert_user_error(run("report", str(layout)), layers[1].name, "truncated")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_the_demo_leaves_no_temporary_files(tmp_path):
    """`layerscope --demo` writes its archive to a temporary folder and removes it on quit (in a
    real terminal: tmux on a socket of its own)."""
    socket = f"layerscope-test-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    done = tmp_path / "done"
    command = f"TMPDIR={shlex.quote(str(tmp_path))} {shlex.quote(sys.executable)} -m explorer --demo; touch {done}"
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", "-c", str(ROOT), command], check=True)
    try:
        deadline = time.monotonic() + 60
        while "Layers" not in _pane(tmux) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(tmp_path.glob("layerscope-demo-*")), "the demo is written under TMPDIR while it runs"
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists(), _pane(tmux)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert not list(tmp_path.glob("layerscope-demo-*"))


def _pane(tmux: list[str]) -> str:
    return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout
