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


def place_key(known: tuple, offset: int, size: int) -> str:
    """The key of an unverified record: the blob's place (at `offset`, `size` bytes, in the file
    of identity `known`), never a digest: no image can name it, and a changed file has another."""
    import hashlib
    import json

    return "place:" + hashlib.sha256(json.dumps([*known, offset, size]).encode()).hexdigest()


def remembered(path: str) -> bool:
    """Whether the cache holds records of blobs of this archive file as it is now (its layers
    will most likely all come from the cache: no worker process need be started for them).
    Read-only; any trouble is a no."""
    import sqlite3

    known = identity(path)
    file = cache_dir() / FILE_NAME
    if known is None or not file.is_file():
        return False
    try:
        db = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=0.1)
        try:
            rows = db.execute(
                "SELECT offset, length, digest, verified FROM blobs"
                " WHERE path=? AND dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?",
                known,
            ).fetchall()
            for offset, length, digest, verified in rows:  # a blob whose record was evicted does not count
                key = digest if verified else place_key(known, offset, length)
                if db.execute("SELECT 1 FROM layers WHERE digest=? LIMIT 1", (key,)).fetchone() is not None:
                    return True
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return False
