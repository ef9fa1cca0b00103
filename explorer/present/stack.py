"""The Stack view in words and numbers: a bar per layer, and the union read path of a path.

Bars are drawn top layer first (a stack read top-down, as a container reads it); each splits
the layer's stored bytes into what the final image still shows and what layers above hide, and
puts beside it what the layer hides of the layers below. A history step that made no layer is
a thin separator between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.filesystem import ADDED, MODIFIED, RESTORED, TYPE_CHANGED, Node
from ..analysis.image import Image
from ..analysis.readpath import (
    BELOW,
    GONE,
    OPAQUE,
    PARENT_DELETED,
    PARENT_REPLACED,
    UNDER_OPAQUE,
    WHITEOUT,
    WINS,
    Hit,
    hidden_bytes,
    read_path,
)
from .steps import steps_of
from .text import display_name, human_size


@dataclass(frozen=True)
class Bar:
    """One row of the stack: a layer's bytes, or (`layer` None) a step that made no layer."""

    layer: int | None
    instruction: str
    stored: int = 0  # regular-file bytes the layer stores
    wasted: int = 0  # of those, what layers above hide
    hides: int = 0  # bytes of layers below that this layer hides

    @property
    def visible(self) -> int:
        return self.stored - self.wasted


def stack_bars(image: Image) -> list[Bar]:
    """Every build step, top-most first (the waste split once the image is analysed)."""
    waste = image.waste
    bars = []
    for step in reversed(steps_of(image)):
        text = step.history.instruction if step.history is not None else ""
        if step.layer is None:
            bars.append(Bar(None, text))
            continue
        index = step.layer.index
        wasted = waste.stored_by_layer.get(index, 0) if waste is not None else 0
        hides = waste.hidden_by_layer.get(index, 0) if waste is not None else 0
        bars.append(Bar(index, text, step.layer.content_bytes, wasted, hides))
    return bars


def bar_cells(bar: Bar, most: int, width: int) -> tuple[int, int, int]:
    """Cells of the visible, wasted and hides parts of `bar` in `width` cells, where `most`
    bytes fill them all; a part with any bytes gets at least one cell. The parts add up to the
    whole bar's cells (the largest part gives or takes what their rounding adds or loses), so
    no bar runs past `width` into the instruction beside it."""

    def cells(size: int) -> int:
        return 0 if size <= 0 or most <= 0 else max(1, round(size * width / most))

    parts = [cells(bar.visible), cells(bar.wasted), cells(bar.hides)]
    whole = max(cells(bar.stored + bar.hides), sum(1 for part in parts if part))
    while sum(parts) != whole:
        parts[parts.index(max(parts))] += 1 if sum(parts) < whole else -1
    return parts[0], parts[1], parts[2]


def widest(bars: list[Bar]) -> int:
    """The bytes a full-width bar stands for: the largest layer, with what it hides."""
    return max((bar.stored + bar.hides for bar in bars), default=0)


# ---- the read path -------------------------------------------------------------------------

ACTIONS = {
    ADDED: "added",
    MODIFIED: "modified",
    RESTORED: "re-stored",
    TYPE_CHANGED: "type change",
    WHITEOUT: "whiteout",
    OPAQUE: "opaque dir",
    UNDER_OPAQUE: "hidden by opaque dir",
    PARENT_DELETED: "parent deleted",
    PARENT_REPLACED: "parent replaced",
}
ROLES = {WINS: "wins", GONE: "hides it", BELOW: "below"}


@dataclass(frozen=True)
class PathRow:
    """One layer with an entry for the path, as the read path lists it."""

    layer: int
    instruction: str
    action: str
    role: str
    size: int  # bytes this layer stores for the path
    wasted: bool  # a copy no one reads
    note: str


@dataclass(frozen=True)
class ReadPath:
    """The union lookup of one path, top-down, and what it means."""

    path: str
    rows: list[PathRow]
    verdict: str  # what a container sees, and from which layer
    hidden: int  # bytes stored for the path that no one reads
    cow: str | None  # copy-on-write: a re-stored file's two copies, when the top layer re-stored it

    @property
    def layers(self) -> set[int]:
        return {row.layer for row in self.rows}

    @property
    def winner(self) -> int | None:
        return self.rows[0].layer if self.rows and self.rows[0].role == ROLES[WINS] else None


def read_path_of(image: Image, node: Node) -> ReadPath:
    """The read path of `node` through every layer of the analysed `image`."""
    hits = read_path(image.fs, node)
    path = "/" + display_name(node.path)
    rows = [
        PathRow(
            hit.layer,
            image.layers[hit.layer].instruction,
            ACTIONS[hit.how],
            ROLES[hit.role],
            hit.stored,
            hit.wasted,
            _note(hit),
        )
        for hit in hits
    ]
    hidden = hidden_bytes(hits)
    return ReadPath(path, rows, _verdict(hits, hidden), hidden, _copy_on_write(hits))


def _note(hit: Hit) -> str:
    by = f"/{display_name(hit.by)}" if hit.by is not None else ""
    if hit.how == WHITEOUT:
        return "a .wh. marker deletes it"
    if hit.how == UNDER_OPAQUE:
        return f"{by} was made opaque: nothing below it shows"
    if hit.how == PARENT_DELETED:
        return f"{by} was whited out, and all in it"
    if hit.how == PARENT_REPLACED:
        return f"{by} became a non-directory"
    if hit.how == OPAQUE:
        return ".wh..wh..opq: what lower layers put here is hidden"
    if hit.how == RESTORED and hit.metadata:
        return f"{', '.join(hit.metadata)} only: stored again whole"
    if hit.how == RESTORED:
        return "the same bytes, stored again"
    if hit.wasted:
        return "still shipped, but hidden"
    return ""


def _verdict(hits: list[Hit], hidden: int) -> str:
    below = f"; {human_size(hidden)} stored below, hidden" if hidden else ""
    if not hits:
        return "No layer has an entry for it."
    top = hits[0]
    if top.role == GONE:
        return f"Not found: layer {top.layer} deleted it{below}."
    return f"A container reads it from layer {top.layer}{below}."


def _copy_on_write(hits: list[Hit]) -> str | None:
    """For a file the top layer re-stored: the two copies, and that the whole file was stored again."""
    top = hits[0] if hits else None
    if top is None or top.role != WINS or top.how != RESTORED or not top.stored:
        return None
    old = next((hit for hit in hits[1:] if hit.stored), None)
    what = f"its {' and '.join(top.metadata)}" if top.metadata else "nothing (the same bytes)"
    if old is None:
        return f"Copy-on-write: layer {top.layer} changed {what}, yet stored all {human_size(top.stored)} again."
    return (
        f"Copy-on-write: layer {top.layer} changed {what}, yet stored all {human_size(top.stored)} again;"
        f" the copy of layer {old.layer} ({human_size(old.stored)}) stays in the image, hidden."
    )
