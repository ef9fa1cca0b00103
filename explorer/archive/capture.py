"""Keeping the bytes of a few small files as a layer streams past: package metadata only.

The tar reader never keeps file contents, with one exception: the package databases and file
lists that say which package installed which file (dpkg, apk, Python, Node), under a budget.
A caller may also ask for the first bytes of small files picked by name (`HeadRule`: the
secret-file hints check a private-key header). Rules are plain data, so a scan in a worker
process receives them pickled with its job and sends its `Capture` back with its result.
"""

from __future__ import annotations

from typing import NamedTuple

BUDGET = 64 << 20  # package-metadata bytes kept per image

DPKG_DIR = "var/lib/dpkg/"
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
DPKG_INFO = "var/lib/dpkg/info/"
APK_INSTALLED = "lib/apk/db/installed"
# The end of every metadata path outside dpkg's folder: a cheap test that rules out almost every file.
_SUFFIXES = ("/METADATA", "/RECORD", "/PKG-INFO", "/installed-files.txt", ".egg-info", "/package.json", APK_INSTALLED)


def metadata_kind(path: str) -> str | None:
    """Which package-metadata file `path` (a layer path, no leading "/") is, or None.

    dpkg-status, dpkg-status.d (distroless: one file per package), dpkg-list, apk,
    python-metadata, python-record, egg-info (PKG-INFO, or the .egg-info file itself),
    egg-files (installed-files.txt), npm (node_modules/NAME/package.json).
    """
    if path.startswith(DPKG_DIR):
        if path == DPKG_STATUS:
            return "dpkg-status"
        if path.startswith(DPKG_STATUS_D):
            name = path[len(DPKG_STATUS_D) :]
            return "dpkg-status.d" if "/" not in name and not name.endswith(".md5sums") else None
        if path.startswith(DPKG_INFO) and path.endswith(".list") and "/" not in path[len(DPKG_INFO) :]:
            return "dpkg-list"
        return None
    if not path.endswith(_SUFFIXES):
        return None
    if path == APK_INSTALLED or path.endswith("/" + APK_INSTALLED):
        return "apk" if path == APK_INSTALLED else None
    head, _, base = path.rpartition("/")
    folder = head.rpartition("/")[2]
    if base == "package.json":
        parts = head.split("/")
        if len(parts) >= 2 and parts[-2] == "node_modules" and not parts[-1].startswith("."):
            return "npm"
        if len(parts) >= 3 and parts[-3] == "node_modules" and parts[-2].startswith("@"):
            return "npm"
        return None
    if folder.endswith(".dist-info"):
        return {"METADATA": "python-metadata", "RECORD": "python-record"}.get(base)
    if folder.endswith(".egg-info"):
        return {"PKG-INFO": "egg-info", "installed-files.txt": "egg-files"}.get(base)
    return "egg-info" if base.endswith(".egg-info") else None


class HeadRule(NamedTuple):
    """Keep the first `size` bytes of regular files of at most `max_file` bytes whose base
    name is one of `names` or ends with one of `suffixes` (exact case)."""

    names: frozenset[str]
    suffixes: tuple[str, ...]
    size: int = 64
    max_file: int = 1 << 20

    def matches(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        return base in self.names or base.endswith(self.suffixes)


class CaptureSpec(NamedTuple):
    """What a scan keeps: package metadata up to `budget` bytes, and heads per `heads`."""

    budget: int = BUDGET
    heads: HeadRule | None = None


# The first bytes of small files whose name says they may hold a key (the hints' credential
# check): 40 bytes hold a PEM private-key header line ("-----BEGIN ENCRYPTED PRIVATE KEY-----"
# is 37) or PuTTY's, and none of the key material that follows.
KEY_HEADS = HeadRule(frozenset(), (".pem", ".key", ".ppk"), size=40, max_file=64 << 10)

DEFAULT_SPEC = CaptureSpec(heads=KEY_HEADS)


class Capture:
    """The sink of one layer's scan: package-metadata files whole, and asked-for heads.

    The tar reader offers it only the regular files whose path ends with one of `suffixes`
    or starts with one of `prefixes` (two string tests per file: the scan's cost stays
    flat); `wants` decides. `files` maps a path to the bytes of its last regular-file entry
    in the layer (tar order); `heads` likewise the first bytes of the files a `HeadRule`
    picks. Both count against the budget (`used`); past it, files are no longer kept and
    `skipped` counts them.
    """

    def __init__(self, spec: CaptureSpec = DEFAULT_SPEC) -> None:
        self.budget = spec.budget
        self.head_rule = spec.heads
        heads = (*spec.heads.names, *spec.heads.suffixes) if spec.heads else ()
        self.suffixes: tuple[str, ...] = (*_SUFFIXES, *heads)
        self.prefixes: tuple[str, ...] = (DPKG_DIR,)
        self.files: dict[str, bytes] = {}
        self.heads: dict[str, bytes] = {}
        self.used = 0
        self.skipped = 0

    def _table(self, path: str) -> dict[str, bytes]:
        return self.files if metadata_kind(path) is not None else self.heads

    def wants(self, path: str, size: int) -> int | None:
        """How many bytes of this regular file to keep from its start (None: none at all)."""
        if metadata_kind(path) is not None:
            want = size
        else:
            rule = self.head_rule
            if rule is None or size > rule.max_file or not rule.matches(path):
                return None
            want = min(size, rule.size)
        if self.used - len(self._table(path).get(path, b"")) + want > self.budget:
            self.skipped += 1
            return None
        return want

    def keep(self, path: str, data: bytes) -> None:
        """Keep what `wants` asked for: a metadata file whole, or a head."""
        table = self._table(path)
        self.used += len(data) - len(table.get(path, b""))
        table[path] = data

    def limit_to(self, budget: int) -> list[str]:
        """Drop the files past `budget` bytes (what the image's earlier layers left of its
        budget), in path order, heads last; a warning if any went."""
        if self.used <= budget:
            return []
        used, dropped = 0, 0
        for table in (self.files, self.heads):
            for path in sorted(table):
                size = len(table[path])
                if used + size <= budget:
                    used += size
                else:
                    del table[path]
                    dropped += 1
        self.used = used
        return [f"{dropped} package-metadata files not kept: past the image's budget for them"]

    @property
    def warnings(self) -> list[str]:
        if not self.skipped:
            return []
        return [f"{self.skipped} package-metadata files not kept: past the image's budget for them"]
