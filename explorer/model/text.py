"""Showing names from an archive safely: they are data, never markup or terminal control."""

from __future__ import annotations

import re

import humanize

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\udc80-\udcff\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def display_name(name: str) -> str:
    """`name` with control characters, bidi overrides and undecodable bytes written as escapes."""
    return _UNSAFE.sub(_escape, name)


def size(n: int | None) -> str:
    """Bytes for people: 1.2 MB (decimal units, as docker and dive show them)."""
    if n is None:
        return "-"
    return f"{n} B" if n < 1000 else humanize.naturalsize(n, format="%.1f")
