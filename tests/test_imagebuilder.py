"""Sanity tests for the archive writer (explorer/archive/writer.py, as tests/imagebuilder.py)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from tests.imagebuilder import (
    ANN_CONTAINERD_NAME,
    ANN_REF_DIGEST,
    ANN_REF_NAME,
    ANN_REF_TYPE,
    MT_INDEX,
    MT_LAYER_GZIP,
    MT_LAYER_TAR,
    MT_LAYER_ZSTD,
    MT_MANIFEST,
    F,
    Image,
    Layer,
    LayerFile,
    layer_blob,
    layer_tar,
    opaque,
    whiteout,
    write_docker25_archive,
    write_docker_archive,
    write_gzip,
    write_kaniko_archive,
    write_oci,
)

Reader = Callable[[str], bytes]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _members(data: bytes, decompressor: Callable[[], object]) -> list[bytes]:
    """Decompress every gzip member / zstd frame of ``data`` separately."""
    parts = []
    while data:
        obj = decompressor()
        parts.append(obj.decompress(data))  # type: ignore[attr-defined]
        data = obj.unused_data  # type: ignore[attr-defined]
    return parts


def _gunzip_members(data: bytes) -> list[bytes]:
    return _members(data, lambda: zlib.decompressobj(31))


def _unzstd_frames(data: bytes) -> list[bytes]:
    return _members(data, lambda: zstandard.ZstdDecompressor().decompressobj())


def _uncompressed(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return b"".join(_gunzip_members(data))
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return b"".join(_unzstd_frames(data))
    return data


def _tar_reader(path: Path) -> tuple[Reader, list[tarfile.TarInfo]]:
    with tarfile.open(path) as tf:
        members = tf.getmembers()
        files = {m.name: tf.extractfile(m).read() for m in members if m.isreg()}  # type: ignore[union-attr]
    return files.__getitem__, members


def _list(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


def _blob(read: Reader, desc: dict) -> bytes:
    data = read("blobs/sha256/" + desc["digest"].removeprefix("sha256:"))
    assert _sha(data) == desc["digest"]
    assert len(data) == desc["size"]
    return data


def _check_image_manifest(read: Reader, manifest: dict) -> dict:
    """Check config and layer descriptors and diff_ids; return the parsed config."""
    config = json.loads(_blob(read, manifest["config"]))
    layers = [_blob(read, d) for d in manifest["layers"]]
    assert config["rootfs"]["diff_ids"] == [_sha(_uncompressed(b)) for b in layers]
    return config


LAYERS = [
    Layer(
        [
            F("etc/", kind="dir"),
            F("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
            F("bin/sh", kind="symlink", link="busybox"),
            F("bin/busybox", b"\x7fELF" + bytes(600), mode=0o755),
        ],
        created_by="ADD rootfs /",
    ),
    Layer(
        [
            whiteout("etc/passwd"),
            opaque("var/tmp"),
            F("etc/hard", kind="hardlink", link="bin/busybox"),
        ],
        created_by="RUN rm /etc/passwd",
        compression="zstd",
    ),
    Layer([F("a.txt", b"a" * 1000), F("b.txt", b"b" * 10)], compression="gzip-multi"),
]


def _image(**kw: object) -> Image:
    return Image(**{"layers": list(LAYERS), "config": {"Cmd": ["/bin/sh"], "Env": ["A=1"]}, **kw})  # type: ignore[arg-type]


def test_layer_tar_entries() -> None:
    entries = [
        F("usr/bin/", kind="dir"),
        F("./dot", b"x"),
        F("/abs", b"y"),
        F("dev/fifo", kind="fifo"),
        F("dev/null", kind="char"),
        F("dev/sda", kind="block"),
        F("usr/bin/link", kind="hardlink", link="./dot"),
        F("x" * 150, b"long"),
        F("p", b"", pax={"comment": "hi"}),
        F("", b"latin1", raw_name=b"names/latin1-caf\xe9.txt"),
        F("", b"ansi", raw_name=b"names/ansi-\x1b[31mred\x1b[0m.txt"),
        whiteout("usr/bin/gone"),
        opaque("usr/"),
    ]
    data = layer_tar(Layer(entries))
    assert len(data) % 512 == 0 and data.endswith(bytes(1024))
    members = _list(data)
    names = [m.name for m in members]
    assert names == [
        "usr/bin",
        "./dot",
        "/abs",
        "dev/fifo",
        "dev/null",
        "dev/sda",
        "usr/bin/link",
        "x" * 150,
        "p",
        "names/latin1-caf\udce9.txt",
        "names/ansi-\x1b[31mred\x1b[0m.txt",
        "usr/bin/.wh.gone",
        "usr/.wh..wh..opq",
    ]
    assert b"usr/bin/\0" in data  # directory names end with "/"
    by_name = dict(zip(names, members, strict=True))
    assert by_name["usr/bin"].mode == 0o755 and by_name["./dot"].mode == 0o644
    assert by_name["usr/bin/link"].islnk() and by_name["usr/bin/link"].linkname == "./dot"
    assert by_name["dev/fifo"].isfifo() and by_name["dev/null"].ischr() and by_name["dev/sda"].isblk()
    assert by_name["p"].pax_headers["comment"] == "hi"
    assert by_name["usr/.wh..wh..opq"].isreg() and by_name["usr/.wh..wh..opq"].size == 0
    # Raw non-UTF-8 name: a Go-style PAX path record with the exact bytes, no hdrcharset.
    assert b" path=names/latin1-caf\xe9.txt\n" in data and b"hdrcharset" not in data
    assert b"names/ansi-\x1b[31mred\x1b[0m.txt\0" in data  # plain ustar name


def test_eof_blocks_false_strips_end_blocks() -> None:
    entries = [F("zeros", bytes(2048))]
    full = layer_tar(Layer(entries))
    bare = layer_tar(Layer(entries, eof_blocks=False))
    assert full == bare + bytes(1024)
    assert len(bare) == 512 + 2048  # the member's own zero data is kept
    assert [m.name for m in _list(bare)] == ["zeros"]


@pytest.mark.parametrize(
    ("compression", "split", "magic"),
    [
        ("none", None, b"a.txt"),
        ("gzip", _gunzip_members, b"\x1f\x8b"),
        ("gzip-multi", _gunzip_members, b"\x1f\x8b"),
        ("zstd", _unzstd_frames, b"\x28\xb5\x2f\xfd"),
        ("zstd-multi", _unzstd_frames, b"\x28\xb5\x2f\xfd"),
    ],
)
def test_layer_compression(compression: str, split: Callable | None, magic: bytes) -> None:
    layer = Layer([F("a.txt", b"a" * 1000), F("b.txt", b"b")], compression=compression)
    blob = layer_blob(layer)
    assert blob.startswith(magic)
    if split is None:
        assert blob == layer_tar(layer)
        return
    parts = split(blob)
    assert b"".join(parts) == layer_tar(layer)
    assert len(parts) == (3 if compression.endswith("-multi") else 1)
    assert layer_blob(layer) == blob  # deterministic


def test_oci_archive(tmp_path: Path) -> None:
    image = _image(variant="v3", tags=["example.com/demo:1.0"])
    path = write_oci(image, tmp_path / "oci.tar")
    read, members = _tar_reader(path)
    assert [m.name for m in members][:2] == ["blobs", "blobs/sha256"]
    assert json.loads(read("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(read("index.json"))
    assert index["mediaType"] == MT_INDEX
    [desc] = index["manifests"]
    assert desc["annotations"] == {ANN_REF_NAME: "1.0"}
    assert desc["platform"] == {"architecture": "amd64", "os": "linux", "variant": "v3"}
    manifest = json.loads(_blob(read, desc))
    assert manifest["mediaType"] == MT_MANIFEST
    assert [d["mediaType"] for d in manifest["layers"]] == [
        MT_LAYER_GZIP,
        MT_LAYER_ZSTD,
        MT_LAYER_GZIP,
    ]
    config = _check_image_manifest(read, manifest)
    assert config["variant"] == "v3" and config["config"]["Cmd"] == ["/bin/sh"]
    assert [h["created_by"] for h in config["history"][:2]] == [
        "ADD rootfs /",
        "RUN rm /etc/passwd",
    ]
    assert "created_by" not in config["history"][2]
    assert write_oci(image, tmp_path / "again.tar").read_bytes() == path.read_bytes()


def test_oci_dir_and_outer_gzip(tmp_path: Path) -> None:
    image = _image()
    out = write_oci(image, tmp_path / "layout", as_dir=True, ref_names=["v1"])
    index = json.loads((out / "index.json").read_bytes())
    assert index["manifests"][0]["annotations"][ANN_REF_NAME] == "v1"
    manifest = json.loads(_blob(lambda n: (out / n).read_bytes(), index["manifests"][0]))
    _check_image_manifest(lambda n: (out / n).read_bytes(), manifest)

    gz = write_oci(image, tmp_path / "oci.tar.gz", outer_gzip=True)
    plain = write_oci(image, tmp_path / "oci.tar")
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()
    assert gzip.decompress(write_gzip(plain, tmp_path / "x.gz").read_bytes()) == plain.read_bytes()


def test_oci_nested_index_attestation_omitted_platform(tmp_path: Path) -> None:
    images = [
        _image(),
        _image(architecture="arm64", variant="v8"),
        Image([Layer([F("etc/platform.txt", b"arm/v7\n")])], architecture="arm", variant="v7"),
    ]
    path = write_oci(
        images,
        tmp_path / "multi.tar",
        nested_index=True,
        attestation=True,
        omit_platform_blobs={"linux/arm/v7"},
    )
    read, members = _tar_reader(path)
    [top] = json.loads(read("index.json"))["manifests"]
    assert top["mediaType"] == MT_INDEX and "platform" not in top
    assert top["annotations"] == {ANN_REF_NAME: "latest"}
    nested = json.loads(_blob(read, top))
    descs = nested["manifests"]
    assert [d["platform"].get("variant") for d in descs] == [None, "v8", "v7", None, None, None]
    images_descs, attestations = descs[:3], descs[3:]
    for desc in images_descs[:2]:
        _check_image_manifest(read, json.loads(_blob(read, desc)))
    missing = images_descs[2]["digest"].removeprefix("sha256:")
    assert f"blobs/sha256/{missing}" not in [m.name for m in members]
    for att, subject in zip(attestations, images_descs, strict=True):
        assert att["platform"] == {"architecture": "unknown", "os": "unknown"}
        assert att["annotations"] == {
            ANN_REF_DIGEST: subject["digest"],
            ANN_REF_TYPE: "attestation-manifest",
        }
        manifest = json.loads(_blob(read, att))
        [layer] = manifest["layers"]
        assert layer["mediaType"] == "application/vnd.in-toto+json"
        statement = json.loads(_blob(read, layer))
        assert statement["subject"][0]["digest"]["sha256"] == subject["digest"].removeprefix("sha256:")
        _check_image_manifest(read, manifest)


def test_oci_plain_several_images(tmp_path: Path) -> None:
    images = [_image(), _image(architecture="arm64", tags=["example.com/demo:arm"])]
    read, _ = _tar_reader(write_oci(images, tmp_path / "two.tar"))
    descs = json.loads(read("index.json"))["manifests"]
    assert [d["annotations"][ANN_REF_NAME] for d in descs] == ["latest", "arm"]
    assert [d["platform"]["architecture"] for d in descs] == ["amd64", "arm64"]


@pytest.mark.parametrize("gzip_layers", [False, True])
def test_docker_archive(tmp_path: Path, gzip_layers: bool) -> None:
    images = [_image(), _image(tags=["other:1", "other:2"], config={"Cmd": ["true"]})]
    path = write_docker_archive(images, tmp_path / "docker.tar", gzip_layers=gzip_layers)
    read, members = _tar_reader(path)
    names = [m.name + "/" if m.isdir() else m.name for m in members]
    assert names == sorted(names) and len(names) == len(set(names))
    manifest = json.loads(read("manifest.json"))
    assert [m["RepoTags"] for m in manifest] == [
        ["example.com/demo:latest"],
        ["other:1", "other:2"],
    ]
    repositories = json.loads(read("repositories"))
    for item in manifest:
        config = json.loads(read(item["Config"]))
        assert item["Config"] == _sha(read(item["Config"])).removeprefix("sha256:") + ".json"
        layers = [read(name) for name in item["Layers"]]
        assert all(name.endswith("/layer.tar") for name in item["Layers"])
        assert (layers[1][:4] == b"\x28\xb5\x2f\xfd") is gzip_layers
        assert config["rootfs"]["diff_ids"] == [_sha(_uncompressed(b)) for b in layers]
        top = item["Layers"][-1].split("/")[0]
        assert json.loads(read(f"{top}/json"))["id"] == top
        assert read(f"{top}/VERSION") == b"1.0"
    top = manifest[1]["Layers"][-1].split("/")[0]
    assert repositories["other"] == {"1": top, "2": top}
    assert repositories["example.com/demo"] == {"latest": manifest[0]["Layers"][-1].split("/")[0]}
    # the two images share their lower layers: stored once
    assert manifest[0]["Layers"][:2] == manifest[1]["Layers"][:2]


def test_docker_archive_skopeo_symlinks(tmp_path: Path) -> None:
    image = _image()
    path = write_docker_archive(image, tmp_path / "skopeo.tar", symlink_layers=True)
    read, members = _tar_reader(path)
    assert not any(m.isdir() for m in members)
    [item] = json.loads(read("manifest.json"))
    links = [m for m in members if m.name.endswith("/layer.tar")]
    assert len(links) == 3 and all(m.issym() for m in links)
    assert [m.linkname for m in links] == [f"../{n}" for n in item["Layers"]]
    config = json.loads(read(item["Config"]))
    assert [f"{d.removeprefix('sha256:')}.tar" for d in config["rootfs"]["diff_ids"]] == item["Layers"]
    assert config["rootfs"]["diff_ids"] == [_sha(read(n)) for n in item["Layers"]]
    assert all(m.mode == 0o444 for m in members if m.isreg())


def test_docker_archive_without_layers(tmp_path: Path) -> None:
    read, members = _tar_reader(write_docker_archive(Image([]), tmp_path / "scratch.tar"))
    assert len(members) == 3
    assert json.loads(read("manifest.json"))[0]["Layers"] == []
    assert json.loads(read("repositories")) == {}


def test_kaniko_archive(tmp_path: Path) -> None:
    read, members = _tar_reader(write_kaniko_archive(_image(), tmp_path / "kaniko.tar"))
    [item] = json.loads(read("manifest.json"))
    assert members[0].name == item["Config"] == _sha(read(item["Config"]))
    assert members[-1].name == "manifest.json"
    layers = [read(name) for name in item["Layers"]]
    assert item["Layers"] == [f"{_sha(b).removeprefix('sha256:')}.tar.gz" for b in layers]
    config = json.loads(read(item["Config"]))
    assert config["rootfs"]["diff_ids"] == [_sha(_uncompressed(b)) for b in layers]


def test_docker25_archive(tmp_path: Path) -> None:
    image = _image(tags=["example.com/demo:latest", "example.com/demo:v2"])
    read, members = _tar_reader(write_docker25_archive(image, tmp_path / "d25.tar"))
    index = json.loads(read("index.json"))
    assert [d["annotations"] for d in index["manifests"]] == [
        {ANN_CONTAINERD_NAME: "example.com/demo:latest", ANN_REF_NAME: "latest"},
        {ANN_CONTAINERD_NAME: "example.com/demo:v2", ANN_REF_NAME: "v2"},
    ]
    oci_manifest = json.loads(_blob(read, index["manifests"][0]))
    assert {d["mediaType"] for d in oci_manifest["layers"]} == {MT_LAYER_TAR}
    config = _check_image_manifest(read, oci_manifest)
    [item] = json.loads(read("manifest.json"))
    assert item["Config"] == "blobs/sha256/" + oci_manifest["config"]["digest"].removeprefix("sha256:")
    assert [_sha(read(n)) for n in item["Layers"]] == config["rootfs"]["diff_ids"]
    top = item["Layers"][-1].removeprefix("blobs/sha256/")
    assert json.loads(read("repositories")) == {"example.com/demo": {"latest": top, "v2": top}}
    assert {"oci-layout", "manifest.json", "index.json", "blobs/sha256"} <= {m.name for m in members}


def test_records_pad_a_layer_as_pythons_tarfile_does() -> None:
    entries = [F("etc/", kind="dir", mode=0o755, mtime=7), F("etc/a", b"x" * 700, mtime=7)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for f in entries:
            info = tarfile.TarInfo(f.path)
            info.type = tarfile.DIRTYPE if f.kind == "dir" else tarfile.REGTYPE
            info.mode, info.mtime, info.size = f.mode or 0o644, f.mtime, len(f.data or b"")
            tf.addfile(info, io.BytesIO(f.data or b""))
    assert layer_tar(Layer(entries, records=True)) == buf.getvalue()
    assert len(layer_tar(Layer(entries))) == 512 + (512 + 1024) + 2 * 512  # Go-style: no record padding


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_a_layer_file_is_the_layer_it_holds(tmp_path: Path, compression: str) -> None:
    """A layer written from a tar on disk (streamed) has the digests and contents of the same
    layer described in memory."""
    layer = Layer([F("d/", kind="dir"), F("d/a.txt", b"a" * 5000), whiteout("gone")], compression=compression)
    tar = tmp_path / "layer.tar"
    tar.write_bytes(layer_tar(layer))
    in_memory = write_oci(_image(layers=[layer]), tmp_path / "memory.tar")
    on_disk = write_oci(_image(layers=[LayerFile(tar, compression=compression)]), tmp_path / "disk.tar")
    configs, contents = [], []
    for path in (in_memory, on_disk):
        read, _ = _tar_reader(path)
        manifest = json.loads(_blob(read, json.loads(read("index.json"))["manifests"][0]))
        configs.append(_check_image_manifest(read, manifest))
        contents.append([_uncompressed(_blob(read, d)) for d in manifest["layers"]])
    assert configs[0] == configs[1] and contents[0] == contents[1] == [tar.read_bytes()]
    if compression == "none":
        assert in_memory.read_bytes() == on_disk.read_bytes()
    docker = [
        write_docker_archive(_image(layers=[lay]), tmp_path / f"{i}.tar")
        for i, lay in enumerate([layer, LayerFile(tar)])
    ]
    assert docker[0].read_bytes() == docker[1].read_bytes()  # layers stored as plain tars
