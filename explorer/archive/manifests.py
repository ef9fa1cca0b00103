"""Finding the images in an archive (manifest.json, OCI index.json) and choosing one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from .config import as_text
from .errors import ImageError
from .sources import Source

MAX_INDEX_DEPTH = 32
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
ATTESTATION = "vnd.docker.reference.type"
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


@dataclass
class LayerRef:
    """Where a layer's blob is, and what its descriptor says of it."""

    blob: str
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None


Layout = Literal["docker-archive", "docker25", "oci"]  # `docker save` before Docker 25, from 25 on, OCI


@dataclass
class ImageRef:
    """One image found in an archive, before its config is read."""

    layout: Layout
    config_blob: str
    layers: list[LayerRef]
    names: list[str] = field(default_factory=list)
    platform: str | None = None
    manifest_digest: str | None = None
    config_digest: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    missing: str | None = None  # why its blobs are absent (another platform's, left out)
    warnings: list[str] = field(default_factory=list)  # what the manifests left in doubt

    def describe(self) -> str:
        """How to name this image to a person: its tags or ref names, else its config."""
        return ", ".join(self.names) or self.config_digest or self.config_blob


def blob_path(digest: object) -> str:
    if not isinstance(digest, str) or ":" not in digest:
        raise ImageError(f"malformed digest {digest!r}")
    algorithm, _, hex_ = digest.partition(":")
    if not algorithm.isalnum() or not hex_.isalnum():
        raise ImageError(f"malformed digest {digest!r}")
    return f"blobs/{algorithm}/{hex_}"


def platform_of(p: object) -> str | None:
    if not isinstance(p, dict):
        return None
    parts = [str(p.get("os", "")), str(p.get("architecture", ""))]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


def _dict(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ImageError(f"{what}: expected a JSON object")
    return value


def _list(value: object, what: str) -> list:
    if not isinstance(value, list):
        raise ImageError(f"{what}: expected a JSON list")
    return value


def _optional_list(value: object) -> list:
    """An optional list field: anything else counts as absent."""
    return value if isinstance(value, list) else []


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ImageError(f"{what}: expected a string")
    return value


def _docker_manifest(source: Source) -> list[ImageRef]:
    images = []
    for i, item in enumerate(_list(source.read_json("manifest.json"), "manifest.json")):
        item = _dict(item, f"manifest.json entry {i}")
        config = _str(item.get("Config"), f"manifest.json entry {i} Config")
        layers = [
            _str(x, f"manifest.json entry {i} Layers")
            for x in _list(item.get("Layers", []), f"manifest.json entry {i} Layers")
        ]
        tags = [t for t in _optional_list(item.get("RepoTags")) if isinstance(t, str)]
        oci = config.startswith("blobs/")
        refs = [LayerRef(blob=_clean(x), digest=_digest_from_blob(x) if oci else None) for x in layers]
        images.append(
            ImageRef(
                layout="docker25" if oci else "docker-archive",
                config_blob=_clean(config),
                layers=refs,
                names=tags,
                config_digest=_digest_from_blob(config) if oci else None,
            )
        )
    return images


def _clean(name: str) -> str:
    return name.lstrip("/").removeprefix("./")


def _digest_from_blob(path: str) -> str | None:
    parts = _clean(path).split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    return None


def _oci_index(source: Source) -> list[ImageRef]:
    index = _dict(source.read_json("index.json"), "index.json")
    images: list[ImageRef] = []
    _walk_index(source, index, "index.json", [], images, 0, set())
    return images


def _ref_names(annotations: dict) -> list[str]:
    return [
        annotations[k] for k in (CONTAINERD_NAME, REF_NAME) if isinstance(annotations.get(k), str) and annotations[k]
    ]


def _walk_index(
    source: Source, index: dict, where: str, names: list[str], out: list[ImageRef], depth: int, seen: set[str]
) -> None:
    if depth > MAX_INDEX_DEPTH:
        raise ImageError(f"{where}: image indexes nested more than {MAX_INDEX_DEPTH} deep")
    for i, desc in enumerate(_list(index.get("manifests", []), f"{where} manifests")):
        desc = _dict(desc, f"{where} manifests[{i}]")
        annotations = desc.get("annotations") if isinstance(desc.get("annotations"), dict) else {}
        platform = platform_of(desc.get("platform"))
        if platform == "unknown/unknown" or ATTESTATION in annotations:
            continue  # BuildKit attestation manifests are not images
        digest = _str(desc.get("digest"), f"{where} manifests[{i}] digest")
        path = blob_path(digest)
        desc_names = names + _ref_names(annotations)
        if digest in seen:
            raise ImageError(f"{where}: image index refers to itself ({digest})")
        if not source.exists(path):
            out.append(
                ImageRef("oci", "", [], desc_names, platform, digest, missing=f"blob {digest} is not in the archive")
            )
            continue
        body = _dict(source.read_json(path), digest)
        if (
            as_text(desc.get("mediaType")) in INDEX_TYPES
            or as_text(body.get("mediaType")) in INDEX_TYPES
            or "manifests" in body
        ):
            _walk_index(source, body, digest, desc_names, out, depth + 1, seen | {digest})
            continue
        config = _dict(body.get("config"), f"{digest} config")
        config_digest = _str(config.get("digest"), f"{digest} config digest")
        layers = []
        for j, layer in enumerate(_list(body.get("layers", []), f"{digest} layers")):
            layer = _dict(layer, f"{digest} layers[{j}]")
            ldigest = _str(layer.get("digest"), f"{digest} layers[{j}] digest")
            size = layer.get("size")
            layers.append(
                LayerRef(
                    blob=blob_path(ldigest),
                    digest=ldigest,
                    media_type=layer.get("mediaType") if isinstance(layer.get("mediaType"), str) else None,
                    size=size if isinstance(size, int) else None,
                )
            )
        manifest_annotations = body.get("annotations") if isinstance(body.get("annotations"), dict) else {}
        out.append(
            ImageRef(
                layout="oci",
                config_blob=blob_path(config_digest),
                layers=layers,
                names=desc_names,
                platform=platform,
                manifest_digest=digest,
                config_digest=config_digest,
                annotations={k: v for k, v in manifest_annotations.items() if isinstance(v, str)},
            )
        )


def find_images(source: Source, where: str | None = None) -> list[ImageRef]:
    """Every image the archive holds, in the order its manifest or index lists them (`where`,
    the input as the user named it, starts the error when there is none)."""
    if source.exists("manifest.json"):
        images = _docker_manifest(source)
        if source.exists("index.json"):  # Docker 25+: take platforms from the OCI index
            _add_platforms(images, source)
        return images
    if source.exists("index.json"):
        return _oci_index(source)
    prefix = f"{where}: " if where else ""
    raise ImageError(f"{prefix}not an image archive (no manifest.json or index.json)")


def _add_platforms(images: list[ImageRef], source: Source) -> None:
    try:
        oci = _oci_index(source)
    except ImageError:
        return
    by_config = {ref.config_blob: ref for ref in oci if not ref.missing}
    for image in images:
        match = by_config.get(image.config_blob)
        if match:
            image.platform = match.platform
            image.manifest_digest = match.manifest_digest
            image.annotations = match.annotations
            by_digest = {layer.digest: layer for layer in match.layers}
            for layer in image.layers:  # matched by digest: the two lists may differ
                oci_layer = by_digest.get(layer.digest)
                if oci_layer is not None:
                    layer.media_type = oci_layer.media_type
                    layer.size = oci_layer.size
            if [layer.digest for layer in image.layers] != [layer.digest for layer in match.layers]:
                image.warnings.append(
                    f"manifest.json and index.json list different layers for {image.describe()};"
                    " manifest.json's are used (as docker load does)"
                )


def _name_matches(ref: str, names: list[str]) -> bool:
    for name in names:
        if ref == name or name.endswith("/" + ref) or name.endswith(":" + ref) and ref.count(":") == 0:
            return True
        if ":" not in ref.rpartition("/")[2] and name.rpartition(":")[0] in (ref, ref.rpartition("/")[2]):
            return True
    return False


# Architecture aliases and default variants, as containerd's `platforms.Normalize` has them.
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "i386": "386",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
}
_ALIAS_VARIANTS = {"armhf": "v7", "armel": "v6"}
_DEFAULT_VARIANTS = {"amd64": "v1", "arm64": "v8", "arm": "v7"}


def normalize_platform(platform: str) -> tuple[str, str, str]:
    """`os/arch[/variant]` as (os, arch, variant), with containerd's aliases and default variants
    (amd64 is v1, arm64 v8, arm v7; `7` and `v7.0` are `v7`)."""
    os_, _, rest = platform.lower().partition("/")
    arch, _, variant = rest.partition("/")
    variant = variant or _ALIAS_VARIANTS.get(arch, "")
    arch = _ARCH_ALIASES.get(arch, arch)
    number = variant.removeprefix("v").removesuffix(".0")
    if number.isdigit():
        variant = f"v{number}"
    return ("darwin" if os_ == "macos" else os_), arch, variant or _DEFAULT_VARIANTS.get(arch, "")


def platform_matches(wanted: str, platform: str) -> bool:
    """Whether `platform` (an image's) is the `wanted` one (`--platform`), once both are normalized."""
    return normalize_platform(wanted) == normalize_platform(platform)


def select_image(images: list[ImageRef], platform: str | None = None, image: str | None = None) -> ImageRef:
    """Choose by --image (tag or ref name) and --platform (default linux/amd64, else the only one)."""
    if not images:
        raise ImageError("the archive lists no images")
    candidates = images
    if image:
        candidates = [i for i in images if _name_matches(image, i.names)]
        if not candidates:
            known = sorted({n for i in images for n in i.names}) or ["(no names)"]
            raise ImageError(f"image {image!r} not found; the archive has: {', '.join(known)}")
    with_platform = [i for i in candidates if i.platform]
    if platform:
        if with_platform:
            candidates = [i for i in candidates if not i.platform or platform_matches(platform, i.platform)]
            if not candidates:
                raise ImageError(f"platform {platform} not found; the archive has: {_platform_list(with_platform)}")
    elif len({i.platform for i in with_platform}) > 1:
        amd64 = [i for i in candidates if i.platform and platform_matches("linux/amd64", i.platform)]
        present = [i for i in candidates if not i.missing]
        if amd64:
            candidates = amd64
        elif len(present) == 1:
            candidates = present
        else:
            raise ImageError(f"several platforms, choose one with --platform: {_platform_list(with_platform)}")
    if (
        image
        and len({c.config_blob for c in candidates if not c.missing}) > 1
        and len({c.platform for c in candidates}) == 1
    ):
        names = sorted({n for c in candidates for n in c.names})
        raise ImageError(f"image {image!r} is ambiguous: it matches {', '.join(names)}")
    chosen = candidates[0]
    if chosen.missing:
        present = _platform_list([i for i in images if not i.missing]) or "none"
        raise ImageError(f"platform {chosen.platform or '?'}: {chosen.missing}; platforms present: {present}")
    others: dict[str, ImageRef] = {}
    for other in candidates:
        if not other.missing and other.config_blob != chosen.config_blob:
            others.setdefault(other.config_blob, other)
    if others and not image:
        listed = "; ".join(other.describe() for other in others.values())
        note = (
            f"the archive holds {len(others) + 1} images: showing {chosen.describe()} (choose with --image);"
            f" the others: {listed}"
        )
        chosen = replace(chosen, warnings=[*chosen.warnings, note])
    return chosen


def _platform_list(images: list[ImageRef]) -> str:
    return ", ".join(sorted({i.platform or "?" for i in images}))
