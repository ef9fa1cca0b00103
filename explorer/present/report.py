"""The non-interactive report as a JSON document (stable schema); `report_text` renders it."""

from __future__ import annotations

import math

from ..analysis.dive_compat import DiveCompat
from ..analysis.hints import compute_hints, largest_files
from ..analysis.image import Image
from .hints import LARGEST_DEFAULT, hint_record, largest_record

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


def report_dict(image: Image, top: int | None = None, dive: DiveCompat | None = None) -> dict:
    """Everything the report says, all sizes in bytes. `top` limits the lists (hints, waste,
    duplicates, largest files; without it the largest files are the first 20, the rest all);
    `dive` is dive's figures, when asked for (`dive_compat.watch`)."""
    waste = image.waste
    assert waste is not None, "analyse() the image first"
    hints = compute_hints(image)
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
        "duplicates": [{"bytes": d.size, "paths": list(d.paths)} for d in waste.duplicates[:top]],
        "largest": [largest_record(f) for f in largest_files(image.fs, LARGEST_DEFAULT if top is None else top)],
        "dive_compat": dive_figures(dive) if dive else None,
        "warnings": image.warnings,
    }
