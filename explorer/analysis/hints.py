"""Hints: what to change in the Dockerfile, and how many bytes each change saves.

Every hint is read off the analysis already done (the union tree, its stored copies, the
history): nothing is read from the archive again. A hint's `bytes_saved` is what applying it
alone saves, exactly: the content bytes of the stored copies it would no longer store. Hints
can name the same copy (an apt cache deleted in a later layer is both *deleted later* and a
*package-manager leftover*), so the image total, `reclaimable`, is the size of the union of
the copies every hint names, each copy counted once, never the sum of the hints.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from heapq import nlargest
from itertools import chain, islice, repeat
from operator import attrgetter, eq, itemgetter
from typing import TYPE_CHECKING

from ..archive.entries import FILE
from .filesystem import CAUSE_DELETED, CAUSE_OVERWRITTEN, RESTORED, Copy, FileSystem, Node
from .packages import REMOVED, UPGRADED, Package, Packages
from .waste import LARGEST_KEPT

if TYPE_CHECKING:
    from .image import Image
    from .waste import Waste

# Hint kinds, in the order they are explained
DELETED_LATER = "deleted_later"
METADATA = "metadata_restore"
REWRITTEN = "rewritten_identical"
OVERWRITTEN = "overwritten"
PACKAGE_CACHE = "package_cache"
BUILD_ONLY = "build_only"
DUPLICATE = "duplicate"
CACHE_ORDER = "cache_order"
SECRET = "secret"
KINDS = (DELETED_LATER, METADATA, REWRITTEN, OVERWRITTEN, PACKAGE_CACHE, BUILD_ONLY, DUPLICATE, CACHE_ORDER, SECRET)


@dataclass(frozen=True)
class Hint:
    """One change to make: what, where (layers and their instructions, every path), what it
    saves if applied alone, how (a Dockerfile change) and why."""

    kind: str
    title: str
    layers: tuple[int, ...]
    instructions: tuple[str, ...]  # one per layer
    paths: tuple[str, ...]  # sorted, no leading "/"
    bytes_saved: int
    fix: str
    why: str
    packages: tuple[HintPackage, ...] = ()  # the packages it names, most bytes saved first


@dataclass(frozen=True)
class HintPackage:
    """A package a hint names, and the bytes of its files that the hint would save."""

    ecosystem: str
    name: str
    version: str
    bytes: int


@dataclass(frozen=True)
class LargeFile:
    """A stored file: its path, size, the layer that stored it, and whether the final image shows it."""

    path: str
    size: int
    layer: int
    visible: bool


@dataclass
class Hints:
    hints: list[Hint]  # credentials first, then most bytes saved first
    reclaimable: int  # bytes saved if every hint were applied: each stored copy once


# ---- the fixes and the reasons, one wording each ---------------------------------------------

_WHY = {
    DELETED_LATER: "Deleting a file in a later layer only hides it: the layer that added it still ships every byte.",
    METADATA: "Changing a file's mode, owner or time in a new layer stores the whole file again; the old copy stays.",
    REWRITTEN: "Writing the same bytes again in a new layer stores a second full copy; the first one stays.",
    OVERWRITTEN: "A file replaced in a later layer still ships its old version in the layer below.",
    PACKAGE_CACHE: "Package caches and indexes are needed only while installing, and removing them in a later"
    " layer saves nothing: clean up in the RUN that installs.",
    BUILD_ONLY: "Compilers, headers, static libraries, VCS data and source archives are needed to build, not to"
    " run (a heuristic: check that nothing uses them at run time).",
    DUPLICATE: "Identical files under several paths each take their own stored copy.",
    CACHE_ORDER: "Any change to the build context invalidates a COPY of all of it and every step after it, so"
    " dependencies are installed again, and their layers pushed and pulled again, on every source edit.",
    SECRET: "Every layer ships to anyone who pulls the image: a credential deleted in a later layer can still"
    " be read from the layer that added it.",
}
_WHY_PACKAGES = {
    DELETED_LATER: "Removing a package in a later layer only hides its files: the layer that installed it still"
    " ships every byte.",
    OVERWRITTEN: "Upgrading or overwriting a package's files in a later layer hides the old ones: the layer that"
    " installed them still ships every byte.",
    REWRITTEN: "Reinstalling or upgrading a package writes its files again even where their bytes did not"
    " change: each is stored a second time, and the layer that installed it still ships the first.",
    BUILD_ONLY: "Compilers, headers (*-dev) and build tools are needed to build, not to run. These packages are"
    " picked by name alone (a heuristic): check that nothing the program runs uses them.",
}

_CACHE_FIX = {
    "apt": "In the RUN that installs: `apt-get install -y --no-install-recommends … && apt-get clean"
    " && rm -rf /var/lib/apt/lists/*` (or RUN --mount=type=cache,target=/var/cache/apt).",
    "apk": "`apk add --no-cache …` instead of `apk add` (and no `apk update`).",
    "dnf/yum": "In the RUN that installs: `dnf install -y … && dnf clean all && rm -rf /var/cache/dnf`"
    " (yum: `yum clean all && rm -rf /var/cache/yum`).",
    "pip": "`pip install --no-cache-dir …` (or ENV PIP_NO_CACHE_DIR=1, or"
    " RUN --mount=type=cache,target=/root/.cache/pip).",
    "npm": "`npm ci && npm cache clean --force` in the same RUN (or RUN --mount=type=cache,target=/root/.npm).",
    "yarn": "`yarn install --frozen-lockfile && yarn cache clean` in the same RUN"
    " (or RUN --mount=type=cache on the yarn cache).",
    "pnpm": "`pnpm install --frozen-lockfile && pnpm store prune` in the same RUN, or keep the store in"
    " RUN --mount=type=cache,target=/root/.local/share/pnpm/store.",
    "go": "Build in a builder stage and COPY --from only the binary, or `go build … && go clean -cache -modcache`"
    " in the same RUN (or RUN --mount=type=cache,target=/root/.cache/go-build).",
    "cargo": "Build in a builder stage and COPY --from only the binary (or RUN --mount=type=cache on"
    " $CARGO_HOME/registry and target/).",
    "conda": "`conda install … && conda clean --all --yes` in the same RUN.",
}

# Directories whose whole subtree is a package-manager cache or build-only content, matched on
# the full directory path; only directories whose name is a key of _TRIGGERS are tried.
_DIR_RULES = [
    ("apt", r"var/lib/apt/lists|var/cache/apt"),
    ("apk", r"var/cache/apk|etc/apk/cache"),
    ("dnf/yum", r"var/cache/(dnf|yum|libdnf5)"),
    ("pip", r"(.+/)?\.cache/pip"),
    ("npm", r"(.+/)?\.npm/_cacache"),
    ("yarn", r"(.+/)?(\.cache/yarn|\.yarn/berry/cache)"),
    ("pnpm", r"(.+/)?(\.local/share/pnpm/store|\.pnpm-store|\.cache/pnpm)"),
    ("go", r"(.+/)?(\.cache/go-build|go/pkg/mod/cache)"),
    ("cargo", r"(.+/)?\.?cargo/(registry|git)"),
    ("conda", r"(.+/)?(conda|miniconda3?|miniforge3|mambaforge|anaconda3?)/pkgs"),
    ("toolchain", r"usr/(lib|libexec)/(gcc|gcc-cross)"),
    ("headers", r"usr/(local/)?include|usr/src/(linux-headers-[^/]+|kernels)"),
    ("git", r"(.+/)?\.git"),
]
_DIR_RULE = re.compile("|".join(f"(?P<r{i}>{pattern})" for i, (_, pattern) in enumerate(_DIR_RULES)))
_TRIGGERS = {"lists", "apt", "apk", "cache", "dnf", "yum", "libdnf5", "pip", "_cacache", "yarn", "store"}
_TRIGGERS |= {".pnpm-store", "pnpm", "go-build", "registry", "git", "pkgs", "gcc", "gcc-cross", "include"}
_TRIGGERS |= {"kernels", ".git"}
_BUILD_LABELS = {
    "toolchain": "Compilers and linkers",
    "headers": "Header files",
    "git": "Git repositories (.git)",
    "static": "Static libraries (*.a)",
    "archive": "Source archives",
}
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar.zst")
_TOOLCHAIN = r"([\w.-]+-)?(gcc|g\+\+|cc|c\+\+|cc1|cc1plus|ld|ld\.bfd|ld\.gold|as|clang|clang\+\+)(-[\d.]+)?"

# Credentials by name. Names that hold secrets only with the right content (.npmrc without a
# token, a public certificate in a .pem) are left out rather than guessed at.
_KEY_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"}
_SECRET_NAMES = _KEY_NAMES | {".netrc", "_netrc", ".git-credentials", ".pypirc", ".npmrc", "credentials", ".dockercfg"}
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".defaults")
_VENDORED = ("node_modules", "site-packages", "dist-packages", "usr/share/doc")


# File names worth a closer look, found in one scan of the tree's distinct names joined by line
# breaks; a `tool` counts only in a directory whose name ends in "bin"
_SECRET_SCAN = (
    "|".join(re.escape(n) for n in sorted(_SECRET_NAMES))
    + r"|\.env[^\n]*|config\.json|ssh_host_[^\n]*_key|[^\n]*\.(?:pem|key|ppk)"
)
_BUILD_SCAN = "|".join(re.escape(s[1:]) for s in (".a", *_ARCHIVE_SUFFIXES))  # after the dot
_NAME_RULE = re.compile(
    rf"^(?:(?P<secret>{_SECRET_SCAN})|(?P<build>[^\n]*\.(?:{_BUILD_SCAN}))|(?P<tool>{_TOOLCHAIN}))$", re.MULTILINE
)


# A .pem, .key or .ppk file is a credential only when it holds a private key: its first bytes,
# kept by the scan (archive/capture.py KEY_HEADS), start with a private-key header.
_KEY_SUFFIXES = (".pem", ".key", ".ppk")
_PRIVATE_KEY_HEAD = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----|PuTTY-User-Key-File-")


def _holds_private_key(image: Image, node: Node) -> bool:
    """Does any copy of this path that a layer stored start with a private-key header?"""
    for change in node.changes:
        if change.copy is None or change.entry is None:
            continue
        scan = image.layers[change.layer].scan
        head = scan.capture.heads.get(node.path) if scan is not None and scan.capture is not None else None
        if head is not None and _PRIVATE_KEY_HEAD.match(head):
            return True
    return False


def _secret_name(name: str, directory: str) -> bool:
    """Does a file of this name, in this directory, look like a credential? (Not in a vendored
    package's folder: test fixtures and samples are not the image's credentials.)"""
    if any(part in directory for part in _VENDORED):
        return False
    if name in _SECRET_NAMES:
        return name != "identity" or directory.endswith(".ssh")
    if name.startswith(".env"):
        return (name == ".env" or name[4] == ".") and not name.endswith(_ENV_TEMPLATES)
    if name == "config.json":
        return directory.endswith(".docker")
    return name.startswith("ssh_host_") and name.endswith("_key")


# ---- building the hints --------------------------------------------------------------------------


class _Builder:
    def __init__(self, image: Image) -> None:
        self.image = image
        self.fs: FileSystem = image.fs
        self.hints: list[Hint] = []
        self.claimed: dict[Copy, int] = {}  # every copy some hint names, once, and its size
        found = image.packages
        self.packages: Packages | None = found if found.packages else None
        self.build_packages: set[int] = set()  # id(copy) of the build-only packages' files

    def instruction(self, layer: int) -> str:
        return self.image.layers[layer].instruction

    def step(self, layer: int) -> str:
        """A layer's instruction for a sentence: quoted and clipped, or "layer N" without history."""
        text = self.instruction(layer)
        return f"`{_clip(text)}`" if text else f"layer {layer}"

    def add(
        self,
        kind: str,
        title: str,
        layers: Iterable[int],
        paths: Iterable[str],
        copies: list[Copy],
        fix: str,
        packages: tuple[HintPackage, ...] = (),
        sizes: Iterable[int] | None = None,
    ) -> None:
        """A hint saving the bytes of `copies`. With their `sizes` given, the copies are each
        named once (100,000s of duplicates: neither read one by one, scattered in memory, nor
        gathered into a dict of their own)."""
        if sizes is None:
            seen = dict(zip(copies, map(_SIZE, copies), strict=True))  # each copy once
            saved = sum(seen.values())
            self.claimed.update(seen)
        else:
            sizes = list(sizes)
            saved = sum(sizes)
            self.claimed.update(zip(copies, sizes, strict=True))
        ordered = tuple(sorted(set(layers)))
        self.hints.append(
            Hint(
                kind=kind,
                title=title,
                layers=ordered,
                instructions=tuple(self.instruction(i) for i in ordered),
                paths=_sorted_once(paths),
                bytes_saved=saved,
                fix=fix,
                why=_WHY_PACKAGES[kind] if packages else _WHY[kind],
                packages=packages,
            )
        )


def _sorted_once(paths: Iterable[str]) -> tuple[str, ...]:
    """Sorted, each path once. Paths come in sorted runs (folder by folder), which a sort is
    fast on and a set would scramble: a repeat, rare, is found next to its twin after the sort."""
    ordered = sorted(paths)
    if any(map(eq, ordered, islice(ordered, 1, None))):
        ordered = list(dict.fromkeys(ordered))
    return tuple(ordered)


def compute_hints(image: Image) -> Hints:
    """Every hint for an analysed image: credentials first (whatever their size), then most
    bytes saved first (ties: kind, then first path)."""
    assert image.waste is not None, "analyse() the image first"
    builder = _Builder(image)
    _waste_hints(builder)
    _build_package_hints(builder)
    _tree_hints(builder)
    _duplicate_hints(builder)
    _cache_order_hint(builder)
    order = {kind: n for n, kind in enumerate(KINDS)}
    builder.hints.sort(key=lambda h: (h.kind != SECRET, -h.bytes_saved, order[h.kind], h.paths[:1], h.layers))
    return Hints(builder.hints, sum(builder.claimed.values()))


def _files(n: int) -> str:
    return f"{n:,} file" if n == 1 else f"{n:,} files"


def _waste_hints(b: _Builder) -> None:
    """Each wasted copy in exactly one of: deleted later, re-stored for metadata, rewritten
    identical, overwritten; grouped by the (storing, hiding) pair of layers."""
    groups: dict[tuple[str, int, int], list[Copy]] = defaultdict(list)
    for copy in b.image.waste.wasted_copies:  # type: ignore[union-attr]
        groups[(_waste_kind(b, copy), copy.layer, copy.hidden_by)].append(copy)  # type: ignore[arg-type]
    for (kind, stored, hidden), copies in groups.items():
        if b.packages is not None and kind == DELETED_LATER:
            copies = _removed_package_hint(b, stored, hidden, copies)
        elif b.packages is not None and kind in (OVERWRITTEN, REWRITTEN):
            copies = _replaced_package_hint(b, kind, stored, hidden, copies)
        if not copies:
            continue
        n = _files(len(copies))
        add, hide = b.instruction(stored), b.step(hidden)
        if kind == DELETED_LATER:
            title = f"{n} added by layer {stored} and deleted by layer {hidden}"
            if add.startswith(("COPY", "ADD")):
                fix = (
                    "Don't copy what a later step deletes: narrow the COPY or list it in .dockerignore; for input"
                    " needed only while building, use RUN --mount=type=bind (or a build stage and COPY --from)."
                )
            else:
                fix = (
                    f"Delete them in layer {stored}'s own RUN (`RUN … && rm -rf /{_target(copies)}`), or make them in"
                    " a build stage and COPY --from only the result; for build-only inputs use"
                    " RUN --mount=type=cache|bind."
                )
        elif kind == METADATA:
            title = f"{n} of layer {stored} stored again by layer {hidden} to change mode, owner or time"
            fix = (
                f"Set mode and owner where the file is made (`COPY --chmod=… --chown=…`, or chmod/chown in the RUN"
                f" that writes it), not later in {hide}."
            )
        elif kind == REWRITTEN:
            title = f"{n} of layer {stored} written again unchanged by layer {hidden}"
            fix = f"Write each file once, in its final form, not again in {hide}."
            if all(_copied_up(c) for c in copies):
                fix = (
                    f"Nothing about them changed: {hide} touched them in a way that copies a file up"
                    " (a hard link to it, opening it for writing); do that in the layer that creates them."
                )
        else:
            title = f"{n} of layer {stored} replaced by layer {hidden}"
            fix = _replaced_fix(hide)
        b.add(kind, title, (stored, hidden), (c.path for c in copies), copies, fix)


_METADATA_COMMAND = re.compile(r"(^|[\s;&|(])(chmod|chown|chgrp|touch)\s")


def _waste_kind(b: _Builder, copy: Copy) -> str:
    if copy.cause == CAUSE_DELETED:
        return DELETED_LATER
    if copy.cause == CAUSE_OVERWRITTEN:
        return OVERWRITTEN
    hidden = copy.hidden_by
    change = copy.where.change_in(hidden) if isinstance(copy.where, Node) else None  # type: ignore[arg-type]
    if (
        change is not None
        and change.kind == RESTORED
        and change.entry is not None
        and change.old is not None
        and {"mode", "owner"} & set(change.entry.metadata_changes(change.old))
    ):
        return METADATA
    return METADATA if _METADATA_COMMAND.search(b.instruction(hidden)) else REWRITTEN  # type: ignore[arg-type]


def _copied_up(copy: Copy) -> bool:
    """Stored again with the same bytes and metadata: an overlayfs copy-up, not a rewrite."""
    change = copy.where.change_in(copy.hidden_by) if isinstance(copy.where, Node) else None  # type: ignore[arg-type]
    return (
        change is not None
        and change.entry is not None
        and change.old is not None
        and not change.entry.metadata_changes(change.old)
    )


def _target(copies: list[Copy]) -> str:
    """What to delete: the one path, or the deepest directory holding them all."""
    paths = sorted({c.path for c in copies})
    if len(paths) == 1:
        return paths[0]
    return posixpath.commonpath(paths) or "…"


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _tree_hints(b: _Builder) -> None:
    """Package caches, build-only content and credentials: one walk over the directories of
    every path ever stored; file names are matched once per distinct name (images repeat
    names: `__init__.py`, `LC_MESSAGES`), then looked up in each directory."""
    caches: dict[str, list[tuple[str, Copy]]] = defaultdict(list)
    build: dict[str, list[tuple[str, Copy]]] = defaultdict(list)
    secrets: list[tuple[str, Node]] = []
    scanned: list[Node] = []  # the directories whose file names are matched
    names: set[str] = set()
    # Paths are made only where something is found (most directories hold nothing of interest).
    stack: list[tuple[Node, str | None]] = [(b.fs.root, None)] if b.fs.root.children else []
    while stack:
        node, tag = stack.pop()
        kids: dict[str, Node] = node.children  # type: ignore[assignment]  (only directories are stacked)
        for child in filter(_HAS_CHILDREN, kids.values()):
            child_tag = tag
            if tag is None and (child.name in _TRIGGERS or child.name.startswith("linux-headers-")):
                match = _DIR_RULE.fullmatch(child.path)
                if match:
                    child_tag = _DIR_RULES[int(match.lastgroup[1:])][0]  # type: ignore[index]
            stack.append((child, child_tag))
        if tag is not None:
            prefix = node.path + "/"
            if tag in _CACHE_FIX:  # every copy a cache ever stored, hidden or not
                found = caches[tag]
                for name, child in kids.items():
                    for change in child.changes:
                        if change.copy is not None and change.entry is not None:
                            found.append((prefix + name, change.copy))
            else:  # build-only: the visible files
                found = build[tag]
                for name, child in kids.items():
                    copy = _visible_copy(child)
                    if copy is not None:
                        found.append((prefix + name, copy))
            continue
        scanned.append(node)
        names.update(kids)
    # (a name holding a line break matches in pieces, and a piece is looked up only as a whole name)
    rules = {match.group(): match.lastgroup for match in _NAME_RULE.finditer("\n".join(names))}
    for node in scanned if rules else ():
        kids = node.children  # type: ignore[assignment]
        in_bin = node.name.endswith("bin")
        for name in kids.keys() & rules.keys():
            rule = rules[name]
            if rule == "tool" and not in_bin:
                continue
            child = kids[name]
            path = child.path
            if rule == "secret":
                directory = path.rpartition("/")[0]
                if name.endswith(_KEY_SUFFIXES):
                    found = not any(part in directory for part in _VENDORED) and _holds_private_key(b.image, child)
                else:
                    found = _secret_name(name, directory)
                if found:
                    secrets.append((path, child))
                continue
            copy = _visible_copy(child)
            if copy is not None:
                label = "static" if name.endswith(".a") else "toolchain" if rule == "tool" else "archive"
                build[label].append((path, copy))
    for tool in sorted(caches):
        found = caches[tool]
        copies = [c for _, c in found]
        b.add(
            PACKAGE_CACHE,
            f"{tool} cache left in the image ({_files(len({id(c) for c in copies}))})",
            (c.layer for c in copies),
            (p for p, _ in found),
            copies,
            _CACHE_FIX[tool],
        )
    for label in sorted(build):
        found = [(path, copy) for path, copy in build[label] if id(copy) not in b.build_packages]
        if not found:  # all of them in a build-only package's hint
            continue
        copies = [c for _, c in found]
        b.add(
            BUILD_ONLY,
            f"{_BUILD_LABELS[label]} in the final image ({_files(len(found))}; a heuristic)",
            (c.layer for c in copies),
            (p for p, _ in found),
            copies,
            "Use a multi-stage build: build in a first stage, then COPY --from=that stage only the artefacts"
            " the program needs into a slim final stage.",
        )
    for path, node in sorted(secrets):
        _secret_hint(b, path, node)


_HAS_CHILDREN = attrgetter("children")


# ---- packages: build-only packages, and packages a later layer removed --------------------------

# Build-only packages, by name alone: toolchains, headers and build tools. Not their libraries
# (libisl, libmpc): a library may be needed at run time, and a name cannot tell.
_BUILD_PACKAGE = re.compile(
    r"build-essential|build-base|make|cmake|ninja-build|autoconf|automake|libtool(-bin)?|bison|flex|m4"
    r"|pkg-?config|pkgconf(-bin)?|dpkg-dev|binutils(-[\w.+-]+)?"
    r"|(gcc|g\+\+|cpp|gfortran|clang|llvm)(-[\d.]+)?(-[\w.+-]+-linux-gnu)?"
    r"|linux-headers(-[\w.+-]+)?|[\w.+-]+-dev(-bin)?"
)
_BUILD_ECOSYSTEMS = ("deb", "apk")  # Python and Node metadata do not say what a package is for
_NAMES_SHOWN = 3


def is_build_package(package: Package) -> bool:
    """Is this a compiler, a headers (-dev) package or a build tool, by its name?"""
    return package.ecosystem in _BUILD_ECOSYSTEMS and _BUILD_PACKAGE.fullmatch(package.name) is not None


def _package_copies(package: Package, folders: dict[Node, str]) -> list[tuple[str, Copy]]:
    """The stored copies of a package's files since it was installed, with their paths (a
    folder's path made once, in `folders`)."""
    found = []
    for copy in package.copies:
        if copy.layer >= package.installed_in:
            parent = copy.where.parent
            head = folders.get(parent)  # type: ignore[arg-type]
            if head is None:
                head = folders[parent] = parent.path  # type: ignore[index,union-attr]
            found.append((f"{head}/{copy.where.name}" if head else copy.where.name, copy))
    return found


def _named(packages: list[HintPackage]) -> str:
    """`gcc-12, make and 3 more packages`, most bytes first."""
    names = [p.name for p in packages[:_NAMES_SHOWN]]
    rest = len(packages) - len(names)
    if rest:
        return f"{', '.join(names)} and {rest} more packages"
    return f"package {names[0]}" if len(names) == 1 else f"packages {', '.join(names[:-1])} and {names[-1]}"


def _hint_packages(owned: dict[Package, list[Copy]]) -> tuple[HintPackage, ...]:
    found = [HintPackage(p.ecosystem, p.name, p.version, sum(c.size for c in cs)) for p, cs in owned.items()]
    return tuple(sorted(found, key=lambda p: (-p.bytes, p.name)))


def _in_one_run(ecosystem: str, names: list[str]) -> str:
    """Install, use and remove packages within one RUN, in the package manager's own words."""
    listed = " ".join(names[:_NAMES_SHOWN]) + (" …" if len(names) > _NAMES_SHOWN else "")
    if ecosystem == "deb":
        return f"`apt-get install -y {listed} && … && apt-get purge -y --auto-remove {listed}`"
    if ecosystem == "apk":
        return f"`apk add --virtual .build-deps {listed} && … && apk del .build-deps`"
    if ecosystem == "python":
        return f"`pip install {listed} && … && pip uninstall -y {listed}`"
    return f"`npm install {listed} && … && npm uninstall {listed}`"


def _build_package_hints(b: _Builder) -> None:
    """Build-only packages still installed at the end, one hint per layer that installed them;
    their files are then left out of the build-only hints by path."""
    if b.packages is None:
        return
    groups: dict[tuple[int, str], dict[Package, list[tuple[str, Copy]]]] = defaultdict(dict)
    folders: dict[Node, str] = {}
    for package in b.packages.packages:
        if package.removed_in is None and is_build_package(package):
            found = _package_copies(package, folders)
            if found:
                groups[(package.installed_in, package.ecosystem)][package] = found
    for (layer, ecosystem), owned in sorted(groups.items()):
        named = _hint_packages({p: [c for _, c in found] for p, found in owned.items()})
        pairs = [pair for found in owned.values() for pair in found]
        copies = list({id(c): c for _, c in pairs}.values())
        b.build_packages.update(id(c) for c in copies)
        names = [p.name for p in named]
        b.add(
            BUILD_ONLY,
            f"Build-only {_named(list(named))} installed by layer {layer} ({_files(len({p for p, _ in pairs}))};"
            " picked by name, a heuristic)",
            [layer, *(c.layer for c in copies)],
            (p for p, _ in pairs),
            copies,
            "Use a multi-stage build: install them in a build stage and COPY --from=that stage only what the"
            " program needs into a slim final stage. If they are needed only within one step, install, use and"
            f" remove them in that one RUN: {_in_one_run(ecosystem, names)}.",
            named,
        )


def _removed_package_hint(b: _Builder, stored: int, hidden: int, copies: list[Copy]) -> list[Copy]:
    """The hint for the copies layer `stored` made of packages that layer `hidden` removed
    (their files, and dpkg's own records of them); the other copies are given back."""
    packages: Packages = b.packages  # type: ignore[assignment]
    removed = {c.package for c in packages.changes[hidden] if c.action == REMOVED}
    if not removed:
        return copies
    by_name = {p.name: p for p in removed if p.ecosystem == "deb"}

    def owner(path: str) -> Package | None:
        found = packages.owner_of(path)
        return found if found in removed else _dpkg_record_of(path, by_name)

    owned, rest = _by_owner(copies, owner)
    if not owned:
        return copies
    named = _hint_packages(owned)
    ecosystem = max(owned, key=lambda p: sum(c.size for c in owned[p])).ecosystem
    mine = [c for found in owned.values() for c in found]
    b.add(
        DELETED_LATER,
        f"Layer {hidden} removed {_named(list(named))}, installed by layer {stored}: {_files(len(mine))} still shipped",
        (stored, hidden),
        (c.path for c in mine),
        mine,
        f"Install, use and remove them in layer {stored}'s own RUN"
        f" ({_in_one_run(ecosystem, [p.name for p in named if p.ecosystem == ecosystem])}), or install them in a"
        " build stage and COPY --from only what they make.",
        named,
    )
    return rest


def _by_owner(
    copies: list[Copy], owner: Callable[[str], Package | None]
) -> tuple[dict[Package, list[Copy]], list[Copy]]:
    """`copies` split by the package `owner` gives each path, and those it gives none."""
    owned: dict[Package, list[Copy]] = defaultdict(list)
    rest = []
    for copy in copies:
        found = owner(copy.path)
        if found is None:
            rest.append(copy)
        else:
            owned[found].append(copy)
    return owned, rest


def _replaced_fix(hide: str) -> str:
    return (
        "Write the final version in the step that first creates it (or make it in a build stage and"
        f" COPY --from it), not in {hide} on top."
    )


# Installing the final versions at once, in each package manager's words
_UPGRADE_AT_ONCE = {
    "deb": "`apt-get update && apt-get upgrade -y` in the RUN that installs them",
    "apk": "`apk upgrade --no-cache` in the RUN that installs them",
    "python": "the versions you need pinned in the first `pip install`",
    "npm": "the versions you need pinned in the first `npm install`",
}


def _replaced_package_hint(b: _Builder, kind: str, stored: int, hidden: int, copies: list[Copy]) -> list[Copy]:
    """The hint for the copies of packages' files that layer `stored` made and layer `hidden`
    wrote over (OVERWRITTEN) or wrote again unchanged (REWRITTEN: a reinstall, or an upgrade
    that left a file as it was), an upgrade most often (dpkg's records of a package upgraded
    count as its files), naming the packages; the other copies are given back."""
    packages: Packages = b.packages  # type: ignore[assignment]
    upgraded = {c.package for c in packages.changes[hidden] if c.action == UPGRADED}
    by_name = {p.name: p for p in upgraded if p.ecosystem == "deb"}
    owned, rest = _by_owner(copies, lambda path: packages.owner_of(path) or _dpkg_record_of(path, by_name))
    if kind == REWRITTEN:  # stored again with its metadata too: a copy-up, unless the layer upgraded its package
        for package in [p for p in owned if p not in upgraded]:
            rest += [c for c in owned[package] if _copied_up(c)]
            owned[package] = [c for c in owned[package] if not _copied_up(c)]
            if not owned[package]:
                del owned[package]
    if not owned:
        return copies
    named = _hint_packages(owned)
    mine = [c for found in owned.values() for c in found]
    files, which = _files(len(mine)), _named(list(named))
    again = "stored again" if kind == OVERWRITTEN else "written again unchanged"
    if upgraded.issuperset(owned):
        ecosystem = max(owned, key=lambda p: sum(c.size for c in owned[p])).ecosystem
        title = f"Layer {hidden} upgraded {which} from layer {stored}: {files} {again}"
        fix = (
            f"Install the final versions once: {_UPGRADE_AT_ONCE[ecosystem]}, or start from a base image that has them."
        )
    elif kind == OVERWRITTEN:
        title = f"{files} of {which} from layer {stored} replaced by layer {hidden}"
        fix = _replaced_fix(b.step(hidden))
    else:
        title = f"{files} of {which} from layer {stored} written again unchanged by layer {hidden}"
        fix = (
            f"Install each package once, in the version you need, not again in {b.step(hidden)}:"
            " a reinstall stores every file of it a second time."
        )
    b.add(kind, title, (stored, hidden), (c.path for c in mine), mine, fix, named)
    return rest


def _dpkg_record_of(path: str, packages: dict[str, Package]) -> Package | None:
    """The package (of these, by name) whose dpkg record (`var/lib/dpkg/info/NAME[:ARCH].*`) this is."""
    head, _, name = path.rpartition("/")
    if head != "var/lib/dpkg/info":
        return None
    return packages.get(name.rpartition(".")[0].partition(":")[0])


def _visible_copy(node: Node) -> Copy | None:
    """The stored copy a path shows in the final image (None: not a visible regular file)."""
    changes = node._changes
    state = changes[-1] if type(changes) is list else changes  # type: ignore[index]
    return state.copy if state is not None and state.entry is not None else None  # type: ignore[union-attr]


def _secret_hint(b: _Builder, path: str, node: Node) -> None:
    stored = [c for c in node.changes if c.entry is not None and c.entry.kind == FILE and c.copy is not None]
    if not stored:
        return
    copies = [c.copy for c in stored]
    last = node.changes[-1]
    layers = [c.layer for c in stored]
    where = ", ".join(str(i) for i in sorted(set(layers)))
    if last.entry is None or last.entry.kind != FILE:
        layers.append(last.layer)
        title = f"Credential-like file /{path} in layer {where}, hidden by layer {last.layer}: still in the image"
    else:
        title = f"Credential-like file /{path} in layer {where}"
    b.add(
        SECRET,
        title,
        layers,
        (path,),
        copies,  # type: ignore[arg-type]
        "Never COPY credentials or write them in a RUN: pass them with RUN --mount=type=secret,id=…, keep them"
        " out of the context with .dockerignore, or use them only in a build stage.",
    )


DUPLICATE_GROUPS = 10  # groups of identical files given a hint each; the others share one


def _duplicate_hints(b: _Builder) -> None:
    """The groups of identical visible files that save most, one hint each (keep the first
    path, link the others); all other groups in one hint."""
    duplicates = b.image.waste.duplicates  # type: ignore[union-attr]
    for dup in duplicates[:DUPLICATE_GROUPS]:
        keep, *others = dup.paths
        b.add(
            DUPLICATE,
            f"The same {dup.size:,} bytes stored {len(dup.paths)} times: /{keep} and {len(others)} more",
            (c.layer for c in dup.copies),
            dup.paths,
            list(dup.copies[1:]),
            f"Store it once: remove the other copies, or make them a hard link (`ln /{keep} …`) or a symlink"
            f" (`ln -s /{keep} …`).",
        )
    rest = duplicates[DUPLICATE_GROUPS:]
    if rest:  # 100,000s of groups on a million files: walked in C (map, chain), not in Python loops
        paths = list(map(_PATHS, rest))
        others = list(map(_ALL_BUT_FIRST, map(_COPIES, rest)))
        # their layers: those that stored more copies of duplicates than the groups above (the
        # copies themselves, scattered in memory, are slow to read one by one)
        above = Counter(c.layer for dup in duplicates[:DUPLICATE_GROUPS] for c in dup.copies)
        b.add(
            DUPLICATE,
            f"{len(rest):,} more groups of identical files ({_files(sum(map(len, paths)))})",
            Counter(b.image.waste.duplicates_by_layer) - above,  # type: ignore[union-attr]
            chain.from_iterable(paths),
            list(chain.from_iterable(others)),
            "In each group, keep one file and make the others hard links or symlinks to it (or remove them).",
            sizes=chain.from_iterable(map(repeat, map(_SIZE, rest), map(len, others))),  # a group's: its size
        )


_PATHS, _COPIES, _SIZE = attrgetter("paths"), attrgetter("copies"), attrgetter("size")
_ALL_BUT_FIRST = itemgetter(slice(1, None))


_BROAD_COPY = re.compile(r"(COPY|ADD)(\s+--(?!from)\S+)*\s+(\.|\./|dir:\S+)(\s|$)")
# (what installs, how to spot it in a RUN, the files to copy before it)
_INSTALLERS = [
    ("pip", r"\bpip[\d.]*\s+install\b[^;&|]*\s(-r|--requirement)\b", "requirements.txt"),
    ("poetry", r"\bpoetry\s+install\b", "pyproject.toml poetry.lock"),
    ("uv", r"\buv\s+sync\b", "pyproject.toml uv.lock"),
    ("npm", r"\bnpm\s+(ci|install|i)\b", "package.json package-lock.json"),
    ("yarn", r"\byarn(\s+install\b|\s+--|\s*$|\s*&&|\s*;)", "package.json yarn.lock"),
    ("pnpm", r"\bpnpm\s+(install|i)\b", "package.json pnpm-lock.yaml"),
    ("go", r"\bgo\s+mod\s+download\b", "go.mod go.sum"),
    ("bundler", r"\bbundle\s+install\b", "Gemfile Gemfile.lock"),
    ("maven", r"\bmvn\b[^;&|]*\bdependency", "pom.xml"),
    ("cargo", r"\bcargo\s+(build|fetch)\b", "Cargo.toml Cargo.lock"),
    ("composer", r"\bcomposer\s+install\b", "composer.json composer.lock"),
    ("apt-get", r"\bapt(-get)?\s+(-\S+\s+)*install\b", ""),
]
_INSTALLER = [(name, re.compile(pattern), files) for name, pattern, files in _INSTALLERS]


def _installer(text: str) -> tuple[str, str] | None:
    """(what installs, the files to copy before it) for a RUN that installs dependencies."""
    for name, pattern, files in _INSTALLER:
        if pattern.search(text):
            return name, files
    return None


def _cache_order_hint(b: _Builder) -> None:
    """A COPY of the whole build context before a dependency install, read from the history
    (steps that made no layer are skipped; no history, no hint)."""
    steps = [(h.layer, h.instruction) for h in b.image.history if not h.empty_layer and h.layer is not None]
    copy_at = next((layer for layer, text in steps if _BROAD_COPY.match(text)), None)
    if copy_at is None:
        return
    for layer, text in steps:
        installer = _installer(text) if layer > copy_at and text.startswith("RUN") else None
        if installer is None:
            continue
        name, files = installer
        rebuilt = range(copy_at, len(b.image.layers))
        size = sum(b.image.layers[i].tar_size or 0 for i in rebuilt)
        if files:
            fix = (
                f"Copy the dependency files first, install, then the rest: `COPY {files} ./`, then"
                f" {b.step(layer)}, then `COPY . .`."
            )
        else:
            fix = f"Move {b.step(layer)} above {b.step(copy_at)}: it needs nothing from the context."
        b.add(
            CACHE_ORDER,
            f"{name} install (layer {layer}) after a COPY of the whole build context (layer {copy_at}):"
            f" {len(rebuilt)} layers, {size:,} bytes as tar, rebuilt on any source change",
            rebuilt,
            (),
            [],
            fix,
        )
        return


# ---- largest files ---------------------------------------------------------------------------------


def largest_files(fs: FileSystem, n: int, layer: int | None = None, waste: Waste | None = None) -> list[LargeFile]:
    """The `n` largest files of the final image (each stored copy once, under its first visible
    path), or with `layer` the largest files that layer stores, visible or not. The `waste` of
    `fs`, given, has the largest copies at hand (when it kept `n` of them: `LARGEST_KEPT`)."""
    if layer is not None:
        first: dict[int, tuple[str, Copy]] = {}  # a copy and its hard links of the same layer: once
        for change in fs.layer_changes[layer]:
            copy = change.copy
            if copy is not None and copy.layer == layer:
                path = change.path
                if id(copy) not in first or path < first[id(copy)][0]:
                    first[id(copy)] = (path, copy)
        top = nlargest(n, first.values(), key=lambda pc: pc[1].size)
        return sorted((LargeFile(p, c.size, layer, c.refs > 0) for p, c in top), key=lambda f: (-f.size, f.path))
    if waste is not None and (n <= LARGEST_KEPT or len(waste.largest) < LARGEST_KEPT):
        top = waste.largest[:n]
    else:
        top = nlargest(n, (c for c in fs.copies if c.refs > 0), key=_SIZE)
    paths: dict[int, str] = {}
    for copy in top:
        where = copy.where
        if isinstance(where, Node) and (state := where.current()) is not None and state.copy is copy:
            paths[id(copy)] = where.path
    wanted = {id(c) for c in top} - paths.keys()
    for node in fs.links if wanted else ():  # reached only through a hard link
        state = node.current()
        if state is not None and id(state.copy) in wanted:
            path = node.path
            key = id(state.copy)
            if key not in paths or path < paths[key]:
                paths[key] = path
    return sorted(
        (LargeFile(paths[id(c)], c.size, c.layer, True) for c in top if id(c) in paths), key=lambda f: (-f.size, f.path)
    )
