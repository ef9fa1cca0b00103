"""The one writer of image archives: the demo image, the tests' images and the benchmark's.

Describe an image (``Image`` of ``Layer`` of ``F`` entries in memory, or of ``LayerFile``
tars already on disk, for images too big to hold) and write it in any real-world archive
shape: legacy ``docker save`` (Docker and skopeo variants), the crane/kaniko tarball, Docker
25+ ``docker save`` (OCI layout plus ``manifest.json``) and the OCI image layout (tar,
gzipped tar or directory; flat, nested index, attestations, missing platform blobs). Every
archive entry has mtime 0 and all JSON is compact, so the same description always gives the
same bytes. Tar streams are written Go-style (no padding to a 10240-byte record), like the
tools that produce real images. Not used by the program itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import zstandard

PathLike = str | os.PathLike[str]
Data = bytes | Path  # a blob in memory, or in a file (streamed, never read whole)
Kind = Literal["file", "dir", "symlink", "hardlink", "fifo", "char", "block"]
# "-multi": each tar entry (and the end blocks) its own gzip member / zstd frame
Compression = Literal["none", "gzip", "gzip-multi", "zstd", "zstd-multi"]

MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = MT_LAYER_TAR + "+gzip"
MT_LAYER_ZSTD = MT_LAYER_TAR + "+zstd"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_IN_TOTO = "application/vnd.in-toto+json"

ANN_REF_NAME = "org.opencontainers.image.ref.name"
ANN_CONTAINERD_NAME = "io.containerd.image.name"
ANN_REF_TYPE = "vnd.docker.reference.type"
ANN_REF_DIGEST = "vnd.docker.reference.digest"

_OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
_BLOCK = 512
_EOF = b"\0" * (2 * _BLOCK)
_KINDS = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
}
_DEFAULT_MODES = {"dir": 0o755, "symlink": 0o777}
_LAYER_MEDIA_TYPES = {
    "none": MT_LAYER_TAR,
    "gzip": MT_LAYER_GZIP,
    "gzip-multi": MT_LAYER_GZIP,
    "zstd": MT_LAYER_ZSTD,
    "zstd-multi": MT_LAYER_ZSTD,
}


# --------------------------------------------------------------------------- description


@dataclass
class F:
    """One tar entry of a layer; ``path`` is written exactly as given, ``raw_name`` replaces it."""

    path: str
    data: bytes | None = None
    kind: Kind = "file"
    link: str = ""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    pax: dict[str, str] | None = None
    raw_name: bytes | None = None


def whiteout(path: str) -> F:
    """Whiteout entry deleting ``path``: empty regular file ``.wh.<basename>`` beside it."""
    head, _, base = path.rstrip("/").rpartition("/")
    return F(f"{head}/.wh.{base}" if head else f".wh.{base}", b"")


def opaque(dir: str) -> F:
    """Opaque-directory marker ``<dir>/.wh..wh..opq`` (empty regular file)."""
    return F(f"{dir.rstrip('/')}/.wh..wh..opq", b"")


@dataclass
class Layer:
    """A layer: its entries in tar order, history text and how its blob is stored."""

    entries: list[F]
    created_by: str = ""
    compression: Compression = "gzip"
    media_type: str | None = None
    eof_blocks: bool = True
    padded_end: bool = True  # False: the tar ends right after the last member's data (umoci 0.4)
    records: bool = False  # pad the tar to 10240-byte records, as Python's tarfile does


@dataclass
class LayerFile:
    """A layer whose tar is already written to a file (compressed into a file next to it)."""

    tar: Path
    created_by: str = ""
    compression: Literal["none", "gzip", "zstd"] = "gzip"


@dataclass
class Image:
    """An image; ``config`` is the config's ``config`` section (omitted when None)."""

    layers: list[Layer | LayerFile]
    history: list[dict] | None = None
    config: dict | None = None
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    created: str = "2024-01-01T00:00:00Z"
    tags: list[str] = field(default_factory=lambda: ["example.com/demo:latest"])
    annotations: dict[str, str] | None = None  # OCI image manifest annotations


# --------------------------------------------------------------------------- small helpers


def sha256_digest(data: Data) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + _hex(data)


def _hex(data: Data) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open(data, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _size(data: Data) -> int:
    return len(data) if isinstance(data, bytes) else data.stat().st_size


def _json(obj: object, *, sort: bool = False) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort, ensure_ascii=False).encode()


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % _BLOCK)


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``repo[:tag][@digest]`` into (repo, tag); the tag defaults to ``latest``."""
    name = ref.split("@", 1)[0]
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1 :]
    return name, "latest"


def platform_key(image: Image) -> str:
    """``os/architecture[/variant]``, the form ``omit_platform_blobs`` takes."""
    parts = [image.os, image.architecture] + ([image.variant] if image.variant else [])
    return "/".join(parts)


def _platform(image: Image) -> dict:
    plat = {"architecture": image.architecture, "os": image.os}
    if image.variant:
        plat["variant"] = image.variant
    return plat


def _descriptor(
    media_type: str, data: Data, *, platform: dict | None = None, annotations: dict | None = None, hex: str = ""
) -> dict:
    desc: dict = {"mediaType": media_type, "digest": f"sha256:{hex or _hex(data)}", "size": _size(data)}
    if platform is not None:
        desc["platform"] = platform
    if annotations:
        desc["annotations"] = dict(sorted(annotations.items()))
    return desc


# --------------------------------------------------------------------------- tar writing


def pax_record(key: bytes, value: bytes) -> bytes:
    """One PAX extended-header record, `LEN key=value\n`, LEN counting its own digits."""
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n = len(str(n)) + len(body)
    return str(n).encode() + body


def _ascii_fit(raw: bytes) -> str:
    """Go archive/tar's fallback ustar name: non-ASCII bytes dropped, cut to 100 bytes."""
    return bytes(b for b in raw if b < 0x80)[:100].decode("ascii")


def _header_and_data(ti: tarfile.TarInfo, data: bytes = b"") -> bytes:
    ti.size = len(data)
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + _pad(data)


_Member = tuple[Data, ...]  # an archive member's pieces, written one after another


def _member(ti: tarfile.TarInfo, data: Data = b"") -> _Member:
    if isinstance(data, bytes):
        return (_header_and_data(ti, data),)
    ti.size = _size(data)
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), data, b"\0" * (-ti.size % _BLOCK)


def _entry(f: F) -> bytes:
    """Header(s) and padded data of one layer entry."""
    if f.kind not in _KINDS:
        raise ValueError(f"unknown entry kind {f.kind!r}")
    ti = tarfile.TarInfo(f.path)
    ti.type = _KINDS[f.kind]
    ti.mode = f.mode if f.mode is not None else _DEFAULT_MODES.get(f.kind, 0o644)
    ti.uid, ti.gid, ti.mtime = f.uid, f.gid, f.mtime
    ti.linkname = f.link
    data = (f.data or b"") if f.kind == "file" else b""
    raw = f.raw_name
    if raw is None or (raw.isascii() and len(raw) <= 100):
        if raw is not None:
            ti.name = raw.decode("ascii")
        ti.pax_headers = dict(f.pax or {})
        return _header_and_data(ti, data)
    # Exact name bytes in a PAX ``path`` record, as Go writes them (no hdrcharset record).
    records = pax_record(b"path", raw)
    link = f.link.encode("utf-8", "surrogateescape")
    if not link.isascii() or len(link) > 100:
        records += pax_record(b"linkpath", link)
        ti.linkname = _ascii_fit(link)
    for key, value in (f.pax or {}).items():
        records += pax_record(key.encode(), value.encode("utf-8", "surrogateescape"))
    ti.name = _ascii_fit(raw)
    head, _, base = ti.name.rstrip("/").rpartition("/")
    xhdr = tarfile.TarInfo(_ascii_fit(f"{head}/PaxHeaders.0/{base}".lstrip("/").encode()))
    xhdr.type, xhdr.mode, xhdr.size = tarfile.XHDTYPE, 0, len(records)
    ti.size = len(data)
    return (
        xhdr.tobuf(tarfile.USTAR_FORMAT, "utf-8") + _pad(records) + ti.tobuf(tarfile.USTAR_FORMAT, "utf-8") + _pad(data)
    )


def _tar_chunks(layer: Layer) -> list[bytes]:
    """Per-entry pieces of the layer tar (the end-of-archive blocks are the last piece)."""
    chunks = [_entry(f) for f in layer.entries]
    if not layer.padded_end:
        if chunks and layer.entries[-1].kind == "file":
            chunks[-1] = chunks[-1][: len(chunks[-1]) - (-len(layer.entries[-1].data or b"") % _BLOCK)]
        return chunks
    if layer.eof_blocks:
        chunks.append(_EOF)
    if layer.records:
        chunks.append(b"\0" * (-sum(map(len, chunks)) % tarfile.RECORDSIZE))
    return chunks


def layer_tar(layer: Layer) -> bytes:
    """Uncompressed tar bytes of a layer (its diff_id is their sha256)."""
    return b"".join(_tar_chunks(layer))


GZIP_LEVEL = 6  # Go's and gzip's default
ZSTD_LEVEL = 3


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def _compress_file(tar: Path, compression: Compression) -> Path:
    """The blob of a `LayerFile`: its tar, or a compressed copy written next to it."""
    if compression == "none":
        return tar
    out = tar.with_name(f"{tar.name}.{'gz' if compression == 'gzip' else 'zst'}")
    with open(tar, "rb") as src, open(out, "wb") as dst:
        if compression == "gzip":
            with gzip.GzipFile(fileobj=dst, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
                shutil.copyfileobj(src, gz, 1 << 20)
        elif compression == "zstd":
            zstandard.ZstdCompressor(level=ZSTD_LEVEL).copy_stream(src, dst)
        else:
            raise ValueError(f"unknown compression {compression!r} for a layer file")
    return out


def layer_blob(layer: Layer, compression: Compression | None = None) -> bytes:
    """Stored bytes of a layer, compressed as ``compression`` (default ``layer.compression``).

    The ``-multi`` forms compress each tar entry (and the end blocks) as its own gzip
    member / zstd frame.
    """
    compression = compression or layer.compression
    chunks = _tar_chunks(layer)
    if compression == "none":
        return b"".join(chunks)
    if compression == "gzip":
        return _gzip(b"".join(chunks))
    if compression == "zstd":
        return _zstd(b"".join(chunks))
    if compression == "gzip-multi":
        return b"".join(_gzip(c) for c in chunks or [b""])
    if compression == "zstd-multi":
        return b"".join(_zstd(c) for c in chunks or [b""])
    raise ValueError(f"unknown compression {compression!r}")


def layer_media_type(layer: Layer, compression: Compression | None = None) -> str:
    """Declared media type: ``layer.media_type`` if set, else the one matching the compression."""
    return layer.media_type or _LAYER_MEDIA_TYPES[compression or layer.compression]


def _archive_file(name: str, data: Data, mode: int = 0o644) -> _Member:
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    return _member(ti, data)


def _archive_dir(name: str) -> _Member:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
    return _member(ti)


def _archive_symlink(name: str, target: str) -> _Member:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname = tarfile.SYMTYPE, 0, target  # skopeo writes mode 0
    return _member(ti)


def _write_archive(path: PathLike, members: list[_Member], *, gzipped: bool = False) -> Path:
    pieces = [piece for member in members for piece in member] + [_EOF]
    out = Path(path)
    if gzipped:
        out.write_bytes(_gzip(b"".join(p if isinstance(p, bytes) else p.read_bytes() for p in pieces)))
        return out
    with open(out, "wb") as f:
        for piece in pieces:
            if isinstance(piece, bytes):
                f.write(piece)
            else:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, f, 1 << 20)
    return out


def write_gzip(src: Path, dst: Path) -> Path:
    """Gzip a finished archive (mtime 0, no file name in the header)."""
    dst = Path(dst)
    dst.write_bytes(_gzip(Path(src).read_bytes()))
    return dst


# --------------------------------------------------------------------------- image blobs


@dataclass
class _Blob:
    data: Data
    media_type: str
    diff_id: str
    hex: str = field(init=False)

    def __post_init__(self) -> None:
        self.hex = _hex(self.data)  # once: a file blob is hashed by streaming it

    def descriptor(self) -> dict:
        return _descriptor(self.media_type, self.data, hex=self.hex)


@dataclass
class _Built:
    config: bytes
    layers: list[_Blob]
    manifest: bytes


def _history(image: Image) -> list[dict]:
    if image.history is not None:
        return image.history
    entries = []
    for layer in image.layers:
        entry = {"created": image.created}
        if layer.created_by:
            entry["created_by"] = layer.created_by
        entries.append(entry)
    return entries


def _build(image: Image, *, compression: Compression | None = None, config_platform: bool = False) -> _Built:
    """Config, layer blobs and OCI manifest; ``compression`` overrides every layer's."""
    layers = [_layer(layer, compression) for layer in image.layers]
    cfg: dict = {
        "architecture": image.architecture,
        "os": image.os,
        "created": image.created,
        "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in layers]},
        "history": _history(image),
    }
    if image.variant:
        cfg["variant"] = image.variant
    if image.config is not None:
        cfg["config"] = image.config
    config = _json(cfg, sort=True)
    manifest: dict = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": _descriptor(MT_CONFIG, config, platform=_platform(image) if config_platform else None),
        "layers": [b.descriptor() for b in layers],
    }
    if image.annotations:
        manifest["annotations"] = dict(sorted(image.annotations.items()))
    return _Built(config, layers, _json(manifest))


def _layer(layer: Layer | LayerFile, compression: Compression | None) -> _Blob:
    if isinstance(layer, LayerFile):
        kind = compression or layer.compression
        return _Blob(_compress_file(layer.tar, kind), _LAYER_MEDIA_TYPES[kind], sha256_digest(layer.tar))
    return _Blob(layer_blob(layer, compression), layer_media_type(layer, compression), sha256_digest(layer_tar(layer)))


def _v1_layers(image: Image, built: _Built) -> list[tuple[str, bytes]]:
    """Legacy v1 (id, json) per layer; ids derive from the chain ID like moby's ``CreateID``."""
    cfg = json.loads(built.config)
    out: list[tuple[str, bytes]] = []
    chain = parent = ""
    for i, blob in enumerate(built.layers):
        chain = sha256_digest(f"{chain} {blob.diff_id}".encode()) if chain else blob.diff_id
        v1: dict = {"created": "1970-01-01T00:00:00Z", "container_config": {"Cmd": None}}
        if i == len(built.layers) - 1:
            v1.update((k, cfg[k]) for k in ("created", "config", "architecture", "variant") if k in cfg)
        v1["os"] = image.os
        v1_id = _hex(_json({**v1, "layer_id": chain, "parent": parent}, sort=True))
        v1["id"] = v1_id
        if parent:
            v1["parent"] = parent
        out.append((v1_id, _json(v1)))
        parent = v1_id
    return out


def _as_list(images: Image | list[Image]) -> list[Image]:
    return [images] if isinstance(images, Image) else list(images)


# --------------------------------------------------------------------------- writers


def write_docker_archive(
    images: Image | list[Image],
    path: PathLike,
    *,
    symlink_layers: bool = False,
    gzip_layers: bool = False,
) -> Path:
    """Legacy ``docker save`` archive (one ``manifest.json`` item per image).

    Default: Docker's shape, entries sorted by name, ``<v1id>/`` directories holding
    ``VERSION``, ``json`` and ``layer.tar``. ``symlink_layers``: skopeo's shape, mode 0444, no
    directory entries, layer data stored once as ``<diffid-hex>.tar`` and ``<v1id>/layer.tar``
    a symlink to it. Layers are uncompressed unless ``gzip_layers`` (then each follows
    ``Layer.compression``; the file names stay ``.tar``).
    """
    mode = 0o444 if symlink_layers else 0o644
    members: dict[str, bytes] = {}  # name -> serialized entry; the first writer of a name wins
    manifest = []
    repositories: dict[str, dict[str, str]] = {}

    def add(name: str, member: bytes) -> None:
        members.setdefault(name, member)

    for image in _as_list(images):
        built = _build(image, compression=None if gzip_layers else "none")
        config_name = f"{_hex(built.config)}.json"
        v1 = _v1_layers(image, built)
        if symlink_layers:
            layer_names = [f"{b.diff_id.removeprefix('sha256:')}.tar" for b in built.layers]
            for name, blob in zip(layer_names, built.layers, strict=True):
                add(name, _archive_file(name, blob.data, mode))
        else:
            layer_names = [f"{v1_id}/layer.tar" for v1_id, _ in v1]
        add(config_name, _archive_file(config_name, built.config, mode))
        for (v1_id, v1_json), blob, name in zip(v1, built.layers, layer_names, strict=True):
            if symlink_layers:
                add(f"{v1_id}/layer.tar", _archive_symlink(f"{v1_id}/layer.tar", f"../{name}"))
            else:
                add(f"{v1_id}/", _archive_dir(f"{v1_id}/"))
                add(name, _archive_file(name, blob.data, mode))
            add(f"{v1_id}/VERSION", _archive_file(f"{v1_id}/VERSION", b"1.0", mode))
            add(f"{v1_id}/json", _archive_file(f"{v1_id}/json", v1_json, mode))
        manifest.append({"Config": config_name, "RepoTags": image.tags, "Layers": layer_names})
        if v1:
            for ref in image.tags:
                repo, tag = split_ref(ref)
                repositories.setdefault(repo, {})[tag] = v1[-1][0]
    add("manifest.json", _archive_file("manifest.json", _json(manifest), mode))
    add("repositories", _archive_file("repositories", _json(repositories), mode))
    names = list(members) if symlink_layers else sorted(members)
    return _write_archive(path, [members[n] for n in names])


def write_kaniko_archive(image: Image, path: PathLike) -> Path:
    """crane/kaniko tarball: config ``sha256:<hex>``, layers ``<blob-hex>.tar.gz``, ``manifest.json``.

    Layer blobs follow ``Layer.compression`` (gzip by default) whatever their file name says.
    """
    built = _build(image)
    config_name = sha256_digest(built.config)
    members = [_archive_file(config_name, built.config)]
    layer_names = []
    for blob in built.layers:
        name = f"{blob.hex}.tar.gz"
        if name not in layer_names:
            members.append(_archive_file(name, blob.data))
        layer_names.append(name)
    manifest = [{"Config": config_name, "RepoTags": image.tags, "Layers": layer_names}]
    members.append(_archive_file("manifest.json", _json(manifest)))
    return _write_archive(path, members)


def write_docker25_archive(image: Image, path: PathLike) -> Path:
    """Docker 25+ ``docker save``: OCI layout plus ``manifest.json`` and ``repositories``.

    Layers are uncompressed blobs named by diff_id; the manifest's config descriptor carries
    ``platform``; the legacy v1 ``json`` of each layer is stored as an unreferenced blob; one
    ``index.json`` descriptor per tag.
    """
    built = _build(image, compression="none", config_platform=True)
    blobs = {_hex(built.config): built.config, _hex(built.manifest): built.manifest}
    blobs.update((b.hex, b.data) for b in built.layers)
    v1 = _v1_layers(image, built)
    blobs.update((_hex(v1_json), v1_json) for _, v1_json in v1)
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [
            _descriptor(
                MT_MANIFEST,
                built.manifest,
                platform=_platform(image),
                annotations={ANN_CONTAINERD_NAME: ref, ANN_REF_NAME: split_ref(ref)[1]},
            )
            for ref in image.tags
        ],
    }
    manifest = [
        {
            "Config": f"blobs/sha256/{_hex(built.config)}",
            "RepoTags": image.tags,
            "Layers": [f"blobs/sha256/{b.hex}" for b in built.layers],
        }
    ]
    repositories: dict[str, dict[str, str]] = {}
    if built.layers:
        for ref in image.tags:
            repo, tag = split_ref(ref)
            repositories.setdefault(repo, {})[tag] = built.layers[-1].hex
    members = [_archive_dir("blobs/"), _archive_dir("blobs/sha256/")]
    members += [_archive_file(f"blobs/sha256/{h}", blobs[h]) for h in sorted(blobs)]
    members += [
        _archive_file("index.json", _json(index)),
        _archive_file("manifest.json", _json(manifest) + b"\n"),
        _archive_file("oci-layout", _OCI_LAYOUT),
        _archive_file("repositories", _json(repositories)),
    ]
    return _write_archive(path, members)


def _attestation(image: Image, subject: dict) -> tuple[dict, list[bytes]]:
    """BuildKit-style provenance attestation manifest for ``subject`` and its blobs."""
    predicate_type = "https://slsa.dev/provenance/v0.2"
    repo, tag = split_ref(image.tags[0]) if image.tags else ("unnamed", "latest")
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [
            {
                "name": f"pkg:docker/{repo}@{tag}?platform={quote(platform_key(image), safe='')}",
                "digest": {"sha256": subject["digest"].removeprefix("sha256:")},
            }
        ],
        "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"},
    }
    layer = _json(statement)
    unknown = {"architecture": "unknown", "os": "unknown"}
    config = _json(
        {**unknown, "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]}},
        sort=True,
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": _descriptor(MT_CONFIG, config),
            "layers": [_descriptor(MT_IN_TOTO, layer, annotations={"in-toto.io/predicate-type": predicate_type})],
        }
    )
    desc = _descriptor(
        MT_MANIFEST,
        manifest,
        platform=unknown,
        annotations={ANN_REF_TYPE: "attestation-manifest", ANN_REF_DIGEST: subject["digest"]},
    )
    return desc, [config, layer, manifest]


def write_oci(
    images: Image | list[Image],
    path: PathLike,
    *,
    as_dir: bool = False,
    nested_index: bool = False,
    attestation: bool = False,
    ref_names: list[str] | None = None,
    omit_platform_blobs: set[str] | frozenset[str] = frozenset(),
    outer_gzip: bool = False,
) -> Path:
    """OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/*``) as tar or directory.

    ``index.json`` lists one manifest per image (with ``platform`` and a ref-name annotation
    from ``ref_names`` or the first tag's tag part), or with ``nested_index`` one descriptor
    of an image index blob listing them. ``attestation`` adds a provenance attestation
    manifest per image after the image manifests; ``omit_platform_blobs`` (``os/arch[/variant]``
    keys) leaves out the manifest, config and layer blobs of those platforms.
    """
    if as_dir and outer_gzip:
        raise ValueError("outer_gzip needs a tar archive, not as_dir")
    image_list = _as_list(images)
    names = ref_names
    if names is None:
        names = [split_ref(image.tags[0])[1] if image.tags else "" for image in image_list]
    blobs: dict[str, Data] = {}

    def keep(*datas: bytes) -> None:
        blobs.update((_hex(d), d) for d in datas)

    descriptors, attestations = [], []
    for image in image_list:
        built = _build(image)
        if platform_key(image) not in omit_platform_blobs:
            keep(built.config, built.manifest)
            blobs.update((b.hex, b.data) for b in built.layers)
        desc = _descriptor(MT_MANIFEST, built.manifest, platform=_platform(image))
        descriptors.append(desc)
        if attestation:
            att_desc, att_blobs = _attestation(image, desc)
            keep(*att_blobs)
            attestations.append(att_desc)
    if nested_index:
        nested = _json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descriptors + attestations})
        keep(nested)
        name = names[0] if names else ""
        top = [_descriptor(MT_INDEX, nested, annotations={ANN_REF_NAME: name} if name else None)]
    else:
        if len(names) != len(image_list):
            raise ValueError("ref_names needs one name per image")
        for desc, name in zip(descriptors, names, strict=True):
            if name:
                desc["annotations"] = {ANN_REF_NAME: name}
        top = descriptors + attestations
    index = _json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": top})
    out = Path(path)
    if as_dir:
        (out / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        for hex_digest, data in blobs.items():
            blob = out / "blobs" / "sha256" / hex_digest
            if isinstance(data, bytes):
                blob.write_bytes(data)
            else:
                shutil.copyfile(data, blob)
        (out / "index.json").write_bytes(index)
        (out / "oci-layout").write_bytes(_OCI_LAYOUT)
        return out
    members = [_archive_dir("blobs/"), _archive_dir("blobs/sha256/")]
    members += [_archive_file(f"blobs/sha256/{h}", blobs[h]) for h in sorted(blobs)]
    members += [_archive_file("index.json", index), _archive_file("oci-layout", _OCI_LAYOUT)]
    return _write_archive(out, members, gzipped=outer_gzip)
