"""The tests' image builder: the package's one archive writer, `explorer.archive.writer`
(F, Image, Layer, LayerFile, write_oci, write_docker_archive, layer_tar, … and the media types)."""

from explorer.archive.writer import *  # noqa: F403
