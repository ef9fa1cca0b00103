"""The report for people: a Rich rendering of `report.report_dict` (rich is imported only here,
so `report --json` does without it)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..analysis.waste import CAUSES
from .text import CAUSE_NAMES, display_name, human_size

_CAUSE_STYLE = {"deleted": "red", "overwritten": "yellow", "restored": "magenta"}


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
        f"{CAUSE_NAMES[c]} {human_size(s['wasted_by_cause'][c])}" for c in CAUSES if s["wasted_by_cause"][c]
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
                Text(CAUSE_NAMES[item["cause"]], style=_CAUSE_STYLE[item["cause"]]),
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
