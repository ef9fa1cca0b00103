"""The image summary: names, platform, sizes, waste by cause, config, and a bar of the layers."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from ...analysis.image import Image
from ...analysis.waste import CAUSES
from ...present.text import CAUSE_MEANINGS, display_name, human_size
from .details import field


class LayerBar(Widget):
    """Layers side by side by stored bytes; the part of each that upper layers hide is marked."""

    DEFAULT_CSS = "LayerBar { height: 2; }"

    def __init__(self) -> None:
        super().__init__()
        self.image: Image | None = None

    def render(self) -> Content:
        image = self.image
        width = max(10, self.size.width)
        if image is None or image.waste is None or not image.waste.stored:
            return Content("")
        waste = image.waste
        sizes = [layer.content_bytes for layer in image.layers]
        total = sum(sizes)
        cells: list[Content] = []
        start = 0
        for layer, size in zip(image.layers, sizes, strict=True):
            end = start + size
            first, last = round(start * width / total), round(end * width / total)
            span = last - first
            start = end
            if span <= 0:
                continue
            wasted = round(span * waste.stored_by_layer.get(layer.index, 0) / size) if size else 0
            colour = "$primary" if layer.index % 2 == 0 else "$secondary"
            cells.append(Content.styled("█" * (span - wasted), colour))
            cells.append(Content.styled("░" * wasted, "$error"))
        legend = Content.assemble(
            ("█", "$primary"),
            ("█", "$secondary"),
            (" layers by stored bytes, left = base   ", "$text-muted"),
            ("░", "$error"),
            (" hidden by a layer above (wasted)", "$text-muted"),
        )
        return Content("").join(cells) + Content("\n") + legend


class SummaryView(VerticalScroll):
    """What the whole image is and what it costs."""

    def compose(self):
        yield Static(id="summary-body")
        yield LayerBar()
        yield Static(id="summary-config")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.platforms: list[str] = []  # every platform the archive holds
        self.how_to_switch = "open one with --platform"  # or the palette, when the input can be read again

    def _other_platforms(self, image: Image) -> list[Content]:
        others = [p for p in self.platforms if p != image.platform]
        if not others:
            return []
        also = f"also in the archive: {', '.join(others)}"
        return [field("", also, "$text-muted"), field("", self.how_to_switch, "$text-muted")]  # apart: no wrap at 80

    def show(self, image: Image | None, source: str, stacked: int, stopped: str | None = None) -> None:
        """The summary of `image` with `stacked` layers analysed, or why analysis `stopped`."""
        body = self.query_one("#summary-body", Static)
        config_view = self.query_one("#summary-config", Static)
        self.query_one(LayerBar).image = image
        self.query_one(LayerBar).refresh()
        if image is None:
            body.update(Content("Reading the archive…"))
            return
        lines = [
            field("source", source),
            field("names", ", ".join(image.names) or "(untagged)"),
            field("platform", image.platform or "-"),
            *self._other_platforms(image),
            field("layers", f"{len(image.layers)} ({len(image.history)} build steps)"),
            field("compressed", human_size(image.compressed_size)),
        ]
        waste = image.waste
        if stopped is not None:
            lines.append(Content.styled(stopped, "$text-error"))
        elif waste is None:
            lines.append(Content.styled(f"Analysing layers… {stacked} of {len(image.layers)} done.", "$text-muted"))
        else:
            lines += [
                field("stored", f"{human_size(waste.stored)} of file content across all layers"),
                field("visible", f"{human_size(waste.visible)} reachable in the final filesystem"),
                field("wasted", f"{human_size(waste.wasted)}", "bold $text-warning" if waste.wasted else ""),
            ]
            for cause in CAUSES:
                if waste.by_cause.get(cause):
                    lines.append(
                        Content.assemble(
                            ("  ", ""),
                            (f"{human_size(waste.by_cause[cause]):>9}", "$text-warning"),
                            (f"  {CAUSE_MEANINGS[cause]}", "$text-muted"),
                        )
                    )
            lines.append(field("efficiency", f"{waste.efficiency:.1%}"))
        if image.warnings:
            lines.append(Content.styled(f"\n{len(image.warnings)} warning(s):", "bold $text-warning"))
            lines += [Content.styled(f"  {display_name(w)}", "$text-warning") for w in image.warnings[:50]]
        body.update(Content("\n").join(lines))

        config = image.config
        rows = [Content.styled("\nConfig", "bold")]
        rows.append(field("entrypoint", " ".join(config.entrypoint) if config.entrypoint else "-"))
        rows.append(field("cmd", " ".join(config.cmd) if config.cmd else "-"))
        rows.append(field("user", config.user or "-"))
        rows.append(field("workdir", config.workdir or "-"))
        rows.append(field("ports", ", ".join(config.exposed_ports) or "-"))
        rows.append(field("created", config.created or "-"))
        rows.append(field("env", "" if config.env else "-"))
        rows += [Content("  ") + Content(display_name(e)) for e in config.env]
        rows.append(field("labels", "" if config.labels else "-"))
        rows += [
            Content.assemble((f"  {display_name(k)}", "$text-muted"), " = ", display_name(v))
            for k, v in sorted(config.labels.items())
        ]
        config_view.update(Content("\n").join(rows))
