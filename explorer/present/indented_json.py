"""`json.dumps(data, indent=2, ensure_ascii=True)`, byte for byte, at the C encoder's speed.

The standard library encodes with indentation in pure Python (its C encoder runs only without
`indent`), a few µs per value: on a report of 100,000s of paths that is most of `--json`'s
printing. Here Python walks only the containers that hold containers; a container of plain
values (a waste item, a duplicate's path list) is one call of the C encoder, whose item
separator carries the newline and the indentation of that depth.

`write_indented` hands the same text out in parts as it is made: long lists are written in runs
of items, so the output's memory is never the whole text (17 MB on a million-entry image) or
its records all at once; a `LazyList`'s items are even made a run at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any

INDENT = 2
_DICT = frozenset((dict,))
_STRINGS = frozenset((str,))
_SCALARS = frozenset((str, int, float, bool, type(None)))  # exact types: subclasses take the long way


class _Depth:
    """The encoders of one nesting depth: `leaf` writes a container of plain values whole."""

    __slots__ = ("inner", "outer", "leaf_separator", "leaf")

    def __init__(self, depth: int) -> None:
        self.inner = "\n" + " " * (INDENT * (depth + 1))
        self.outer = "\n" + " " * (INDENT * depth)
        self.leaf_separator = "," + self.inner
        self.leaf = _leaf_encoder(self.leaf_separator)


def _leaf_encoder(item_separator: str) -> Callable[[object], str]:
    """One container of plain values, as the C encoder writes it with this item separator (the
    encoder made once: `JSONEncoder.encode` makes one per call, which costs more than the call)."""
    if c_make_encoder is None:  # no C accelerator: the standard library's own way
        return json.JSONEncoder(ensure_ascii=True, separators=(item_separator, ": ")).encode
    encode = c_make_encoder(
        None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", item_separator, False, False, True
    )
    return lambda value: "".join(encode(value, 0))


class LazyList:
    """A list whose items are made as they are written, a run at a time: `make` of each of
    `items` (a report's 100,000s of records, ~180 bytes each as dicts, never all made at once).
    As a sequence it is the list it stands for. A `table`'s records are not even made to be
    written: each run's columns are taken from its items."""

    __slots__ = ("make", "items", "fields")

    def __init__(self, make: Callable[[Any], object], items: Sequence) -> None:
        self.make = make
        self.items = items
        self.fields: dict[str, Callable[[Any], object]] | None = None

    @classmethod
    def table(cls, fields: dict[str, Callable[[Any], object]], items: Sequence) -> LazyList:
        """The records {key: get(item) for each key, get of `fields`} of `items` (a `get` in C,
        an `attrgetter`, takes a column of them without a Python call per item)."""
        table = cls(lambda item: {key: get(item) for key, get in fields.items()}, items)
        table.fields = fields
        return table

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[object]:
        return map(self.make, self.items)

    def __getitem__(self, index: int) -> object:
        return self.make(self.items[index])


def _scalar(value: object) -> str:
    return json.dumps(value, ensure_ascii=True)


# how the C encoder writes each plain type (floats: NaN and infinities need json's own rules)
_PLAIN: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _: "null",
    float: _scalar,
}


def dumps_indented(data: object) -> str:
    """`data` as `json.dumps(data, indent=2, ensure_ascii=True)` writes it."""
    out: list[str] = []
    _write(data, 0, [], out)
    return "".join(out)


PART = 1 << 20  # characters `write_indented` gathers before it writes them


def write_indented(data: object, write: Callable[[str], object]) -> None:
    """`dumps_indented(data)` handed to `write` in parts of about `PART` characters, each
    written before the next is made."""
    out = _Parts(write)
    _write(data, 0, [], out)  # type: ignore[arg-type]
    out.flush()


class _Parts:
    """The output of `_write` (its `append`), written out whenever `PART` characters are gathered."""

    __slots__ = ("parts", "size", "write")

    def __init__(self, write: Callable[[str], object]) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.write = write

    def append(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= PART:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.write("".join(self.parts))
            self.parts, self.size = [], 0


def _key(key: object) -> str:
    """A dict key as json writes it: strings as they are, numbers, booleans and null as text."""
    if type(key) is str or isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return json.dumps(key)
    if isinstance(key, (int, float)):
        return json.dumps(key) if isinstance(key, float) else int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _write(value: object, depth: int, depths: list[_Depth], out: list[str]) -> None:
    if type(value) is LazyList:
        _write_lazy(value, depth, depths, out)
        return
    if isinstance(value, dict):
        items: Iterable[object] = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        out.append(_scalar(value))
        return
    if not value:
        out.append("{}" if isinstance(value, dict) else "[]")
        return
    level = _depth(depths, depth)
    if _SCALARS.issuperset(map(type, items)):
        if len(value) > RUN and not isinstance(value, dict):
            separator = "[" + level.inner
            for start in range(0, len(value), RUN):
                out.append(separator + level.leaf(value[start : start + RUN])[1:-1])  # type: ignore[index]
                separator = "," + level.inner
            out.append(level.outer + "]")
            return
        text = level.leaf(value)
        out.append(text[0] + level.inner + text[1:-1] + level.outer + text[-1])
        return
    if type(value) is list and _flat_records(value):
        _write_records(value, level, _depth(depths, depth + 1), out)
        return
    if type(value) is list and len(value) >= TABLE_MIN and _write_table(value, depth, depths, out):
        return
    separator = "," + level.inner
    pairs = value.items() if isinstance(value, dict) else enumerate(value)  # type: ignore[arg-type]
    for n, (k, v) in enumerate(pairs):
        if isinstance(value, dict):
            out.append((separator if n else "{" + level.inner) + encode_basestring_ascii(_key(k)) + ": ")
        else:
            out.append(separator if n else "[" + level.inner)
        plain = _PLAIN.get(type(v))
        if plain is not None:
            out.append(plain(v))
        else:
            _write(v, depth + 1, depths, out)
    out.append(level.outer + ("}" if isinstance(value, dict) else "]"))


def _write_lazy(value: LazyList, depth: int, depths: list[_Depth], out: list[str]) -> None:
    """Each run of items made and written as a list (whatever way suits it), and the runs
    joined: a list written whole is `[`, its depth's inner indent, its items, its outer
    indent and `]`, so a run's items are its text without those. A table's runs are written
    from their columns."""
    items = value.items
    if not items:
        out.append("[]")
        return
    level = _depth(depths, depth)
    head, tail = 1 + len(level.inner), -1 - len(level.outer)
    separator, between = "[" + level.inner, "," + level.inner
    fields = value.fields or {}
    keys = list(fields) if _STRINGS.issuperset(map(type, fields)) else []
    for start in range(0, len(items), RUN):
        run = items[start : start + RUN]
        if keys:  # a table: its records' texts from its columns, as `_write_table` writes them
            texts = _filled(keys, [list(map(get, run)) for get in fields.values()], depth + 1, depths)
            out.append(separator + between.join(texts))
        else:
            part: list[str] = []
            _write(list(map(value.make, run)), depth, depths, part)
            out.append(separator + "".join(part)[head:tail])
        separator = between
    out.append(level.outer + "]")


def _depth(depths: list[_Depth], depth: int) -> _Depth:
    while len(depths) <= depth:
        depths.append(_Depth(len(depths)))
    return depths[depth]


def _flat_records(value: list) -> bool:
    """A list of non-empty dicts of plain values (waste items, largest files)."""
    return _DICT.issuperset(map(type, value)) and all(
        record and _SCALARS.issuperset(map(type, record.values())) for record in value
    )


def _write_records(records: list[dict], level: _Depth, deeper: _Depth, out: list[str]) -> None:
    """A list of flat records, each run of them in one call of the C encoder. With ensure_ascii
    no string holds a line break, so the records' item separator with `}` before and `{` after
    occurs only between two records: there the indentation of the list's own depth goes in."""
    between = "}," + deeper.inner + "{", level.inner + "}," + level.inner + "{" + deeper.inner
    separator = "[" + level.inner
    for start in range(0, len(records), RUN):
        text = deeper.leaf(records[start : start + RUN])  # [{"k": v,\n<deeper>"k": v},\n<deeper>{"k": v}]
        out.append(separator + "{" + deeper.inner + text[2:-2].replace(*between) + level.inner + "}")
        separator = "," + level.inner
    out.append(level.outer + "]")


_EMPTY = {dict: "{}", list: "[]", tuple: "[]"}
TABLE_MIN = 64  # records in a list worth writing as a table (fewer cost little either way; a table
# makes each record's text whole, a hint's 100,000s of paths too, where `_write` gives them out in runs)
RUN = 2048  # items of a long list written at a time
_SPLIT = _leaf_encoder(",\n")  # plain values one per line: no encoded value holds a line break


def _write_table(records: list, depth: int, depths: list[_Depth], out: list[str]) -> bool:
    """A list of records with the same keys (layers, hints, packages) whose values include
    containers, column by column (see `_texts`). False, with nothing written, if the list is
    not such a table."""
    keys = _table_keys(records)
    if keys is None:
        return False
    level = _depth(depths, depth)
    separator, between = "[" + level.inner, "," + level.inner
    for start in range(0, len(records), RUN):
        out.append(separator + between.join(_record_texts(records[start : start + RUN], keys, depth + 1, depths)))
        separator = between
    out.append(level.outer + "]")
    return True


def _table_keys(records: list) -> list[str] | None:
    """The keys every record has, in the same order (None: not all dicts with the same keys)."""
    if not _DICT.issuperset(map(type, records)):
        return None
    keys = list(records[0])
    if not keys or not _STRINGS.issuperset(map(type, keys)) or any(map(keys.__ne__, map(list, records))):
        return None
    return keys


def _record_texts(records: list, keys: list[str], depth: int, depths: list[_Depth]) -> list[str]:
    """Records with the same keys as written at `depth` (see `_filled`)."""
    return _filled(keys, [list(map(itemgetter(key), records)) for key in keys], depth, depths)


def _filled(keys: list[str], columns: list[list], depth: int, depths: list[_Depth]) -> list[str]:
    """Records as written at `depth`, from the values of each of their `keys` (a column each,
    in the same order): each column's texts, then each record filled into one template (`%`,
    in C)."""
    level = _depth(depths, depth)
    texts = [_texts(column, depth + 1, depths) for column in columns]
    fields = ("," + level.inner).join(encode_basestring_ascii(key).replace("%", "%%") + ": %s" for key in keys)
    return list(map(("{" + level.inner + fields + level.outer + "}").__mod__, zip(*texts, strict=True)))


_SEQUENCES = frozenset((list, tuple))
LIST_COLUMN_MAX = 1 << 16  # values in a column of lists written in one call (more: list by list, as
# few long lists cost little that way, and their text is not made twice at once)


def _list_texts(column: list, level: _Depth) -> list[str]:
    """Lists of plain values (a run of duplicates' paths) as written at `level`'s depth, in one
    call of the C encoder: with that depth's item separator between the lists too, a list ends
    before `],` + separator + `[` (no plain value's text ends in `]` or starts with `[`)."""
    text = level.leaf(column)  # [[v,<sep>v],<sep>[v]]
    bodies = text[2:-2].split("]" + level.leaf_separator + "[")
    texts = list(map(("[" + level.inner + "%s" + level.outer + "]").__mod__, bodies))
    if "" in bodies:  # an empty list is written `[]`
        texts = [text if body else "[]" for text, body in zip(texts, bodies, strict=True)]
    return texts


def _texts(column: list, depth: int, depths: list[_Depth]) -> list[str]:
    """Each value of a column as written at `depth`: plain values in one call of the C encoder,
    split at its line breaks; lists of plain values likewise (`_list_texts`); records with the
    same keys as a table; anything else one by one."""
    if _SCALARS.issuperset(map(type, column)):
        return _SPLIT(column)[1:-1].split(",\n")
    if (
        _SEQUENCES.issuperset(map(type, column))
        and sum(map(len, column)) <= LIST_COLUMN_MAX
        and _SCALARS.issuperset(map(type, chain.from_iterable(column)))
    ):
        return _list_texts(column, _depth(depths, depth))
    keys = _table_keys(column)
    if keys is not None:
        return _record_texts(column, keys, depth, depths)
    texts = []
    for item in column:
        plain = _PLAIN.get(type(item))
        if plain is not None:
            texts.append(plain(item))
        elif not item and type(item) in _EMPTY:
            texts.append(_EMPTY[type(item)])
        else:
            part: list[str] = []
            _write(item, depth, depths, part)
            texts.append("".join(part))
    return texts
