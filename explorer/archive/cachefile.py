"""Where the layer cache's file is, what says an archive file is unchanged, and the one question
asked of the cache before anything heavy is imported (see `layercache` for the cache itself)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_NAME = "layers.sqlite3"


def cache_dir() -> Path:
    """`LAYERSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/layerscope`, else `~/.cache/layerscope`."""
    if folder := os.environ.get("LAYERSCOPE_CACHE_DIR"):
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "layerscope"


def identity(path: str) -> tuple | None:
    """What says an archive file is unchanged: (path, device, inode, size, mtime, ctime)."""
    try:
        info = os.stat(path)
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (real, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def remembered(path: str) -> bool:
    """Whether the cache knows blobs of this archive file as it is now (its layers will most
    likely all come from the cache: no worker process need be started for them). Read-only;
    any trouble is a no."""
    import sqlite3

    known = identity(path)
    file = cache_dir() / FILE_NAME
    if known is None or not file.is_file():
        return False
    try:
        db = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=0.1)
        try:
            row = db.execute(
                "SELECT 1 FROM blobs WHERE path=? AND dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=? LIMIT 1",
                known,
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return row is not None
