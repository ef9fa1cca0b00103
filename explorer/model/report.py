"""The non-interactive report: a JSON document (stable schema) and a Rich rendering of it."""

from __future__ import annotations

import math

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .image import Image
from .text import display_name, human_size
from .waste import CAUSES

SCHEMA = "layerscope.report/v1"


def _number(x: float) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return x if math.isfinite(x) else None


def dive_figures(image: Image) -> dict | None:
    """dive's own efficiency, wasted bytes and user-wasted fraction, quirks included (None
    unless the image was opened with dive=True)."""
    if image.dive is None:
        return None
    result = image.dive.result()
    return {
        "efficiency": _number(result.efficiency),
        "wasted_bytes": result.wasted_bytes,
        "user_wasted_percent": _number(result.user_wasted_percent * 100),
    }


def report_dict(image: Image, top: int | None = None) -> dict:
    """Everything the report says, all sizes in bytes. `top` limits the waste and duplicate lists."""
    waste = image.waste
    assert waste is not None, "analyse() the image first"
    cfg = image.config
    return {
        "schema": SCHEMA,
        "image": {
            "path": image.path,
            "layout": image.ref.layout,
            "names": image.names,
            "platform": image.platform,
            "manifest_digest": image.ref.manifest_digest,
            "config_digest": image.ref.config_digest,
            "created": cfg.created,
            "config": {
                "entrypoint": cfg.entrypoint,
                "cmd": cfg.cmd,
                "env": cfg.env,
                "user": cfg.user,
                "workdir": cfg.workdir,
                "exposed_ports": cfg.exposed_ports,
                "labels": cfg.labels,
            },
        },
        "summary": {
            "layers": len(image.layers),
            "stored_bytes": waste.stored,
            "visible_bytes": waste.visible,
            "wasted_bytes": waste.wasted,
            "wasted_by_cause": dict(waste.by_cause),
            "efficiency": waste.efficiency,
            "compressed_bytes": image.compressed_size,
            "uncompressed_bytes": sum(layer.tar_size or 0 for layer in image.layers),
            "duplicate_bytes": sum(d.extra_bytes for d in waste.duplicates),
        },
        "layers": [
            {
                "index": layer.index,
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "media_type": layer.ref.media_type,
                "compression": layer.scan.compression if layer.scan else None,
                "blob_bytes": layer.blob_size,
                "tar_bytes": layer.tar_size,
                "content_bytes": layer.content_bytes,
                "entries": layer.entry_counts,
                "changes": layer.change_counts,
                "wasted_here_bytes": waste.stored_by_layer.get(layer.index, 0),
                "hides_bytes": waste.hidden_by_layer.get(layer.index, 0),
                "instruction": layer.instruction,
                "created_by": layer.created_by,
                "created": layer.history.created if layer.history else None,
                "comment": layer.history.comment if layer.history else None,
            }
            for layer in image.layers
        ],
        "history": [
            {
                "created_by": h.created_by,
                "created": h.created,
                "comment": h.comment,
                "empty_layer": h.empty_layer,
                "layer": h.layer,
            }
            for h in image.history
        ],
        "waste": [
            {"path": i.path, "bytes": i.size, "cause": i.cause, "stored_in": i.stored_in, "hidden_by": i.hidden_by}
            for i in waste.items[:top]
        ],
        "waste_items_total": len(waste.items),
        "duplicates": [{"bytes": d.size, "paths": list(d.paths)} for d in waste.duplicates[:top]],
        "dive_compat": dive_figures(image),
        "warnings": image.warnings,
    }


_CAUSE_STYLE = {"deleted": "red", "overwritten": "yellow", "restored": "magenta"}
_CAUSE_TEXT = {
    "deleted": "deleted",
    "overwritten": "overwritten",
    "restored": "re-stored identical",
}


def render_report(data: dict, console: Console) -> None:
    """Print a report made by `report_dict`."""
    s = data["summary"]
    img = data["image"]
    title = ", ".join(display_name(n) for n in img["names"]) or display_name(img["path"])
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Image", Text(title))
    head.add_row("Platform", Text(display_name(img["platform"] or "?")))
    head.add_row(
        "Layers",
        f"{s['layers']} ({human_size(s['compressed_bytes'])} compressed, {human_size(s['uncompressed_bytes'])} as tar)",
    )
    head.add_row("Stored", f"{human_size(s['stored_bytes'])}  ({s['stored_bytes']:,} bytes of file content)")
    head.add_row("Visible", f"{human_size(s['visible_bytes'])}  ({s['visible_bytes']:,} bytes)")
    causes = ", ".join(
        f"{_CAUSE_TEXT[c]} {human_size(s['wasted_by_cause'][c])}" for c in CAUSES if s["wasted_by_cause"][c]
    )
    wasted = Text(
        f"{human_size(s['wasted_bytes'])}  ({s['wasted_bytes']:,} bytes)", style="bold red" if s["wasted_bytes"] else ""
    )
    if causes:
        wasted.append(f"  — {causes}", style="")
    head.add_row("Wasted", wasted)
    head.add_row("Efficiency", f"{s['efficiency'] * 100:.2f} %")
    if s["duplicate_bytes"]:
        head.add_row(
            "Duplicates", f"{human_size(s['duplicate_bytes'])} in identical files under several paths (not waste)"
        )
    dive = data["dive_compat"]
    if dive is not None:
        eff = "n/a" if dive["efficiency"] is None else f"{dive['efficiency'] * 100:.4f} %"
        uwp = "n/a" if dive["user_wasted_percent"] is None else f"{dive['user_wasted_percent']:.4f} %"
        head.add_row("dive figures", f"efficiency {eff}, wastedBytes {dive['wasted_bytes']}, userWastedPercent {uwp}")

    layers = Table(title="Layers (instructions in full: --json)", title_justify="left", expand=True)
    for col, just in (
        ("#", "right"),
        ("size", "right"),
        ("compressed", "right"),
        ("wasted here", "right"),
        ("hides", "right"),
        ("changes", "left"),
        ("instruction", "left"),
    ):
        layers.add_column(
            col, justify=just, no_wrap=True, overflow="ellipsis", ratio=1 if col == "instruction" else None
        )
    for layer in data["layers"]:
        c = layer["changes"]
        changes = " ".join(f"{k[0].upper()}{n}" for k, n in c.items() if n)
        layers.add_row(
            str(layer["index"]),
            human_size(layer["tar_bytes"]),
            human_size(layer["blob_bytes"]),
            Text(human_size(layer["wasted_here_bytes"]), style="red")
            if layer["wasted_here_bytes"]
            else Text("-", style="dim"),
            Text(human_size(layer["hides_bytes"]), style="yellow") if layer["hides_bytes"] else Text("-", style="dim"),
            changes,
            Text(display_name(layer["instruction"])),
        )

    parts: list = [head, Text(), layers]
    if data["waste"]:
        title = f"Top wasted ({len(data['waste'])} of {data['waste_items_total']})"
        items = Table(title=title, title_justify="left", expand=True)
        for col, just in (
            ("bytes", "right"),
            ("cause", "left"),
            ("stored in", "right"),
            ("hidden by", "right"),
            ("path", "left"),
        ):
            items.add_column(
                col, justify=just, overflow="fold" if col == "path" else "ellipsis", ratio=1 if col == "path" else None
            )
        for item in data["waste"]:
            items.add_row(
                human_size(item["bytes"]),
                Text(_CAUSE_TEXT[item["cause"]], style=_CAUSE_STYLE[item["cause"]]),
                str(item["stored_in"]),
                str(item["hidden_by"]),
                Text("/" + display_name(item["path"])),
            )
        parts += [Text(), items]
    if data["warnings"]:
        warn = Text("Warnings:\n", style="bold yellow")
        for w in data["warnings"]:
            warn.append(f"  {display_name(w)}\n")
        parts += [Text(), warn]
    console.print(Group(*parts))
