"""Hard links store no bytes: a tar hard link names a copy stored by another entry. Stored
bytes count once everywhere: layer sizes, the changes view, waste, and the filesystem view's
and the comparison's directory totals, which count each copy at the first path (in stacking
order) that still reaches it. Layers made by GNU tar, which writes a hard link for every
further name of a file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from explorer.analysis.compare import compare
from explorer.analysis.image import Image
from explorer.present.browse import Browser
from explorer.present.compare import verdict

from .imagebuilder import F, Layer, LayerFile, write_oci
from .imagebuilder import Image as ImageSpec

SIZE = 100_000


def gnu_tar(tmp_path: Path) -> LayerFile:
    """bin/busybox with three more names: bin/ls, bin/sh and usr/bin/tool."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(os.urandom(SIZE))
    for name in ("bin/ls", "bin/sh", "usr/bin/tool"):
        os.link(root / "bin" / "busybox", root / name)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_bytes(b"root:x:0:0::/root:/bin/sh\n")
    tar = tmp_path / "layer.tar"
    subprocess.run(["tar", "--sort=name", "--format=gnu", "-cf", str(tar), "-C", str(root), "."], check=True)
    listing = subprocess.run(["tar", "-tvf", str(tar)], check=True, capture_output=True, text=True).stdout
    assert listing.count(" link to ") == 3  # GNU tar wrote the further names as hard links
    return LayerFile(tar, "ADD rootfs.tar /", compression="none")


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Image:
    tmp = tmp_path_factory.mktemp("hardlinks")
    spec = ImageSpec(
        [
            gnu_tar(tmp),
            Layer([F("bin/.wh.busybox", b"")], "RUN rm /bin/busybox"),
            Layer([F("bin/.wh.ls", b""), F("bin/.wh.sh", b"")], "RUN rm /bin/ls /bin/sh"),
            Layer([F("usr/bin/.wh.tool", b"")], "RUN rm /usr/bin/tool"),
        ]
    )
    image = Image.open(str(write_oci(spec, tmp / "image.tar")))
    image.analyse()
    return image


def test_a_layer_stores_the_linked_file_once(image):
    first = image.layers[0]
    assert first.content_bytes == SIZE + 26
    browser = Browser(image.fs)
    assert browser.stored_size(image.fs.root, 0) == SIZE + 26  # the changes view
    assert browser.stored_size(image.fs.lookup("usr"), 0) == 0


@pytest.mark.parametrize(
    ("layer", "bin_bytes", "usr_bytes"),
    [
        (0, SIZE, 0),  # counted at bin/busybox, the copy's first path
        (1, SIZE, 0),  # busybox removed: still reached by bin/ls
        (2, 0, SIZE),  # ls and sh removed: reached by usr/bin/tool alone
        (3, 0, 0),  # every name removed: the copy is waste
    ],
)
def test_directory_totals_count_a_linked_copy_once(image, layer, bin_bytes, usr_bytes):
    browser = Browser(image.fs)
    fs = image.fs
    assert browser.size(fs.lookup("bin"), layer) == bin_bytes
    assert browser.size(fs.lookup("usr"), layer) == usr_bytes
    assert browser.size(fs.root, layer) == bin_bytes + usr_bytes + 26


def test_each_name_shows_the_file_size(image):
    """A row is a file of that size (as `ls -l` says); only the totals count the copy once."""
    browser = Browser(image.fs)
    assert [browser.size(image.fs.lookup(p), 0) for p in ("bin/busybox", "bin/ls", "usr/bin/tool")] == [SIZE] * 3


def test_waste_counts_the_copy_once(image):
    waste = image.waste
    assert waste.stored == SIZE + 26 and waste.visible == 26
    assert [(item.path, item.size, item.hidden_by) for item in waste.items] == [("bin/busybox", SIZE, 3)]


def test_an_opaque_directory_hides_a_linked_copy_once(tmp_path):
    spec = ImageSpec(
        [
            Layer([F("d/a", b"x" * 100), F("d/b", kind="hardlink", link="d/a")]),
            Layer([F("d/.wh..wh..opq", b"")]),
        ]
    )
    image = Image.open(str(write_oci(spec, tmp_path / "image.tar")))
    image.analyse()
    assert Browser(image.fs).opaque(image.fs.lookup("d"), 1) == (2, 100)


def _analysed(spec: ImageSpec, path: Path) -> Image:
    image = Image.open(str(write_oci(spec, path)))
    image.analyse()
    return image


@pytest.fixture(scope="module")
def linked_pair(tmp_path_factory) -> tuple[Image, Image, Image]:
    """The GNU tar layer alone; then with bin/busybox deleted; then with its bin names all deleted."""
    tmp = tmp_path_factory.mktemp("hardlinks-compare")
    base = gnu_tar(tmp)
    rm_busybox = Layer([F("bin/.wh.busybox", b"")], "RUN rm /bin/busybox")
    rm_rest = Layer([F("bin/.wh.ls", b""), F("bin/.wh.sh", b"")], "RUN rm /bin/ls /bin/sh")
    return (
        _analysed(ImageSpec([base]), tmp / "old.tar"),
        _analysed(ImageSpec([base, rm_busybox]), tmp / "busybox-gone.tar"),
        _analysed(ImageSpec([base, rm_busybox, rm_rest]), tmp / "bin-gone.tar"),
    )


def test_compare_keeps_a_deleted_name_s_bytes_a_hard_link_still_reaches(linked_pair):
    """bin/busybox deleted, bin/ls still a name of the file: no bytes left the image."""
    old, new, _ = linked_pair
    c = compare(old, new)
    assert (c.old_bytes, c.new_bytes) == (SIZE + 26, SIZE + 26)
    assert [(d.path, d.status, d.delta) for d in c.diffs] == [("bin/busybox", "removed", -SIZE)]
    assert (c.dirs["bin"].old_bytes, c.dirs["bin"].new_bytes) == (SIZE, SIZE)
    assert (c.root.grown, c.root.shrunk) == (0, SIZE)
    assert verdict(c).startswith("NEW is the same size as OLD")
    back = compare(new, old)
    assert (back.old_bytes, back.new_bytes) == (SIZE + 26, SIZE + 26)


def test_compare_moves_a_linked_copy_to_the_directory_that_still_reaches_it(linked_pair):
    """Every bin/ name deleted, usr/bin/tool left: the bytes move from bin/ to usr/bin/, as the
    file browser's totals of each image say."""
    old, _, new = linked_pair
    c = compare(old, new)
    assert (c.old_bytes, c.new_bytes) == (SIZE + 26, SIZE + 26)
    for path in ("bin", "usr", "usr/bin"):
        node_old, node_new = old.fs.lookup(path), new.fs.lookup(path)
        sizes = (Browser(old.fs).size(node_old, 0), Browser(new.fs).size(node_new, 2))
        assert (c.dirs[path].old_bytes, c.dirs[path].new_bytes) == sizes
    assert (c.dirs["bin"].delta, c.dirs["usr/bin"].delta) == (-SIZE, SIZE)
    assert {d.path for d in c.diffs} == {"bin/busybox", "bin/ls", "bin/sh"}
