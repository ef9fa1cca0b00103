"""`layerscope diff` in words and numbers: the verdict line and the JSON document (stable schema);
`compare_text` renders it for people."""

from __future__ import annotations

from ..analysis.compare import METADATA, PACKAGE_STATUSES, Comparison, LayerMatch, PackageDiff, PathDiff
from ..analysis.image import Image
from ..archive.entries import KIND_NAMES, Entry
from .text import human_size

SCHEMA = "layerscope.diff/v1"


def signed_size(delta: int) -> str:
    """`+48.2 MB`, `-1.0 kB`, `0 B`."""
    return ("+" if delta > 0 else "-" if delta < 0 else "") + human_size(abs(delta))


def plural(n: int, word: str) -> str:
    """`1 layer`, `3 layers`."""
    return f"{n} {word}" if n == 1 else f"{n:,} {word}s"


def layers_phrase(match: LayerMatch) -> str:
    """`3 layers shared, 2 replaced` (or `replaced by 3`, `2 added`, `2 removed`)."""
    text = f"{plural(match.shared, 'layer')} shared"
    gone, came = len(match.old_only), len(match.new_only)
    if gone and came:
        text += f", {gone} replaced" if gone == came else f", {gone} replaced by {came}"
    elif came:
        text += f", {came} added"
    elif gone:
        text += f", {gone} removed"
    return text


def verdict(c: Comparison) -> str:
    """One line: `NEW is +48.2 MB over OLD: 3 layers shared, 2 replaced; 80 % of the growth is in /usr/lib`."""
    layers = layers_phrase(c.layers)
    if c.identical:
        return f"identical filesystems ({layers})"
    delta = c.new_bytes - c.old_bytes
    if delta > 0:
        head = f"NEW is {signed_size(delta)} over OLD"
    elif delta < 0:
        head = f"NEW is {human_size(-delta)} under OLD"
    else:
        head = "NEW is the same size as OLD"
    line = f"{head}: {layers}"
    where = c.growth_dir()
    if where is not None:
        what = "reduction" if delta < 0 else "growth"
        line += f"; {where[1] * 100:.0f} % of the {what} is in /{where[0]}"
    else:
        line += f"; {plural(len(c.diffs), 'path')} differ" if len(c.diffs) != 1 else "; 1 path differs"
    return line


def metadata_fields(c: Comparison) -> dict[str, int]:
    """How many metadata-only differences touch each field."""
    counts: dict[str, int] = {}
    for d in c.diffs:
        if d.status == METADATA:
            for name in d.fields:
                counts[name] = counts.get(name, 0) + 1
    return counts


def _entry(e: Entry | None) -> dict | None:
    if e is None:
        return None
    return {
        "kind": KIND_NAMES.get(e.kind, e.kind),
        "size": e.size,
        "mode": e.mode,
        "uid": e.uid,
        "gid": e.gid,
        "mtime": e.mtime,
        "link": e.link or None,
        "xxh3": f"{e.digest:016x}" if e.digest is not None else None,
    }


def _image(image: Image, file_bytes: int) -> dict:
    return {
        "path": image.path,
        "names": image.names,
        "platform": image.platform,
        "layers": len(image.layers),
        "file_bytes": file_bytes,
    }


def _layer(image: Image, index: int) -> dict:
    layer = image.layers[index]
    return {"index": index, "diff_id": layer.diff_id, "instruction": layer.instruction}


def _change(d: PathDiff) -> dict:
    return {
        "path": d.path,
        "status": d.status,
        "delta_bytes": d.delta,
        "fields": list(d.fields),
        "old": _entry(d.old),
        "new": _entry(d.new),
    }


def by_size_then_path(diffs: list[PathDiff]) -> list[PathDiff]:
    """Largest size change first, then content changes before metadata only, then in path order."""
    return sorted(diffs, key=lambda d: (-abs(d.delta), d.status == METADATA, d.path))


def diff_dict(c: Comparison, top: int | None = None) -> dict:
    """Everything `diff` says, sizes in bytes. `top` limits the lists (changes largest first)."""
    match = c.layers
    where = c.growth_dir()
    old_ids = [layer.diff_id for layer in c.old.layers]
    return {
        "schema": SCHEMA,
        "identical": c.identical,
        "verdict": verdict(c),
        "old": _image(c.old, c.old_bytes),
        "new": _image(c.new, c.new_bytes),
        "layers": {
            "shared_base": match.shared_base,
            "shared": [{"old": i, "new": i, "diff_id": old_ids[i]} for i in range(match.shared_base)]
            + [{"old": i, "new": j, "diff_id": old_ids[i]} for i, j in match.also_shared],
            "old_only": [_layer(c.old, i) for i in match.old_only],
            "new_only": [_layer(c.new, j) for j in match.new_only],
        },
        "summary": {
            **c.counts(),
            "metadata_fields": metadata_fields(c),
            "delta_bytes": c.new_bytes - c.old_bytes,
            "grown_bytes": c.root.grown,
            "shrunk_bytes": c.root.shrunk,
        },
        "growth_in": {"path": where[0], "share": where[1]} if where else None,
        "directories": [
            {"path": d.path, "old_bytes": d.old_bytes, "new_bytes": d.new_bytes, "delta_bytes": d.delta}
            for d in c.directories(top)
        ],
        "largest_growths": [{"path": d.path, "delta_bytes": d.delta} for d in c.largest_growths(top)],
        "changes": [_change(d) for d in (c.diffs if top is None else by_size_then_path(c.diffs)[:top])],
        "changes_total": len(c.diffs),
        "packages": packages_dict(c.package_changes(), top),
        "warnings": [f"{side}: {w}" for side, image in (("OLD", c.old), ("NEW", c.new)) for w in _warnings(image)],
    }


def _warnings(image: Image) -> list[str]:
    return image.warnings + image.packages.warnings


def packages_dict(diffs: list[PackageDiff], top: int | None = None) -> dict:
    """The packages part of `diff_dict`: counts per status, and the changes (by ecosystem and
    name; with `top`, the first `top`)."""
    counts = dict.fromkeys(PACKAGE_STATUSES, 0)
    for d in diffs:
        counts[d.status] += 1
    return {
        **counts,
        "changes": [
            {
                "ecosystem": d.ecosystem,
                "name": d.name,
                "arch": d.arch,
                "location": d.location,
                "status": d.status,
                "old_version": d.old_version,
                "new_version": d.new_version,
                "old_bytes": d.old_bytes,
                "new_bytes": d.new_bytes,
                "delta_bytes": d.delta,
            }
            for d in diffs[:top]
        ],
        "changes_total": len(diffs),
    }
