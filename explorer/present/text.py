"""Showing names and sizes from an archive safely: names are data, never markup or terminal control."""

from __future__ import annotations

import unicodedata


def display_name(s: str) -> str:
    """`s` safe to print: control characters, line breaks, format characters and undecodable
    bytes (surrogate escapes) become visible escapes (`\\x1b`, `\\xe9`, `\\u202e`)."""
    if s.isprintable():
        return s
    out = []
    for ch in s:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == " " or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"):
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def human_size(size: int) -> str:
    """A byte count in decimal units, at most four digits: `980 B`, `1.5 MB`."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def short_size(size: int) -> str:
    """A byte count in at most four characters, as `ls -h`: `980B`, `1.5M`, `255k`."""
    value = float(size)
    for unit in ("B", "k", "M", "G", "T", "P"):
        if value < 999.5 or unit == "P":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 9.95 else f"{value:.0f}{unit}"
        value /= 1000
    raise AssertionError("unreachable")
