"""A forward-only tar reader that hashes file contents as they stream past.

Written for speed and for hostile input: it never seeks, never holds more than one chunk of
file content, understands ustar, PAX (`x`/`g`) and GNU long names (`L`/`K`), base-256 numbers,
and tolerates a tar that ends without its end-of-archive blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

import xxhash

from .entries import BLOCK as BLOCK_DEV
from .entries import (
    CHAR,
    DIR,
    FIFO,
    FILE,
    HARDLINK,
    OPAQUE,
    OTHER,
    SYMLINK,
    WHITEOUT,
    Entry,
    normalize,
)
from .errors import CorruptBlob
from .limits import DEFAULT_LIMITS, MAX_DEPTH, MAX_EXTENDED_HEADER

BLOCK = 512
HASH_CHUNK = 1 << 20
WH_PREFIX = ".wh."
OPAQUE_NAME = ".wh..wh..opq"
AUFS_PREFIX = ".wh..wh."

_TYPES = {
    b"0": FILE,
    b"\0": FILE,
    b"7": FILE,
    b"1": HARDLINK,
    b"2": SYMLINK,
    b"3": CHAR,
    b"4": BLOCK_DEV,
    b"5": DIR,
    b"6": FIFO,
}


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _cstr(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        value = field[0] & 0x3F
        for byte in field[1:]:
            value = (value << 8) | byte
        return -value if field[0] & 0x40 else value
    text = _cstr(field).strip(b" \0")
    return int(text, 8) if text else 0


def _checksum_ok(header: bytes) -> bool:
    """True when a 512-byte block is a tar header (its checksum field matches its bytes)."""
    try:
        stored = _number(header[148:156])
    except ValueError:
        return False
    unsigned = sum(header) - sum(header[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    signed = unsigned - 2 * sum(b for b in header if b > 127)
    return stored == signed


def _pax_records(data: bytes, name: str) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise CorruptBlob(f"{name}: malformed PAX header") from None
        if space < 0 or length <= 0 or pos + length > len(data):
            raise CorruptBlob(f"{name}: malformed PAX header")
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[_decode(key)] = value
        pos += length
    return records


class TarReader:
    """Iterates the entries of one layer tar, counting bytes and hashing regular files."""

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        on_progress: Callable[[int], None] | None = None,
        max_entries: int = DEFAULT_LIMITS.max_entries,
    ) -> None:
        self._stream = stream
        self._name = name
        self._on_progress = on_progress
        self._max_entries = max_entries
        self.offset = 0
        self.warnings: list[str] = []

    def _read(self, n: int) -> bytes:
        data = self._stream.read(n)
        while len(data) < n:
            more = self._stream.read(n - len(data))
            if not more:
                break
            data += more
        self.offset += len(data)
        return data

    def _read_exact(self, n: int, what: str) -> bytes:
        data = self._read(n)
        if len(data) != n:
            raise CorruptBlob(f"{self._name}: layer tar truncated inside {what}")
        return data

    def _skip_padding(self, size: int) -> None:
        pad = -size % BLOCK
        if pad:
            self._read_exact(pad, "padding")

    def _data(self, size: int, what: str) -> bytes:
        data = self._read_exact(size, what)
        self._skip_padding(size)
        return data

    def _skip(self, size: int, what: str) -> None:
        left = size
        while left:
            left -= len(self._read_exact(min(left, HASH_CHUNK), what))
        self._skip_padding(size)

    def _hash_content(self, size: int, path: str) -> int:
        if size <= HASH_CHUNK:
            digest = xxhash.xxh3_64_intdigest(self._read_exact(size, path))
        else:
            hasher = xxhash.xxh3_64()
            left = size
            while left:
                chunk = self._read_exact(min(left, HASH_CHUNK), path)
                hasher.update(chunk)
                left -= len(chunk)
                if self._on_progress:
                    self._on_progress(self.offset)
            digest = hasher.intdigest()
        self._skip_padding(size)
        return digest

    def __iter__(self) -> Iterator[Entry]:
        pax_global: dict[str, bytes] = {}
        pax: dict[str, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        count = 0
        while True:
            header = self._read(BLOCK)
            if len(header) < BLOCK:
                if header.strip(b"\0"):
                    raise CorruptBlob(f"{self._name}: layer tar truncated inside a header")
                return  # ends without end-of-archive blocks: tolerated
            if not header.strip(b"\0"):
                return
            if not _checksum_ok(header):
                raise CorruptBlob(
                    f"{self._name}: not a tar archive (bad header checksum at byte {self.offset - BLOCK})"
                )
            typeflag = header[156:157]
            at = self.offset - BLOCK
            try:
                size = _number(header[124:136])
            except ValueError:
                raise CorruptBlob(f"{self._name}: malformed tar header at byte {at}") from None
            if typeflag in (b"x", b"g", b"L", b"K"):
                if size < 0:
                    raise CorruptBlob(f"{self._name}: negative size in tar header at byte {at}")
                if size > MAX_EXTENDED_HEADER:
                    raise CorruptBlob(f"{self._name}: extended tar header of {size} bytes (over {MAX_EXTENDED_HEADER})")
                data = self._data(size, "an extended header")
                if typeflag == b"x":
                    pax.update(_pax_records(data, self._name))
                elif typeflag == b"g":
                    pax_global.update(_pax_records(data, self._name))
                elif typeflag == b"L":
                    long_name = _cstr(data)
                else:
                    long_link = _cstr(data)
                continue
            records = {**pax_global, **pax} if pax_global else pax
            try:
                size = int(records["size"]) if "size" in records else size
                mode = _number(header[100:108]) & 0o7777
                uid = int(records["uid"]) if "uid" in records else _number(header[108:116])
                gid = int(records["gid"]) if "gid" in records else _number(header[116:124])
                mtime = int(float(records["mtime"])) if "mtime" in records else _number(header[136:148])
            except (ValueError, OverflowError):
                raise CorruptBlob(f"{self._name}: malformed tar header at byte {at}") from None
            if size < 0:
                raise CorruptBlob(f"{self._name}: negative size in tar header at byte {at}")
            name = records.get("path") or long_name
            if name is None:
                name = _cstr(header[0:100])
                if header[257:263] == b"ustar\x00":
                    prefix = _cstr(header[345:500])
                    if prefix:
                        name = prefix + b"/" + name
            link = records.get("linkpath") or long_link or _cstr(header[157:257])
            pax, long_name, long_link = {}, None, None
            kind = _TYPES.get(typeflag, OTHER)
            if kind == OTHER:
                self.warnings.append(f"entry of unknown type kept as 'other': {_decode(name)} (type {typeflag!r})")
            path = normalize(_decode(name))
            entry = Entry(
                path,
                kind,
                mode=mode,
                uid=uid,
                gid=gid,
                mtime=mtime,
                link=_decode(link) if kind in (SYMLINK, HARDLINK) else "",
            )
            if kind == FILE:
                entry.size = size
                entry.digest = self._hash_content(size, entry.path)
            elif kind == OTHER and size:
                self._skip(size, entry.path)  # unknown types carry data, as in tarfile
            if kind == HARDLINK:
                entry.link = normalize(entry.link)
            if path.count("/") >= MAX_DEPTH:
                self.warnings.append(f"a path deeper than {MAX_DEPTH} directories skipped: {path[:200]}…")
                continue
            head, _, base = path.rpartition("/")
            if AUFS_PREFIX in head and any(part.startswith(AUFS_PREFIX) for part in head.split("/")):
                continue  # inside AUFS metadata (.wh..wh.plnk/ holds hard-link targets): not files
            if base.startswith(WH_PREFIX):
                if base == OPAQUE_NAME:
                    entry.kind, entry.path = OPAQUE, head
                elif base.startswith(AUFS_PREFIX):
                    continue  # AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a file
                else:
                    entry.kind = WHITEOUT
                    entry.path = path[: len(path) - len(base)] + base[len(WH_PREFIX) :]
            elif not path:
                continue  # the root directory itself
            count += 1
            if count > self._max_entries:
                raise CorruptBlob(f"{self._name}: more than {self._max_entries} entries (raise it with --max-entries)")
            if self._on_progress:
                self._on_progress(self.offset)
            yield entry
