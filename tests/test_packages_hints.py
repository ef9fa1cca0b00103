"""Hints that name packages: build-only packages still installed at the end, and packages a
later layer removed (their files, and dpkg's records of them, are shipped anyway); on
databases written by the real dpkg, and on builder archives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from explorer.analysis import load
from explorer.analysis.hints import (
    BUILD_ONLY,
    DELETED_LATER,
    OVERWRITTEN,
    REWRITTEN,
    compute_hints,
    is_build_package,
)
from explorer.analysis.packages import Package
from explorer.present.hints import hint_record
from tests.imagebuilder import F, Image, Layer, whiteout, write_oci
from tests.test_packages import _deb, _dpkg_image, dpkg_layers, status

needs_dpkg = pytest.mark.skipif(
    not (shutil.which("dpkg") and shutil.which("dpkg-deb")), reason="dpkg and dpkg-deb not installed"
)


@pytest.mark.parametrize(
    ("name", "ecosystem", "build"),
    [
        ("gcc-12", "deb", True),
        ("gcc", "apk", True),
        ("g++-12", "deb", True),
        ("cpp-12-x86-64-linux-gnu", "deb", True),
        ("libc6-dev", "deb", True),
        ("libc-dev-bin", "deb", True),
        ("linux-headers-6.1.0-13-amd64", "deb", True),
        ("build-essential", "deb", True),
        ("build-base", "apk", True),
        ("make", "deb", True),
        ("binutils-x86-64-linux-gnu", "deb", True),
        ("gcc-12-base", "deb", False),  # libgcc-s1 needs it at run time
        ("libgcc-s1", "deb", False),
        ("libstdc++6", "deb", False),
        ("bash", "deb", False),
        ("libdevmapper1.02.1", "deb", False),
        ("setuptools-dev", "python", False),  # Python and Node metadata do not say
    ],
)
def test_build_packages_by_name(name: str, ecosystem: str, build: bool) -> None:
    assert is_build_package(Package(ecosystem, name, "1", "", "", 0)) is build


def _by_kind(hints, kind: str) -> list:  # noqa: ANN001
    return [h for h in hints.hints if h.kind == kind]


@needs_dpkg
def test_build_only_and_removed_packages_from_real_dpkg(tmp_path: Path) -> None:
    gcc = _deb(
        tmp_path,
        "gcc-12",
        "12.2.0-14",
        {"usr/bin/gcc-12": b"G" * 3000, "usr/lib/gcc/x86_64-linux-gnu/12/cc1": b"C" * 9000},
    )
    dev = _deb(tmp_path, "libfoo-dev", "1.0", {"usr/include/foo.h": b"h" * 700, "usr/lib/libfoo.a": b"a" * 800})
    hello = _deb(tmp_path, "hello", "2.10", {"bin/hello": b"H" * 400})
    make = _deb(tmp_path, "make", "4.3-4.1", {"usr/bin/make": b"M" * 2500})
    image = dpkg_layers(
        tmp_path,
        [
            ("RUN apt-get install -y gcc-12 libfoo-dev hello", ["-i", str(gcc), str(dev), str(hello)]),
            ("RUN apt-get install -y make", ["-i", str(make)]),
            ("RUN apt-get purge -y make", ["--purge", "make"]),
        ],
    )
    hints = compute_hints(image)

    (build,) = _by_kind(hints, BUILD_ONLY)  # no hint by path for the same files
    assert [(p.name, p.bytes) for p in build.packages] == [("gcc-12", 12000), ("libfoo-dev", 1500)]
    assert build.title.startswith("Build-only packages gcc-12 and libfoo-dev installed by layer 0 (4 files;")
    assert build.layers == (0,)
    assert build.paths == (
        "usr/bin/gcc-12",
        "usr/include/foo.h",
        "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
        "usr/lib/libfoo.a",
    )
    assert build.bytes_saved == 13500
    assert "multi-stage" in build.fix
    purge = "`apt-get install -y gcc-12 libfoo-dev && … && apt-get purge -y --auto-remove gcc-12 libfoo-dev`"
    assert purge in build.fix
    assert "by name" in build.why

    (removed,) = [h for h in _by_kind(hints, DELETED_LATER) if h.packages]
    assert [(p.name, p.version) for p in removed.packages] == [("make", "4.3-4.1")]
    assert removed.title == "Layer 2 removed package make, installed by layer 1: 3 files still shipped"
    assert removed.layers == (1, 2)
    # its file, and dpkg's records of it (the .list and .md5sums the purge deleted)
    assert "usr/bin/make" in removed.paths
    assert "var/lib/dpkg/info/make.list" in removed.paths
    assert all(p == "usr/bin/make" or p.startswith("var/lib/dpkg/info/make.") for p in removed.paths)
    assert removed.packages[0].bytes == removed.bytes_saved > 2500
    assert "apt-get purge -y --auto-remove make" in removed.fix
    assert "layer 1's own RUN" in removed.fix
    # nothing else was deleted by layer 2: no unnamed deleted-later hint is left
    assert [h for h in _by_kind(hints, DELETED_LATER) if not h.packages] == []
    # hello is neither build-only nor removed
    assert not any(p.name == "hello" for h in hints.hints for p in h.packages)

    record = hint_record(removed)
    assert record["packages"] == [
        {"ecosystem": "deb", "name": "make", "version": "4.3-4.1", "bytes_saved": removed.bytes_saved}
    ]


def test_removed_package_hint_leaves_other_deleted_files_apart(tmp_path: Path) -> None:
    img = _dpkg_image()
    img.layers[2].entries.append(F("tmp/build.log", b"x" * 50))  # stored by layer 2, deleted by layer 3
    img.layers[3].entries.append(whiteout("tmp"))
    img.layers[1].entries.append(F("tmp/notes", b"n" * 70))
    img.layers[2].entries.append(whiteout("tmp/notes"))
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    hints = _by_kind(compute_hints(image), DELETED_LATER)
    named = [h for h in hints if h.packages]
    assert [(h.layers, [p.name for p in h.packages]) for h in named] == [((1, 2), ["gcc-12"])]
    assert named[0].paths == ("usr/bin/gcc-12", "var/lib/dpkg/info/gcc-12.list")
    assert named[0].packages[0].bytes == 5000 + len(b"/.\n/usr/bin/gcc-12\n")
    others = {h.layers: h.paths for h in hints if not h.packages}
    assert others[(1, 2)] == ("tmp/notes",)  # deleted by the same layer, owned by no package
    assert others[(2, 3)] == ("tmp/build.log",)


def test_build_only_apk_fix_uses_a_virtual_package(tmp_path: Path) -> None:
    db = (
        b"P:musl\nV:1.2.4-r2\nI:600000\nF:lib\nR:ld-musl-x86_64.so.1\n\n"
        b"P:build-base\nV:0.5-r3\nI:4096\n\n"
        b"P:gcc\nV:13.2.1-r0\nI:100000\nF:usr/bin\nR:gcc\n\n"
    )
    img = Image(
        [
            Layer(
                [
                    F("lib/ld-musl-x86_64.so.1", b"m" * 600),
                    F("usr/bin/gcc", b"g" * 1000),
                    F("lib/apk/db/installed", db),
                ],
                created_by="RUN apk add build-base",
            )
        ]
    )
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    (build,) = _by_kind(compute_hints(image), BUILD_ONLY)
    assert [p.name for p in build.packages] == ["gcc"]  # build-base owns no file
    assert "`apk add --virtual .build-deps gcc && … && apk del .build-deps`" in build.fix


def test_no_package_database_no_package_in_hints(tmp_path: Path) -> None:
    img = Image([Layer([F("usr/lib/gcc/x86_64-linux-gnu/12/cc1", b"c" * 100)], created_by="COPY gcc /")])
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    (build,) = _by_kind(compute_hints(image), BUILD_ONLY)
    assert build.packages == ()
    assert build.title.startswith("Compilers and linkers")
    assert hint_record(build)["packages"] == []


def test_status_only_changes_still_leave_the_build_hint_by_path(tmp_path: Path) -> None:
    """A build package whose list names no stored file: the files stay in the hint by path."""
    img = Image(
        [
            Layer(
                [
                    F("usr/include/foo.h", b"h" * 10),
                    F("var/lib/dpkg/status", status(("libfoo-dev", "1"))),
                    F("var/lib/dpkg/info/libfoo-dev.list", b"/.\n/usr/include/bar.h\n"),
                ]
            )
        ]
    )
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    (build,) = _by_kind(compute_hints(image), BUILD_ONLY)
    assert (build.packages, build.paths) == ((), ("usr/include/foo.h",))


def test_overwritten_package_files_name_the_package(tmp_path: Path) -> None:
    """A package upgraded by a later layer, a package's file replaced by a COPY, and a file no
    package owns: the first two hints name the package, the last stays apart."""
    img = _dpkg_image()  # layer 1 upgrades bash, writing usr/bin/bash over layer 0's
    img.layers[1].entries.append(F("var/lib/dpkg/info/bash.md5sums", b"new sums"))
    img.layers[0].entries.append(F("var/lib/dpkg/info/bash.md5sums", b"old sums"))
    img.layers[3].entries += [F("usr/lib/x86_64-linux-gnu/libc.so.6", b"l" * 1500), F("app/main", b"changed")]
    image = load(str(write_oci(img, tmp_path / "a.tar")))
    hints = _by_kind(compute_hints(image), OVERWRITTEN)
    named = {h.layers: h for h in hints if h.packages}
    upgrade, copied = named[(0, 1)], named[(0, 3)]
    assert upgrade.title == "Layer 1 upgraded package bash from layer 0: 2 files stored again"
    assert upgrade.paths == ("usr/bin/bash", "var/lib/dpkg/info/bash.md5sums")
    assert [(p.name, p.version, p.bytes) for p in upgrade.packages] == [("bash", "5.2-2", 1000 + len(b"old sums"))]
    assert "`apt-get update && apt-get upgrade -y` in the RUN that installs them" in upgrade.fix
    assert upgrade.why.startswith("Upgrading or overwriting a package's files")
    assert copied.title == "1 file of package libc6 from layer 0 replaced by layer 3"
    assert [p.name for p in copied.packages] == ["libc6"]
    assert "not in `COPY motd` on top" in copied.fix
    others = sorted((h.layers, h.paths) for h in hints if not h.packages)
    assert others == [((0, 1), ("var/lib/dpkg/status",)), ((0, 3), ("app/main",)), ((1, 2), ("var/lib/dpkg/status",))]
    assert hint_record(upgrade)["packages"] == [
        {"ecosystem": "deb", "name": "bash", "version": "5.2-2", "bytes_saved": upgrade.bytes_saved}
    ]


def test_package_files_written_again_unchanged_name_the_package(tmp_path: Path) -> None:
    """An upgrade that leaves a file's bytes as they were (tzdata in the debian benchmark), and
    a reinstall at the same version: the rewritten-identical hints name the package. (A file
    stored again with its time too is a copy-up, unless the layer upgraded its package.)"""
    lower = status(("bash", "5.2-1"), ("libc6", "2.36-9"))
    same = {
        "usr/bin/bash": b"B" * 1000,
        "usr/lib/x86_64-linux-gnu/libc.so.6": b"L" * 2000,
    }
    base = Layer(
        [
            F("usr/bin/bash", same["usr/bin/bash"]),
            F("usr/lib/x86_64-linux-gnu/libc.so.6", same["usr/lib/x86_64-linux-gnu/libc.so.6"]),
            F("var/lib/dpkg/status", lower),
            F("var/lib/dpkg/info/bash.list", b"/.\n/usr\n/usr/bin\n/usr/bin/bash\n"),
            F("var/lib/dpkg/info/libc6:amd64.list", b"/.\n/usr\n/usr/lib/x86_64-linux-gnu/libc.so.6\n"),
            F("app/data", b"d" * 300),
        ],
        created_by="RUN debootstrap",
    )
    upgrade = Layer(
        [
            F("usr/bin/bash", same["usr/bin/bash"]),
            F("var/lib/dpkg/status", status(("bash", "5.2-2"), ("libc6", "2.36-9"))),
        ],
        created_by="RUN apt-get install -y bash",
    )
    reinstall = Layer(  # the same bytes, a new time: written again (with the same time: a copy-up)
        [
            F("usr/lib/x86_64-linux-gnu/libc.so.6", same["usr/lib/x86_64-linux-gnu/libc.so.6"], mtime=1),
            F("app/data", b"d" * 300, mtime=1),
        ],
        created_by="RUN apt-get install -y --reinstall libc6",
    )
    image = load(str(write_oci(Image([base, upgrade, reinstall]), tmp_path / "a.tar")))
    hints = {h.layers: h for h in _by_kind(compute_hints(image), REWRITTEN)}
    assert hints[(0, 1)].title == "Layer 1 upgraded package bash from layer 0: 1 file written again unchanged"
    assert [p.name for p in hints[(0, 1)].packages] == ["bash"]
    assert "`apt-get update && apt-get upgrade -y` in the RUN that installs them" in hints[(0, 1)].fix
    named = [h for h in _by_kind(compute_hints(image), REWRITTEN) if h.layers == (0, 2) and h.packages]
    assert [h.title for h in named] == ["1 file of package libc6 from layer 0 written again unchanged by layer 2"]
    assert "not again in `RUN apt-get install -y --reinstall libc6`" in named[0].fix
    unowned = [h.paths for h in _by_kind(compute_hints(image), REWRITTEN) if h.layers == (0, 2) and not h.packages]
    assert unowned == [("app/data",)]  # a file no package owns keeps the generic hint
