"""A forward-only tar reader that hashes file contents as they stream past.

Written for speed and for hostile input: it reads the tar as a sequence of chunks (the
output of a decompressor, or reads of a file), parses headers and hashes file contents
in place without copying them, never seeks, and never holds more than one chunk. It
understands ustar, PAX (`x`/`g`) and GNU long names (`L`/`K`), base-256 numbers, and
tolerates a tar that ends without its end-of-archive blocks.
"""

from __future__ import annotations

import functools
import os
import struct
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator

import xxhash

from .capture import Capture
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

# The common case (runs of plain ustar headers) in C, where it was built (`_ustar.c`; see
# `TarReader.batches`); else, or with LAYERSCOPE_PURE_PYTHON set, Python reads every header.
try:
    from . import _ustar
except ImportError:
    _ustar = None  # type: ignore[assignment]
if os.environ.get("LAYERSCOPE_PURE_PYTHON"):
    _ustar = None  # type: ignore[assignment]

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
    if field and field[0] & 0x80:  # GNU base-256: two's complement of the field, marker bit off
        bits = 8 * len(field) - 1
        value = int.from_bytes(field, "big") & ((1 << bits) - 1)
        return value - (1 << bits) if field[0] & 0x40 else value
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


# The fields of a header the reader needs, in one call: name, mode+uid+gid (one key for the
# memo below), size, mtime, checksum, type flag.
_HEADER = struct.Struct("100s24s12s12s8sc")
# Numeric fields as found in headers -> their value (mode, owner and time repeat from entry to
# entry; so do many sizes): a dictionary lookup instead of parsing. Bounded: cleared when full.
_NUMBERS: dict[bytes, object] = {}
_NUMBERS_MAX = 1 << 16
_EMPTY_DIGEST = xxhash.xxh3_64_intdigest(b"")


def _ids(field: bytes) -> tuple[int, int, int]:
    """(permission bits, uid, gid) of the 24 bytes of a header's mode, uid and gid fields."""
    return _octal(field[0:8]) & 0o7777, _octal(field[8:16]), _octal(field[16:24])


def _check_term(field: bytes) -> int:
    """What a header's checksum field contributes to the fast test in `TarReader.rows`: the
    stored sum, plus the field's own bytes (which the sum counts as spaces: 8 * 32)."""
    return _octal(field) + sum(field) - 8 * 32


def _remembered(field: bytes, parse: Callable[[bytes], object]) -> object:
    """`parse(field)`, remembered in `_NUMBERS` (ValueError and OverflowError pass through)."""
    value = parse(field)
    if len(_NUMBERS) >= _NUMBERS_MAX:
        _NUMBERS.clear()
    _NUMBERS[field] = value
    return value


@functools.cache
def _fast_consts(suffixes: tuple[str, ...], prefixes: tuple[str, ...]) -> tuple | None:
    """What `_ustar.rows` is given: the kinds, the empty digest, the hash, the capture's tests as
    bytes (None when one is not ASCII: the C path compares bytes), the depth limit."""
    if not all(s.isascii() for s in (*suffixes, *prefixes)):
        return None
    consts = (FILE, DIR, SYMLINK, CHAR, BLOCK_DEV, FIFO, "", _EMPTY_DIGEST, xxhash.xxh3_64_intdigest)
    return (*consts, tuple(s.encode() for s in suffixes), tuple(s.encode() for s in prefixes), MAX_DEPTH)


SPARSE_MAP = "GNU.sparse.map"
_SPARSE_0_0 = ("GNU.sparse.offset", "GNU.sparse.numbytes")  # repeated, in pairs: gathered as a map


def _pax_records(data: bytes, name: str) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    sparse: list[bytes] = []
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
        text = _decode(key)
        if text in _SPARSE_0_0:  # format 0.0: the map as repeated records
            sparse.append(value)
        else:
            records[text] = value
        pos += length
    if sparse:
        records[SPARSE_MAP] = b",".join(sparse)
    return records


def _sparse_map(text: bytes, name: str) -> list[int]:
    """The numbers of a sparse map ("offset,size,..."), checked."""
    try:
        numbers = [int(x) for x in text.replace(b"\n", b",").split(b",") if x.strip()]
    except ValueError:
        raise CorruptBlob(f"{name}: malformed sparse map") from None
    if len(numbers) % 2 or any(n < 0 for n in numbers):
        raise CorruptBlob(f"{name}: malformed sparse map")
    return numbers


def _old_gnu_map(block: bytes, start: int, count: int) -> list[int]:
    """`count` (offset, size) pairs of an old GNU sparse header or extension block; empty ones end it."""
    numbers = []
    for i in range(count):
        at = start + 24 * i
        if not block[at : at + 24].strip(b"\0"):
            break
        numbers += [_number(block[at : at + 12]), _number(block[at + 12 : at + 24])]
    return numbers


class TarReader:
    """Reads the entries of one layer tar from `chunks` (bytes objects), hashing regular files.

    `batches()` gives the entries as lists of `Row`s (`rows()` one by one); `rest()` then gives
    what follows the end of the archive. `offset` counts the tar bytes consumed; `file_offsets`,
    if given, gets the tar offset of each regular file's data, in order. A `capture` is offered
    every regular file and keeps the bytes it asks for (package metadata; see `capture.py`).
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        name: str,
        on_progress: Callable[[int], None] | None = None,
        max_entries: int = DEFAULT_LIMITS.max_entries,
        capture: Capture | None = None,
        file_offsets: array | None = None,
    ) -> None:
        self._chunks = iter(chunks)
        self._file_offsets = file_offsets
        self._capture = capture
        self._name = name
        self._on_progress = on_progress
        self._max_entries = max_entries
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0
        self._base = 0  # tar offset of _buf[0]
        self.warnings: list[str] = []
        self.sparse: dict[str, int] = {}  # path -> apparent size, for each sparse file

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

    def _pad(self, n: int) -> None:
        """Skip `n` bytes of a member's padding. A tar that ends inside them (umoci 0.4 ends its
        layers right after the last member's data) is accepted, with a warning."""
        while True:
            avail = len(self._buf) - self._pos
            if n <= avail:
                self._pos += n
                return
            n -= avail
            if not self._next_chunk():
                self.warnings.append("ends without tar padding/end blocks")
                return

    def _content(self, size: int, what: str, sparse_map: list[int] | None = None) -> int:
        """Hash a file's content and skip its padding; return the xxh3-64 digest.

        A sparse file's map goes into the hash first: the same stored bytes with holes
        elsewhere are other content."""
        if sparse_map is None:
            pos = self._in_chunk(size)
            if pos is not None:
                return xxhash.xxh3_64_intdigest(self._view[pos : pos + size])
        hasher = xxhash.xxh3_64()
        if sparse_map is not None:
            hasher.update(b"sparse:" + ",".join(map(str, sparse_map)).encode() + b"\n")
        self._consume(size, what, hasher)
        self._pad(-size % BLOCK)
        return hasher.intdigest()

    def _captured(self, size: int, path: str, want: int) -> int:
        """`_content`, handing the file's first `want` bytes to the capture."""
        pos = self._in_chunk(size)
        if pos is not None:
            data = bytes(self._view[pos : pos + want])
            digest = xxhash.xxh3_64_intdigest(self._view[pos : pos + size])
        else:
            data = self._take_exact(want, path)
            hasher = xxhash.xxh3_64(data)
            self._consume(size - want, path, hasher)
            self._pad(-size % BLOCK)
            digest = hasher.intdigest()
        self._capture.keep(path, data)  # type: ignore[union-attr]
        return digest

    def _old_gnu_sparse(self, header: bytes) -> tuple[list[int], int]:
        """The map and apparent size of an old GNU sparse (`S`) entry, reading its extension
        blocks (they sit between the header and the data)."""
        try:
            numbers = _old_gnu_map(header, 386, 4)
            extended, blocks = header[482], 0
            while extended:
                blocks += 1
                if blocks * BLOCK > MAX_EXTENDED_HEADER:
                    raise CorruptBlob(f"{self._name}: sparse map of more than {MAX_EXTENDED_HEADER} bytes")
                block = self._take_exact(BLOCK, "a sparse header")
                numbers += _old_gnu_map(block, 0, 21)
                extended = block[504]
            return numbers, _number(header[483:495])
        except ValueError:
            raise CorruptBlob(f"{self._name}: malformed sparse header") from None

    def _sparse_map_1_0(self, size: int) -> tuple[list[int], int]:
        """The map that starts the data of a PAX 1.0 sparse file, and the bytes it takes
        (whole blocks): decimal numbers, one a line, the count of (offset, size) pairs first."""
        blocks: list[bytes] = []
        lines = 0
        count = None
        while True:
            if BLOCK * len(blocks) >= min(size, MAX_EXTENDED_HEADER):
                raise CorruptBlob(f"{self._name}: malformed sparse map")
            block = self._take_exact(BLOCK, "a sparse map")
            blocks.append(block)
            lines += block.count(b"\n")
            if count is None and lines:
                try:
                    count = int(b"".join(blocks).partition(b"\n")[0])
                except ValueError:
                    raise CorruptBlob(f"{self._name}: malformed sparse map") from None
                if count < 0:
                    raise CorruptBlob(f"{self._name}: malformed sparse map")
            if count is not None and lines > 2 * count:
                numbers = b"".join(blocks).split(b"\n")[1 : 2 * count + 1]
                return _sparse_map(b",".join(numbers), self._name), BLOCK * len(blocks)

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
        for batch in self.batches():
            yield from batch

    def batches(self, batch_size: int = 4096) -> Iterator[list[Row]]:
        """The entries (see `rows`) in lists of `batch_size` (the last one shorter).

        Where no extended header is pending, a run of plain headers is read by `_ustar.rows`
        (when built), up to the first header it leaves to this loop; the rest is read here."""
        name_of = self._name
        pax: dict[str, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        capture = self._capture
        suffixes, prefixes = (capture.suffixes, capture.prefixes) if capture is not None else ((), ())
        offsets = self._file_offsets
        consts = _fast_consts(suffixes, prefixes) if _ustar is not None else None
        fast = _ustar.rows if consts is not None else None
        count = 0
        out: list[Row] = []
        unpack, numbers, adler32, xxh3 = _HEADER.unpack_from, _NUMBERS, zlib.adler32, xxhash.xxh3_64_intdigest
        while True:
            if (
                fast is not None
                and not pax
                and long_name is None
                and long_link is None
                and self._buf[self._pos + 156 : self._pos + 157] not in _EXTENDED  # left to Python at once
            ):
                limit = min(batch_size - len(out), self._max_entries - count)
                got = fast(self._buf, self._pos, self._base, limit, consts)
                if got is not None:
                    run, self._pos, at = got
                    count += len(run)
                    out += run
                    if offsets is not None:
                        offsets.frombytes(at)
                    if len(out) >= batch_size:
                        yield out
                        out = []
            buf, pos = self._buf, self._pos
            if pos + BLOCK <= len(buf):
                header = buf[pos : pos + BLOCK]
                self._pos = pos + BLOCK
            else:
                header = self._take(BLOCK)
                if len(header) < BLOCK:
                    if header.strip(b"\0"):
                        raise CorruptBlob(f"{name_of}: layer tar truncated inside a header")
                    break  # ends without end-of-archive blocks: tolerated
            raw_name, ids, size_field, mtime_field, check, typeflag = unpack(header)
            # The checksum, the usual way in a few operations: the byte sum from adler32 (its low
            # half is 1 + the sum, mod 65521) against the stored sum; else `checksum_ok` decides.
            term = numbers.get(check)
            if term is None:
                try:
                    term = _remembered(check, _check_term)
                except ValueError:
                    term = -1
            if (term - (adler32(header) & 0xFFFF) + 1) % 65521:  # type: ignore[operator]
                if header[:1] == b"\0" and not header.strip(b"\0"):
                    # Two zero blocks end the archive. After one alone, GNU tar reads on with a
                    # warning: so do we, if a header follows (else it is the end, and a trailer).
                    header = self._take(BLOCK)
                    if len(header) < BLOCK or not header.strip(b"\0") or not checksum_ok(header):
                        break
                    self.warnings.append(f"a lone zero block at byte {self.offset - 2 * BLOCK}: read on past it")
                if not checksum_ok(header):
                    raise CorruptBlob(
                        f"{name_of}: not a tar archive (bad header checksum at byte {self.offset - BLOCK})"
                    )
                raw_name, ids, size_field, mtime_field, check, typeflag = unpack(header)
            try:
                size = numbers.get(size_field)
                if size is None:
                    size = _remembered(size_field, _octal)
            except ValueError:
                raise CorruptBlob(f"{name_of}: malformed tar header at byte {self.offset - BLOCK}") from None
            if typeflag in _EXTENDED:
                if size < 0:  # type: ignore[operator]
                    raise CorruptBlob(f"{name_of}: negative size in tar header at byte {self.offset - BLOCK}")
                if size > MAX_EXTENDED_HEADER:  # type: ignore[operator]
                    raise CorruptBlob(f"{name_of}: extended tar header of {size} bytes (over {MAX_EXTENDED_HEADER})")
                data = self._data(size, "an extended header")  # type: ignore[arg-type]
                if typeflag == b"x":
                    pax.update(_pax_records(data, name_of))
                elif typeflag == b"g":
                    warning = "PAX global header ignored (as containerd and Docker ignore it)"
                    if warning not in self.warnings:
                        self.warnings.append(warning)
                elif typeflag == b"L":
                    long_name = _cstr(data)
                else:
                    long_link = _cstr(data)
                continue
            name = None
            try:
                triple = numbers.get(ids)
                if triple is None:
                    triple = _remembered(ids, _ids)
                mtime = numbers.get(mtime_field)
                if mtime is None:
                    mtime = _remembered(mtime_field, _octal)
                mode, uid, gid = triple  # type: ignore[misc]
                if pax:
                    records, pax = pax, {}
                    size = int(records["size"]) if "size" in records else size
                    uid = int(records["uid"]) if "uid" in records else uid
                    gid = int(records["gid"]) if "gid" in records else gid
                    mtime = int(float(records["mtime"])) if "mtime" in records else mtime
                    name = records.get("path")
                else:
                    records = None
            except (ValueError, OverflowError):
                raise CorruptBlob(f"{name_of}: malformed tar header at byte {self.offset - BLOCK}") from None
            if size < 0:  # type: ignore[operator]
                raise CorruptBlob(f"{name_of}: negative size in tar header at byte {self.offset - BLOCK}")
            name = name or long_name
            if name is None:
                end = raw_name.find(b"\0")
                name = raw_name if end < 0 else raw_name[:end]
                if header[345] and header[257:263] == b"ustar\x00":
                    name = _cstr(header[345:500]) + b"/" + name
            kind = _TYPES.get(typeflag, OTHER)
            if typeflag == b"\0" and name.endswith(b"/"):
                kind = DIR  # a V7 directory (tarfile, Go and GNU tar agree)
            link = ""
            if kind in (SYMLINK, HARDLINK):
                raw_link = (records.get("linkpath") if records else None) or long_link or _cstr(header[157:257])
                link = _decode(raw_link)
                if kind == HARDLINK:
                    link = normalize(link)
            long_name = long_link = None
            sparse_map = None
            if records is not None and ("GNU.sparse.size" in records or "GNU.sparse.realsize" in records):
                name, sparse_map, size, apparent = self._pax_sparse(records, name, size)
            elif typeflag == b"S":
                kind = FILE
                sparse_map, apparent = self._old_gnu_sparse(header)
            path = name.decode("utf-8", "surrogateescape")  # canonical: see `normalize`, needed by few
            if path[:2] == "./":
                path = path[2:]
            if path[-1:] == "/":
                path = path.rstrip("/")
            if path[:1] in (".", "/") or "/." in path or "//" in path:
                path = normalize(path)
            digest = None
            if kind == FILE:
                want = None
                if sparse_map is None and (path.endswith(suffixes) or path.startswith(prefixes)):
                    want = capture.wants(path, size)  # type: ignore[union-attr]
                if want is not None:
                    digest = self._captured(size, path, want)  # type: ignore[arg-type]
                elif sparse_map is not None:
                    digest = self._content(size, path, sparse_map)  # type: ignore[arg-type]
                elif not size:
                    digest = _EMPTY_DIGEST
                else:  # `_content`, inline for the usual case: data and padding within this chunk
                    start = self._pos
                    end = start + size + (-size % BLOCK)  # type: ignore[operator]
                    if end <= len(self._buf):
                        self._pos = end
                        digest = xxh3(self._view[start : start + size])  # type: ignore[operator]
                    else:
                        digest = self._content(size, path, None)  # type: ignore[arg-type]
                if sparse_map is not None:
                    self.sparse[path] = apparent
            else:
                if kind == OTHER:
                    self.warnings.append(f"entry of unknown type kept as 'other': {_decode(name)} (type {typeflag!r})")
                    if size:  # unknown types carry data, as in tarfile
                        self._consume(size, path)  # type: ignore[arg-type]
                        self._pad(-size % BLOCK)  # type: ignore[operator]
                size = 0
            if len(path) >= MAX_DEPTH and path.count("/") >= MAX_DEPTH:  # MAX_DEPTH slashes need that many bytes
                self.warnings.append(f"a path deeper than {MAX_DEPTH} directories skipped: {path[:200]}…")
                continue
            if ".wh." in path:  # whiteouts and AUFS metadata: every name they take holds ".wh."
                head, _, base = path.rpartition("/")
                if AUFS_PREFIX in head and any(part.startswith(AUFS_PREFIX) for part in head.split("/")):
                    continue  # inside AUFS metadata (.wh..wh.plnk/ holds hard-link targets): not files
                if base == OPAQUE_NAME:
                    kind, path = OPAQUE, head
                elif base.startswith(AUFS_PREFIX):
                    continue  # AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a file
                elif base.startswith(WH_PREFIX):
                    target = base[len(WH_PREFIX) :]
                    if target in ("", ".", ".."):  # would delete its own directory, or the root
                        self.warnings.append(f"whiteout without a name ignored: {path}")
                        continue
                    kind = WHITEOUT
                    path = path[: len(path) - len(base)] + target
            elif not path:
                continue  # the root directory itself
            count += 1
            if count > self._max_entries:
                raise CorruptBlob(f"{name_of}: more than {self._max_entries} entries (raise it with --max-entries)")
            if kind == FILE and offsets is not None:  # the reader is past its data and padding
                offsets.append(self._base + self._pos - size - (-size % BLOCK))  # type: ignore[operator]
            out.append((path, kind, size, mode, uid, gid, mtime, link, digest))  # type: ignore[arg-type]
            if len(out) >= batch_size:
                yield out
                out = []
        if out:
            yield out

    def _pax_sparse(self, records: dict[str, bytes], name: bytes, size: int) -> tuple[bytes, list[int], int, int]:
        """(logical name, map, stored bytes, apparent size) of a PAX sparse file (GNU 0.0, 0.1, 1.0)."""
        try:
            apparent = int(records.get("GNU.sparse.size", records.get("GNU.sparse.realsize", b"")))
        except ValueError:
            raise CorruptBlob(f"{self._name}: malformed sparse size") from None
        name = records.get("GNU.sparse.name") or name
        if records.get("GNU.sparse.major") == b"1":
            numbers, taken = self._sparse_map_1_0(size)
            size -= taken
        else:
            numbers = _sparse_map(records.get(SPARSE_MAP, b""), self._name)
        return name, numbers, size, apparent
