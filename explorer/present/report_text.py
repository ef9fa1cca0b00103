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
    files, packages, warnings."""
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
    for section in (_waste(data), _largest(data)):
        if section is not None:
            parts += [Text(), section]
    parts += packages_parts(data)
    warnings = _warnings(data)
    if warnings is not None:
        parts += [Text(), warnings]
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
            human_size(layer["content_bytes"]),  # as the app's layer list: the file content stored
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
    sizes: dict[int, str] = {}  # layers of one image repeat their sizes: each worded once

    def size(n: int) -> str:
        text = sizes.get(n)
        if text is None:
            text = sizes[n] = human_size(n)
        return text

    cells = [
        (
            str(layer["index"]),
            size(layer["content_bytes"]),
            size(layer["blob_bytes"]),
            size(layer["wasted_here_bytes"]) if layer["wasted_here_bytes"] else "-",
            size(layer["hides_bytes"]) if layer["hides_bytes"] else "-",
            _changes(layer),
            display_name(layer["instruction"]),
        )
        for layer in rows
    ]
    widths = [max(len(col), *(len(row[i]) for row in cells)) for i, col in enumerate(_LAYER_COLUMNS[:-1])]
    columns = console.width  # asked once: Rich works it out from the terminal and the environment each time

    def line(row: tuple[str, ...]) -> str:
        numbers = "  ".join(cell.rjust(width) for cell, width in zip(row[:5], widths, strict=False))
        text = f"{numbers}  {row[5].ljust(widths[5])}  {row[6]}"
        return text[:columns].rstrip()

    out = [f"Layers ({len(rows)}; instructions in full: --json)", line(_LAYER_COLUMNS)]
    out += [line(row) for row in cells]
    console.file.write("\n".join(out) + "\n")


TOP_PACKAGES = 15
NAMES_PER_LAYER = 8
_ACTION_MARK = {"added": "+", "removed": "-", "upgraded": "^"}


def packages_parts(data: dict) -> list:
    """The "Packages" section: totals per ecosystem, what each layer changed, the largest
    packages, and those removed in a later layer (their files are then waste)."""
    packages = data["packages"]
    if not packages and not data["package_notes"]:
        return [Text(), Text("Packages: no package database found (dpkg, apk, Python, Node)", style="dim")]
    head = Text("Packages", style="bold")
    for eco, t in data["package_totals"].items():
        head.append(
            f"\n  {eco}: {t['packages']} installed, {human_size(t['visible_bytes'])} visible,"
            f" {human_size(t['stored_bytes'])} stored, {human_size(t['wasted_bytes'])} wasted"
        )
    unowned = data["unowned_files"]
    if unowned["files"]:
        largest = ", ".join(f"/{display_name(u['path'])} {human_size(u['bytes'])}" for u in unowned["largest"][:3])
        head.append(
            f"\n  files no package owns (in folders packages use): {unowned['files']},"
            f" {human_size(unowned['bytes'])}; largest: {largest}"
        )
    for note in data["package_notes"]:
        head.append(f"\n  {note}", style="yellow")
    parts: list = [Text(), head]
    changes = Text("Package changes per layer", style="bold")
    quiet = [layer["index"] for layer in data["layers"] if not layer["package_changes"]]
    for layer in data["layers"]:
        done = layer["package_changes"]
        if not done:
            continue
        changes.append(f"\n  {layer['index']}: ", style="")
        counts = {a: sum(1 for c in done if c["action"] == a) for a in _ACTION_MARK}
        changes.append(", ".join(f"{n} {a}" for a, n in counts.items() if n), style="")
        changes.append(f" ({human_size(sum(c['bytes'] for c in done))} stored): ", style="")
        shown = sorted(done, key=lambda c: -c["bytes"])[:NAMES_PER_LAYER]
        changes.append(", ".join(_change_text(c) for c in shown), style="")
        if len(done) > len(shown):
            changes.append(f" and {len(done) - len(shown)} more", style="dim")
    if quiet:
        changes.append(f"\n  {_ranges(quiet)}: no package changes", style="dim")
    parts += [Text(), changes]
    table = _package_table(f"Largest packages ({min(TOP_PACKAGES, len(packages))} of {len(packages)})")
    for p in packages[:TOP_PACKAGES]:
        table.add_row(*_package_row(p))
    parts += [Text(), table]
    removed = [p for p in packages if p["removed_in"] is not None]
    if removed:
        gone = _package_table("Packages removed in a later layer (their files are waste)")
        for p in removed[:TOP_PACKAGES]:
            gone.add_row(*_package_row(p))
        parts += [Text(), gone]
    return parts


def _ranges(numbers: list[int]) -> str:
    """`0, 2–5, 9` for [0, 2, 3, 4, 5, 9] (sorted)."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _package_table(title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=True)
    table.add_column("package", overflow="fold", min_width=10)
    table.add_column("version", overflow="ellipsis", max_width=16, no_wrap=True)
    for col in ("layer", "files", "stored", "visible", "wasted", "db size"):
        table.add_column(col, justify="right", no_wrap=True)
    return table


def _change_text(change: dict) -> str:
    name = display_name(change["name"])
    if change["action"] == "upgraded":
        return f"^{name} {display_name(change['old_version'] or '')} -> {display_name(change['version'])}"
    return f"{_ACTION_MARK[change['action']]}{name} {display_name(change['version'])}"


def _package_row(p: dict) -> list:
    layers = str(p["layer"]) + (f"-{p['removed_in']}" if p["removed_in"] is not None else "")
    size = human_size(p["installed_size"]) if p["installed_size"] is not None else "-"
    return [
        Text(f"{p['ecosystem']}:{display_name(p['name'])}"),
        Text(display_name(p["version"])),
        layers,
        "-" if p["files"] is None else str(p["files"]),
        human_size(p["stored_bytes"]),
        human_size(p["visible_bytes"]),
        Text(human_size(p["wasted_bytes"]), style="red") if p["wasted_bytes"] else Text("-", style="dim"),
        size,
    ]
