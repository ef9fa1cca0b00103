"""The record of one filesystem entry of a layer, and path helpers."""

from __future__ import annotations

# Entry kinds: one character each, to keep per-file records small.
FILE, DIR, SYMLINK, HARDLINK, FIFO, CHAR, BLOCK, OTHER = "f", "d", "l", "h", "p", "c", "b", "?"
WHITEOUT, OPAQUE = "w", "o"

KIND_NAMES = {
    FILE: "file",
    DIR: "dir",
    SYMLINK: "symlink",
    HARDLINK: "hardlink",
    FIFO: "fifo",
    CHAR: "char device",
    BLOCK: "block device",
    OTHER: "other",
    WHITEOUT: "whiteout",
    OPAQUE: "opaque whiteout",
}


# One tar entry as a worker process hands it over: (path, kind, size, mode, uid, gid, mtime,
# link, digest), in the order of Entry's fields.
Row = tuple[str, str, int, int, int, int, int, str, "int | None"]


class Entry:
    """One tar entry of a layer.

    `path` has no leading "/" ("" is the root). For a whiteout it is the path it deletes;
    for an opaque marker, the directory whose lower children it hides. `size` is the content
    size of a regular file (0 for every other kind); `digest` the xxh3-64 of the content of a
    regular file, or of its target for a hard link once resolved.
    """

    __slots__ = ("path", "kind", "size", "mode", "uid", "gid", "mtime", "link", "digest")

    def __init__(
        self,
        path: str,
        kind: str,
        size: int = 0,
        mode: int = 0,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        link: str = "",
        digest: int | None = None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.link = link
        self.digest = digest

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for slot, value in zip(self.__slots__, state, strict=True):
            setattr(self, slot, value)

    def __repr__(self) -> str:
        return f"Entry({self.path!r}, {self.kind!r}, size={self.size})"

    @property
    def is_dir(self) -> bool:
        return self.kind == DIR

    def metadata_changes(self, old: Entry) -> list[str]:
        """Names of the metadata fields that differ from `old` ("mode", "owner", "mtime")."""
        changed = []
        if self.mode != old.mode:
            changed.append("mode")
        if (self.uid, self.gid) != (old.uid, old.gid):
            changed.append("owner")
        if self.mtime != old.mtime:
            changed.append("mtime")
        return changed

    def same_content(self, old: Entry) -> bool:
        """True when the entry holds what `old` held: same kind, bytes, link target."""
        if self.kind != old.kind:
            return self.kind in (FILE, HARDLINK) and old.kind in (FILE, HARDLINK) and self._same_bytes(old)
        if self.kind in (FILE, HARDLINK):
            return self._same_bytes(old)
        return self.link == old.link

    def _same_bytes(self, old: Entry) -> bool:
        return self.digest is not None and self.digest == old.digest and self.size == old.size


def normalize(name: str) -> str | None:
    """Canonical path of a tar member name: no "./", no leading or trailing "/", no "..".

    ".." never climbs above the root (a hostile archive's `../../etc/passwd` is `etc/passwd`).
    Returns "" for the root itself.
    """
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
