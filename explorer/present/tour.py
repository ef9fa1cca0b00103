"""The guided tour of the demo: a step per idea of how layers stack, each shown on the demo.

A step names the tab it shows, the widget it highlights (by id), and what to select there: a
layer (by the start of its instruction, so the steps follow the demo if its layers move), a
path of the demo (read through the stack, or shown in the tree), a hint kind, or the demo's
earlier image, compared with the open one as OLD. The words
are here; `tui.tour` only carries the steps out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.hints import CACHE_ORDER, PACKAGE_CACHE
from ..analysis.image import Image
from ..demo import V1


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str
    tab: str  # the app's tab: explorer, waste, hints, stack…
    target: str  # id of the widget highlighted
    layer: str | None = None  # the layer selected: the start of its instruction
    path: str | None = None  # a path of the demo: its read path (stack tab) or its tree row (explorer)
    hint: str | None = None  # the hint kind selected (hints tab)
    concept: str | None = None  # the help screen's concept this step shows
    compare_with: str | None = None  # an earlier image of the demo archive, compared as OLD on the Compare tab


TOUR: list[TourStep] = [
    TourStep(
        "An image is a list of layers",
        "An image is an ordered list of tar archives, the layers, plus a JSON config. Each row here is one"
        " build step: a RUN, COPY or ADD makes a layer; ENV and CMD (dimmed) change only the config.",
        "explorer",
        "layers",
        layer="ADD rootfs",
        concept="layers",
    ),
    TourStep(
        "The union read path",
        "A container sees the union of the layers: a path is read from the top-most layer that has an"
        " entry for it. /app/app.conf is in two layers: the upper one wins, the lower copy stays below.",
        "stack",
        "stack-right",
        path="app/app.conf",
        concept="union",
    ),
    TourStep(
        "Adding files",
        "A layer holds only what its step changed. This COPY adds /app: each file marked A is new here,"
        " and the layers below are not touched.",
        "explorer",
        "tree",
        layer="COPY app/",
        path="app/model.bin",
    ),
    TourStep(
        "Copy-on-write",
        "`chmod` changed only a mode bit, yet the layer stores the whole 3 MB file again: layers are"
        " copy-on-write per file. Both copies ship; the read path shows them.",
        "stack",
        "stack-right",
        layer="RUN chmod",
        path="app/model.bin",
        concept="copy-on-write",
    ),
    TourStep(
        "Whiteouts and opaque directories",
        "A deletion is a whiteout, an empty `.wh.NAME` marker. `.wh..wh..opq` makes a directory opaque:"
        " all that lower layers put in it is hidden, as the docs here.",
        "stack",
        "stack-right",
        path="usr/share/docs/guide-0.txt",
        concept="whiteout",
    ),
    TourStep(
        "A late rm saves nothing",
        "`RUN rm -rf /var/cache/apk` came one step late: its whiteout hides the cache, but the layer"
        " below still ships every byte (its red part). Delete in the RUN that creates the files.",
        "stack",
        "stack-bars",
        layer="RUN apk add python3",
        path="var/cache/apk/APKINDEX.tar.gz",
        concept="late-rm",
    ),
    TourStep(
        "The build cache",
        "A builder reuses a step's layer while the step and all before it are unchanged. `COPY . /src`"
        " before `pip install` means any source edit rebuilds every layer from the COPY up.",
        "hints",
        "hints-table",
        hint=CACHE_ORDER,
        concept="cache",
    ),
    TourStep(
        "Layer reuse",
        "This archive also holds demo:v1, an earlier build: v1 (OLD) against the open v2 (NEW) shows what"
        " changed. Layers with the same diff_id are the same bytes (the shared base), which a registry"
        " and a host store once.",
        "compare",
        "compare-layers",
        concept="reuse",
        compare_with=V1,
    ),
    TourStep(
        "Where the bytes went",
        "Every stored copy the final image cannot reach, with the layer that stored it and the one that"
        " hid it: deleted, overwritten, or stored again unchanged.",
        "waste",
        "waste-table",
        concept="waste",
    ),
    TourStep(
        "How to fix it",
        "The hints turn the waste into Dockerfile changes, most bytes saved first: clean caches in the"
        " RUN that makes them, chmod in the COPY (`COPY --chmod`), order steps for the cache.",
        "hints",
        "hints-table",
        hint=PACKAGE_CACHE,
    ),
]


def step_of(concept: str) -> int:
    """The index of the step that shows `concept` (the first step if none does)."""
    return next((i for i, step in enumerate(TOUR) if step.concept == concept), 0)


def layer_of(image: Image, step: TourStep) -> int | None:
    """The layer `step` selects in `image`: the first whose instruction starts with its text."""
    if step.layer is None:
        return None
    return next((layer.index for layer in image.layers if layer.instruction.startswith(step.layer)), None)


def step_heading(index: int, step: TourStep) -> str:
    return f"Tour {index + 1}/{len(TOUR)} · {step.title}"
