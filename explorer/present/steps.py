"""The build steps of an image in history order: its layers, and the steps that made none."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.image import Image, Layer
from ..archive.config import HistoryEntry


@dataclass
class Step:
    """A layer, or a build step that made no layer (ENV, CMD…)."""

    layer: Layer | None
    history: HistoryEntry | None


def steps_of(image: Image) -> list[Step]:
    """Layers and history-only entries, in history order (layers without history in place)."""
    steps: list[Step] = []
    next_layer = 0
    for entry in image.history:
        if entry.layer is None:
            steps.append(Step(None, entry))
            continue
        while next_layer <= entry.layer:
            layer = image.layers[next_layer]
            steps.append(Step(layer, layer.history))
            next_layer += 1
    steps.extend(Step(layer, layer.history) for layer in image.layers[next_layer:])
    return steps
