"""The non-interactive report as a JSON document (stable schema); `report_text` renders it."""

from __future__ import annotations

import math
from operator import attrgetter

from ..analysis.dive_compat import DiveCompat
from ..analysis.hints import compute_hints, largest_files
from ..analysis.image import Image
from ..analysis.packages import PackageChange
from .hints import LARGEST_DEFAULT, hint_record, largest_record
from .indented_json import LazyList

SCHEMA = "layerscope.report/v1"


def _number(x: float) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return x if math.isfinite(x) else None


def dive_figures(result: DiveCompat) -> dict:
    """dive's own efficiency, wasted bytes and user-wasted fraction, quirks included."""
    return {
        "efficiency": _number(result.efficiency),
        "wasted_bytes": result.wasted_bytes,
        "user_wasted_percent": _number(result.user_wasted_percent * 100),
    }


def report_dict(image: Image, top: int | None = None, dive: DiveCompat | None = None, lazy: bool = False) -> dict:
    """Everything the report says, all sizes in bytes. `top` limits the lists (hints, waste,
    duplicates, largest files; without it the largest files are the first 20, the rest all);
    `dive` is dive's figures, when asked for (`dive_compat.watch`). With `lazy`, the records
    of the duplicates (100,000s on a million files) are a `LazyList`, made as `write_indented`
    writes them."""
    waste = image.waste
    assert waste is not None, "analyse() the image first"
    hints = compute_hints(image)
    cfg = image.config
    changes = image.packages.changes  # looked up once: an image may have 50,000 layers
    duplicates = LazyList.table(DUPLICATE_FIELDS, waste.duplicates[:top])
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
            "duplicate_bytes": waste.duplicate_bytes,
            "reclaimable_bytes": hints.reclaimable,
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
                "sparse_files": layer.scan.sparse if layer.scan else {},
                "changes": layer.change_counts,
                "wasted_here_bytes": waste.stored_by_layer.get(layer.index, 0),
                "hides_bytes": waste.hidden_by_layer.get(layer.index, 0),
                "instruction": layer.instruction,
                "created_by": layer.created_by,
                "created": layer.history.created if layer.history else None,
                "comment": layer.history.comment if layer.history else None,
                "package_changes": package_changes(changes[layer.index]),
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
        "hints": [hint_record(h) for h in hints.hints[:top]],
        "hints_total": len(hints.hints),
        "waste": [
            {"path": i.path, "bytes": i.size, "cause": i.cause, "stored_in": i.stored_in, "hidden_by": i.hidden_by}
            for i in waste.items[:top]
        ],
        "waste_items_total": len(waste.items),
        "duplicates": duplicates if lazy else list(duplicates),
        "largest": [
            largest_record(f) for f in largest_files(image.fs, LARGEST_DEFAULT if top is None else top, waste=waste)
        ],
        "dive_compat": dive_figures(dive) if dive else None,
        **packages_sections(image),
        "warnings": image.warnings + image.packages.warnings,
    }


# a duplicate's record; its paths a tuple, written as a list: the paths are not copied
DUPLICATE_FIELDS = {"bytes": attrgetter("size"), "paths": attrgetter("paths")}


def package_changes(changes: list[PackageChange]) -> list[dict]:
    """What one layer did to packages (its `Packages.changes`): added, removed or upgraded
    (its version changed)."""
    return [
        {
            "action": c.action,
            "ecosystem": c.package.ecosystem,
            "name": c.package.name,
            "version": c.version,
            "old_version": c.old_version,
            "bytes": c.bytes,
            "installed_size": c.package.installed_size,
        }
        for c in changes
    ]


UNOWNED_LISTED = 20


def packages_sections(image: Image) -> dict:
    """The report's `packages` (every package the image ever installed, largest first),
    `package_totals` (per ecosystem), `package_notes` and `unowned_files` (visible files no
    package owns in folders where packages own files)."""
    found = image.packages
    return {
        "packages": [
            {
                "ecosystem": p.ecosystem,
                "name": p.name,
                "version": p.version,
                "arch": p.arch,
                "location": p.location,
                "layer": p.installed_in,
                "removed_in": p.removed_in,
                "actions": [
                    {"layer": c.layer, "action": c.action, "version": c.version, "old_version": c.old_version}
                    for c in p.actions
                ],
                "files": None if p.size_only else p.files,
                "installed_size": p.installed_size,
                "stored_bytes": p.stored,
                "visible_bytes": p.visible,
                "wasted_bytes": p.wasted,
            }
            for p in sorted(found.packages, key=lambda p: (-p.stored, p.ecosystem, p.name))
        ],
        "package_totals": {
            eco: {
                "packages": t["packages"],
                "stored_bytes": t["stored"],
                "visible_bytes": t["visible"],
                "wasted_bytes": t["wasted"],
            }
            for eco, t in found.totals().items()
        },
        "package_notes": found.notes,
        "unowned_files": {
            "files": len(found.unowned),
            "bytes": sum(size for _, size in found.unowned),
            "largest": [{"path": path, "bytes": size} for path, size in found.unowned[:UNOWNED_LISTED]],
        },
    }
