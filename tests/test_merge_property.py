"""Property test: the union tree agrees with a tiny independent model of layer stacking.

Random layer stacks (small trees from a small name pool, contents from a small pool so that
identical content recurs, whiteouts, opaque markers before or after the entries, overwrites,
chmods, file<->directory replacements, within a layer too, symlinks, hard links within a layer,
to lower layers and dangling) are written as real layer tars, read back with the tar reader and stacked with
`FileSystem.apply`; the reference applies each layer's entries in tar order, each replacing what
is at its path, as a runtime does. At every layer the merged filesystem, walked with `children_at` and
`entry_at`, must equal what the reference below computes, each path's change kind must follow
from the two merged views, and the waste figures must add up.
"""

from __future__ import annotations

import io

import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.analysis.filesystem import FileSystem
from explorer.analysis.waste import compute_waste
from explorer.archive.layerscan import scan_layer
from tests.imagebuilder import F, Layer, layer_tar, opaque, whiteout

NAMES = ("a", "b", "c")


def _paths() -> list[str]:
    out = []
    for x in NAMES:
        out.append(x)
        for y in NAMES:
            out.append(f"{x}/{y}")
            for z in NAMES:
                out.append(f"{x}/{y}/{z}")
    return out


PATHS = _paths()
CONTENTS = (b"", b"x", b"yy", b"x" * 64, b"zzz" * 10)
MODES = (0o644, 0o600, 0o755)
LINK_TARGETS = ("a", "/b/c", "../x", "c/c")
MISSING = "zz/missing"

# A layer entry as the reference sees it: (kind, path, content, mode, link)
#   kinds: f file, d dir, l symlink, h hard link, w whiteout, o opaque marker


def _is_below(path: str, top: str) -> bool:
    return path.startswith(top + "/")


# ---- the reference ------------------------------------------------------------------------


class Ref:
    """Merged state: path -> (kind, content or None, mode, link, copy id or None)."""

    def __init__(self) -> None:
        self.state: dict[str, tuple] = {}
        self.copy_sizes: dict[int, int] = {}
        self.stored = 0
        self.dangling = 0
        self.touched: set[str] = set()

    def apply(self, entries: list[tuple]) -> None:
        lower = self.state
        new = dict(lower)
        touched: set[str] = set()

        def remove_subtree(top: str, with_top: bool) -> None:
            for p in list(new):
                if (with_top and p == top) or _is_below(p, top):
                    del new[p]
                    touched.add(p)

        for kind, path, *_ in entries:
            if kind == "w":
                remove_subtree(path, with_top=True)
        for kind, path, *_ in entries:
            if kind == "o" and path in new and new[path][0] == "d":
                remove_subtree(path, with_top=False)

        for kind, path, content, mode, link in entries:  # in tar order, each replacing what is there
            if kind in "wo":
                continue
            parts = path.split("/")
            for i in range(1, len(parts)):
                anc = "/".join(parts[:i])
                cur = new.get(anc)
                if cur is None or cur[0] != "d":
                    new[anc] = ("d", None, 0o755, "", None)
                    touched.add(anc)
            cur = new.get(path)
            touched.add(path)
            if cur is not None and cur[0] == "d" and kind != "d":
                remove_subtree(path, with_top=False)
            if kind == "d":
                new[path] = ("d", None, mode, "", None)
                continue
            copy = None
            if kind == "f":
                self.stored += len(content)
                copy = len(self.copy_sizes)
                self.copy_sizes[copy] = len(content)
            elif kind == "h":  # shares the copy its target holds at this point of the tar
                target = new.get(link)
                if target is not None and target[0] in "fh" and target[4] is not None:
                    copy, content = target[4], target[1]
                else:
                    self.dangling += 1
                    content = None
            new[path] = (kind, content, mode, link if kind in "lh" else "", copy)
        self.state = new
        self.touched = touched

    def visible_bytes(self) -> int:
        reachable = {v[4] for v in self.state.values() if v[4] is not None}
        return sum(self.copy_sizes[c] for c in reachable)


def _digest(content: bytes | None) -> int | None:
    return None if content is None else xxhash.xxh3_64_intdigest(content)


def ref_view(ref: Ref) -> dict[str, tuple]:
    return {p: (k, _digest(c), m, link) for p, (k, c, m, link, _) in ref.state.items()}


def fs_view(fs: FileSystem, layer: int) -> dict[str, tuple]:
    out = {}
    stack = [fs.root]
    while stack:
        node = stack.pop()
        for child in fs.children_at(node, layer):
            e = child.entry_at(layer)
            out[child.path] = (e.kind, e.digest if e.kind in "fh" else None, e.mode, e.link)
            stack.append(child)
    return out


def expected_change(path: str, before: dict, after: dict, touched: set[str]) -> str | None:
    old, new = before.get(path), after.get(path)
    if old is None and new is None:
        return None
    if new is None:
        return "deleted"
    if old is None:
        return "added"
    if path not in touched:
        return None

    def cls(kind: str) -> str:
        return "f" if kind in "fh" else kind

    if cls(old[0]) != cls(new[0]):
        return "type_changed"
    if new[0] == "d":
        return "restored" if old[2] != new[2] else None
    if new[0] == "l":
        if old[3] != new[3]:
            return "modified"
    elif old[1] is None or old[1] != new[1]:
        return "modified"
    return "restored"


# ---- generating stacks --------------------------------------------------------------------

_op = st.one_of(
    st.tuples(st.just("f"), st.sampled_from(PATHS), st.sampled_from(CONTENTS), st.sampled_from(MODES)),
    st.tuples(st.just("d"), st.sampled_from(PATHS), st.sampled_from(MODES)),
    st.tuples(st.just("l"), st.sampled_from(PATHS), st.sampled_from(LINK_TARGETS)),
    st.tuples(st.just("h"), st.sampled_from(PATHS), st.integers(-1, 20)),
    st.tuples(st.just("w"), st.sampled_from(PATHS)),
    st.tuples(st.just("o"), st.sampled_from(PATHS), st.sampled_from(MODES), st.booleans()),
)


@st.composite
def stacks(draw) -> list[list[tuple]]:
    ref = Ref()
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        ops = draw(st.lists(_op, max_size=12))
        body: list[tuple] = []
        markers_first: list[tuple] = []
        markers_last: list[tuple] = []
        links: list[tuple] = []
        for op in ops:
            kind, path = op[0], op[1]
            if kind == "w":  # whiteouts before or after the entries, as tools write them
                (markers_first if len(body) % 2 else markers_last).append(("w", path, None, 0, ""))
                continue
            if kind == "f":
                body.append(("f", path, op[2], op[3], ""))
            elif kind == "d":
                body.append(("d", path, None, op[2], ""))
            elif kind == "l":
                body.append(("l", path, None, 0o777, op[2]))
            elif kind == "h":
                links.append(("h", path, op[2]))
                body.append(("h?", path))  # placeholder: target chosen below
            else:
                body.append(("d", path, None, op[2], ""))
                (markers_last if op[3] else markers_first).append(("o", path, None, 0, ""))
        # choose hard-link targets: a file of this layer, an unaffected lower file, or nothing
        final = {entry[1]: entry for entry in body}  # the last entry of a path wins
        op_paths = [e[1] for e in body]
        op_paths += [m[1] for m in markers_first + markers_last]
        dir_only = {e[1] for e in body if e[0] == "d"} - {m[1] for m in markers_first + markers_last}

        def affected(t: str, op_paths: list[str] = op_paths, dir_only: set[str] = dir_only) -> bool:
            for q in op_paths:
                if q == t or _is_below(q, t):
                    return True
                if _is_below(t, q) and q not in dir_only:
                    return True
            return False

        resolved = []
        for _, path, choice in links:
            candidates = [p for p, e in final.items() if e[0] == "f" and p != path]
            candidates += [
                p
                for p, v in ref.state.items()
                if v[0] in "fh" and v[4] is not None and p not in final and not affected(p)
            ]
            candidates = sorted(set(candidates))
            target = MISSING if choice < 0 or not candidates else candidates[choice % len(candidates)]
            resolved.append(("h", path, None, 0o644, target))
        it = iter(resolved)
        body = [e if e[0] != "h?" else next(it) for e in body]
        entries = markers_first + body + markers_last
        ref.apply(entries)
        layers.append(entries)
    return layers


def _as_builder(entry: tuple) -> F:
    kind, path, content, mode, link = entry
    if kind == "w":
        return whiteout(path)
    if kind == "o":
        return opaque(path)
    if kind == "f":
        return F(path, content, mode=mode)
    if kind == "d":
        return F(path + "/", kind="dir", mode=mode)
    if kind == "l":
        return F(path, kind="symlink", link=link, mode=mode)
    return F(path, kind="hardlink", link=link, mode=mode)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_union_tree_matches_the_reference(layers):
    fs = FileSystem()
    ref = Ref()
    before: dict[str, tuple] = {}
    for index, entries in enumerate(layers):
        tar = layer_tar(Layer([_as_builder(e) for e in entries]))
        fs.apply(index, scan_layer(io.BytesIO(tar), f"layer {index}", len(tar)).rows)
        ref.apply(entries)
        after = ref_view(ref)
        assert fs_view(fs, index) == after, f"merged filesystem at layer {index}"
        got = {}
        for change in fs.layer_changes[index]:
            assert change.path not in got, f"{change.path} changed twice in layer {index}"
            assert change.layer == index
            got[change.path] = change.kind
        paths = set(before) | set(after) | set(got)
        want = {p: k for p in paths if (k := expected_change(p, before, after, ref.touched)) is not None}
        assert got == want, f"changes of layer {index}"
        before = after
    # earlier layers are still answered from the same tree
    replay = Ref()
    for index, entries in enumerate(layers):
        replay.apply(entries)
        assert fs_view(fs, index) == ref_view(replay)

    waste = compute_waste(fs)
    assert waste.stored == ref.stored
    assert waste.visible == ref.visible_bytes()
    assert waste.stored - waste.visible == waste.wasted == sum(i.size for i in waste.items)
    assert sum(waste.stored_by_layer.values()) == waste.wasted == sum(waste.hidden_by_layer.values())
    assert sum(waste.by_cause.values()) == waste.wasted
    assert all(i.stored_in <= i.hidden_by < len(layers) for i in waste.items)
    assert len(fs.warnings) == ref.dangling
