"""The packages view as rows: the whole image's packages, or what one layer did to them.

Testable without Textual: the widget only renders these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.filesystem import Node
from ..analysis.packages import REMOVED, UPGRADED, Package, Packages

SORTS = ("size", "name")
_MARK = {"added": "+", "removed": "-", "upgraded": "^"}


@dataclass(frozen=True)
class PackageRow:
    """One line of the packages view."""

    package: Package
    action: str  # for a layer: added, removed, upgraded; for the image: "" or "removed"
    version: str  # "1.0", or "1.0 → 2.0" for an upgrade
    size: int  # for a layer: bytes it stored in the package's files; for the image: visible bytes
    wasted: int

    @property
    def mark(self) -> str:
        return _MARK.get(self.action, " ")


def package_rows(packages: Packages, layer: int | None, sort: str = "size") -> list[PackageRow]:
    """The packages of the image (`layer` None), or the changes `layer` made, sorted by size
    (largest first) or name."""
    if layer is None:
        rows = [
            PackageRow(p, REMOVED if p.removed_in is not None else "", p.version, p.visible, p.wasted)
            for p in packages.packages
        ]
    else:
        rows = [
            PackageRow(
                c.package,
                c.action,
                f"{c.old_version} → {c.version}" if c.action == UPGRADED else c.version,
                c.bytes,
                c.package.wasted,
            )
            for c in packages.changes[layer]
        ]
    if sort == "name":
        rows.sort(key=lambda r: (r.package.name, r.package.ecosystem, r.package.location))
    else:
        rows.sort(key=lambda r: (-r.size, -r.wasted, r.package.name))
    return rows


def summary_line(packages: Packages, layer: int | None) -> str:
    """What the rows are: totals per ecosystem, or the counts of one layer's changes."""
    if layer is None:
        totals = packages.totals()
        if not totals:
            return "No package database found (dpkg, apk, Python, Node)."
        return "; ".join(f"{eco}: {t['packages']} installed" for eco, t in totals.items()) + "."
    changes = packages.changes[layer]
    if not changes:
        return f"Layer {layer} changed no packages."
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return f"Layer {layer}: " + ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) + "."


def package_nodes(packages: Packages, package: Package) -> frozenset[Node]:
    """The tree nodes of a package's files and their folders: what a tree filtered to it shows."""
    keep: set[Node] = set()
    for path in packages.paths_of(package):
        walk = packages.fs.lookup(path)
        while walk is not None and walk not in keep:
            keep.add(walk)
            walk = walk.parent
    return frozenset(keep)


def owner_text(packages: Packages, path: str) -> str | None:
    """`deb bash 5.2-2` for a file a package owns, else None (for the file-info line)."""
    owner = packages.owner_of(path)
    return f"{owner.ecosystem} {owner.name} {owner.version}" if owner is not None else None
