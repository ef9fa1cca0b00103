"""Files' contents as of a layer: which stored copy a path shows, and its bytes read back.

The analysis knows, for every path at every layer, which stored copy of its content is
visible (a hard link shares its target's). Reading the bytes means reading that copy's layer
blob once more as a stream (`archive.members`): an archive read in one forward pass (standard
input, a compressed archive) cannot be read again, and says so. The bytes read back are
checked against the xxh3 digest the scan took.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import xxhash

from ..archive.blobs import sniff
from ..archive.engines import engine_of
from ..archive.entries import DIR, SYMLINK, Entry, normalize
from ..archive.errors import CorruptBlob, ImageError
from ..archive.layerscan import Location
from ..archive.members import ReadProgress, located_member_data, member_data
from .filesystem import DELETED, Change, Copy, Node
from .image import Image

MAX_SYMLINKS = 40  # as Linux: more links followed in one lookup is a loop


class NotSeekable(ImageError):
    """File contents were asked of an archive that can be read only once."""


def _not_seekable(path: str) -> NotSeekable:
    return NotSeekable(
        f"{path}: file contents cannot be read from standard input, a pipe or a compressed archive"
        " (each can be read only once); save it to a file first (for a compressed one: gzip -dc or zstd -dc)"
    )


def refuse_one_pass(path: str) -> None:
    """Before anything is read: refuse an input that can be read only once (standard input, a
    pipe, a compressed archive, an engine's `docker save`), rather than read it whole and fail
    after. A registry's blobs can be fetched again."""
    if path == "-":
        raise _not_seekable("standard input")
    p = Path(path)
    if engine_of(path) is not None:
        raise ImageError(f"{path}: an engine's image is read once, as a stream; save it to a file first")
    try:
        if p.is_dir() or not p.exists():
            return  # an OCI directory; or missing, which opening reports
        if not p.is_file():
            raise _not_seekable(path)
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError:
        return  # opening reports it
    if sniff(head) != "none":
        raise _not_seekable(path)


def require_rereadable(image: Image) -> None:
    """Contents need the layer blobs read a second time: an image read in one pass cannot give them."""
    if not image.source.seekable:
        raise _not_seekable(image.path)


def layer_index(image: Image, layer: int | None) -> int:
    """The layer a `--layer N` option means (the last by default)."""
    last = len(image.layers) - 1
    if layer is None:
        return last
    if not 0 <= layer <= last:
        raise ImageError(
            f"no layer {layer}: the image has layers 0 to {last}" if last >= 0 else "the image has no layers"
        )
    return layer


def _display(path: str) -> str:
    return "/" + path  # the command line escapes the whole error line


def lookup(image: Image, path: str, layer: int, follow: bool) -> Node:
    """The node of `path` as seen at `layer`: symlinks among its directories are followed
    (inside the image: an absolute target starts at the image root, `..` stops there), and the
    last component too if `follow`. The node returned may be absent or deleted at `layer`;
    a missing directory on the way is an error."""
    root = image.fs.root
    parts = normalize_parts(path)
    node, hops = root, 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            node = node.parent or root
            continue
        child = (node.children or {}).get(part)
        entry = child.entry_at(layer) if child is not None else None
        if child is None or (entry is None and parts):
            raise ImageError(f"{_display(_join(node, part))}: no such file or directory at layer {layer}")
        if entry is not None and entry.kind == SYMLINK and (parts or follow):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise ImageError(f"{_display(path)}: too many levels of symbolic links")
            if entry.link.startswith("/"):
                node = root
            parts[:0] = normalize_parts(entry.link)
            continue
        if parts and (entry is None or entry.kind != DIR):
            raise ImageError(f"{_display(child.path)}: not a directory at layer {layer}")
        node = child
    return node


def normalize_parts(path: str) -> list[str]:
    """A path's components, `.` and empty ones dropped, `..` kept (for symlink resolution)."""
    return [p for p in path.split("/") if p not in ("", ".")]


def _join(node: Node, name: str) -> str:
    return f"{node.path}/{name}" if node.path else name


def visible_state(node: Node, layer: int) -> Change:
    """The change that makes `node` what it is at `layer`; an error names why it is not there
    (not yet added, or deleted by which layer)."""
    state = node.state_at(layer)
    if state is None:
        first = node.changes[0].layer if node.changes else None
        later = f" (added by layer {first})" if first is not None else ""
        raise ImageError(f"{_display(node.path)}: not in the image at layer {layer}{later}")
    if state.kind == DELETED:
        raise ImageError(
            f"{_display(node.path)}: deleted by layer {state.layer}"
            f" (its last version is from layer {state.old_layer}: --layer {state.layer - 1} shows it)"
        )
    return state


def file_copy(image: Image, path: str, layer: int) -> tuple[Node, Copy]:
    """The stored copy `path` shows at `layer` (symlinks followed, a hard link's target's copy)."""
    node = lookup(image, normalize(path), layer, follow=True)
    state = visible_state(node, layer)
    entry = state.entry
    assert entry is not None
    if entry.kind == DIR:
        raise ImageError(f"{_display(node.path)}: is a directory")
    if state.copy is None:
        what = "a hard link whose target is missing" if entry.link else f"not a regular file ({entry.kind})"
        raise ImageError(f"{_display(node.path)}: {what}")
    return node, state.copy


def _positions(image: Image, layer: int) -> dict[Copy, int]:
    """For the copies a layer stores: how many regular-file entries of the same path come
    before each in its tar (copies are kept in tar order; the last of a path is the one seen)."""
    seen: dict[Node, int] = defaultdict(int)
    positions = {}
    for copy in image.fs.copies:
        if copy.layer == layer:
            positions[copy] = seen[copy.where]
            seen[copy.where] += 1
    return positions


def read_copies(
    image: Image, copies: Iterable[Copy], indexed: bool = False, on_read: ReadProgress | None = None
) -> Iterator[tuple[Copy, Iterator[bytes]]]:
    """Each copy with its bytes as chunks, one read of each layer blob involved (in layer
    order). Consume the chunks before the next copy; a mismatch with the scan's digest raises
    CorruptBlob at the end of that copy. `indexed`: gzip layers are read through a seek index
    (the first read of a layer builds it, reading all of it: for repeated reads, as in the app).
    `on_read(offset, blob size)`: how far into a blob on disk the reading has come."""
    require_rereadable(image)
    by_layer: dict[int, dict[str, Copy]] = defaultdict(dict)
    for copy in copies:
        by_layer[copy.layer][copy.path] = copy
    for index in sorted(by_layer):
        wanted = by_layer[index]
        positions = _positions(image, index)
        layer = image.layers[index]
        label = image.label(layer)
        counts = {path: positions[copy] for path, copy in wanted.items()}
        sparse = layer.scan.sparse if layer.scan else {}  # path -> apparent size
        location = image.source.locate(layer.ref.blob)
        with contextlib.ExitStack() as stack:
            # on disk (a registry's blob is streamed again); a sparse file needs tarfile's
            # expansion of its holes, on the stream
            if isinstance(location, Location) and not any(p in sparse for p in wanted):
                scan = layer.scan
                members = located_member_data(
                    location,
                    label,
                    counts,
                    indexed,
                    layer.tar_size or 0,
                    _spots(image, index, wanted),
                    scan.zstd_index if scan is not None else None,
                    on_read,
                )
            else:
                members = member_data(stack.enter_context(image.source.open(layer.ref.blob)), label, counts)
            stack.callback(members.close)
            for path, chunks in members:
                copy = wanted[path]
                yield copy, _checked(chunks, copy, label, sparse.get(path))


def _spots(image: Image, index: int, wanted: dict[str, Copy]) -> dict[str, tuple[int, int]] | None:
    """Where each wanted copy's data lies in its layer's tar: the scan kept the offsets of the
    layer's regular files in tar order, as the copies are kept."""
    scan = image.layers[index].scan
    offsets = scan.file_offsets if scan is not None else None
    if offsets is None:
        return None
    ordinal = {}
    for copy in image.fs.copies:
        if copy.layer == index:
            ordinal[copy] = len(ordinal)
    if len(ordinal) != len(offsets):
        return None  # not the scan's files one for one: read the blob as a stream
    return {path: (offsets[ordinal[copy]], copy.size) for path, copy in wanted.items()}


def _checked(chunks: Iterator[bytes], copy: Copy, label: str, apparent: int | None) -> Iterator[bytes]:
    """The chunks, checked at the end against the scan: size and xxh3 digest, or for a sparse
    file (holes filled in) its apparent size, as its digest covers the stored form."""
    hasher = xxhash.xxh3_64()
    size = 0
    for chunk in chunks:
        if apparent is None:
            hasher.update(chunk)
        size += len(chunk)
        yield chunk
    if apparent is not None:
        same = size == apparent
    else:
        same = size == copy.size and (copy.digest is None or hasher.intdigest() == copy.digest)
    if not same:
        raise CorruptBlob(f"{label}: {copy.path} read back differs from what the scan saw (has the archive changed?)")


def extract_plan(
    image: Image, paths: Iterable[str], layer: int, only_changes: bool = False
) -> tuple[list[tuple[str, Entry, Copy | None]], list[str]]:
    """What `extract` writes: (path, entry, stored copy for a file) for each path given and
    everything under it as of `layer` (or only what `layer` changed there), parents first;
    and notes on what cannot be written (deletions)."""
    chosen: dict[str, tuple[Entry, Copy | None]] = {}
    notes: list[str] = []
    for path in paths:
        top = lookup(image, normalize(path), layer, follow=False)
        if not only_changes:
            visible_state(top, layer)  # an error if absent or deleted
        for node in top.walk():
            state = node.change_in(layer) if only_changes else node.state_at(layer)
            if state is None or node is image.fs.root:
                continue
            if state.kind == DELETED:
                if only_changes:
                    notes.append(f"/{node.path}: deleted by layer {layer}; not written")
                continue
            assert state.entry is not None
            chosen[node.path] = (state.entry, state.copy)
    return [(p, *chosen[p]) for p in sorted(chosen)], notes
