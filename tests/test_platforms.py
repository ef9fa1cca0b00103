"""One platform matcher (`manifests.platform_matches`), with containerd's normalisation: the
index's platforms and a config's platform are matched alike."""

from __future__ import annotations

import pytest

from explorer.analysis import ImageError, load
from explorer.archive.manifests import normalize_platform, platform_matches
from explorer.archive.options import OpenOptions

from .imagebuilder import F, Image, Layer, write_docker_archive, write_oci


@pytest.mark.parametrize(
    ("wanted", "have", "same"),
    [
        ("linux/arm", "linux/arm/v7", True),  # arm's default variant is v7
        ("linux/arm/v7", "linux/arm", True),
        ("linux/arm/7", "linux/arm/v7", True),
        ("linux/arm/v6", "linux/arm", False),
        ("linux/arm", "linux/arm/v6", False),
        ("linux/arm64", "linux/arm64/v8", True),  # arm64's is v8
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/aarch64", "linux/arm64/v8", True),
        ("linux/arm64/v8.0", "linux/arm64", True),
        ("linux/arm64/v9", "linux/arm64", False),
        ("linux/arm64", "linux/arm/v7", False),
        ("linux/amd64", "linux/amd64/v1", True),  # amd64's is v1
        ("linux/x86_64", "linux/amd64", True),
        ("linux/amd64/v3", "linux/amd64", False),
        ("windows/amd64", "linux/amd64", False),
        ("Linux/ARM64", "linux/arm64", True),
    ],
)
def test_platform_matches(wanted, have, same):
    assert platform_matches(wanted, have) is same
    assert platform_matches(have, wanted) is same


def test_normalize_platform():
    assert normalize_platform("linux/arm") == ("linux", "arm", "v7")
    assert normalize_platform("linux/armhf") == ("linux", "arm", "v7")
    assert normalize_platform("linux/armel") == ("linux", "arm", "v6")
    assert normalize_platform("linux/arm64") == ("linux", "arm64", "v8")
    assert normalize_platform("linux/i386") == ("linux", "386", "")
    assert normalize_platform("macos/arm64") == ("darwin", "arm64", "v8")


def _arch(arch: str, variant: str | None = None) -> Image:
    return Image([Layer([F("etc/arch", f"{arch}/{variant}".encode())])], architecture=arch, variant=variant)


@pytest.mark.parametrize("wanted", ["linux/arm", "linux/arm/v7"])
def test_index_and_config_agree_on_arm(tmp_path, wanted):
    """`linux/arm` and `linux/arm/v7` are the same platform, in an index and in a lone config
    (they disagreed when the index and the config had a matcher each)."""
    index = write_oci([_arch("amd64"), _arch("arm")], tmp_path / "index.tar")
    assert load(str(index), OpenOptions(platform=wanted)).fs.lookup("etc/arch") is not None
    config = write_docker_archive(_arch("arm"), tmp_path / "config.tar")
    assert load(str(config), OpenOptions(platform=wanted)).platform == "linux/arm"


@pytest.mark.parametrize("wanted", ["linux/arm64", "linux/arm64/v8"])
def test_index_and_config_agree_on_arm64(tmp_path, wanted):
    index = write_oci([_arch("amd64"), _arch("arm64", "v8")], tmp_path / "index.tar")
    assert load(str(index), OpenOptions(platform=wanted)).platform == "linux/arm64/v8"
    config = write_docker_archive(_arch("arm64"), tmp_path / "config.tar")
    assert load(str(config), OpenOptions(platform=wanted)).platform == "linux/arm64"


def test_another_arm_variant_is_not_chosen(tmp_path):
    for path in (
        write_oci([_arch("amd64"), _arch("arm")], tmp_path / "index.tar"),
        write_docker_archive(_arch("arm"), tmp_path / "config.tar"),
    ):
        with pytest.raises(ImageError, match="platform linux/arm/v6 not found"):
            load(str(path), OpenOptions(platform="linux/arm/v6"))
