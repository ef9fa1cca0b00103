"""A forward-only tar reader that hashes file contents as they stream past.

Written for speed and for hostile input: it reads the tar as a sequence of chunks (the
output of a decompressor, or reads of a file), parses headers and hashes file contents
in place without copying them, never seeks, and never holds more than one chunk. It
understands ustar, PAX (`x`/`g`) and GNU long names (`L`/`K`), base-256 numbers, and
tolerates a tar that ends without its end-of-archive blocks.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator

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
    Row,
    normalize,
)
from .errors import CorruptBlob
from .limits import DEFAULT_LIMITS, MAX_DEPTH, MAX_EXTENDED_HEADER

BLOCK = 512
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
_EXTENDED = (b"x", b"g", b"L", b"K")


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


def _octal(field: bytes) -> int:
    """A numeric header field: the usual NUL- or space-ended octal at once, else `_number`."""
    try:
        return int(field.rstrip(b"\0 "), 8)
    except ValueError:
        return _number(field)


def checksum_ok(header: bytes) -> bool:
    """True when a 512-byte block is a tar header (its checksum field matches its bytes).

    The byte sum is taken from adler32 (its low half is 1 + the sum, mod 65521), so a stored
    checksum off by exactly 65521 passes too: harmless for telling headers from other data.
    """
    field = header[148:156]
    try:
        stored = _octal(field)
    except ValueError:
        return False
    unsigned = (zlib.adler32(header) & 0xFFFF) - 1 - sum(field) + 8 * 32
    if (stored - unsigned) % 65521 == 0:
        return True
    signed = unsigned - 2 * sum(b for b in header if b > 127)  # old tars summed signed bytes
    return (stored - signed) % 65521 == 0


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


def _path(name: bytes) -> str:
    """The canonical path of a member name, without `normalize`'s split for the usual names."""
    text = _decode(name)
    if text.startswith("./"):
        text = text[2:]
    text = text.rstrip("/")
    if text.startswith((".", "/")) or "/." in text or "//" in text:
        return normalize(text)
    return text


class TarReader:
    """Reads the entries of one layer tar from `chunks` (bytes objects), hashing regular files.

    `rows()` gives each entry as a `Row`; `rest()` then gives what follows the end of the
    archive. `offset` counts the tar bytes consumed.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        name: str,
        on_progress: Callable[[int], None] | None = None,
        max_entries: int = DEFAULT_LIMITS.max_entries,
    ) -> None:
        self._chunks = iter(chunks)
        self._name = name
        self._on_progress = on_progress
        self._max_entries = max_entries
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0
        self._base = 0  # tar offset of _buf[0]
        self.warnings: list[str] = []

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def _next_chunk(self) -> bool:
        """Move to the next chunk; False at the end of the stream."""
        for chunk in self._chunks:
            if chunk:
                self._base += len(self._buf)
                self._buf, self._view, self._pos = chunk, memoryview(chunk), 0
                if self._on_progress:
                    self._on_progress(self._base)
                return True
        self._base += len(self._buf)
        self._buf, self._view, self._pos = b"", memoryview(b""), 0
        return False

    def _take(self, n: int) -> bytes:
        """The next `n` bytes (fewer only at the end of the stream)."""
        pos = self._pos
        end = pos + n
        if end <= len(self._buf):
            self._pos = end
            return self._buf[pos:end]
        parts = [self._buf[pos:]]
        have = len(parts[0])
        while have < n and self._next_chunk():
            part = self._buf[: n - have]
            self._pos = len(part)
            parts.append(part)
            have += len(part)
        return b"".join(parts)

    def _take_exact(self, n: int, what: str) -> bytes:
        data = self._take(n)
        if len(data) != n:
            raise CorruptBlob(f"{self._name}: layer tar truncated inside {what}")
        return data

    def _consume(self, n: int, what: str, hasher: xxhash.xxh3_64 | None = None) -> None:
        """Skip `n` bytes, feeding them to `hasher` if given."""
        while True:
            avail = len(self._buf) - self._pos
            if n <= avail:
                if hasher is not None:
                    hasher.update(self._view[self._pos : self._pos + n])
                self._pos += n
                return
            if hasher is not None:
                hasher.update(self._view[self._pos :])
            n -= avail
            if not self._next_chunk():
                raise CorruptBlob(f"{self._name}: layer tar truncated inside {what}")

    def _in_chunk(self, size: int) -> int | None:
        """Where `size` bytes of data start, if they and their padding lie in this chunk (the
        usual case): the reader moves past them. Else None, and the reader stays."""
        pos = self._pos
        padded = pos + size + (-size % BLOCK)
        if padded > len(self._buf):
            return None
        self._pos = padded
        return pos

    def _content(self, size: int, what: str) -> int:
        """Hash a file's content and skip its padding; return the xxh3-64 digest."""
        pos = self._in_chunk(size)
        if pos is not None:
            return xxhash.xxh3_64_intdigest(self._view[pos : pos + size])
        hasher = xxhash.xxh3_64()
        self._consume(size, what, hasher)
        self._consume(-size % BLOCK, "padding")
        return hasher.intdigest()

    def _data(self, size: int, what: str) -> bytes:
        pos = self._in_chunk(size)
        if pos is not None:
            return self._buf[pos : pos + size]
        data = self._take_exact(size, what)
        self._consume(-size % BLOCK, "padding")
        return data

    def rest(self) -> Iterator[bytes]:
        """What follows the end of the archive: the rest of the current chunk, then the stream."""
        if self._pos < len(self._buf):
            yield self._buf[self._pos :]
            self._pos = len(self._buf)
        while self._next_chunk():
            yield self._buf
            self._pos = len(self._buf)

    def rows(self) -> Iterator[Row]:
        """The entries, in tar order (whiteouts and opaque markers as such, the root left out)."""
        name_of = self._name
        pax_global: dict[str, bytes] = {}
        pax: dict[str, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        count = 0
        while True:
            header = self._take(BLOCK)
            if len(header) < BLOCK:
                if header.strip(b"\0"):
                    raise CorruptBlob(f"{name_of}: layer tar truncated inside a header")
                return  # ends without end-of-archive blocks: tolerated
            if header[:1] == b"\0" and not header.strip(b"\0"):
                return
            if not checksum_ok(header):
                raise CorruptBlob(f"{name_of}: not a tar archive (bad header checksum at byte {self.offset - BLOCK})")
            typeflag = header[156:157]
            try:
                size = _octal(header[124:136])
            except ValueError:
                raise CorruptBlob(f"{name_of}: malformed tar header at byte {self.offset - BLOCK}") from None
            if typeflag in _EXTENDED:
                if size < 0:
                    raise CorruptBlob(f"{name_of}: negative size in tar header at byte {self.offset - BLOCK}")
                if size > MAX_EXTENDED_HEADER:
                    raise CorruptBlob(f"{name_of}: extended tar header of {size} bytes (over {MAX_EXTENDED_HEADER})")
                data = self._data(size, "an extended header")
                if typeflag == b"x":
                    pax.update(_pax_records(data, name_of))
                elif typeflag == b"g":
                    pax_global.update(_pax_records(data, name_of))
                elif typeflag == b"L":
                    long_name = _cstr(data)
                else:
                    long_link = _cstr(data)
                continue
            name = None
            try:
                mode = _octal(header[100:108]) & 0o7777
                if pax or pax_global:
                    records = {**pax_global, **pax} if pax_global else pax
                    size = int(records["size"]) if "size" in records else size
                    uid = int(records["uid"]) if "uid" in records else _octal(header[108:116])
                    gid = int(records["gid"]) if "gid" in records else _octal(header[116:124])
                    mtime = int(float(records["mtime"])) if "mtime" in records else _octal(header[136:148])
                    name = records.get("path")
                    pax = {}
                else:
                    records = None
                    uid, gid, mtime = _octal(header[108:116]), _octal(header[116:124]), _octal(header[136:148])
            except (ValueError, OverflowError):
                raise CorruptBlob(f"{name_of}: malformed tar header at byte {self.offset - BLOCK}") from None
            if size < 0:
                raise CorruptBlob(f"{name_of}: negative size in tar header at byte {self.offset - BLOCK}")
            name = name or long_name
            if name is None:
                name = _cstr(header[0:100])
                if header[257:263] == b"ustar\x00" and header[345] != 0:
                    name = _cstr(header[345:500]) + b"/" + name
            kind = _TYPES.get(typeflag, OTHER)
            link = ""
            if kind in (SYMLINK, HARDLINK):
                raw_link = (records.get("linkpath") if records else None) or long_link or _cstr(header[157:257])
                link = _decode(raw_link)
                if kind == HARDLINK:
                    link = normalize(link)
            long_name = long_link = None
            path = _path(name)
            digest = None
            if kind == FILE:
                digest = self._content(size, path)
            else:
                if kind == OTHER:
                    self.warnings.append(f"entry of unknown type kept as 'other': {_decode(name)} (type {typeflag!r})")
                    if size:
                        self._consume(size + (-size % BLOCK), path)  # unknown types carry data, as in tarfile
                size = 0
            if path.count("/") >= MAX_DEPTH:
                self.warnings.append(f"a path deeper than {MAX_DEPTH} directories skipped: {path[:200]}…")
                continue
            head, _, base = path.rpartition("/")
            if base.startswith(".wh.") or AUFS_PREFIX in head:
                if AUFS_PREFIX in head and any(part.startswith(AUFS_PREFIX) for part in head.split("/")):
                    continue  # inside AUFS metadata (.wh..wh.plnk/ holds hard-link targets): not files
                if base == OPAQUE_NAME:
                    kind, path = OPAQUE, head
                elif base.startswith(AUFS_PREFIX):
                    continue  # AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a file
                elif base.startswith(WH_PREFIX):
                    kind = WHITEOUT
                    path = path[: len(path) - len(base)] + base[len(WH_PREFIX) :]
            elif not path:
                continue  # the root directory itself
            count += 1
            if count > self._max_entries:
                raise CorruptBlob(f"{name_of}: more than {self._max_entries} entries (raise it with --max-entries)")
            yield (path, kind, size, mode, uid, gid, mtime, link, digest)
