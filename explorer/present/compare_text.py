"""`layerscope diff` for people: a Rich rendering of `compare.diff_dict` (rich is imported only
here, so `diff --json` does without it)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .compare import plural, signed_size
from .text import display_name, human_size

MARKERS = {
    "added": ("A", "green"),
    "removed": ("D", "red"),
    "modified": ("M", "yellow"),
    "metadata": ("R", "magenta"),
    "type_changed": ("T", "cyan"),
}
_STATUS_TEXT = {
    "added": "added",
    "removed": "removed",
    "modified": "changed content",
    "metadata": "metadata only",
    "type_changed": "type changed",
}
PACKAGE_MARKERS = {"added": ("+", "green"), "removed": ("-", "red"), "upgraded": ("^", "yellow")}
PACKAGE_MARKERS["downgraded"] = ("v", "magenta")
DIRECTORY_DEPTH = 3  # directories deeper than this are left to --json
LAYER_LINES = 15  # layers listed by instruction, per side


def _slash(path: str) -> Text:
    return Text("/" + display_name(path))


def _delta(delta: int) -> Text:
    return Text(signed_size(delta), style="green" if delta < 0 else "red" if delta > 0 else "dim")


def _table(title: str, columns: tuple[tuple[str, str], ...]) -> Table:
    table = Table(title=title, title_justify="left", expand=True)
    for col, just in columns:
        wide = col == "path"
        table.add_column(col, justify=just, overflow="fold" if wide else "ellipsis", ratio=1 if wide else None)
    return table


def _detail(change: dict) -> str:
    old, new = change["old"], change["new"]
    if old and new and old["kind"] != new["kind"]:
        return ", ".join([f"{old['kind']} -> {new['kind']}", *(f for f in change["fields"] if f != "hardlink")])
    if change["status"] == "modified" and (old["link"] or new["link"]) and old["kind"] == "symlink":
        return f"-> {display_name(new['link'])} (was {display_name(old['link'])})"
    if change["status"] == "metadata":
        return ", ".join(change["fields"])
    entry = new or old
    return entry["kind"] if entry["kind"] != "file" else ""


def packages_parts(packages: dict) -> list:
    """The packages table: what NEW installed, removed or has at another version."""
    if not packages["changes"]:
        return []
    shown, total = len(packages["changes"]), packages["changes_total"]
    more = f", {shown:,} of {total:,}; all: --json" if shown < total else ""
    table = _table(
        f"Packages ({total:,} differ{more})",
        (("", "left"), ("change", "right"), ("package", "left"), ("version", "left")),
    )
    twice = Counter((p["ecosystem"], p["name"]) for p in packages["changes"])  # multi-arch: name the arch
    for p in packages["changes"]:
        marker, style = PACKAGE_MARKERS[p["status"]]
        name = f"{p['ecosystem']}:{p['name']}" + (f":{p['arch']}" if twice[p["ecosystem"], p["name"]] > 1 else "")
        if p["location"]:
            name += f" ({p['location']})"
        versions = [v for v in (p["old_version"], p["new_version"]) if v is not None]
        table.add_row(
            Text(marker, style=style),
            _delta(p["delta_bytes"]),
            Text(display_name(name)),
            Text(display_name(" → ".join(versions))),
        )
    return [Text(), table]


def render_diff(data: dict, console: Console) -> None:
    """Print a comparison made by `diff_dict`."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="ellipsis")
    for key in ("old", "new"):
        img = data[key]
        title = ", ".join(display_name(n) for n in img["names"]) or display_name(img["path"])
        head.add_row(
            key.upper(), Text(f"{title}  ({plural(img['layers'], 'layer')}, {human_size(img['file_bytes'])} of files)")
        )
    layers = data["layers"]
    shared = f"base of {layers['shared_base']}" if layers["shared_base"] else "no common base"
    others = layers["shared"][layers["shared_base"] :]
    if others:
        shared += "; also the same: " + ", ".join(f"OLD {s['old']} = NEW {s['new']}" for s in others)
    head.add_row("Shared layers", shared)
    for key, label in (("old_only", "Only in OLD"), ("new_only", "Only in NEW")):
        if layers[key]:
            lines = [f"{item['index']}: {display_name(item['instruction'] or '?')}" for item in layers[key]]
            if len(lines) > LAYER_LINES:
                lines[LAYER_LINES - 1 :] = [f"… {len(lines) - LAYER_LINES + 1} more (--json)"]
            head.add_row(label, Text("\n".join(lines), no_wrap=True, overflow="ellipsis"))
    s = data["summary"]
    counts = ", ".join(f"{s[k]:,} {_STATUS_TEXT[k]}" for k in MARKERS if s[k]) or "none differ"
    if s["metadata_fields"]:
        counts += " (" + ", ".join(f"{name} {n:,}" for name, n in sorted(s["metadata_fields"].items())) + ")"
    head.add_row("Paths", counts)
    packages = data["packages"]
    if packages["changes_total"]:
        head.add_row("Packages", ", ".join(f"{packages[k]:,} {k}" for k in PACKAGE_MARKERS if packages[k]))
    parts: list = [head]

    dirs = [d for d in data["directories"] if d["path"].count("/") < DIRECTORY_DEPTH][:10]
    if dirs:
        table = _table(
            "Directories, largest change first",
            (("old", "right"), ("new", "right"), ("change", "right"), ("path", "left")),
        )
        for d in dirs:
            table.add_row(
                human_size(d["old_bytes"]), human_size(d["new_bytes"]), _delta(d["delta_bytes"]), _slash(d["path"])
            )
        parts += [Text(), table]
    if data["largest_growths"]:
        table = _table("Largest growths", (("change", "right"), ("path", "left")))
        for g in data["largest_growths"][:10]:
            table.add_row(_delta(g["delta_bytes"]), _slash(g["path"]))
        parts += [Text(), table]
    if data["changes"]:
        title = f"Changes ({len(data['changes']):,} of {data['changes_total']:,}, largest first; all: --json)"
        table = _table(title, (("", "left"), ("change", "right"), ("path", "left"), ("what", "left")))
        for change in data["changes"]:
            marker, style = MARKERS[change["status"]]
            table.add_row(
                Text(marker, style=style), _delta(change["delta_bytes"]), _slash(change["path"]), Text(_detail(change))
            )
        parts += [Text(), table]
    parts += packages_parts(data["packages"])
    if data["warnings"]:
        warn = Text("Warnings:\n", style="bold yellow")
        for w in data["warnings"]:
            warn.append(f"  {display_name(w)}\n")
        parts += [Text(), warn]
    console.print(Group(*parts, Text()))
    console.print(Text(display_name(data["verdict"]), style="bold"), soft_wrap=True)  # one line, for logs
