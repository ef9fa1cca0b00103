"""Details of the selected layer (or history step): full instruction, digests, change counts."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ...analysis.filesystem import CHANGE_KINDS
from ...analysis.hints import Hints
from ...analysis.image import Image, Layer
from ...archive.config import HistoryEntry
from ...present.browse import MARKS, STATE_NAMES
from ...present.hints import KIND_LABELS
from ...present.text import display_name, human_size
from ..labels import STATE_COLOURS


def field(name: str, value: str, style: str = "", width: int = 12) -> Content:
    """One `name  value` line, names aligned to `width`; `value` is data, never markup."""
    return Content.assemble((f"{name:<{width}}", "$text-muted"), (display_name(value), style))


def instruction(lines: list[str]) -> list[Content]:
    """The instruction in bold, a line each (a heredoc's script as written, tabs as spaces)."""
    lines = lines if lines != [""] else ["(no history)"]
    return [Content.assemble((display_name(line.expandtabs()), "bold")) for line in lines]


class LayerDetails(VerticalScroll, can_focus=False):
    """Everything known of one layer; wraps, never truncates."""

    def compose(self):
        yield Static(id="details-body")

    def _set(self, *lines: Content) -> None:
        self.query_one("#details-body", Static).update(Content("\n").join(lines))

    def show_message(self, text: str) -> None:
        self._set(Content(text))

    def show_history(self, entry: HistoryEntry) -> None:
        self.border_title = "Build step (no layer)"
        self._set(
            *instruction(entry.instruction_lines),
            field("created", entry.created or "-"),
            Content.styled("This step changed only the config: no files.", "$text-muted"),
        )

    def show_layer(
        self, image: Image, layer: Layer, hints: Hints | None = None, unread: str = "not analysed yet"
    ) -> None:
        """`unread`: why the layer has no scan, if it has none."""
        self.border_title = f"Layer {layer.index}"
        lines = instruction(layer.history.instruction_lines if layer.history else [""])
        lines += [
            field("digest", layer.digest or layer.ref.blob),
            field("diff_id", layer.diff_id or "-"),
            field("media type", layer.ref.media_type or "-"),
            field("created", layer.history.created if layer.history and layer.history.created else "-"),
        ]
        size = f"{human_size(layer.blob_size)} packed"
        if layer.scan is None:
            lines.append(field("size", f"{size}; {unread}"))
            self._set(*lines)
            return
        size += f", {human_size(layer.tar_size or 0)} tar, {human_size(layer.content_bytes)} of file content"
        lines += [field("compression", layer.scan.compression), field("size", size)]
        lines += _cache_lines(layer)
        counts = [
            Content.assemble(
                (MARKS[kind], f"bold {STATE_COLOURS[kind]}"),
                f" {layer.change_counts.get(kind, 0):,} ",
                (STATE_NAMES[kind].replace(" ", "-"), "$text-muted"),
            )
            for kind in CHANGE_KINDS
        ]
        lines.append(Content("   ").join(counts))
        if image.waste is not None:
            wasted = image.waste.stored_by_layer.get(layer.index, 0)
            hides = image.waste.hidden_by_layer.get(layer.index, 0)
            lines.append(
                field("wasted here", f"{human_size(wasted)} stored here and hidden by layers above", "$text-warning")
                if wasted
                else field("wasted here", "nothing")
            )
            lines.append(
                field("hides", f"{human_size(hides)} stored by lower layers", "$text-warning")
                if hides
                else field("hides", "nothing")
            )
        if hints is not None:
            lines += _hint_lines(hints, layer.index)
        self._set(*lines)


HINTS_SHOWN = 3  # the rest are on the Hints tab
ALSO_IN_SHOWN = 3  # other images that share the layer, most recently seen first


def _cache_lines(layer: Layer) -> list[Content]:
    """Whether the layer came from the layer cache, and which other images hold it too."""
    lines = []
    if layer.from_cache:
        lines.append(field("cached", "read from the layer cache, not from its blob", "$text-success"))
    if layer.also_in:
        more = f"; {len(layer.also_in) - ALSO_IN_SHOWN} more" if len(layer.also_in) > ALSO_IN_SHOWN else ""
        lines.append(field("also in", ", ".join(layer.also_in[:ALSO_IN_SHOWN]) + more))
    return lines


def _hint_lines(hints: Hints, index: int) -> list[Content]:
    """The hints that involve this layer, most bytes saved first (each saves its own bytes if
    applied alone; they may share copies, so they are not added up here)."""
    mine = [h for h in hints.hints if index in h.layers]
    if not mine:
        return [field("hints", "none involve this layer")]
    more = f"; {len(mine) - HINTS_SHOWN} more" if len(mine) > HINTS_SHOWN else ""
    verb = "involves" if len(mine) == 1 else "involve"
    lines = [field("hints", f"{len(mine)} {verb} this layer (4: Hints{more})", "$text-warning")]
    for hint in mine[:HINTS_SHOWN]:
        saved = human_size(hint.bytes_saved) if hint.bytes_saved else "-"
        lines.append(
            Content.assemble(
                (f"  {saved:>9}  ", "$text-warning"),
                (f"{KIND_LABELS[hint.kind]}: ", "$text-muted"),
                display_name(hint.title),
            )
        )
    return lines
