"""Tar layers written straight from headers, for the per-entry benchmarks (`make_big_image.py
--many-small`, `--million`): hundreds of thousands of entries in seconds, where `tarfile`
takes tens of microseconds an entry.

ustar headers with whole-second times, as Docker and BuildKit write them; a name that does
not fit the 100-byte field goes in a PAX `path` record, as Go's archive/tar does.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from explorer.archive.writer import pax_record

BLOCK = 512
MTIME = 1_700_000_000


def _pad(n: int) -> bytes:
    return b"\0" * (-n % BLOCK)


def header(name: bytes, size: int = 0, typeflag: bytes = b"0", mode: int = 0o644, link: bytes = b"") -> bytes:
    h = bytearray(BLOCK)
    h[0 : len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % MTIME
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157 : 157 + len(link)] = link
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


class TarWriter:
    """Entries written one after another to a file; `close` adds the end-of-archive blocks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed by close)
        self.entries = 0

    def _header(self, name: str, size: int, typeflag: bytes, mode: int, link: str = "") -> None:
        raw = name.encode("utf-8", "surrogateescape")
        target = link.encode("utf-8", "surrogateescape")
        records = b""
        if len(raw) > 100:
            records += pax_record(b"path", raw)
        if len(target) > 100:
            records += pax_record(b"linkpath", target)
        if records:
            pax = header(b"PaxHeaders/" + raw[-80:], len(records), b"x", 0o644)
            self._out.write(pax + records + _pad(len(records)))
        self._out.write(header(raw[:100], size, typeflag, mode, target[:100]))
        self.entries += 1

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._header(name, len(data), b"0", mode)
        self._out.write(data + _pad(len(data)))

    def dir(self, name: str, mode: int = 0o755) -> None:
        self._header(name.rstrip("/") + "/", 0, b"5", mode)

    def symlink(self, name: str, target: str) -> None:
        self._header(name, 0, b"2", 0o777, target)

    def hardlink(self, name: str, target: str) -> None:
        self._header(name, 0, b"1", 0o644, target)

    def whiteout(self, path: str) -> None:
        head, _, base = path.rpartition("/")
        self.file(f"{head}/.wh.{base}" if head else f".wh.{base}", b"")

    def opaque(self, directory: str) -> None:
        self.file(f"{directory}/.wh..wh..opq", b"")

    def close(self) -> Path:
        self._out.write(b"\0" * (2 * BLOCK))
        self._out.close()
        return self.path
