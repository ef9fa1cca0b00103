"""Hints and largest files in words: labels, paths grouped by directory, and their JSON records
(shared by the report and the app)."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.filesystem import FileSystem
from ..analysis.hints import (
    BUILD_ONLY,
    CACHE_ORDER,
    DELETED_LATER,
    DUPLICATE,
    METADATA,
    OVERWRITTEN,
    PACKAGE_CACHE,
    REWRITTEN,
    SECRET,
    Hint,
    LargeFile,
)
from .text import display_name

KIND_LABELS = {
    DELETED_LATER: "deleted later",
    METADATA: "re-stored for metadata",
    REWRITTEN: "rewritten identical",
    OVERWRITTEN: "overwritten",
    PACKAGE_CACHE: "package cache",
    BUILD_ONLY: "build-only",
    DUPLICATE: "duplicate",
    CACHE_ORDER: "build-cache order",
    SECRET: "secret",
}
LARGEST_DEFAULT = 20  # largest files listed when no --top is given


def hint_record(hint: Hint) -> dict:
    """A hint as the JSON report gives it."""
    return {
        "kind": hint.kind,
        "title": hint.title,
        "layers": list(hint.layers),
        "instructions": list(hint.instructions),
        "paths": hint.paths,  # a tuple (JSON writes it as a list): 100,000s of paths are not copied
        "bytes_saved": hint.bytes_saved,
        "fix": hint.fix,
        "why": hint.why,
        "packages": [
            {"ecosystem": p.ecosystem, "name": p.name, "version": p.version, "bytes_saved": p.bytes}
            for p in hint.packages
        ],
    }


def largest_record(large: LargeFile) -> dict:
    return {"path": large.path, "bytes": large.size, "layer": large.layer}


def group_paths(paths: list[str] | tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Paths by parent directory, in path order: [("/dir/", [names])]."""
    groups: dict[str, list[str]] = {}
    for path in sorted(paths):
        head, _, name = path.rpartition("/")
        groups.setdefault(f"/{head}/" if head else "/", []).append(name)
    return list(groups.items())


def paths_line(paths: list[str] | tuple[str, ...], groups: int = 2, names: int = 3) -> str:
    """A short, escaped summary of many paths: the first directories, a few names each, and
    how many more."""
    grouped = group_paths(paths)
    parts, shown = [], 0
    for head, members in grouped[:groups]:
        listed = members[:names]
        shown += len(listed)
        if len(members) == 1:
            parts.append(display_name(head + members[0]))
        else:
            parts.append(display_name(head) + "{" + ", ".join(display_name(m) for m in listed) + "}")
            if len(members) > names:
                parts[-1] = parts[-1][:-1] + ", …}"
    line = "  ".join(parts)
    rest = len(paths) - shown
    return f"{line}  (+{rest:,} more)" if rest > 0 else line


# Where a hint's file is best seen: the layer that stored it, or for a re-store or an overwrite
# the layer that did it (its change is the one to look at).
_AT_LATER_LAYER = (METADATA, REWRITTEN, OVERWRITTEN)


@dataclass(frozen=True)
class HintPathRow:
    """A row of a hint's file list: a directory heading (path None) or a file and its layer."""

    label: str
    path: str | None = None
    layer: int | None = None


def layer_of(fs: FileSystem, hint: Hint, path: str) -> int | None:
    """The layer of `hint` in which to show `path` (None if the path changed in none of them)."""
    node = fs.lookup(path)
    if node is None:
        return None
    layers = [c.layer for c in node.changes if c.layer in hint.layers]
    if not layers:
        return None
    return layers[-1] if hint.kind in _AT_LATER_LAYER else layers[0]


def file_rows(fs: FileSystem, hint: Hint, limit: int) -> list[HintPathRow]:
    """A hint's paths by directory (escaped), at most `limit` files, then a row saying how many more."""
    rows, shown = [], 0
    for head, names in group_paths(hint.paths):
        if shown >= limit:
            break
        rows.append(HintPathRow(display_name(head)))
        for name in names[: limit - shown]:
            path = f"{head[1:]}{name}"
            rows.append(HintPathRow("  " + display_name(name), path, layer_of(fs, hint, path)))
            shown += 1
    if len(hint.paths) > shown:
        rows.append(HintPathRow(f"… and {len(hint.paths) - shown:,} more (all of them: report --json)"))
    return rows
