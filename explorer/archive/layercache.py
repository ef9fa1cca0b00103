"""A local cache of layer scans, so a layer seen before is never read again.

A layer's scan (its entries, sizes, kinds, content digests, kept package metadata) is stored
in SQLite (standard library) in the user cache directory, keyed by the layer blob's sha256
*as verified* (computed from the bytes) and the `diff_id` the image names, or, until it is
verified, by the place it was read from. A scan is taken from the cache only when the image
names a digest known to be true, or the very bytes the scan was made of:

- from a registry, every blob is checked against its digest as it streams, so the digest in
  the manifest names exactly the bytes a stored scan was made from;
- from an archive on disk, a first open does not hash (that would cost every first open up to
  twice its CPU on plain tar): its scans are stored *unverified*, under a key made of the
  blob's place (path, device, inode, size, mtime and ctime of its file, its offset and size in
  it) and used again only for that place, unchanged. The archive's claimed digest is kept
  beside, never as a key. When another image names that digest (a new `docker save` on the
  same base, a registry image), the old place is hashed, and the new archive blob too: when
  both are the claimed digest the record becomes verified under it and serves both. With
  `--verify`, or from a registry, a scan is verified at once (it is hashed anyway). An archive
  written less than `RACY` seconds before it was read is not remembered by its place (its
  timestamp could survive a rewrite): its blobs are hashed as they stream instead. A claimed
  digest or `diff_id` alone is never trusted.

The file is plain data, never pickle (unpickling runs code; a cache directory is a place
another program may write): JSON for the text, packed integer arrays for the numbers. A file
that is not ours (another application's database, garbage, a damaged page) is deleted and
rebuilt; one owned by another user, or writable by others, is not used. Writes are WAL with a
busy timeout, so two processes share the cache; the least recently used records go when it
outgrows `max_bytes`. `LAYERSCOPE_CACHE_DIR` moves it (the tests point it at a temp folder).
A record's bytes are a row of their own, apart from the small row that says when it was last
used (SQLite rewrites a whole row to change one column). A layer scanned in a worker process
is taken into its record a batch of rows at a time, as they are decoded to be stacked, and
stored once it is stacked; a record's numbers and a kept result are written into their row a
part at a time: on a million entries, no layer's rows are held whole, nor its record copied.
Whole-image results (a report as printed: see `analysis/resultcache.py`) are kept beside the
records, under the same bound.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .cachefile import FILE_NAME, cache_dir, identity, place_key
from .capture import Capture
from .entries import KIND_NAMES, Row
from .layerscan import LayerScan, Location, PackedRows
from .limits import RATIO_FLOOR, Limits
from .zstdindex import ZstdIndex

if TYPE_CHECKING:
    from .pool import LayerBlob, LayerProgress, ScanPool
    from .sources import Source

APPLICATION_ID = 0x4C53434C  # "LSCL": this file is a layerscope layer cache
SCHEMA = 4
MAX_BYTES = 2 << 30  # default bound on the stored records (LAYERSCOPE_CACHE_MAX_BYTES)
BUSY_TIMEOUT = 10.0  # seconds a process waits for another's write
RACY = 2.0  # an archive modified this recently (seconds) is not remembered as verified
ROW_WIDTH = 9
WRITE_PART = 1 << 20  # bytes of a stored blob written at a time (no whole copy made to bind it)

Buffer = bytes | bytearray | memoryview | array.array
Column = bytes | tuple[Buffer, ...]  # one column of a record: bytes, or parts one after another

# The shape of a scan as this code knows it: a record written by code whose `LayerScan` or
# `Capture` had other fields is a miss (the format string differs), and a scan whose fields
# are not these is not stored (it would lose what the codec does not know of).
_SCAN_FIELDS = ("rows", "tar_size", "compression", "blob_size", "warnings", "blob_sha256", "tar_sha256")
_SCAN_FIELDS += ("sparse", "capture", "zstd_index", "file_offsets")
_CAPTURE_FIELDS = ("budget", "head_rule", "suffixes", "prefixes", "files", "heads", "used", "skipped")
_ZSTD_FIELDS = ("blob_offsets", "tar_offsets", "frames", "sized", "_tar")
_KINDS = "".join(KIND_NAMES)
FORMAT = ";".join(
    ["2", sys.byteorder, ",".join(_SCAN_FIELDS), ",".join(_CAPTURE_FIELDS), ",".join(_ZSTD_FIELDS), str(ROW_WIDTH)]
)


def _known_shape() -> bool:
    scan = LayerScan([], 0, "none", 0, [], capture=Capture(), zstd_index=ZstdIndex())
    shapes = ((scan, _SCAN_FIELDS), (scan.capture, _CAPTURE_FIELDS), (scan.zstd_index, _ZSTD_FIELDS))
    return all(tuple(vars(value)) == fields for value, fields in shapes)


SHAPE_KNOWN = _known_shape()


def max_bytes() -> int:
    try:
        return max(0, int(os.environ.get("LAYERSCOPE_CACHE_MAX_BYTES", MAX_BYTES)))
    except ValueError:
        return MAX_BYTES


# ---- records: a scan as plain data ------------------------------------------------------------------


class Record(NamedTuple):
    """A scan as the columns of its row: JSON text, then packed numbers and kept bytes. Each
    bytes column is one bytes object as read, and as made the parts it is stored from, one
    after another (see `RecordMaker`)."""

    text: str
    ints: Column  # size, mode, uid, gid, mtime of every entry (signed 64-bit, column after column)
    u64: Column  # unsigned 64-bit: entries' content digests (0 where `nulls` says None), then the
    # file offsets, then the zstd index's blob and tar offsets (their counts are in `text`)
    nulls: Column  # one byte per entry: 1 where its digest is None
    data: Column  # the kept package-metadata files and heads, one after another


def _parts(column: Column) -> tuple[Buffer, ...]:
    return column if isinstance(column, tuple) else (column,)


def _nbytes(column: Column) -> int:
    return sum(memoryview(part).nbytes for part in _parts(column))


def _unlabel(warnings: list[str], label: str) -> list[str]:
    """Warnings about the layer, its label taken out (another image names it otherwise)."""
    prefix = label + ":"
    return [("\0" + w[len(prefix) :]) if w.startswith(prefix) else w for w in warnings]


def _relabel(warnings: list[str], label: str) -> list[str]:
    return [(label + ":" + w[1:]) if w.startswith("\0") else w for w in warnings]


class RecordMaker:
    """A scan's record, its rows taken a batch at a time (`add`), as they are decoded to be
    stacked: a layer that came packed from a worker is never decoded whole for its record.

    Made with the scan's other fields as they are when it arrives (the image's budget may cut
    its kept package metadata once it is stacked); `record` once every row is added.
    """

    def __init__(self, scan: LayerScan, label: str) -> None:
        capture, offsets, index = scan.capture, scan.file_offsets, scan.zstd_index
        assert capture is not None  # see `start`
        self.count = 0
        self.failed = False  # a row a record cannot hold (a number out of 64-bit range)
        self._paths: list[str] = []  # each batch's paths as JSON, brackets off
        self._links: list[str] = []
        self._kinds: list[str] = []
        self._ints = [array.array("q") for _ in range(5)]  # size, mode, uid, gid, mtime
        self._digests = array.array("Q")
        self._nulls = bytearray()
        kept, self._data = [], []
        for table, files in (("f", capture.files), ("h", capture.heads)):
            for path, content in files.items():
                kept.append((table, path, len(content)))
                self._data.append(content)
        self._extra = [part for part in (offsets, *((index.blob_offsets, index.tar_offsets) if index else ())) if part]
        self._rest = json.dumps(
            {
                "tar_size": scan.tar_size,
                "compression": scan.compression,
                "blob_size": scan.blob_size,
                "warnings": _unlabel(scan.warnings, label),
                "blob_sha256": scan.blob_sha256,
                "tar_sha256": scan.tar_sha256,
                "sparse": scan.sparse,
                "kept": kept,
                "used": capture.used,
                "offsets": len(offsets) if offsets is not None else None,
                "zstd": [len(index.blob_offsets), index.frames, index.sized, index._tar] if index is not None else None,
            }
        )

    @classmethod
    def start(cls, scan: LayerScan, label: str) -> RecordMaker | None:
        """A maker of the scan's record, or None when it cannot be one (an unknown shape,
        package metadata cut short by the budget: a record must be the whole scan)."""
        capture, offsets, index = scan.capture, scan.file_offsets, scan.zstd_index
        if not SHAPE_KNOWN or tuple(vars(scan)) != _SCAN_FIELDS or capture is None or capture.skipped:
            return None
        if offsets is not None and offsets.typecode != "Q":
            return None
        if index is not None and tuple(vars(index)) != _ZSTD_FIELDS:
            return None
        return cls(scan, label)

    def add(self, rows: Sequence[Row]) -> None:
        if self.failed or not rows:
            return
        paths, kinds, sizes, modes, uids, gids, mtimes, links, digests = zip(*rows, strict=True)
        joined = "".join(kinds)
        try:
            for column, values in zip(self._ints, (sizes, modes, uids, gids, mtimes), strict=True):
                column.extend(values)
            self._digests.extend([d or 0 for d in digests])
        except (OverflowError, TypeError):
            self.failed = True
            return
        if len(joined) != len(rows):
            self.failed = True
            return
        self._nulls += bytes(d is None for d in digests)
        self._paths.append(json.dumps(paths)[1:-1])
        self._links.append(json.dumps(links)[1:-1])
        self._kinds.append(joined)
        self.count += len(rows)

    def record(self) -> Record | None:
        """The record, its numbers and kept bytes as the parts they were gathered in (none
        copied into one), or None (see `failed`)."""
        if self.failed:
            return None
        text = "".join(
            [
                f'{{"n": {self.count}, "paths": [',
                ", ".join(self._paths),
                '], "links": [',
                ", ".join(self._links),
                '], "kinds": ',
                json.dumps("".join(self._kinds)),
                ", ",
                self._rest[1:],
            ]
        )
        return Record(text, tuple(self._ints), (self._digests, *self._extra), (self._nulls,), tuple(self._data))


def encode(scan: LayerScan, label: str) -> Record | None:
    """The scan as a record (its columns joined), or None when it cannot be one (see `RecordMaker`)."""
    maker = RecordMaker.start(scan, label)
    if maker is None:
        return None
    for batch in scan.batches():
        maker.add(batch)
    record = maker.record()
    return Record(record.text, *(b"".join(parts) for parts in record[1:])) if record is not None else None


def decode(record: Record, label: str, limits: Limits) -> LayerScan:
    """The scan a record holds (ValueError, KeyError, TypeError when it is not a whole one)."""
    text = json.loads(record.text)
    n = text["n"]
    paths, links, kinds = text["paths"], text["links"], text["kinds"]
    ints, u64 = array.array("q"), array.array("Q")
    ints.frombytes(record.ints)
    u64.frombytes(record.u64)
    nulls = record.nulls
    n_offsets, zstd = text["offsets"], text["zstd"]
    n_frames = zstd[0] if zstd is not None else 0
    if (n_offsets is not None and n_offsets < 0) or n_frames < 0:
        raise ValueError("a record of negative counts")
    u64_size = n + (n_offsets or 0) + 2 * n_frames
    if not (len(paths) == len(links) == len(kinds) == len(nulls) == n and len(ints) == 5 * n and len(u64) == u64_size):
        raise ValueError("a record of mismatched columns")
    hashes = u64[:n]
    offsets = u64[n : n + n_offsets] if n_offsets is not None else None
    index = None
    if zstd is not None:
        index = ZstdIndex()
        start = n + (n_offsets or 0)
        index.blob_offsets, index.tar_offsets = u64[start : start + n_frames], u64[start + n_frames :]
        index.frames, index.sized, index._tar = int(zstd[1]), bool(zstd[2]), int(zstd[3])
    if not all(isinstance(s, str) for s in (*paths, *links)) or kinds.strip(_KINDS):
        raise TypeError("a record whose names are not text, or of unknown entry kinds")
    digests = hashes.tolist()
    if any(nulls):
        digests = [None if null else d for d, null in zip(digests, nulls, strict=True)]
    columns = [ints[i * n : (i + 1) * n].tolist() for i in range(5)]
    rows = list(zip(paths, kinds, *columns, links, digests, strict=True))
    capture = Capture(limits.capture)
    offset, data = 0, record.data
    for table, path, size in text["kept"]:
        (capture.files if table == "f" else capture.heads)[str(path)] = data[offset : offset + size]
        offset += size
    if offset != len(data):
        raise ValueError("a record of mismatched package metadata")
    capture.used = int(text["used"])
    sparse = {str(k): int(v) for k, v in text["sparse"].items()}
    warnings = _relabel([str(w) for w in text["warnings"]], label)
    return LayerScan(
        rows,
        int(text["tar_size"]),
        str(text["compression"]),
        int(text["blob_size"]),
        warnings,
        text["blob_sha256"],
        text["tar_sha256"],
        sparse,
        capture,
        index,
        offsets,
    )


# ---- the database -----------------------------------------------------------------------------------

_TABLES = """
CREATE TABLE layers (
    digest TEXT NOT NULL, diff_id TEXT NOT NULL, format TEXT NOT NULL, heads TEXT NOT NULL,
    bytes INTEGER NOT NULL, used REAL NOT NULL, version TEXT NOT NULL, PRIMARY KEY (digest, diff_id));
CREATE INDEX layers_used ON layers (used);
CREATE INDEX layers_version ON layers (version);
CREATE TABLE records (
    version TEXT PRIMARY KEY,
    text TEXT NOT NULL, ints BLOB NOT NULL, u64 BLOB NOT NULL, nulls BLOB NOT NULL, data BLOB NOT NULL);
CREATE TABLE blobs (
    path TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, dev INTEGER NOT NULL,
    ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL, verified INTEGER NOT NULL, PRIMARY KEY (path, offset));
CREATE INDEX blobs_digest ON blobs (digest);
CREATE TABLE images (digest TEXT NOT NULL, image TEXT NOT NULL, seen REAL NOT NULL, PRIMARY KEY (digest, image));
CREATE TABLE results (key TEXT PRIMARY KEY, bytes INTEGER NOT NULL, used REAL NOT NULL, version TEXT NOT NULL);
CREATE INDEX results_used ON results (used);
CREATE INDEX results_version ON results (version);
CREATE TABLE outputs (version TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


_PLACE = "path, offset, length, dev, ino, size, mtime_ns, ctime_ns"  # where an archive blob is, and its file


class CacheUnusable(Exception):
    """The cache directory or file cannot be used safely (said once, then the cache is bypassed)."""


def _private(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class LayerCache:
    """The cache file, open. Every method swallows SQLite's errors into a miss: a cache that
    fails is a slower run, never a failed one (`broken` says why it gave up)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or cache_dir()
        self.path = self.folder / FILE_NAME
        self.broken: str | None = None
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.folder.stat()
        except OSError as exc:
            raise CacheUnusable(f"{self.folder}: {exc.strerror or exc}") from None
        if not _private(info):
            raise CacheUnusable(f"{self.folder}: owned by another user or writable by others; not used")
        with contextlib.suppress(FileNotFoundError):
            if not _private(self.path.lstat()) or self.path.is_symlink():
                raise CacheUnusable(f"{self.path}: owned by another user, writable by others or a link; not used")
        try:
            return self._connect()
        except sqlite3.OperationalError as exc:  # locked past the timeout, unreadable: left alone
            raise CacheUnusable(f"{self.path}: {exc}") from None
        except sqlite3.DatabaseError:  # not a database, damaged, or another application's
            self._remove()
        try:
            return self._connect()
        except sqlite3.Error as exc:
            raise CacheUnusable(f"{self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            app = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if app == 0 and version == 0:
                tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if tables:
                    raise sqlite3.DatabaseError("another application's database")
                db.execute("BEGIN IMMEDIATE")
                if db.execute("PRAGMA application_id").fetchone()[0] == 0:  # not made meanwhile
                    for statement in _TABLES.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version={SCHEMA}")
                db.execute("COMMIT")
            elif app != APPLICATION_ID or version != SCHEMA:
                raise sqlite3.DatabaseError("not a layer cache of this version")
            return db
        except BaseException:
            db.close()
            raise

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def _fail(self, exc: sqlite3.Error) -> None:
        """Stop using the cache for this run; a damaged file goes (the next run makes a new one)."""
        self.broken = f"{self.path}: {exc}"
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            self._remove()

    def close(self) -> None:
        self._db.close()

    # ---- lookups ----
    def _read(self, query: str, params: tuple) -> list[tuple]:
        """The rows of `query` (none once the cache is broken, or if the read breaks it)."""
        if self.broken:
            return []
        try:
            return self._db.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
            return []

    def _read_one(self, query: str, params: tuple) -> tuple | None:
        rows = self._read(query, params)
        return rows[0] if rows else None

    def blob(self, location: Location, known: tuple) -> tuple[str, bool] | None:
        """What is remembered of this archive blob while its file is as `known` (its `identity`):
        (its verified digest, True), or (the digest its archive claimed, "" if none; False)."""
        row = self._read_one(
            "SELECT dev, ino, size, mtime_ns, ctime_ns, length, digest, verified FROM blobs WHERE path=? AND offset=?",
            (known[0], location.offset),
        )
        if row is None or tuple(row[:5]) != known[1:] or row[5] != location.size:
            return None
        return row[6], bool(row[7])

    def claimed(self, claim: str, diff_id: str | None, heads: str) -> list[tuple[Location, tuple]]:
        """The archive blobs with an unverified record that claim `claim`: (where, their file's
        identity when the record was made)."""
        rows = self._read(f"SELECT {_PLACE} FROM blobs WHERE digest=? AND verified=0", (claim,))  # noqa: S608 (ours)
        places = [(Location(*row[:3]), (row[0], *row[3:])) for row in rows]
        return [(at, known) for at, known in places if self.has(place_key(known, at.offset, at.size), diff_id, heads)]

    def get(self, digest: str, diff_id: str | None, heads: str) -> Record | None:
        row = self._read_one(
            "SELECT text, ints, u64, nulls, data FROM layers JOIN records USING (version)"
            " WHERE digest=? AND diff_id=? AND format=? AND heads=?",
            (digest, diff_id or "", FORMAT, heads),
        )
        return Record(*row) if row else None

    def has(self, digest: str, diff_id: str | None, heads: str) -> bool:
        return self.version(digest, diff_id, heads) is not None

    def version(self, digest: str, diff_id: str | None, heads: str) -> str | None:
        """The version of the record held under this key (a new one each time one is stored),
        or None without one."""
        row = self._read_one(
            "SELECT version FROM layers WHERE digest=? AND diff_id=? AND format=? AND heads=?",
            (digest, diff_id or "", FORMAT, heads),
        )
        return row[0] if row else None

    def result(self, key: str) -> bytes | None:
        """A whole-image result kept under `key` (see `put_result`), marked as used now."""
        row = self._read_one("SELECT data FROM results JOIN outputs USING (version) WHERE key=?", (key,))
        if row is None:
            return None
        self._write(lambda db: db.execute("UPDATE results SET used=? WHERE key=?", (time.time(), key)))
        return bytes(row[0])

    def drop(self, digest: str, diff_id: str | None) -> None:
        """Forget a record that would not decode."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM layers WHERE digest=? AND diff_id=?", (digest, diff_id or ""))
            _forget_orphans(db)

        self._write(work)

    def also_in(self, digest: str, image: str) -> list[str]:
        """The other images seen with this layer, most recent first."""
        rows = self._read("SELECT image FROM images WHERE digest=? AND image<>? ORDER BY seen DESC", (digest, image))
        return [row[0] for row in rows]

    # ---- writes ----
    def _write(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """Run `work` in one write transaction (nothing, once the cache is broken); the bytes of
        records and results it replaced or deleted go with it."""
        if self.broken:
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                work(db)
                db.execute("DELETE FROM records WHERE version NOT IN (SELECT version FROM layers)")
                db.execute("DELETE FROM outputs WHERE version NOT IN (SELECT version FROM results)")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._fail(exc)

    def put(
        self, key: str, diff_id: str | None, heads: str, record: Record, place: tuple[Location, tuple, str, bool] | None
    ) -> None:
        """Store a record under `key`; `place` (location, its file's identity, its digest or
        claim, verified) remembers the archive blob it was made of."""
        sizes = [_nbytes(column) for column in record[1:]]
        size = len(record.text) + sum(sizes)

        def work(db: sqlite3.Connection) -> None:
            version = os.urandom(16).hex()
            row = db.execute(
                "INSERT INTO records VALUES (?,?,zeroblob(?),zeroblob(?),zeroblob(?),zeroblob(?))",
                (version, record.text, *sizes),
            ).lastrowid
            for name, column in zip(Record._fields[1:], record[1:], strict=True):
                _fill(db, "records", name, row, _parts(column))
            row = (key, diff_id or "", FORMAT, heads, size, time.time(), version)
            db.execute("INSERT OR REPLACE INTO layers VALUES (?,?,?,?,?,?,?)", row)
            if place is not None:
                self._remember(db, *place)

        self._write(work)
        self._write(self._evict)

    def put_result(self, key: str, data: bytes) -> None:
        """Keep a whole-image result (a report as printed) under `key`, which its caller makes
        of everything that decides it: the code, the options, the image's manifest and config,
        and the key and version of every layer record it was made of. It goes with the least
        recently used records, under the same bound."""

        def work(db: sqlite3.Connection) -> None:
            version = os.urandom(16).hex()
            row = db.execute("INSERT INTO outputs VALUES (?,zeroblob(?))", (version, len(data))).lastrowid
            _fill(db, "outputs", "data", row, (data,))
            db.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?)", (key, len(data), time.time(), version))

        self._write(work)
        self._write(self._evict)

    def remember_blob(self, location: Location, known: tuple, digest: str) -> None:
        """A scan here hashed this archive blob, its file as `known`: its sha256 is `digest`."""
        self._write(lambda db: self._remember(db, location, known, digest, True))

    def promote(self, location: Location, known: tuple, digest: str) -> None:
        """This archive blob's unverified record hashed to `digest`: it becomes verified under it."""
        old = place_key(known, location.offset, location.size)

        def work(db: sqlite3.Connection) -> None:
            for table in ("layers", "images"):
                db.execute(f"UPDATE OR REPLACE {table} SET digest=? WHERE digest=?", (digest, old))  # noqa: S608 (ours)
            self._remember(db, location, known, digest, True)

        self._write(work)

    def _remember(self, db: sqlite3.Connection, location: Location, known: tuple, digest: str, verified: bool) -> None:
        path, dev, ino, size, mtime_ns, ctime_ns = known
        if racy(known):
            return  # written just now: a rewrite within the timestamps' granularity would go unseen
        before = db.execute(
            f"SELECT {_PLACE} FROM blobs WHERE path=? AND offset=? AND verified=0",  # noqa: S608 (ours)
            (path, location.offset),
        ).fetchone()
        if before is not None:  # the unverified record of what was here goes, unless it is this one
            stale = place_key((before[0], *before[3:]), before[1], before[2])
            if verified or stale != place_key(known, location.offset, location.size):
                db.execute("DELETE FROM layers WHERE digest=?", (stale,))
        db.execute(
            "INSERT OR REPLACE INTO blobs VALUES (?,?,?,?,?,?,?,?,?,?)",
            (path, location.offset, location.size, dev, ino, size, mtime_ns, ctime_ns, digest, int(verified)),
        )

    def touch(self, uses: Sequence[tuple[str, str | None, str]]) -> None:
        """Mark records (digest, diff_id) as used now (the LRU order) by the image named."""
        now = time.time()

        def work(db: sqlite3.Connection) -> None:
            for digest, diff_id, image in uses:
                db.execute("UPDATE layers SET used=? WHERE digest=? AND diff_id=?", (now, digest, diff_id or ""))
                db.execute("INSERT OR REPLACE INTO images VALUES (?,?,?)", (digest, image, now))

        self._write(work)

    @staticmethod
    def _evict(db: sqlite3.Connection) -> None:
        """Past `max_bytes`, drop the least recently used records and results down to 90 % of
        it; then what is remembered of the archive blobs whose records went."""
        limit = max_bytes()
        total = db.execute(_STORED).fetchone()[0]
        if total <= limit:
            return
        goal = limit * 0.9
        oldest = db.execute(
            "SELECT used, 0, digest, diff_id, bytes FROM layers UNION ALL SELECT used, 1, key, '', bytes FROM results"
            " ORDER BY used"
        ).fetchall()
        for _, result, key, diff_id, size in oldest:
            if total <= goal:
                break
            if result:
                db.execute("DELETE FROM results WHERE key=?", (key,))
            else:
                db.execute("DELETE FROM layers WHERE digest=? AND diff_id=?", (key, diff_id))
            total -= size
        _forget_orphans(db)

    # ---- the `cache` command ----
    def info(self) -> dict:
        counts = {}
        for table in ("layers", "blobs", "images", "results"):
            counts[table] = self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (ours)
        stored = self._db.execute(_STORED).fetchone()[0]
        images = self._db.execute("SELECT count(DISTINCT image) FROM images").fetchone()[0]
        on_disk = sum(os.path.getsize(f"{self.path}{s}") for s in ("", "-wal") if os.path.exists(f"{self.path}{s}"))
        return {
            "path": str(self.path),
            "layers": counts["layers"],
            "results": counts["results"],
            "images": images,
            "archive_blobs": counts["blobs"],
            "verified_archive_blobs": self._db.execute("SELECT count(*) FROM blobs WHERE verified=1").fetchone()[0],
            "stored_bytes": stored,
            "file_bytes": on_disk,
            "max_bytes": max_bytes(),
        }

    def clear(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            for table in ("layers", "records", "blobs", "images", "results", "outputs"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 (ours)

        self._write(work)
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("VACUUM")


def _fill(db: sqlite3.Connection, table: str, column: str, row: int | None, parts: Sequence[Buffer]) -> None:
    """Write a blob inserted as zeros, a part at a time: bound whole, SQLite would copy it
    twice (the bound value, then the row made of it); a million entries' record is ~23 MB."""
    if not any(parts):
        return
    assert row is not None
    with db.blobopen(table, column, row) as blob:
        for part in parts:
            view = memoryview(part).cast("B")
            for start in range(0, len(view), WRITE_PART):
                blob.write(view[start : start + WRITE_PART])


_STORED = "SELECT (SELECT coalesce(sum(bytes), 0) FROM layers) + (SELECT coalesce(sum(bytes), 0) FROM results)"


def _forget_orphans(db: sqlite3.Connection) -> None:
    """After records went: the images seen with them, and the archive blobs they were made of
    (a blob remembered without its record would say that no layer need be read)."""
    db.execute("DELETE FROM images WHERE digest NOT IN (SELECT digest FROM layers)")
    db.execute("DELETE FROM blobs WHERE verified=1 AND digest NOT IN (SELECT digest FROM layers)")
    unverified = db.execute(f"SELECT {_PLACE} FROM blobs WHERE verified=0").fetchall()  # noqa: S608 (ours)
    for row in unverified:
        key = place_key((row[0], *row[3:]), row[1], row[2])
        if db.execute("SELECT 1 FROM layers WHERE digest=? LIMIT 1", (key,)).fetchone() is None:
            db.execute("DELETE FROM blobs WHERE path=? AND offset=?", row[:2])


def _sha256_at(location: Location) -> str | None:
    """The digest of a blob in a file, read in 1 MiB pieces (None if it cannot be read whole)."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(location.path, "rb") as f:
            f.seek(location.offset)
            left = location.size
            while left:
                data = f.read(min(left, 1 << 20))
                if not data:
                    return None
                digest.update(data)
                left -= len(data)
    except OSError:
        return None
    return "sha256:" + digest.hexdigest()


def racy(known: tuple) -> bool:
    """Whether a file of this identity was changed too recently for its timestamps to say it is unchanged."""
    return time.time() - max(known[4], known[5]) / 1e9 < RACY


def open_cache() -> tuple[LayerCache | None, str | None]:
    """The user's cache, or (None, why not)."""
    try:
        return LayerCache(), None
    except CacheUnusable as exc:
        return None, str(exc)


# ---- scans through the cache ------------------------------------------------------------------------


class LayerKey(NamedTuple):
    """What an image says of a layer: its blob's digest (None in a legacy docker archive) and diff_id."""

    digest: str | None
    diff_id: str | None


def _registry_digest(location: object) -> str | None:
    """A registry blob's digest (checked as it streams), or None for any other blob."""
    digest = getattr(location, "digest", None)  # a registry's `RemoteBlob`
    return digest if isinstance(digest, str) and digest.startswith("sha256:") else None


def _hit_allowed(scan: LayerScan, verify: bool, limits: Limits) -> bool:
    """Would scanning it now give this scan: the limits it passed still pass, and with
    `verify`, its tar was hashed (so the diff_id check has something to check)."""
    if verify and scan.tar_sha256 is None:
        return False
    return scan.tar_size <= RATIO_FLOOR or scan.tar_size <= limits.max_ratio * max(scan.blob_size, 1)


def _hashes_to(location: Location, known: tuple | None, digest: str) -> bool:
    """Whether the blob has this sha256 (and, with `known`, its file is as known before and after)."""
    if known is not None and identity(location.path) != known:
        return False
    return _sha256_at(location) == digest and (known is None or identity(location.path) == known)


class CachedScans:
    """The scans of an image's layers, from the cache where it has them, else from the pool.

    Each layer's record key (`used`) is its verified digest, or for an archive blob whose
    record is unverified, its place. `hits` holds the indexes of the layers that came from the
    cache, `also_in` the other images each layer was seen in; both are known before the first
    scan is yielded.
    """

    def __init__(
        self,
        cache: LayerCache,
        source: Source,
        blobs: Sequence[LayerBlob],
        keys: Sequence[LayerKey],
        images: Sequence[str],
        verify: bool,
        limits: Limits,
    ) -> None:
        self.cache = cache
        self.source = source
        self.blobs = blobs
        self.keys = keys
        self.images = images  # the name of the image each layer is of
        self.verify = verify
        self.limits = limits
        self.heads = repr(limits.capture.heads)
        self.hits: dict[int, LayerScan] = {}
        self.also_in: dict[int, list[str]] = {}
        self.trusted: list[str | None] = []  # the verified digest of each blob, where known
        self.used: list[str | None] = []  # the key of each layer's record: `trusted`, or its place
        self.locations: list[object] = []
        self.known: list[tuple | None] = []  # an archive blob's file identity, taken before it is read
        for blob, key in zip(blobs, keys, strict=True):
            location = source.locate(blob.name) if source.exists(blob.name) else None
            known = identity(location.path) if isinstance(location, Location) else None
            trusted = used = _registry_digest(location)
            if isinstance(location, Location) and known is not None:
                remembered = cache.blob(location, known)
                if remembered is not None and remembered[1]:
                    trusted = used = remembered[0]
                elif remembered is not None and remembered[0] == (key.digest or "") and not verify:
                    used = place_key(known, location.offset, location.size)  # the very bytes its record was made of
            if trusted is not None and key.digest is not None and key.digest != trusted:
                trusted = used = None  # the image names another blob than the one verified here
            self.locations.append(location)
            self.known.append(known)
            self.trusted.append(trusted)
            self.used.append(used)
        self._check_claims()

    def records(self) -> list[tuple[str, str | None, str]] | None:
        """The key, diff_id and version of every layer's record, when the cache holds a record
        of each (a whole-image result made of them can be kept: see `LayerCache.put_result`)."""
        records = []
        for used, key in zip(self.used, self.keys, strict=True):
            version = self.cache.version(used, key.diff_id, self.heads) if used is not None else None
            if version is None:
                return None
            records.append((used, key.diff_id, version))
        return records

    def touch(self) -> None:
        """Mark every layer's record as used now, by this image (when a result made of them is)."""
        uses = [(used, key.diff_id, image) for used, key, image in zip(self.used, self.keys, self.images, strict=True)]
        self.cache.touch([use for use in uses if use[0] is not None])  # type: ignore[misc]

    def load(self) -> None:
        """Decode the records of the layers the cache holds (`hits`), and find the other images
        each layer was seen in (`also_in`)."""
        cache, limits = self.cache, self.limits
        for index, (blob, key) in enumerate(zip(self.blobs, self.keys, strict=True)):
            used = self.used[index]
            record = cache.get(used, key.diff_id, self.heads) if used is not None else None
            if record is None:
                continue
            try:
                scan = decode(record, blob.label, limits)
            except Exception:  # noqa: BLE001 (a damaged record, whatever the damage: a miss, and it goes)
                cache.drop(used, key.diff_id)  # type: ignore[arg-type]
                continue
            if _hit_allowed(scan, self.verify, limits):
                self.hits[index] = scan
        for index, used in enumerate(self.used):
            if used is not None:
                self.also_in[index] = cache.also_in(used, self.images[index])

    def _check_claims(self) -> None:
        """Blobs whose digest has a record they are not known by (another archive with the same
        base layers, a registry image of an archive read before): an archive blob is hashed,
        and trusted if it hashes to its claim; an unverified record claiming that digest is
        hashed at its place, and becomes verified if it does too. Reading a blob to hash it is
        cheaper than reading it to scan it (about 5x for gzip)."""
        work: list[tuple[int, bool, list[tuple[Location, tuple]]]] = []
        for i, (location, key) in enumerate(zip(self.locations, self.keys, strict=True)):
            claim, diff_id = key.digest, key.diff_id
            if claim is None or not claim.startswith("sha256:"):
                continue
            if self.cache.has(self.used[i] or "", diff_id, self.heads):
                continue
            on_disk = isinstance(location, Location) and self.trusted[i] is None
            if not on_disk and self.trusted[i] is None:
                continue
            verified = self.cache.has(claim, diff_id, self.heads)
            places = [] if verified else self.cache.claimed(claim, diff_id, self.heads)
            if verified or places:
                work.append((i, on_disk, places))
        if not work:
            return
        from concurrent.futures import ThreadPoolExecutor

        def check(task: tuple[int, bool, list[tuple[Location, tuple]]]) -> tuple[bool, tuple[Location, tuple] | None]:
            i, on_disk, places = task
            claim = self.keys[i].digest
            assert claim is not None
            if on_disk and not _hashes_to(self.locations[i], self.known[i], claim):  # type: ignore[arg-type]
                return False, None
            return True, next((place for place in places if _hashes_to(*place, claim)), None)

        with ThreadPoolExecutor(min(len(work), os.cpu_count() or 1)) as hashers:  # sha256 lets go of the GIL
            results = list(hashers.map(check, work))
        for (i, on_disk, places), (true, place) in zip(work, results, strict=True):
            claim = self.keys[i].digest
            if not true or claim is None:
                continue
            self.trusted[i] = claim
            if on_disk and self.known[i] is not None:
                self.cache.remember_blob(self.locations[i], self.known[i], claim)  # type: ignore[arg-type]
            if place is not None:
                self.cache.promote(*place, claim)
            if place is not None or not places:  # a verified record, or one just made so
                self.used[i] = claim

    def scans(
        self, pool: ScanPool, on_progress: LayerProgress | None = None, largest_first: bool = False
    ) -> Iterator[tuple[int, LayerScan]]:
        """(index, scan) of every layer, in layer order (see `ScanPool.scan`)."""
        misses = [i for i in range(len(self.blobs)) if i not in self.hits]
        if self.hits:
            self.source.retain([self.blobs[i].name for i in misses])  # a registry fetches no other
        used: list[tuple[str, str | None, str]] = []
        try:
            scanned: Iterator[tuple[int, LayerScan]] = iter(())
            if misses:
                progress = _progress_of(misses, on_progress)
                # an archive just written cannot be remembered by its place: its blobs are hashed
                just_written = any(self.known[i] is not None and racy(self.known[i]) for i in misses)  # type: ignore[arg-type]
                limits = self.limits._replace(hash_blob=True) if just_written else self.limits
                blobs = [self.blobs[i] for i in misses]
                scanned = pool.scan(self.source, blobs, self.verify, limits, progress, largest_first)
            else:
                pool.close()  # workers started for this image have nothing to do
            for index in range(len(self.blobs)):
                storing = None
                if index in self.hits:
                    scan = self.hits.pop(index)
                    if on_progress:
                        on_progress(index, self.blobs[index].size, self.blobs[index].size)
                else:
                    _, scan = next(scanned)
                    storing = self._store(index, scan)
                key = self.used[index]
                if key is not None:
                    used.append((key, self.keys[index].diff_id, self.images[index]))
                yield index, scan
                if storing is not None:  # the layer is stacked: its rows went through the maker
                    storing()
        finally:
            if used:
                self.cache.touch(used)

    def _store(self, index: int, scan: LayerScan) -> Callable[[], None] | None:
        """Keep a fresh scan: under the digest its blob was verified to have (hashed as it
        streamed, or a registry's), else, for an archive blob, unverified under its place.

        Rows that came packed are taken into the record as they are decoded for stacking:
        what is returned then stores it, once the layer is stacked."""
        key, location, known = self.keys[index], self.locations[index], self.known[index]
        place = None
        if isinstance(location, Location):
            if known is None:
                return None
            digest = "sha256:" + scan.blob_sha256 if scan.blob_sha256 is not None else self.trusted[index]
            if digest is not None:  # hashed as it streamed, or before (see `_check_claims`)
                if key.digest is not None and key.digest != digest:
                    return None  # the archive's claim is false: --verify says so; nothing is remembered
                self.trusted[index] = self.used[index] = digest
                place = (location, known, digest, True)
            elif racy(known):
                return None
            else:
                self.used[index] = place_key(known, location.offset, location.size)
                place = (location, known, key.digest or "", False)
        elif self.trusted[index] is None:
            return None  # a registry blob is checked as it streams: `trusted` is its digest
        stored = self.used[index]
        assert stored is not None
        maker = RecordMaker.start(scan, self.blobs[index].label)

        def put() -> None:
            record = maker.record() if maker is not None and maker.count == len(scan_rows) else None
            if record is not None:
                self.cache.put(stored, key.diff_id, self.heads, record, place)
            elif place is not None and place[3]:
                self.cache.remember_blob(location, known, place[2])  # type: ignore[arg-type]

        scan_rows = scan.rows
        if maker is not None and isinstance(scan_rows, PackedRows):
            scan.rows = _Recorded(scan_rows, maker)
            return put
        if maker is not None:
            maker.add(scan_rows)  # type: ignore[arg-type] (a list: held whole anyway)
        put()
        return None


class _Recorded(PackedRows):
    """Packed rows that hand each batch, as it is decoded (once, to be stacked), to the maker
    of their layer's record."""

    __slots__ = ("maker",)

    def __init__(self, rows: PackedRows, maker: RecordMaker) -> None:
        self.packed, self.count, self.hiding = rows.packed, rows.count, rows.hiding
        self.maker: RecordMaker | None = maker

    def batches(self) -> Iterator[list[Row]]:
        maker, self.maker = self.maker, None  # rows decoded again are not added again
        for batch in super().batches():
            if maker is not None:
                maker.add(batch)
            yield batch


def _progress_of(misses: list[int], on_progress: LayerProgress | None) -> LayerProgress | None:
    """The pool's progress (by its own numbering of the layers it scans) in the image's."""
    if on_progress is None:
        return None
    report: Callable[[int, int, int], None] = on_progress
    return lambda i, done, size: report(misses[i], done, size)
