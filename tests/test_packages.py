"""Packages per layer: the scan's metadata capture (every route) and the package analysis for
dpkg (usr-merge, multi-arch lists, status.d, upgrade, purge), apk, Python and Node; real
databases written by dpkg and pip in the test run where those tools exist."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from explorer.analysis import load
from explorer.analysis.image import Image as Model
from explorer.archive.capture import Capture, CaptureSpec, HeadRule, metadata_kind
from explorer.archive.layerscan import LayerScan, scan_layer
from explorer.archive.limits import Limits
from explorer.archive.options import OpenOptions
from explorer.archive.pool import LayerBlob, ScanPool
from explorer.archive.sources import DirSource
from explorer.present.report import report_dict
from tests.imagebuilder import F, Image, Layer, layer_blob, whiteout, write_docker_archive, write_oci


def status(*packages: tuple[str, str], arch: str = "amd64", state: str = "install ok installed") -> bytes:
    return "".join(
        f"Package: {name}\nStatus: {state}\nArchitecture: {arch}\nVersion: {version}\nInstalled-Size: 10\n"
        f"Description: x\n continued\n\n"
        for name, version in packages
    ).encode()


def by_name(image) -> dict:  # noqa: ANN001
    return {p.name: p for p in image.packages.packages}


def changes(image, layer: int) -> list[tuple]:  # noqa: ANN001
    return [(c.action, c.package.name, c.version, c.old_version) for c in image.packages.changes[layer]]


# ---- the capture -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("var/lib/dpkg/status", "dpkg-status"),
        ("var/lib/dpkg/status-old", None),
        ("var/lib/dpkg/status.d/libc6", "dpkg-status.d"),
        ("var/lib/dpkg/status.d/libc6.md5sums", None),
        ("var/lib/dpkg/info/libc6:amd64.list", "dpkg-list"),
        ("var/lib/dpkg/info/bash.md5sums", None),
        ("lib/apk/db/installed", "apk"),
        ("x/lib/apk/db/installed", None),
        ("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "python-metadata"),
        ("usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD", "python-record"),
        ("usr/lib/python3/dist-packages/six-1.16.0.dist-info/WHEEL", None),
        ("site-packages/foo.egg-info/PKG-INFO", "egg-info"),
        ("site-packages/foo.egg-info/installed-files.txt", "egg-files"),
        ("site-packages/foo.egg-info/SOURCES.txt", None),
        ("site-packages/foo-1.0.egg-info", "egg-info"),
        ("app/node_modules/left-pad/package.json", "npm"),
        ("app/node_modules/@scope/pkg/package.json", "npm"),
        ("app/node_modules/left-pad/lib/package.json", None),
        ("app/package.json", None),
        ("usr/bin/bash", None),
        ("METADATA", None),
    ],
)
def test_metadata_kind(path: str, kind: str | None) -> None:
    assert metadata_kind(path) == kind


def _capture_image() -> Image:
    big = os.urandom(1 << 20)
    return Image(
        [
            Layer(
                [
                    F("var/lib/dpkg/status", status(("bash", "5.2"))),
                    F("usr/bin/bash", big),
                    F("root/.ssh/id_rsa", b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"k" * 4000),
                ]
            ),
            Layer([F("var/lib/dpkg/status", status(("bash", "5.3"))), F("etc/server.key", b"")]),
        ]
    )


HEADS = CaptureSpec(heads=HeadRule(frozenset({"id_rsa"}), (".key",), size=36))


def _check_captures(captures: list[Capture]) -> None:
    assert captures[0].files == {"var/lib/dpkg/status": status(("bash", "5.2"))}
    assert captures[0].heads == {"root/.ssh/id_rsa": b"-----BEGIN OPENSSH PRIVATE KEY-----\n"}
    assert captures[1].files == {"var/lib/dpkg/status": status(("bash", "5.3"))}
    assert captures[1].heads == {"etc/server.key": b""}


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_capture_in_process(compression: str) -> None:
    img = _capture_image()
    scans = [
        scan_layer(io.BytesIO(layer_blob(layer, compression)), f"l{i}", 0, limits=Limits(capture=HEADS))
        for i, layer in enumerate(img.layers)
    ]
    _check_captures([s.capture for s in scans])
    # content digests stay what the reader computes without capture
    plain = [scan_layer(io.BytesIO(layer_blob(layer, compression)), "l", 0).rows for layer in img.layers]
    assert [s.rows for s in scans] == plain


def _in_workers(tmp_path: Path, blobs: list[bytes], limits: Limits) -> dict[int, LayerScan]:
    """Scan blobs in two worker processes (each blob past 6 MiB: 16 MiB in all make workers pay)."""
    for i, data in enumerate(blobs):
        (tmp_path / f"{i}.tar").write_bytes(data)
    layers = [LayerBlob(f"{i}.tar", f"l{i}", len(data)) for i, data in enumerate(blobs)]
    with ScanPool(2) as pool:
        return dict(pool.scan(DirSource(tmp_path), layers, False, limits))


PAD = 6 << 20


def test_capture_comes_back_from_worker_processes(tmp_path: Path) -> None:
    img = _capture_image()
    for layer in img.layers:
        layer.entries.append(F("pad", os.urandom(PAD)))
    blobs = [layer_blob(img.layers[0], "none"), layer_blob(img.layers[1], "gzip")]  # mapped, and read
    scans = _in_workers(tmp_path, blobs * 2, Limits(capture=HEADS))
    _check_captures([scans[0].capture, scans[1].capture])


def test_capture_from_standard_input(tmp_path: Path) -> None:
    path = write_oci(_capture_image(), tmp_path / "a.tar")
    stdin = subprocess.run(
        [sys.executable, "-m", "explorer", "report", "-", "--json"],
        input=path.read_bytes(),
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    data = json.loads(stdin.stdout)
    assert [c["action"] for c in data["layers"][1]["package_changes"]] == ["upgraded"]


def test_budget_is_per_image_with_a_warning(tmp_path: Path) -> None:
    img = Image(
        [
            Layer([F("var/lib/dpkg/status", status(("a", "1")))]),
            Layer([F("var/lib/dpkg/info/a.list", b"/x\n" * 40)]),
        ]
    )
    path = write_oci(img, tmp_path / "a.tar")
    size = len(status(("a", "1")))
    image = load(str(path), OpenOptions(limits=Limits(capture=CaptureSpec(budget=size + 10))))
    assert any("past the image's budget" in w for w in image.warnings)
    assert image.captured == size
    assert by_name(image)["a"].listed is None


def test_budget_is_shared_by_worker_jobs(tmp_path: Path) -> None:
    """The third job goes out once one of the first two is done: it gets what that one left."""
    size = len(status(("a", "0")))
    blobs = [
        layer_blob(Layer([F("var/lib/dpkg/status", status(("a", str(i)))), F("pad", os.urandom(PAD))]), "none")
        for i in range(3)
    ]
    scans = _in_workers(tmp_path, blobs, Limits(capture=CaptureSpec(budget=size + 10)))
    assert [len(scans[i].capture.files) for i in range(3)] == [1, 1, 0]
    assert scans[2].capture.skipped == 1


def test_budget_is_shared_by_the_layers_of_a_stream(tmp_path: Path) -> None:
    from explorer.archive.sources import StreamSource

    img = Image([Layer([F("var/lib/dpkg/status", status(("a", str(i))))]) for i in range(3)])
    size = len(status(("a", "0")))
    with open(write_oci(img, tmp_path / "a.tar"), "rb") as f:
        source = StreamSource(f, "a.tar", limits=Limits(capture=CaptureSpec(budget=2 * size + 10)))
    assert sorted(len(scan.capture.files) for scan in source.scans.values()) == [0, 1, 1]


def test_capture_budget_within_a_layer() -> None:
    capture = Capture(CaptureSpec(budget=100, heads=HeadRule(frozenset({"id_rsa"}), (), size=30)))
    assert capture.wants("var/lib/dpkg/status", 80) == 80
    capture.keep("var/lib/dpkg/status", b"s" * 80)
    assert capture.wants("var/lib/dpkg/status", 90) == 90  # the same path again replaces it
    assert capture.wants("var/lib/dpkg/info/a.list", 30) is None
    assert capture.wants("root/id_rsa", 500) is None  # heads count too
    assert capture.wants("usr/bin/bash", 10) is None  # never other contents
    assert capture.skipped == 2 and "past the image's budget" in capture.warnings[0]
    assert capture.limit_to(50) and capture.files == {} and capture.used == 0


# ---- dpkg --------------------------------------------------------------------------------


def _dpkg_image() -> Image:
    lower = status(("bash", "5.2-1"), ("libc6", "2.36-9"))
    upgraded = status(("bash", "5.2-2"), ("libc6", "2.36-9"), ("gcc-12", "12.2.0"))
    purged = status(("bash", "5.2-2"), ("libc6", "2.36-9"))
    purged += status(("gcc-12", "12.2.0"), state="purge ok not-installed")
    return Image(
        [
            Layer(
                [
                    F("bin", kind="symlink", link="usr/bin"),
                    F("usr/bin", kind="dir"),
                    F("usr/bin/bash", b"B" * 1000),
                    F("usr/lib/x86_64-linux-gnu/libc.so.6", b"L" * 2000),
                    F("var/lib/dpkg/status", lower),
                    F("var/lib/dpkg/info/bash.list", b"/.\n/bin\n/bin/bash\n"),
                    F("var/lib/dpkg/info/libc6:amd64.list", b"/.\n/usr\n/usr/lib/x86_64-linux-gnu/libc.so.6\n"),
                    F("app/main", b"mine"),
                ],
                created_by="RUN debootstrap",
            ),
            Layer(
                [
                    F("usr/bin/bash", b"b" * 1100),
                    F("usr/bin/gcc-12", b"G" * 5000),
                    F("var/lib/dpkg/status", upgraded),
                    F("var/lib/dpkg/info/gcc-12.list", b"/.\n/usr/bin/gcc-12\n"),
                ],
                created_by="RUN apt-get install gcc-12",
            ),
            Layer(
                [
                    F("var/lib/dpkg/status", purged),
                    whiteout("usr/bin/gcc-12"),
                    whiteout("var/lib/dpkg/info/gcc-12.list"),
                ],
                created_by="RUN apt-get purge gcc-12",
            ),
            Layer([F("etc/motd", b"hi")], created_by="COPY motd"),
        ]
    )


@pytest.mark.parametrize("writer", [write_oci, write_docker_archive])
def test_dpkg_layers_usr_merge_multiarch_upgrade_purge(tmp_path: Path, writer) -> None:  # noqa: ANN001
    image = load(str(writer(_dpkg_image(), tmp_path / "a.tar")))
    assert changes(image, 0) == [("added", "bash", "5.2-1", None), ("added", "libc6", "2.36-9", None)]
    assert changes(image, 1) == [("added", "gcc-12", "12.2.0", None), ("upgraded", "bash", "5.2-2", "5.2-1")]
    assert changes(image, 2) == [("removed", "gcc-12", "12.2.0", None)]
    assert changes(image, 3) == []
    pkgs = by_name(image)
    bash, libc, gcc = pkgs["bash"], pkgs["libc6"], pkgs["gcc-12"]
    # usr-merge: bash.list says /bin/bash, the layer stores usr/bin/bash
    assert (bash.stored, bash.visible, bash.wasted, bash.files) == (2100, 1100, 1000, 1)
    assert bash.by_layer == {0: 1000, 1: 1100}
    assert image.packages.owner_of("usr/bin/bash") is bash
    assert image.packages.owner_of("bin/bash") is bash
    assert image.packages.paths_of(bash) == ["usr/bin/bash"]
    # multi-arch: libc6:amd64.list
    assert (libc.arch, libc.files, libc.visible) == ("amd64", 1, 2000)
    assert image.packages.owner_of("usr/lib/x86_64-linux-gnu/libc.so.6") is libc
    # removed later: its files are waste, per package
    assert (gcc.installed_in, gcc.removed_in, gcc.stored, gcc.wasted) == (1, 2, 5000, 5000)
    assert image.packages.owner_of("app/main") is None
    assert image.packages.unowned == []  # app/main: no package owns a file in app/
    assert bash.installed_size == 10 * 1024
    assert image.packages.changes[1][0].bytes == 5000
    assert image.packages.totals()["deb"] == {"packages": 2, "stored": 9100, "visible": 3100, "wasted": 6000}


def test_distroless_status_d_without_lists(tmp_path: Path) -> None:
    img = Image(
        [
            Layer(
                [
                    F("var/lib/dpkg/status.d/base-files", status(("base-files", "12.4"))),
                    F("var/lib/dpkg/status.d/base-files.md5sums", b"abc  etc/debian_version\n"),
                    F(
                        "var/lib/dpkg/status.d/tzdata",
                        b"Package: tzdata\nVersion: 2024a\nArchitecture: all\nInstalled-Size: 3000\n",
                    ),
                ]
            ),
            Layer([whiteout("var/lib/dpkg/status.d/tzdata")]),
        ]
    )
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    pkgs = by_name(image)
    assert set(pkgs) == {"base-files", "tzdata"}
    assert pkgs["tzdata"].size_only and pkgs["tzdata"].installed_size == 3000 * 1024
    assert changes(image, 1) == [("removed", "tzdata", "2024a", None)]
    data = report_dict(image)
    assert {p["name"]: p["files"] for p in data["packages"]} == {"base-files": None, "tzdata": None}


# ---- apk, Python, Node, RPM --------------------------------------------------------------

APK = b"""C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
I:622592
F:lib
R:ld-musl-x86_64.so.1
R:libc.musl-x86_64.so.1

P:busybox
V:1.36.1-r5
A:x86_64
I:946176
F:bin
R:busybox
F:etc
R:securetty
"""


def test_apk_installed(tmp_path: Path) -> None:
    img = Image(
        [
            Layer(
                [
                    F("lib/apk/db/installed", APK),
                    F("lib/ld-musl-x86_64.so.1", b"m" * 600),
                    F("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1", kind="symlink"),
                    F("bin/busybox", b"b" * 900),
                    F("etc/securetty", b"tty1\n"),
                    F("bin/extra", b"abc"),
                    F("home/me/notes", b"n" * 50),
                ]
            ),
            Layer([F("lib/apk/db/installed", APK.replace(b"1.36.1-r5", b"1.36.1-r6")), F("bin/busybox", b"c" * 950)]),
        ]
    )
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    pkgs = by_name(image)
    assert (pkgs["musl"].version, pkgs["musl"].installed_size, pkgs["musl"].visible) == ("1.2.4-r2", 622592, 600)
    assert (pkgs["busybox"].files, pkgs["busybox"].visible, pkgs["busybox"].wasted) == (2, 955, 900)
    assert changes(image, 1) == [("upgraded", "busybox", "1.36.1-r6", "1.36.1-r5")]
    assert image.packages.unowned == [("bin/extra", 3)]  # home/: no package owns a file there
    assert report_dict(image)["unowned_files"] == {
        "files": 1,
        "bytes": 3,
        "largest": [{"path": "bin/extra", "bytes": 3}],
    }


SITE = "usr/local/lib/python3.11/site-packages"


def _dist(name: str, version: str, files: dict[str, bytes]) -> list[F]:
    info = f"{SITE}/{name}-{version}.dist-info"
    record = "".join(f"{p},sha256=x,{len(d)}\n" for p, d in files.items())
    record += f"{name}-{version}.dist-info/METADATA,,\n{name}-{version}.dist-info/RECORD,,\n"
    entries = [F(os.path.normpath(f"{SITE}/{p}"), d) for p, d in files.items()]
    return entries + [
        F(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong text\n".encode()),
        F(f"{info}/RECORD", record.encode()),
    ]


def test_python_record_with_dotdot_paths_and_upgrade(tmp_path: Path) -> None:
    v1 = {"tool/__init__.py": b"x" * 100, "../../../bin/tool": b"#!python\n"}
    v2 = {"tool/__init__.py": b"y" * 120, "../../../bin/tool": b"#!python\n"}
    img = Image(
        [
            Layer(_dist("Tool_Kit", "1.0", v1)),
            Layer([whiteout(f"{SITE}/Tool_Kit-1.0.dist-info"), *_dist("tool_kit", "2.0", v2)]),
            Layer(
                [
                    F(f"{SITE}/legacy.egg-info/PKG-INFO", b"Metadata-Version: 1.0\nName: legacy\nVersion: 0.1\n"),
                    F(f"{SITE}/legacy.egg-info/installed-files.txt", b"../legacy.py\nPKG-INFO\n"),
                    F(f"{SITE}/legacy.py", b"z" * 7),
                    F(f"{SITE}/old-3.0.egg-info", b"Metadata-Version: 1.0\nName: old\nVersion: 3.0\n"),
                ]
            ),
        ]
    )
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    assert changes(image, 1) == [("upgraded", "tool_kit", "2.0", "1.0")]
    tool = by_name(image)["tool_kit"]
    assert image.packages.owner_of("usr/local/bin/tool") is tool
    assert image.packages.owner_of(f"{SITE}/tool/__init__.py") is tool
    stored = [sum(len(e.data) for e in layer.entries if e.data) for layer in img.layers[:2]]
    assert (tool.stored, tool.visible, tool.wasted, tool.location) == (sum(stored), stored[1], stored[0], SITE)
    assert image.packages.owner_of(f"{SITE}/legacy.py") is by_name(image)["legacy"]
    assert by_name(image)["old"].version == "3.0"


def test_node_modules_nested_and_scoped(tmp_path: Path) -> None:
    def pkg(folder: str, name: str, version: str) -> F:
        return F(f"{folder}/package.json", json.dumps({"name": name, "version": version}).encode())

    img = Image(
        [
            Layer(
                [
                    pkg("app/node_modules/a", "a", "1.0.0"),
                    F("app/node_modules/a/index.js", b"a" * 10),
                    pkg("app/node_modules/a/node_modules/b", "b", "2.0.0"),
                    F("app/node_modules/a/node_modules/b/lib/b.js", b"b" * 20),
                    F("app/node_modules/a/lib/package.json", b"{}"),
                    pkg("app/node_modules/@s/c", "@s/c", "3.0.0"),
                    F("app/node_modules/@s/c/c.js", b"c" * 30),
                    F("app/package.json", b'{"name": "app"}'),
                ]
            )
        ]
    )
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    pkgs = by_name(image)
    assert set(pkgs) == {"a", "b", "@s/c"}
    assert image.packages.owner_of("app/node_modules/a/node_modules/b/lib/b.js") is pkgs["b"]
    assert image.packages.owner_of("app/node_modules/a/lib/package.json") is pkgs["a"]
    assert pkgs["@s/c"].visible == 30 + len(b'{"name": "@s/c", "version": "3.0.0"}')
    assert image.packages.paths_of(pkgs["a"]) == [
        "app/node_modules/a/index.js",
        "app/node_modules/a/lib/package.json",
        "app/node_modules/a/package.json",
    ]


def test_rpm_database_is_noted_not_read(tmp_path: Path) -> None:
    img = Image([Layer([F("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0")])])
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    assert image.packages.packages == []
    assert image.packages.notes and "RPM not read" in image.packages.notes[0]


def test_report_sections(tmp_path: Path) -> None:
    image = load(str(write_oci(_dpkg_image(), tmp_path / "a.tar")))
    data = report_dict(image)
    assert data["layers"][2]["package_changes"] == [
        {
            "action": "removed",
            "ecosystem": "deb",
            "name": "gcc-12",
            "version": "12.2.0",
            "old_version": None,
            "bytes": 0,
            "installed_size": 10240,
        }
    ]
    assert [p["name"] for p in data["packages"]] == ["gcc-12", "bash", "libc6"]  # by stored bytes
    assert data["packages"][1]["actions"][1] == {
        "layer": 1,
        "action": "upgraded",
        "version": "5.2-2",
        "old_version": "5.2-1",
    }
    assert data["package_totals"]["deb"]["wasted_bytes"] == 6000
    assert data["unowned_files"] == {"files": 0, "bytes": 0, "largest": []}
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "report", str(tmp_path / "a.tar")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "COLUMNS": "120"},
    ).stdout
    assert "Packages" in out and "1 added, 1 upgraded" in out and "^bash 5.2-1 -> 5.2-2" in out
    assert "removed in a later layer" in out


# ---- real databases, written by dpkg and pip in the test run ------------------------------


def _tree(root: Path) -> dict[str, tuple]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("symlink", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", None)
            else:
                found[rel] = ("file", path.read_bytes())
    return found


def _layer(before: dict[str, tuple], after: dict[str, tuple], created_by: str) -> Layer:
    """The layer a container runtime would write: what changed, and whiteouts for what went."""
    entries = []
    for rel in sorted(after):
        if before.get(rel) != after[rel] or after[rel][0] == "dir" and rel not in before:
            kind, value = after[rel]
            if kind == "file":
                entries.append(F(rel, value))
            elif kind == "symlink":
                entries.append(F(rel, kind="symlink", link=value))
            else:
                entries.append(F(rel, kind="dir"))
    gone = [rel for rel in before if rel not in after]
    entries += [whiteout(rel) for rel in sorted(gone) if os.path.dirname(rel) not in gone]
    return Layer(entries, created_by=created_by)


def _deb(tmp: Path, name: str, version: str, files: dict[str, bytes], multi_arch: bool = False) -> Path:
    src = tmp / f"{name}-{version}"
    (src / "DEBIAN").mkdir(parents=True)
    control = f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: t <t@example.com>\n"
    control += "Multi-Arch: same\n" if multi_arch else ""
    (src / "DEBIAN" / "control").write_text(control + "Description: a test package\n")
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    out = tmp / f"{name}_{version}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(src), str(out)], check=True, capture_output=True)
    return out


def dpkg_layers(tmp_path: Path, runs: Sequence[tuple[str, list[str]]]) -> Model:
    """The image of real dpkg runs on a usr-merged root (`bin` -> `usr/bin`): one layer for
    each (instruction, dpkg arguments), holding what that run changed."""
    root = tmp_path / "root"
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "usr/bin"):
        (root / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_bytes(b"")
    (root / "bin").symlink_to("usr/bin")
    layers, before = [], {}
    for created_by, args in runs:
        cmd = ["dpkg", f"--root={root}", "--force-not-root", "--force-script-chrootless", "--force-unsafe-io", *args]
        subprocess.run(cmd, check=True, capture_output=True)
        after = _tree(root)
        layers.append(_layer(before, after, created_by))
        before = after
    return load(str(write_oci(Image(layers), tmp_path / "a.tar")))


@pytest.mark.skipif(not (shutil.which("dpkg") and shutil.which("dpkg-deb")), reason="dpkg and dpkg-deb not installed")
def test_real_dpkg_database(tmp_path: Path) -> None:
    hello1 = _deb(tmp_path, "hello", "1.0", {"bin/hello": b"h" * 300})  # usr-merged: ships /bin/hello
    hello2 = _deb(tmp_path, "hello", "2.0", {"bin/hello": b"H" * 400})
    libx = _deb(tmp_path, "libx", "1.0", {"usr/lib/libx.so": b"x" * 500}, multi_arch=True)
    image = dpkg_layers(
        tmp_path,
        [
            ("install", ["-i", str(hello1), str(libx)]),
            ("upgrade", ["-i", str(hello2)]),
            ("purge", ["--purge", "libx"]),
        ],
    )
    assert changes(image, 0) == [("added", "hello", "1.0", None), ("added", "libx", "1.0", None)]
    assert changes(image, 1) == [("upgraded", "hello", "2.0", "1.0")]
    assert changes(image, 2) == [("removed", "libx", "1.0", None)]
    pkgs = by_name(image)
    assert (pkgs["hello"].stored, pkgs["hello"].visible) == (700, 400)
    assert image.packages.owner_of("usr/bin/hello") is pkgs["hello"]
    assert (pkgs["libx"].stored, pkgs["libx"].wasted, pkgs["libx"].removed_in) == (500, 500, 2)


def _wheel(tmp: Path) -> Path:
    """A wheel with a module and a console script (pip writes `../../../bin/demo-tool` in RECORD)."""
    out = tmp / "demo_tool-1.0-py3-none-any.whl"
    files = {
        "demo_tool/__init__.py": b"def main():\n    pass\n",
        "demo_tool-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-tool\nVersion: 1.0\n",
        "demo_tool-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "demo_tool-1.0.dist-info/entry_points.txt": b"[console_scripts]\ndemo-tool = demo_tool:main\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "demo_tool-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("demo_tool-1.0.dist-info/RECORD", record)
    return out


def test_real_pip_install(tmp_path: Path) -> None:
    prefix = tmp_path / "root" / "usr" / "local"
    pip = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-compile", "--prefix", str(prefix)]
    done = subprocess.run([*pip, str(_wheel(tmp_path))], capture_output=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    if done.returncode != 0:
        pytest.skip(f"pip could not install a local wheel: {done.stderr.decode()[-200:]}")
    image = load(str(write_oci(Image([_layer({}, _tree(tmp_path / "root"), "pip install")]), tmp_path / "a.tar")))
    tool = by_name(image)["demo-tool"]
    assert tool.version == "1.0"
    owned = image.packages.paths_of(tool)
    assert "usr/local/bin/demo-tool" in owned  # RECORD says ../../../bin/demo-tool
    assert any(p.endswith("demo_tool/__init__.py") for p in owned)


def test_gzip_wrapped_archive_is_read_in_one_pass(tmp_path: Path) -> None:
    path = write_oci(_dpkg_image(), tmp_path / "a.tar")
    wrapped = tmp_path / "a.tar.gz"
    wrapped.write_bytes(gzip.compress(path.read_bytes()))
    image = load(str(wrapped))
    assert changes(image, 2) == [("removed", "gcc-12", "12.2.0", None)]


@pytest.mark.skipif(not shutil.which("npm"), reason="npm not installed")
def test_real_npm_install(tmp_path: Path) -> None:
    src = tmp_path / "src" / "leftish"
    src.mkdir(parents=True)
    (src / "package.json").write_text('{"name": "leftish", "version": "1.2.3", "main": "index.js"}')
    (src / "index.js").write_text("module.exports = 1\n")
    app = tmp_path / "root" / "app"
    app.mkdir(parents=True)
    (app / "package.json").write_text('{"name": "app", "version": "0.0.0"}')
    env = {**os.environ, "npm_config_cache": str(tmp_path / "cache"), "npm_config_update_notifier": "false"}
    npm = ["npm", "--offline", "--no-audit", "--no-fund"]
    subprocess.run(
        [*npm, "pack", "--pack-destination", str(tmp_path)], cwd=src, env=env, check=True, capture_output=True
    )
    subprocess.run(
        [*npm, "install", str(tmp_path / "leftish-1.2.3.tgz")], cwd=app, env=env, check=True, capture_output=True
    )
    image = load(str(write_oci(Image([_layer({}, _tree(tmp_path / "root"), "npm install")]), tmp_path / "a.tar")))
    pkg = by_name(image)["leftish"]
    assert (pkg.ecosystem, pkg.version, pkg.location) == ("npm", "1.2.3", "app/node_modules/leftish")
    assert image.packages.paths_of(pkg) == [
        "app/node_modules/leftish/index.js",
        "app/node_modules/leftish/package.json",
    ]
    assert image.packages.owner_of("app/package.json") is None


def test_malformed_metadata_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    img = Image(
        [
            Layer(
                [
                    F(
                        "var/lib/dpkg/status",
                        b"Package: a\nStatus: install ok installed\nInstalled-Size: \xc2\xb2\n\n\xff\0",
                    ),
                    F("var/lib/dpkg/info/a.list", b"/../../etc/\xff\n\0\n"),
                    F("lib/apk/db/installed", b"P:b\nI:\xc2\xb2\nR:orphan\n"),
                    F(f"{SITE}/c-1.dist-info/METADATA", b"\xff\xfe"),
                    F(f"{SITE}/c-1.dist-info/RECORD", b"c.py,,1\n" + b"x" * 200_000 + b",,\n"),
                    F("node_modules/d/package.json", b'{"name": 5, "version": ['),
                ]
            )
        ]
    )
    path = write_oci(img, tmp_path / "a.tar")
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "report", str(path), "--json"],
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    found = {
        (p["ecosystem"], p["name"], p["version"], p["installed_size"]) for p in json.loads(proc.stdout)["packages"]
    }
    assert found == {("deb", "a", "", None), ("apk", "b", "", None), ("python", "c", "1", None), ("npm", "d", "", None)}


def test_dpkg_status_fields_and_paragraphs() -> None:
    """The status parser's edges: CRLF, runs of blank lines, a field on the first line and none
    after the last, trailing blanks, fields in continuation lines, near-miss field names."""
    from explorer.analysis.package_formats import dpkg_status

    data = (
        b"Package: a\r\nStatus: install ok installed \r\nVersion:\t1.0 \r\nInstalled-Size: 2\r\n\r\n\r\n\r\n"
        b"Package: b\nDescription: x\n Package: not-b\n Version: 9\nPackages: c\nVersion: 2\n"
        b"Architecture: amd64\nStatus: install ok installed\n\n"
        b"Package: gone\nStatus: deinstall ok config-files\nVersion: 3\n\n"
        b"Package:\nStatus: install ok installed\n\n"
        b"Package: last\nVersion: 4\nStatus: install ok installed"
    )
    found = [(r.name, r.version, r.arch, r.installed_size) for r in dpkg_status(data)]
    assert found == [("a", "1.0", "", 2048), ("b", "2", "amd64", None), ("last", "4", "", None)]
    # one distroless status.d file: no Status field needed
    assert [r.name for r in dpkg_status(b"Package: d\nVersion: 1\n", need_status=False)] == ["d"]
    assert dpkg_status(b"Package: d\nVersion: 1\n") == []
    assert dpkg_status(b"") == dpkg_status(b"\n\n\n") == []
