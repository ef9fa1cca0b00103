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

    if len(data["layers"]) > TABLE_LAYERS:
        console.print(Group(head, Text()))
        _print_layer_lines(data["layers"], console)
        parts: list = []
    else:
        parts = [head, Text(), _layer_table(data["layers"])]
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
    if parts:
        console.print(Group(*parts))


_LAYER_COLUMNS = ("#", "size", "compressed", "wasted here", "hides", "changes", "instruction")
# Past this many layers the layer list is printed as aligned lines, not a Rich table: the table
# measures every cell (50,000 layers: 20 s of a report that takes 5 s to compute).
TABLE_LAYERS = 1000


def _changes(layer: dict) -> str:
    return " ".join(f"{k[0].upper()}{n}" for k, n in layer["changes"].items() if n)


def _layer_table(rows: list[dict]) -> Table:
    layers = Table(title="Layers (instructions in full: --json)", title_justify="left", expand=True)
    for col in _LAYER_COLUMNS:
        layers.add_column(
            col,
            justify="left" if col in ("changes", "instruction") else "right",
            no_wrap=True,
            overflow="ellipsis",
            ratio=1 if col == "instruction" else None,
        )
    for layer in rows:
        layers.add_row(
            str(layer["index"]),
            human_size(layer["tar_bytes"]),
            human_size(layer["blob_bytes"]),
            Text(human_size(layer["wasted_here_bytes"]), style="red")
            if layer["wasted_here_bytes"]
            else Text("-", style="dim"),
            Text(human_size(layer["hides_bytes"]), style="yellow") if layer["hides_bytes"] else Text("-", style="dim"),
            _changes(layer),
            Text(display_name(layer["instruction"])),
        )
    return layers


def _print_layer_lines(rows: list[dict], console: Console) -> None:
    """The layer table's columns as plain aligned lines, written at once."""
    cells = [
        (
            str(layer["index"]),
            human_size(layer["tar_bytes"]),
            human_size(layer["blob_bytes"]),
            human_size(layer["wasted_here_bytes"]) if layer["wasted_here_bytes"] else "-",
            human_size(layer["hides_bytes"]) if layer["hides_bytes"] else "-",
            _changes(layer),
            display_name(layer["instruction"]),
        )
        for layer in rows
    ]
    widths = [max(len(col), *(len(row[i]) for row in cells)) for i, col in enumerate(_LAYER_COLUMNS[:-1])]

    def line(row: tuple[str, ...]) -> str:
        numbers = "  ".join(cell.rjust(width) for cell, width in zip(row[:5], widths, strict=False))
        text = f"{numbers}  {row[5].ljust(widths[5])}  {row[6]}"
        return text[: console.width].rstrip()

    out = [f"Layers ({len(rows)}; instructions in full: --json)", line(_LAYER_COLUMNS)]
    out += [line(row) for row in cells]
    console.file.write("\n".join(out) + "\n")
