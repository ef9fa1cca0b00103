"""Names and sizes for people: names from an archive are data, never markup or terminal control."""

from __future__ import annotations

import unicodedata

import humanize


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
    """Bytes for people, the one style of the report and the app: decimal units, three
    significant digits at most (`980 B`, `1.5 MB`, `255 kB`), so a column of them stays narrow."""
    if abs(size) < 1000:
        return f"{size} B"
    text = humanize.naturalsize(size, format="%.1f")
    return humanize.naturalsize(size, format="%.0f") if abs(float(text.split(" ")[0])) >= 100 else text


# Why a stored copy is wasted (analysis.waste.CAUSES): a short name for tables, and what it means.
CAUSE_NAMES = {"deleted": "deleted", "overwritten": "overwritten", "restored": "re-stored identical"}
CAUSE_MEANINGS = {
    "deleted": "deleted by a later layer (whiteout, opaque dir, type change)",
    "overwritten": "overwritten with other content",
    "restored": "stored again unchanged (metadata change, same bytes)",
}


def end_cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending in `…` where it was cut."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width > 0 else ""


def middle_cut(path: str, width: int) -> str:
    """`path` in at most `width` characters, cut in the middle so that its file name stays:
    `usr/share/…/guide-5.txt`."""
    if len(path) <= width:
        return path
    head, _, name = path.rpartition("/")
    if len(name) + 2 >= width or not head:
        return "…" + path[len(path) - width + 1 :] if width > 1 else "…"[:width]
    return f"{path[: width - len(name) - 2]}…/{name}"
