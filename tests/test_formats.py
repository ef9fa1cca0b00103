"""One image description written in every archive shape gives the same changes and waste.

Also: picking an image among several (RepoTags, OCI ref names, containerd names), picking a
platform of a (nested) index, attestations and omitted platform blobs, layer order, and the
alignment of history entries with layers.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import zstandard

from explorer.analysis import ImageError, load
from explorer.analysis.image import Image as ModelImage
from explorer.archive.blobs import sniff
from explorer.archive.config import instruction_lines, short_instruction
from explorer.archive.entries import OPAQUE, WHITEOUT
from explorer.archive.errors import CorruptBlob
from explorer.archive.layerscan import PackedRows, scan_layer
from explorer.archive.options import OpenOptions
from explorer.archive.pool import PARALLEL_MIN_BYTES, ScanPool, worker_count
from tests.imagebuilder import (
    ANN_CONTAINERD_NAME,
    ANN_REF_NAME,
    MT_LAYER_GZIP,
    MT_LAYER_TAR,
    F,
    Image,
    Layer,
    layer_tar,
    opaque,
    whiteout,
    write_docker25_archive,
    write_docker_archive,
    write_gzip,
    write_kaniko_archive,
    write_oci,
)

ROOT = Path(__file__).resolve().parents[1]
BUSYBOX = b"\x7fELF" + bytes(range(256)) * 12
DOC1, DOC2 = b"doc one\n" * 40, b"doc two\n" * 50


def _layers(compression: str = "gzip", eof_blocks: bool = True, padded_end: bool = True) -> list[Layer]:
    """Adds, a whiteout, an opaque dir, a chmod re-store, an overwrite, hard links, a symlink."""
    return [
        Layer(
            [
                F("etc/", kind="dir"),
                F("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                F("bin/", kind="dir"),
                F("bin/busybox", BUSYBOX, mode=0o755),
                F("bin/sh", kind="symlink", link="busybox"),
                F("var/cache/apk/index", b"I" * 900),
                F("var/cache/apk/other", b"O" * 120),
                F("app/", kind="dir"),
                F("app/conf", b"listen 80;\n" * 10),
                F("app/model.bin", b"M" * 2000),
                F("usr/share/doc/one", DOC1),
                F("usr/share/doc/two", DOC2),
            ],
            created_by="ADD rootfs /",
            compression=compression,
            eof_blocks=eof_blocks,
            padded_end=padded_end,
        ),
        Layer(
            [
                F("app/model.bin", b"M" * 2000, mode=0o600),  # chmod: stored again
                F("app/conf", b"listen 8080;\n"),  # overwrite
                F("app/data/x", b"X" * 333),
                F("app/data/y", kind="hardlink", link="app/data/x"),  # in-layer hard link
                F("app/bb", kind="hardlink", link="bin/busybox"),  # to a lower layer
                F("usr/share/doc/", kind="dir"),
                F("usr/share/doc/README", b"see web\n"),
                opaque("usr/share/doc"),  # listed after the new files (vfs style)
                whiteout("var/cache/apk/index"),
            ],
            created_by="RUN chmod, overwrite, ln, rm",
            compression=compression,
            eof_blocks=eof_blocks,
            padded_end=padded_end,
        ),
        Layer(
            [
                whiteout("var/cache"),
                whiteout("app/data/x"),
                F("app/link", kind="symlink", link="/app/conf"),
                F("app/conf.bak", b"listen 80;\n" * 10),  # identical to a hidden copy: not waste
            ],
            created_by="RUN rm -rf /var/cache && ln -s",
            compression=compression,
            eof_blocks=eof_blocks,
            padded_end=padded_end,
        ),
    ]


def make_image(compression: str = "gzip", eof_blocks: bool = True, padded_end: bool = True, **kw) -> Image:
    return Image(_layers(compression, eof_blocks, padded_end), config={"Cmd": ["/bin/sh"]}, **kw)


def fingerprint(img: ModelImage) -> tuple:
    return (
        [sorted((c.path, c.kind) for c in changes) for changes in img.fs.layer_changes],
        sorted((i.path, i.size, i.stored_in, i.hidden_by, i.cause) for i in img.waste.items),
        (img.waste.stored, img.waste.visible, img.waste.wasted),
        sorted((d.size, d.paths) for d in img.waste.duplicates),
    )


EXPECTED_CHANGES = [
    [
        ("app", "added"),
        ("app/conf", "added"),
        ("app/model.bin", "added"),
        ("bin", "added"),
        ("bin/busybox", "added"),
        ("bin/sh", "added"),
        ("etc", "added"),
        ("etc/passwd", "added"),
        ("usr", "added"),
        ("usr/share", "added"),
        ("usr/share/doc", "added"),
        ("usr/share/doc/one", "added"),
        ("usr/share/doc/two", "added"),
        ("var", "added"),
        ("var/cache", "added"),
        ("var/cache/apk", "added"),
        ("var/cache/apk/index", "added"),
        ("var/cache/apk/other", "added"),
    ],
    [
        ("var/cache/apk/index", "deleted"),
        ("usr/share/doc/one", "deleted"),
        ("usr/share/doc/two", "deleted"),
        ("app/bb", "added"),
        ("app/conf", "modified"),
        ("app/data", "added"),
        ("app/data/x", "added"),
        ("app/data/y", "added"),
        ("app/model.bin", "restored"),
        ("usr/share/doc/README", "added"),
    ],
    [
        ("app/data/x", "deleted"),
        ("var/cache", "deleted"),
        ("var/cache/apk", "deleted"),
        ("var/cache/apk/other", "deleted"),
        ("app/conf.bak", "added"),
        ("app/link", "added"),
    ],
]
EXPECTED_WASTE = sorted(
    [
        ("app/model.bin", 2000, 0, 1, "restored"),
        ("var/cache/apk/index", 900, 0, 1, "deleted"),
        ("usr/share/doc/two", len(DOC2), 0, 1, "deleted"),
        ("usr/share/doc/one", len(DOC1), 0, 1, "deleted"),
        ("app/conf", 110, 0, 1, "overwritten"),
        ("var/cache/apk/other", 120, 0, 2, "deleted"),
    ]
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple:
    img = load(str(write_oci(make_image(), tmp_path_factory.mktemp("ref") / "ref.tar")))
    img.close()
    return fingerprint(img)


def test_reference_is_what_the_description_says(reference):
    changes, waste, totals, duplicates = reference
    assert changes == [sorted(layer) for layer in EXPECTED_CHANGES]
    assert waste == EXPECTED_WASTE
    stored, visible, wasted = totals
    assert wasted == sum(w[1] for w in EXPECTED_WASTE)
    assert stored - visible == wasted
    # app/conf.bak is a separate copy of what app/conf held: hidden copy is waste, the new one visible
    assert duplicates == []


def _gz_docker(p: Path) -> Path:
    plain = write_docker_archive(make_image(), p.with_suffix(".plain.tar"))
    return write_gzip(plain, p)


WRITERS = {
    "docker-archive": lambda p: write_docker_archive(make_image(), p),
    "docker-archive-symlinks": lambda p: write_docker_archive(make_image(), p, symlink_layers=True),
    "docker-archive-gzip-layers": lambda p: write_docker_archive(make_image(), p, gzip_layers=True),
    "docker-archive-zstd-layers": lambda p: write_docker_archive(make_image("zstd"), p, gzip_layers=True),
    "kaniko": lambda p: write_kaniko_archive(make_image(), p),
    "docker25": lambda p: write_docker25_archive(make_image(), p),
    "oci-none": lambda p: write_oci(make_image("none"), p),
    "oci-gzip": lambda p: write_oci(make_image("gzip"), p),
    "oci-zstd": lambda p: write_oci(make_image("zstd"), p),
    "oci-gzip-multi": lambda p: write_oci(make_image("gzip-multi"), p),
    "oci-zstd-multi": lambda p: write_oci(make_image("zstd-multi"), p),
    "oci-dir": lambda p: write_oci(make_image(), p, as_dir=True),
    "oci-outer-gzip": lambda p: write_oci(make_image(), p, outer_gzip=True),
    "oci-outer-gzip-zstd-layers": lambda p: write_oci(make_image("zstd"), p, outer_gzip=True),
    "docker-archive-gzipped": _gz_docker,
    "docker-archive-symlinks-gzipped": lambda p: write_gzip(
        write_docker_archive(make_image(), p.with_suffix(".plain.tar"), symlink_layers=True), p
    ),
    "oci-nested-attested": lambda p: write_oci(make_image(), p, nested_index=True, attestation=True),
    "oci-no-eof-blocks-none": lambda p: write_oci(make_image("none", eof_blocks=False), p),
    "oci-no-eof-blocks-gzip": lambda p: write_oci(make_image("gzip", eof_blocks=False), p),
    "docker-archive-no-eof-blocks": lambda p: write_docker_archive(make_image(eof_blocks=False), p),
    "docker-archive-gzipped-no-eof": lambda p: write_gzip(
        write_docker_archive(make_image(eof_blocks=False), p.with_suffix(".plain.tar")), p
    ),
}


@pytest.mark.parametrize("fmt", WRITERS)
def test_every_format_agrees(fmt, reference, tmp_path):
    img = load(str(WRITERS[fmt](tmp_path / f"{fmt}.tar")))
    try:
        assert fingerprint(img) == reference
        assert len(img.layers) == 3
        assert [layer.created_by for layer in img.layers] == [layer.created_by for layer in _layers()]
        assert img.platform == "linux/amd64"
        assert not img.warnings
    finally:
        img.close()


def test_layouts_are_named(tmp_path):
    for fmt, layout in (
        ("docker-archive", "docker-archive"),
        ("kaniko", "docker-archive"),
        ("docker25", "docker25"),
        ("oci-gzip", "oci"),
        ("oci-dir", "oci"),
    ):
        img = load(str(WRITERS[fmt](tmp_path / f"{fmt}.tar")))
        assert img.ref.layout == layout, fmt
        img.close()


def test_compressions_are_reported(tmp_path):
    for compression, expected in (("none", "none"), ("gzip-multi", "gzip"), ("zstd-multi", "zstd")):
        img = load(str(write_oci(make_image(compression), tmp_path / f"{compression}.tar")))
        assert [layer.scan.compression for layer in img.layers] == [expected] * 3
        img.close()


@pytest.mark.parametrize(
    ("compression", "declared"),
    [("gzip", MT_LAYER_TAR), ("none", MT_LAYER_GZIP), ("zstd", MT_LAYER_GZIP)],
    ids=["gzip-declared-plain", "plain-declared-gzip", "zstd-declared-gzip"],
)
def test_mislabelled_media_type_still_reads(compression, declared, reference, tmp_path):
    image = make_image(compression)
    image.layers = [replace(layer, media_type=declared) for layer in image.layers]
    img = load(str(write_oci(image, tmp_path / "mislabelled.tar")))
    assert fingerprint(img) == reference
    assert all(layer.ref.media_type == declared for layer in img.layers)
    img.close()


# ---- standard input and pipes ----------------------------------------------------------------


def _report_json(args: list[str], stdin=None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "report", *args, "--json", "--dive"],
        stdin=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def _comparable(data: dict) -> dict:
    return {
        "summary": data["summary"],
        "waste": data["waste"],
        "duplicates": data["duplicates"],
        "changes": [layer["changes"] for layer in data["layers"]],
        "content": [layer["content_bytes"] for layer in data["layers"]],
        "dive": data["dive_compat"],
    }


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-gzip", "oci-zstd-multi", "oci-outer-gzip", "docker25"])
def test_standard_input_gives_the_same_report(fmt, tmp_path):
    path = WRITERS[fmt](tmp_path / f"{fmt}.tar")
    from_file = _report_json([str(path)])
    with open(path, "rb") as stdin:
        from_stdin = _report_json(["-"], stdin=stdin)
    assert _comparable(from_stdin) == _comparable(from_file)
    assert from_stdin["summary"]["wasted_bytes"] == sum(w[1] for w in EXPECTED_WASTE)


def _load_through_fifo(data: bytes, tmp_path: Path, **kw) -> ModelImage:
    fifo = tmp_path / "image.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as out, contextlib.suppress(BrokenPipeError):
            out.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        return load(str(fifo), OpenOptions(**kw))
    finally:
        writer.join(timeout=30)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-gzip", "oci-outer-gzip"])
def test_fifo_path_is_read_as_a_stream(fmt, tmp_path, reference):
    data = WRITERS[fmt](tmp_path / f"{fmt}.tar").read_bytes()
    img = _load_through_fifo(data, tmp_path)
    assert img.source.seekable is False
    assert fingerprint(img) == reference


# ---- several images in one archive ----------------------------------------------------------


def _tagged(name: str, tag: str, **kw) -> Image:
    return Image([Layer([F("whoami", name.encode())])], tags=[tag], **kw)


@pytest.fixture(scope="module")
def two_images(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("multi") / "two.tar"
    return write_docker_archive(
        [_tagged("alpha", "example.com/team/alpha:1.0"), _tagged("beta", "example.com/team/beta:2.0")], path
    )


def _who(img: ModelImage) -> str:
    node = img.fs.lookup("whoami")
    return {5: "alpha", 4: "beta"}[node.entry_at(0).size]


@pytest.mark.parametrize(
    ("ref", "who"),
    [
        (None, "alpha"),
        ("example.com/team/alpha:1.0", "alpha"),
        ("example.com/team/beta:2.0", "beta"),
        ("beta:2.0", "beta"),
        ("alpha:1.0", "alpha"),
        ("team/beta:2.0", "beta"),
    ],
)
def test_image_chosen_by_repo_tag(two_images, ref, who):
    img = load(str(two_images), OpenOptions(image=ref))
    assert _who(img) == who
    img.close()


def test_unknown_image_lists_the_tags(two_images):
    with pytest.raises(ImageError) as err:
        load(str(two_images), OpenOptions(image="gamma:3"))
    message = str(err.value)
    assert "gamma:3" in message
    assert "example.com/team/alpha:1.0" in message and "example.com/team/beta:2.0" in message
    assert "\n" not in message


def test_cli_image_option_picks_by_tag(two_images):
    data = _report_json([str(two_images), "--image", "beta:2.0"])
    assert data["image"]["names"] == ["example.com/team/beta:2.0"]
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "report", str(two_images), "--image", "nope:1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("layerscope: ") and "example.com/team/alpha:1.0" in proc.stderr


def test_image_chosen_from_standard_input(two_images):
    """(Small configs, under 512 bytes: not hit by the stream bug.)"""
    with open(two_images, "rb") as stdin:
        data = _report_json(["-", "--image", "beta:2.0"], stdin=stdin)
    assert data["image"]["names"] == ["example.com/team/beta:2.0"]


def test_oci_index_images_by_ref_name(tmp_path):
    path = write_oci(
        [_tagged("alpha", "a"), _tagged("beta", "b")],
        tmp_path / "refs.tar",
        ref_names=["registry.io/alpha:1", "registry.io/beta:2"],
    )
    assert _who(load(str(path), OpenOptions(image="registry.io/beta:2"))) == "beta"
    assert _who(load(str(path), OpenOptions(image="alpha:1"))) == "alpha"
    with pytest.raises(ImageError, match="registry.io/alpha:1, registry.io/beta:2"):
        load(str(path), OpenOptions(image="gamma"))
    img = load(str(path))  # no --image: the first, said so
    assert _who(img) == "alpha" and img.warnings == [
        "the archive holds 2 images: showing registry.io/alpha:1 (choose with --image); the others: registry.io/beta:2"
    ]
    assert load(str(path), OpenOptions(image="alpha:1")).warnings == []


def test_platforms_of_one_image_are_not_several_images(nested):
    assert load(str(nested)).warnings == []


def test_oci_index_images_by_containerd_name(tmp_path):
    folder = write_oci(
        [_tagged("alpha", "a"), _tagged("beta", "b")], tmp_path / "layout", as_dir=True, ref_names=["1", "2"]
    )
    index = json.loads((folder / "index.json").read_text())
    for desc, name in zip(index["manifests"], ["docker.io/library/alpha:1", "docker.io/library/beta:2"], strict=True):
        desc["annotations"][ANN_CONTAINERD_NAME] = name
    (folder / "index.json").write_text(json.dumps(index))
    assert _who(load(str(folder), OpenOptions(image="docker.io/library/beta:2"))) == "beta"
    assert _who(load(str(folder), OpenOptions(image="beta:2"))) == "beta"
    assert _who(load(str(folder), OpenOptions(image="alpha:1"))) == "alpha"
    img = load(str(folder), OpenOptions(image="2"))  # the bare ref.name annotation
    assert _who(img) == "beta"
    assert set(img.names) == {"docker.io/library/beta:2", "2"}


def test_docker25_names_and_platform(tmp_path):
    path = write_docker25_archive(
        Image([Layer([F("whoami", b"alpha")])], tags=["example.com/alpha:1.0", "example.com/alpha:latest"]),
        tmp_path / "d25.tar",
    )
    img = load(str(path), OpenOptions(image="alpha:latest"))
    assert img.ref.layout == "docker25"
    assert img.platform == "linux/amd64"
    assert img.ref.manifest_digest and img.ref.manifest_digest.startswith("sha256:")


# ---- platforms ---------------------------------------------------------------------------------


def _plat(arch: str, variant: str | None = None, os_: str = "linux") -> Image:
    return Image(
        [Layer([F("etc/arch", f"{os_}/{arch}/{variant}".encode())])],
        os=os_,
        architecture=arch,
        variant=variant,
    )


PLATFORMS = [_plat("amd64"), _plat("arm64", "v8"), _plat("arm", "v7"), _plat("s390x")]


@pytest.fixture(scope="module")
def nested(tmp_path_factory) -> Path:
    return write_oci(PLATFORMS, tmp_path_factory.mktemp("nested") / "n.tar", nested_index=True, attestation=True)


@pytest.mark.parametrize(
    ("wanted", "got"),
    [
        (None, "linux/amd64"),
        ("linux/amd64", "linux/amd64"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/s390x", "linux/s390x"),
    ],
)
def test_platform_chosen_from_nested_index(nested, wanted, got):
    img = load(str(nested), OpenOptions(platform=wanted))
    assert img.platform == got
    assert img.fs.lookup("etc/arch") is not None
    assert img.config.architecture == got.split("/")[1]


@pytest.mark.parametrize("wanted", ["linux/riscv64", "windows/amd64", "linux/arm64/v9", "linux/arm/v6"])
def test_unknown_platform_lists_the_present_ones(nested, wanted):
    with pytest.raises(ImageError) as err:
        load(str(nested), OpenOptions(platform=wanted))
    message = str(err.value)
    assert wanted in message
    for present in ("linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/s390x"):
        assert present in message
    assert "unknown" not in message  # attestations are not platforms


def test_platform_of_a_docker_archive_comes_from_its_config(tmp_path):
    path = write_docker_archive(_plat("arm64", "v8"), tmp_path / "arm.tar")
    assert load(str(path)).platform == "linux/arm64/v8"
    assert load(str(path), OpenOptions(platform="linux/arm64")).platform == "linux/arm64/v8"
    with pytest.raises(ImageError, match="linux/arm64/v8"):
        load(str(path), OpenOptions(platform="linux/amd64"))


def test_arm64_without_variant_matches_v8(tmp_path):
    path = write_oci([_plat("amd64"), _plat("arm64")], tmp_path / "a.tar")
    assert load(str(path), OpenOptions(platform="linux/arm64/v8")).platform == "linux/arm64"
    assert load(str(path), OpenOptions(platform="linux/arm64")).platform == "linux/arm64"


def test_attestations_never_chosen(tmp_path):
    path = write_oci([_plat("arm64", "v8")], tmp_path / "att.tar", attestation=True)
    img = load(str(path))
    assert img.platform == "linux/arm64/v8"
    assert img.fs.lookup("etc/arch") is not None
    with pytest.raises(ImageError):
        load(str(path), OpenOptions(platform="unknown/unknown"))


def test_single_non_amd64_platform_chosen_by_default(tmp_path):
    path = write_oci([_plat("s390x")], tmp_path / "s.tar", attestation=True, nested_index=True)
    assert load(str(path)).platform == "linux/s390x"


def test_several_platforms_without_amd64_need_a_choice(tmp_path):
    path = write_oci([_plat("arm64", "v8"), _plat("s390x")], tmp_path / "two.tar")
    with pytest.raises(ImageError, match="--platform") as err:
        load(str(path))
    assert "linux/arm64/v8" in str(err.value) and "linux/s390x" in str(err.value)


def test_omitted_platform_blobs_are_fine_unless_chosen(tmp_path):
    path = write_oci(PLATFORMS, tmp_path / "om.tar", nested_index=True, omit_platform_blobs={"linux/arm/v7"})
    assert load(str(path)).platform == "linux/amd64"
    assert load(str(path), OpenOptions(platform="linux/arm64")).platform == "linux/arm64/v8"
    with pytest.raises(ImageError) as err:
        load(str(path), OpenOptions(platform="linux/arm/v7"))
    message = str(err.value)
    assert "linux/arm/v7" in message
    assert "linux/amd64" in message and "linux/arm64/v8" in message and "linux/s390x" in message


def test_omitted_default_platform_with_one_present(tmp_path):
    path = write_oci([_plat("amd64"), _plat("arm64", "v8")], tmp_path / "om.tar", omit_platform_blobs={"linux/amd64"})
    with pytest.raises(ImageError) as err:
        load(str(path))
    assert "linux/arm64/v8" in str(err.value)
    assert load(str(path), OpenOptions(platform="linux/arm64")).platform == "linux/arm64/v8"


def test_omitted_platform_through_a_stream(tmp_path):
    path = write_oci(PLATFORMS, tmp_path / "om.tar", omit_platform_blobs={"linux/s390x"}, outer_gzip=True)
    assert load(str(path), OpenOptions(platform="linux/arm/v7")).platform == "linux/arm/v7"
    with pytest.raises(ImageError, match="linux/s390x"):
        load(str(path), OpenOptions(platform="linux/s390x"))


def test_platform_stream_through_a_fifo(tmp_path, nested):
    img = _load_through_fifo(nested.read_bytes(), tmp_path, platform="linux/arm64/v8")
    assert img.platform == "linux/arm64/v8"


# ---- layer order and history ----------------------------------------------------------------


def _ordered(n: int, history: list[dict] | None = None) -> Image:
    # contents chosen so the blobs' names (sha256) do not sort in layer order
    return Image(
        [Layer([F(f"L{i}", f"layer {i}".encode() * (i + 1))], created_by=f"step {i}") for i in range(n)],
        history=history,
    )


@pytest.mark.parametrize(
    "fmt",
    ["oci", "oci-dir", "oci-outer-gzip", "docker-archive", "kaniko", "docker25"],
)
def test_layer_order_follows_the_manifest(fmt, tmp_path):
    image = _ordered(6)
    writer = {
        "oci": lambda p: write_oci(image, p),
        "oci-dir": lambda p: write_oci(image, p, as_dir=True),
        "oci-outer-gzip": lambda p: write_oci(image, p, outer_gzip=True),
        "docker-archive": lambda p: write_docker_archive(image, p),
        "kaniko": lambda p: write_kaniko_archive(image, p),
        "docker25": lambda p: write_docker25_archive(image, p),
    }[fmt]
    img = load(str(writer(tmp_path / "o")))
    assert [[(c.path, c.kind) for c in changes] for changes in img.fs.layer_changes] == [
        [(f"L{i}", "added")] for i in range(6)
    ]
    assert [layer.created_by for layer in img.layers] == [f"step {i}" for i in range(6)]
    assert [layer.content_bytes for layer in img.layers] == [len(b"layer 0") * (i + 1) for i in range(6)]


def test_layer_order_from_standard_input(tmp_path):
    path = write_oci(_ordered(6), tmp_path / "o.tar")
    with open(path, "rb") as stdin:
        data = _report_json(["-"], stdin=stdin)
    assert [layer["content_bytes"] for layer in data["layers"]] == [len(b"layer 0") * (i + 1) for i in range(6)]
    assert [layer["created_by"] for layer in data["layers"]] == [f"step {i}" for i in range(6)]


def _created_by(img: ModelImage) -> list[str]:
    return [layer.created_by for layer in img.layers]


def test_history_with_empty_layer_entries(tmp_path):
    history = [
        {"created_by": "ADD rootfs /"},
        {"created_by": "ENV A=1", "empty_layer": True},
        {"created_by": "RUN one"},
        {"created_by": "LABEL x=y", "empty_layer": True},
        {"created_by": "RUN two"},
        {"created_by": 'CMD ["sh"]', "empty_layer": True},
    ]
    img = load(str(write_oci(_ordered(3, history), tmp_path / "h.tar")))
    assert _created_by(img) == ["ADD rootfs /", "RUN one", "RUN two"]
    assert [h.layer for h in img.history] == [0, None, 1, None, 2, None]
    assert [h.instruction for h in img.history if h.layer is None] == ["ENV A=1", "LABEL x=y", 'CMD ["sh"]']


HEREDOC = "RUN /bin/sh -c set -e\napt-get update\n\tapt-get install -y curl\r \x1b[31m\n\n # buildkit"


def test_a_heredoc_keeps_its_lines_where_there_is_room():
    """BuildKit records `RUN <<EOF` as the shell command and the script: one line for lists, the
    script's lines as written for the details (only `\\n` breaks a line; the rest is data)."""
    assert short_instruction(HEREDOC) == "RUN set -e apt-get update apt-get install -y curl \x1b[31m"
    assert instruction_lines(HEREDOC) == ["RUN set -e", "apt-get update", "\tapt-get install -y curl\r \x1b[31m"]
    cat = "RUN /bin/sh -c cat <<EOF > /etc/motd\nhello\nEOF # buildkit"
    assert instruction_lines(cat) == ["RUN cat <<EOF > /etc/motd", "hello", "EOF"]
    for one in ("/bin/sh -c #(nop)  ENV A=1", "RUN |1 A=b /bin/sh -c echo hi # buildkit", "COPY . . # buildkit", ""):
        assert instruction_lines(one) == [short_instruction(one)]


def test_history_shorter_than_the_layers(tmp_path):
    history = [{"created_by": "ADD rootfs /"}, {"created_by": "ENV A=1", "empty_layer": True}]
    img = load(str(write_oci(_ordered(3, history), tmp_path / "h.tar")))
    assert _created_by(img) == ["ADD rootfs /", "", ""]
    assert [layer.history is None for layer in img.layers] == [False, True, True]
    assert [h.layer for h in img.history] == [0, None]


def test_history_longer_than_the_layers(tmp_path):
    history = [{"created_by": f"RUN {i}"} for i in range(5)]
    img = load(str(write_oci(_ordered(3, history), tmp_path / "h.tar")))
    assert _created_by(img) == ["RUN 0", "RUN 1", "RUN 2"]
    assert [h.layer for h in img.history] == [0, 1, 2, None, None]
    data = _report_json([str(tmp_path / "h.tar")])
    assert [h["layer"] for h in data["history"]] == [0, 1, 2, None, None]


def test_no_history_at_all(tmp_path):
    img = load(str(write_oci(_ordered(2, []), tmp_path / "h.tar")))
    assert _created_by(img) == ["", ""]
    assert img.history == []


def test_diff_id_count_mismatch_is_a_warning(tmp_path):
    folder = write_oci(_ordered(2), tmp_path / "layout", as_dir=True)
    index = json.loads((folder / "index.json").read_text())
    manifest_path = folder / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(manifest_path.read_text())
    config_path = folder / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]
    config = json.loads(config_path.read_text())
    config["rootfs"]["diff_ids"].append("sha256:" + "0" * 64)
    config_path.write_text(json.dumps(config))  # the digest no longer matches: read without --verify
    img = load(str(folder))
    assert any("diff_ids" in w for w in img.warnings)


def test_gzip_wrapped_oci_dir_names(tmp_path):
    """A single-image index: the ref name annotation becomes the image's name."""
    img = load(str(write_oci(_tagged("alpha", "example.com/alpha:1.0"), tmp_path / "n.tar")))
    assert img.names == ["1.0"]
    img = load(str(write_oci(_tagged("alpha", "x"), tmp_path / "m.tar", ref_names=["registry/alpha:9"])))
    assert img.names == ["registry/alpha:9"]
    assert ANN_REF_NAME  # the annotation the builder writes


# ---- layers scanned in worker processes ------------------------------------------------------


def test_worker_processes_give_the_same_result(tmp_path, reference):
    """Past PARALLEL_MIN_BYTES of blobs on disk, layers are scanned in other processes."""
    filler = bytes(range(256)) * (PARALLEL_MIN_BYTES // 256 + 1)
    image = make_image("none")
    image.layers.append(Layer([F("big/filler", filler)], compression="none"))
    path = write_docker_archive(image, tmp_path / "big.tar")
    results = []
    for workers in (1, 2):
        img = ModelImage.open(str(path), pool=ScanPool(workers))
        img.analyse()  # the biggest blob (the last layer here) is scanned first
        results.append(fingerprint(img))
        img.close()
    assert results[0] == results[1]
    img = ModelImage.open(str(path), pool=ScanPool(2))
    for largest_first in (False, True):  # scans come back in layer order either way
        assert [index for index, _ in img.scans(largest_first=largest_first)] == [0, 1, 2, 3]
    img.close()
    changes, waste, totals, duplicates = results[0]
    assert changes[:3] == reference[0] and changes[3] == [("big", "added"), ("big/filler", "added")]
    assert waste == reference[1]


def test_rows_from_workers_stay_packed_until_stacked(tmp_path):
    """A worker's rows wait in the bytes it sent them as (most layers arrive before the layers
    below them are stacked), with its whiteouts and opaque markers apart: they act first."""
    filler = bytes(range(256)) * (PARALLEL_MIN_BYTES // 256 + 1)
    image = make_image("none")
    image.layers.append(Layer([F("big/filler", filler), whiteout("app/conf"), opaque("usr")], compression="none"))
    path = write_docker_archive(image, tmp_path / "big.tar")
    img = ModelImage.open(str(path), pool=ScanPool(2))
    hiding = []
    for _, scan in img.scans():
        assert isinstance(scan.rows, PackedRows)
        rows = list(scan.rows)
        assert len(scan.rows) == len(rows) and [row for batch in scan.batches() for row in batch] == rows
        assert scan.hiding() == [row for row in rows if row[1] in (WHITEOUT, OPAQUE)]
        hiding += scan.hiding()
    img.close()
    assert [(row[0], row[1]) for row in hiding][-2:] == [("app/conf", WHITEOUT), ("usr", OPAQUE)]


def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path, monkeypatch):
    """A worker process that ends without answering (killed, out of memory) stops the load."""
    from explorer.archive import pool as parallel

    filler = bytes(range(256)) * (parallel.PARALLEL_MIN_BYTES // 256 + 1)
    image = make_image("none")
    image.layers.append(Layer([F("big/filler", filler)], compression="none"))
    path = write_docker_archive(image, tmp_path / "big.tar")

    def dying_worker() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.buffer.read(1); sys.exit(9)"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    monkeypatch.setattr(parallel, "_start_worker", dying_worker)
    img = ModelImage.open(str(path), pool=ScanPool(2))
    with pytest.raises(ImageError, match=r"worker process ended unexpectedly \(exit code 9\)"):
        img.analyse()
    img.close()


def test_a_worker_whose_output_cannot_be_followed_is_an_error_not_a_hang(tmp_path, monkeypatch):
    """Output that unpickles to nonsense (a name no module has; seen when a profiler attached to
    a worker) while the worker lives on: it is stopped and the load fails, instead of waiting."""
    from explorer.archive import pool as parallel

    filler = bytes(range(256)) * (parallel.PARALLEL_MIN_BYTES // 256 + 1)
    image = make_image("none")
    image.layers.append(Layer([F("big/filler", filler)], compression="none"))
    path = write_docker_archive(image, tmp_path / "big.tar")
    garbled = (
        "import sys, time; sys.stdin.buffer.read(1);"
        "sys.stdout.buffer.write(b'cexplorer.archive.pool\\nNoSuchName\\n.'); sys.stdout.flush(); time.sleep(60)"
    )

    def garbling_worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", garbled], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    monkeypatch.setattr(parallel, "_start_worker", garbling_worker)
    img = ModelImage.open(str(path), pool=ScanPool(2))
    errors: list[str] = []

    def analyse() -> None:
        try:
            img.analyse()
        except ImageError as exc:
            errors.append(str(exc))

    loading = threading.Thread(target=analyse, daemon=True)
    loading.start()
    loading.join(30)
    assert not loading.is_alive(), "the load waits for a worker whose output it cannot follow"
    assert errors and "worker process ended unexpectedly (exit code -9)" in errors[0]
    img.close()


def test_prestarted_workers_are_taken_or_stopped(tmp_path, capsys, monkeypatch):
    """`report` starts the workers before it imports the model; its pool stops every one."""
    from explorer.archive import pool as parallel
    from explorer.cli import main

    filler = bytes(range(256)) * (PARALLEL_MIN_BYTES // 256 + 1)
    image = make_image("none")
    image.layers.append(Layer([F("big/filler", filler)], compression="none"))
    big = write_docker_archive(image, tmp_path / "big.tar")
    small = write_docker_archive(make_image("none"), tmp_path / "small.tar")
    expected = worker_count() if worker_count() > 1 else 0

    assert ScanPool.start(str(small)).processes == []  # too small to gain from workers
    assert ScanPool.start("-").processes == []  # standard input
    with ScanPool.start(str(big)) as pool:
        spares = pool.processes
        assert len(spares) == expected
    assert pool.processes == [] and [proc.returncode for proc in spares] == [0] * expected

    pools, spares = [], []

    started = ScanPool.start
    monkeypatch.setattr(parallel.ScanPool, "start", lambda path: _recorded(started(path), pools, spares))
    assert main(["report", str(big), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["layers"] == 4
    junk = tmp_path / "junk.bin"  # big enough for workers, but no image: they are stopped
    junk.write_bytes(filler)
    assert main(["report", str(junk)]) == 2
    assert len(pools) == 2 and len(spares) == 2 * expected
    assert all(pool.processes == [] for pool in pools)
    assert all(proc.poll() is not None for proc in spares)


def _recorded(pool: ScanPool, pools: list, spares: list) -> ScanPool:
    pools.append(pool)
    spares.extend(pool.processes)
    return pool


def test_a_pool_stops_its_workers_when_its_image_fails_to_open_or_its_scan_ends(tmp_path):
    filler = bytes(range(256)) * (PARALLEL_MIN_BYTES // 256 + 1)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(filler)
    pool = ScanPool.start(str(junk), workers=2)
    spares = pool.processes
    assert len(spares) == 2
    with pytest.raises(ImageError):
        ModelImage.open(str(junk), pool=pool)
    assert pool.processes == [] and [proc.returncode for proc in spares] == [0, 0]

    filler = random.Random(0).randbytes(PARALLEL_MIN_BYTES + 1)  # the gzipped archive stays as big
    image = make_image("none")
    image.layers.append(Layer([F("big/filler", filler)], compression="none"))
    for path in (  # scanned by the workers; read in one pass (gzip), so in-process
        write_docker_archive(image, tmp_path / "big.tar"),
        write_gzip(write_docker_archive(image, tmp_path / "plain.tar"), tmp_path / "big.tar.gz"),
    ):
        pool = ScanPool.start(str(path), workers=2)
        spares = pool.processes
        img = ModelImage.open(str(path), pool=pool)
        img.analyse()
        img.close()
        assert img.layers[-1].content_bytes == len(filler)
        assert pool.processes == [] and all(proc.poll() is not None for proc in spares)


# ---- every route gives the same analysis -----------------------------------------------------


def _reused() -> Image:
    """One blob at three positions (COPY of the same content; `docker save` symlinks), and a
    0-byte layer blob (an empty layer, valid)."""
    base = _layers()[0]
    empty = Layer([], created_by="RUN true", compression="none", eof_blocks=False)
    return Image([base, Layer(list(base.entries), created_by="COPY again"), empty, base], config={"Cmd": ["sh"]})


ROUTED = {
    **WRITERS,
    "reused-oci": lambda p: write_oci(_reused(), p),
    "reused-docker-archive-symlinks": lambda p: write_docker_archive(_reused(), p, symlink_layers=True),
    "reused-kaniko": lambda p: write_kaniko_archive(_reused(), p),
    "reused-docker25": lambda p: write_docker25_archive(_reused(), p),
    "oci-umoci-layers": lambda p: write_oci(make_image(padded_end=False), p),
}


def _analysis(args: list[str], stdin: Path | None = None) -> dict:
    """The whole `report --json --dive` output, but for the input's own name."""
    if stdin is None:
        data = _report_json(args)
    else:
        with open(stdin, "rb") as f:
            data = _report_json(args, stdin=f)
    data["image"].pop("path")
    return data


@pytest.mark.parametrize("fmt", ROUTED)
def test_every_route_gives_the_same_analysis(fmt, tmp_path):
    """File, standard input, gzip- and zstd-wrapped archives: the same JSON, all of it (a blob
    used twice is counted twice, a 0-byte blob is an empty layer, by every route)."""
    path = ROUTED[fmt](tmp_path / f"{fmt}.tar")
    from_file = _analysis([str(path)])
    if path.is_dir():
        return
    data = path.read_bytes()
    routes = {"stdin": _analysis(["-"], stdin=path)}
    if sniff(data[:4]) == "none":
        (tmp_path / "wrapped.tar.gz").write_bytes(gzip.compress(data, mtime=0))
        (tmp_path / "wrapped.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
        routes["gzip"] = _analysis([str(tmp_path / "wrapped.tar.gz")])
        routes["zstd"] = _analysis([str(tmp_path / "wrapped.tar.zst")])
    if fmt.startswith("reused"):
        verified = _analysis([str(path), "--verify"])
        assert verified == from_file
        routes["stdin --verify"] = _analysis(["-", "--verify"], stdin=path)
    for route, analysis in routes.items():
        assert analysis == from_file, route


def test_a_blob_used_twice_counts_twice_and_an_empty_blob_is_an_empty_layer(tmp_path):
    img = load(str(write_oci(_reused(), tmp_path / "reused.tar")))
    base = img.layers[0]
    assert [layer.digest for layer in img.layers[1:4:2]] == [base.digest, base.digest]
    stored = base.content_bytes
    assert [layer.content_bytes for layer in img.layers] == [stored, stored, 0, stored]
    assert img.layers[2].blob_size == 0 and img.layers[2].entry_counts == {}
    assert img.waste.stored == 3 * base.content_bytes
    assert {item.cause for item in img.waste.items} == {"restored"}
    img.close()


# ---- umoci: layer tars that end right after the last member's data --------------------------


def test_layers_without_padding_or_end_blocks_read_with_a_warning(tmp_path, reference):
    for compression in ("none", "gzip", "zstd"):
        img = load(str(write_oci(make_image(compression, padded_end=False), tmp_path / f"{compression}.tar")))
        assert fingerprint(img) == reference
        unpadded = [layer.digest for layer in img.layers if layer.scan.warnings]
        assert img.warnings == [f"{digest}: ends without tar padding/end blocks" for digest in unpadded]
        assert len(unpadded) == 2  # the middle layer ends with a whiteout: no data, no padding to miss
        img.close()


def test_a_layer_cut_inside_the_last_member_data_is_still_an_error(tmp_path):
    image = make_image("none", padded_end=False)
    tar = layer_tar(image.layers[0])
    with pytest.raises(CorruptBlob, match="truncated inside usr/share/doc/two"):
        scan_layer(io.BytesIO(tar[:-1]), "layer", len(tar) - 1)


def _run(*cmd: str, cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=120)
    assert proc.returncode == 0, (cmd, proc.stderr.decode())


def test_a_real_umoci_image(tmp_path):
    """umoci 0.4 writes layer tars without padding or end blocks; skopeo makes the archive."""
    import shutil

    missing = [tool for tool in ("umoci", "skopeo") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (Debian packages umoci, skopeo)")
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.txt").write_bytes(b"hello umoci\n")
    (src / "data.bin").write_bytes(bytes(range(256)) * 3 + b"odd")
    _run("umoci", "init", "--layout", "layout", cwd=tmp_path)
    _run("umoci", "new", "--image", "layout:t", cwd=tmp_path)
    _run("umoci", "insert", "--image", "layout:t", str(src), "/data", cwd=tmp_path)
    _run("umoci", "insert", "--image", "layout:t", str(src / "hello.txt"), "/data/hello.txt", cwd=tmp_path)
    _run("skopeo", "copy", "oci:layout:t", "oci-archive:image.tar", cwd=tmp_path)
    report = _report_json([str(tmp_path / "image.tar")])
    assert report["summary"]["layers"] == 2
    assert report["summary"]["stored_bytes"] == 2 * 12 + 771
    assert [w["path"] for w in report["waste"]] == ["data/hello.txt"]
    digests = [layer["digest"] for layer in report["layers"]]
    for warning in report["warnings"]:  # whatever umoci's version writes: never an error
        assert warning.endswith(": ends without tar padding/end blocks")
        assert any(warning.startswith(digest) for digest in digests)
