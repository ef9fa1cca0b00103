"""The report for people: a Rich rendering of `report.report_dict` (rich is imported only here,
so `report --json` does without it)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..analysis.hints import CACHE_ORDER
from ..analysis.waste import CAUSES
from .hints import KIND_LABELS, paths_line
from .text import CAUSE_NAMES, display_name, human_size

_CAUSE_STYLE = {"deleted": "red", "overwritten": "yellow", "restored": "magenta"}
_KIND_STYLE = {"secret": "bold red", "deleted_later": "bold red", "overwritten": "bold yellow"}


HINTS_SHOWN = 10  # hints and largest files in the text report (all of them: --json)


def render_report(data: dict, console: Console) -> None:
    """Print a report made by `report_dict`: summary, what to change, layers, waste, largest
    files, warnings."""
    parts: list = [_summary(data)]
    hints = _hints(data)
    if hints is not None:
        parts += [Text(), hints]
    if len(data["layers"]) > TABLE_LAYERS:  # printed as lines: what comes before them goes out first
        console.print(Group(*parts, Text()))
        _print_layer_lines(data["layers"], console)
        parts = []
    else:
        parts += [Text(), _layer_table(data["layers"])]
    for section in (_waste(data), _largest(data), _warnings(data)):
        if section is not None:
            parts += [Text(), section]
    if parts:
        console.print(Group(*parts))


def _summary(data: dict) -> Table:
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
    if s["reclaimable_bytes"]:
        head.add_row(
            "Reclaimable",
            f"{human_size(s['reclaimable_bytes'])}  ({s['reclaimable_bytes']:,} bytes) if every hint below is applied",
        )
    dive = data["dive_compat"]
    if dive is not None:
        eff = "n/a" if dive["efficiency"] is None else f"{dive['efficiency'] * 100:.4f} %"
        uwp = "n/a" if dive["user_wasted_percent"] is None else f"{dive['user_wasted_percent']:.4f} %"
        head.add_row("dive figures", f"efficiency {eff}, wastedBytes {dive['wasted_bytes']}, userWastedPercent {uwp}")
    return head


def _hints(data: dict) -> Table | None:
    """The first hints (credentials first, then by bytes saved), and the build-cache order hint,
    which saves build time rather than bytes, wherever it falls."""
    hints = data["hints"][:HINTS_SHOWN]
    hints += [h for h in data["hints"][HINTS_SHOWN:] if h["kind"] == CACHE_ORDER]
    if not hints:
        return None
    s = data["summary"]
    title = (
        f"What to change ({len(hints)} of {data['hints_total']} hints; {human_size(s['reclaimable_bytes'])}"
        " reclaimable in all, each byte counted once)"
    )
    table = Table(title=title, title_justify="left", expand=True, show_lines=True)
    table.add_column("saves", justify="right", no_wrap=True)
    table.add_column("what, where and the fix", ratio=1, overflow="fold")
    for hint in hints:
        what = Text()
        what.append(KIND_LABELS[hint["kind"]], style=_KIND_STYLE.get(hint["kind"], "bold"))
        what.append(f" · {display_name(hint['title'])}")
        if hint["paths"]:
            what.append("\n" + paths_line(hint["paths"]), style="cyan")
        what.append("\nfix: ", style="green")
        what.append(display_name(hint["fix"]))
        saves = Text(human_size(hint["bytes_saved"])) if hint["bytes_saved"] else Text("-", style="dim")
        table.add_row(saves, what)
    return table


def _waste(data: dict) -> Table | None:
    if not data["waste"]:
        return None
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
    return items


def _largest(data: dict) -> Table | None:
    largest = data["largest"][:HINTS_SHOWN]
    if not largest:
        return None
    table = Table(title="Largest files of the final image", title_justify="left", expand=True)
    table.add_column("bytes", justify="right")
    table.add_column("layer", justify="right")
    table.add_column("path", ratio=1, overflow="fold")
    for item in largest:
        table.add_row(human_size(item["bytes"]), str(item["layer"]), Text("/" + display_name(item["path"])))
    return table


def _warnings(data: dict) -> Text | None:
    if not data["warnings"]:
        return None
    warn = Text("Warnings:\n", style="bold yellow")
    for w in data["warnings"]:
        warn.append(f"  {display_name(w)}\n")
    return warn


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
