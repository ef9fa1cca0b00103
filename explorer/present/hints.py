"""Hints and largest files in words: labels, paths grouped by directory, and their JSON records
(shared by the report and the app)."""

from __future__ import annotations

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
        "paths": list(hint.paths),
        "bytes_saved": hint.bytes_saved,
        "fix": hint.fix,
        "why": hint.why,
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
