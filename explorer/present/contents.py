"""What the contents view says of one path at one layer: facts, and the bytes to show.

Everything here may take a while (a layer blob is read again) and is meant for a worker
thread; the screen only renders the result. Text shows its first 256 KiB, binary data a hex
dump of its first 64 KiB; a modified file also gets a unified diff against the version below.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import functools
from dataclasses import dataclass, field

from ..analysis.contents import lookup, read_copies
from ..analysis.filesystem import DELETED, MODIFIED, Change, Copy, Node
from ..analysis.image import Image
from ..archive.entries import DIR, FILE, HARDLINK, KIND_NAMES, SYMLINK
from ..archive.errors import ImageError
from ..archive.members import ReadProgress
from .browse import mode_string, mtime_string, owner_string
from .text import display_name, human_size

TEXT_LIMIT = 256 << 10  # bytes of text shown
HEX_LIMIT = 64 << 10  # bytes of binary data shown as a hex dump
SNIFF = 8 << 10  # bytes looked at to tell text from binary
_SHEBANGS = {"sh": "bash", "bash": "bash", "ash": "bash", "dash": "bash", "python": "python", "perl": "perl",
             "ruby": "ruby", "node": "javascript"}  # fmt: skip


@dataclass
class Contents:
    """A path's contents as of a layer, ready to render."""

    path: str
    facts: list[tuple[str, str]]  # (label, value), names escaped
    status: str  # the change kind at this layer, or "unchanged"
    data: bytes | None = None  # the first bytes (None: nothing to show, see `note`)
    size: int = 0
    binary: bool = False
    lexer: str = "default"
    diff: list[str] | None = None  # unified diff lines against the version below
    notes: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.data is not None and len(self.data) < self.size

    @property
    def text(self) -> str:
        return (self.data or b"").decode("utf-8", "replace")


def is_binary(data: bytes) -> bool:
    head = data[:SNIFF]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3  # not just a character cut at the end
    return False


@functools.cache
def _lexer_patterns() -> list[tuple[str, str]]:
    """(file-name pattern, lexer alias) from Pygments' own table: nothing imported, no plugin
    scan (which takes seconds on a first call), exact names first."""
    from pygments.lexers import get_all_lexers

    pairs = [(pattern, aliases[0]) for _, aliases, patterns, _ in get_all_lexers(plugins=False) if aliases
             for pattern in patterns]  # fmt: skip
    return sorted(pairs, key=lambda pair: any(c in pair[0] for c in "*?["))


def guess_lexer(path: str, data: bytes) -> str:
    """A Pygments lexer name from the file name, else from a `#!` first line; "text" if neither."""
    name = path.rpartition("/")[2]
    for pattern, alias in _lexer_patterns():
        if fnmatch.fnmatchcase(name, pattern):
            return alias
    if data.startswith(b"#!"):
        words = data[2:200].split(b"\n", 1)[0].decode("utf-8", "replace").split()
        program = words[1] if words and words[0].endswith("/env") and len(words) > 1 else words[0] if words else ""
        return _SHEBANGS.get(program.rpartition("/")[2].rstrip("0123456789."), "text")
    return "text"


def hex_dump(data: bytes, offset: int = 0) -> list[str]:
    """`00000000  7f 45 4c 46 …  |.ELF…|`, 16 bytes a line."""
    lines = []
    for pos in range(0, len(data), 16):
        row = data[pos : pos + 16]
        hexes = " ".join(f"{b:02x}" for b in row[:8]) + "  " + " ".join(f"{b:02x}" for b in row[8:])
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{offset + pos:08x}  {hexes:<48}  |{ascii_}|")
    return lines


def read_prefix(image: Image, copy: Copy, limit: int, on_read: ReadProgress | None = None) -> bytes:
    """The first `limit` bytes of a stored copy (its layer blob is read only that far; a gzip
    layer through a seek index, so that the next file of it comes quickly)."""
    out = bytearray()
    with contextlib.closing(read_copies(image, [copy], indexed=True, on_read=on_read)) as copies:
        for _, chunks in copies:
            with contextlib.closing(chunks):  # type: ignore[type-var]
                for chunk in chunks:
                    out += chunk[: limit - len(out)]
                    if len(out) >= limit:
                        break
    return bytes(out)


def _facts(image: Image, node: Node, shown: Change, at: int) -> list[tuple[str, str]]:
    """Facts of the entry `shown` (the state of `node` seen at layer `at`)."""
    entry = shown.entry
    assert entry is not None
    facts = [
        ("type", KIND_NAMES.get(entry.kind, entry.kind)),
        ("size", f"{human_size(entry.size)} ({entry.size:,} bytes)" if entry.kind in (FILE, HARDLINK) else "-"),
        ("mode", mode_string(entry)),
        ("owner", owner_string(entry)),
        ("modified", mtime_string(entry)),
        ("from layer", f"{shown.layer}: {display_name(image.layers[shown.layer].instruction or '?')}"),
    ]
    if entry.kind == SYMLINK:
        facts.append(("target", display_name(entry.link)))
        try:
            target = lookup(image, node.path, at, follow=True)
            facts.append(("resolves to", "/" + display_name(target.path)))
        except ImageError as exc:
            facts.append(("resolves to", display_name(str(exc))))
    elif entry.kind == HARDLINK:
        facts.append(("hard link to", "/" + display_name(entry.link)))
    return facts


def file_contents(image: Image, node: Node, layer: int, on_read: ReadProgress | None = None) -> Contents:
    """What `node` holds as of `layer`; a path deleted by then shows its last version, labelled
    so. `on_read(offset, blob size)` follows the reading of a layer blob (the whole of a
    compressed one may be read: a single zstd frame, a gzip index built)."""
    state = node.state_at(layer)
    if state is None:
        raise ImageError(f"/{node.path}: not in the image at layer {layer}")
    status = state.kind if state.layer == layer else "unchanged"
    shown, at = state, layer
    if state.kind == DELETED:
        at = state.old_layer  # type: ignore[assignment]
        shown = node.state_at(at)  # type: ignore[assignment]
    contents = Contents(node.path, _facts(image, node, shown, at), status)
    if state.kind == DELETED:
        contents.facts.insert(0, ("deleted", f"by layer {state.layer}; its last version is shown"))
    entry = shown.entry
    assert entry is not None
    if entry.kind == DIR:
        contents.notes.append("a directory: its contents are in the tree")
        return contents
    if shown.copy is None:
        what = "a hard link whose target is missing" if entry.kind == HARDLINK else f"a {KIND_NAMES.get(entry.kind)}"
        contents.notes.append(f"{what}: no contents to show")
        return contents
    contents.size = shown.copy.size
    data = read_prefix(image, shown.copy, TEXT_LIMIT, on_read)
    contents.binary = is_binary(data)
    contents.data = data[:HEX_LIMIT] if contents.binary else data
    if not contents.binary:
        contents.lexer = guess_lexer(node.path, data)
    if contents.truncated:
        contents.notes.append(f"showing the first {human_size(len(contents.data))} of {human_size(contents.size)}")
    if state.kind == MODIFIED and state.layer == layer and state.old_layer is not None and not contents.binary:
        below = node.state_at(state.old_layer)
        if below is not None and below.copy is not None:
            old = read_prefix(image, below.copy, TEXT_LIMIT, on_read)
            if not is_binary(old):
                contents.diff = unified(old, data, node.path, state.old_layer, layer)
    return contents


def unified(old: bytes, new: bytes, path: str, old_layer: int, new_layer: int) -> list[str]:
    """A unified diff of two texts (lines without their endings)."""
    a = old.decode("utf-8", "replace").splitlines()
    b = new.decode("utf-8", "replace").splitlines()
    name = display_name("/" + path)
    return list(difflib.unified_diff(a, b, f"{name} (layer {old_layer})", f"{name} (layer {new_layer})", lineterm=""))
