"""`dumps_indented` writes exactly what `json.dumps(indent=2, ensure_ascii=True)` writes."""

from __future__ import annotations

import json
from operator import attrgetter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.analysis import load
from explorer.present import indented_json
from explorer.present.indented_json import TABLE_MIN, LazyList, dumps_indented, write_indented
from explorer.present.report import report_dict

from .conftest import REAL, needs_shared

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_same_text_as_the_standard_library(data: object) -> None:
    assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=True)


@st.composite
def tables(draw: st.DrawFn) -> list:
    """Lists of records with the same keys, as the report's layers, hints and packages are."""
    names = draw(st.lists(st.text(), min_size=1, max_size=4, unique=True))
    record = st.fixed_dictionaries({name: documents for name in names})
    return draw(st.lists(record, min_size=SHORT_TABLE, max_size=SHORT_TABLE + 4))


SHORT_TABLE = 8  # TABLE_MIN while the tables are tested: drawing 64 records makes a test take minutes


@settings(max_examples=200, deadline=None)
@given(tables())
def test_a_table_of_records_same_as_the_standard_library(data: list) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indented_json, "TABLE_MIN", SHORT_TABLE)
        assert dumps_indented({"rows": data}) == json.dumps({"rows": data}, indent=2, ensure_ascii=True)


@pytest.mark.parametrize(
    "data",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [[]], "d": [{}], "e": ([], {})},
        {"path": 'we\u00efrd/\n"[{,}]"/\ud800', "bytes": float("nan"), "x": float("-inf"), "y": True},
        [1, [2, [3, {"k": [4.5, None, "s"]}]]],
        {"records": [{"a": 1, "b": "},\n  {"}, {"c": None}, {"d": "}"}], "x": [[{"e": 2}, {"f": [3]}], [{}, {"g": 4}]]},
        {3: "int key", 2.5: "float key", True: "bool key", None: "null key"},
        [{"100%": [i], "%s": {"%d": "%s%%"}, "x\ny": float("nan")} for i in range(TABLE_MIN + 1)],
        [{"a": [1], "b": 2}] * TABLE_MIN + [{"b": 2, "a": [1]}],  # same keys, another order: not a table
        [{"a": {"x": i, "y": [i, {"z": i}]}, "b": {"x": None, "y": {}}, "c": {}} for i in range(TABLE_MIN + 1)],
    ],
)
def test_edges(data: object) -> None:
    assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=True)


# a table whose column of lists of plain values is written in one call (the duplicates' paths):
# empty lists, tuples, and strings that look like the text between two lists
LISTS = ["a]", "[b", "],\n      [", '"],\n      ["', 7, None, float("nan"), -0.5, True]
LIST_TABLE = [{"bytes": n, "paths": tuple(LISTS[n % 9 : n % 9 + n % 4])} for n in range(TABLE_MIN + 9)]


@pytest.mark.parametrize("most", [indented_json.LIST_COLUMN_MAX, 3])  # 3: the longer runs list by list
@pytest.mark.parametrize(
    "data",
    [
        LIST_TABLE,
        {"duplicates": LIST_TABLE, "deeper": [{"x": LIST_TABLE}]},
        LIST_TABLE + [{"bytes": 0, "paths": [["nested"]]}],  # not all plain: list by list
        [{"paths": [], "more": []}] * TABLE_MIN,
    ],
)
def test_a_column_of_lists_same_as_the_standard_library(data: object, most: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indented_json, "LIST_COLUMN_MAX", most)
        assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=True)


@settings(max_examples=100, deadline=None)
@given(documents | tables(), st.integers(1, 3), st.integers(1, 40))
def test_written_in_runs_and_parts_same_as_the_standard_library(data: object, run: int, part: int) -> None:
    """Long lists in runs of items (here of 1-3: in the report, of 2,048), and the text given
    out in parts (here of 1-40 characters), each run a `LazyList` too."""

    def lazy(value: object) -> object:
        if type(value) is list:
            return LazyList(lazy, value)
        if type(value) is dict:
            return {key: lazy(item) for key, item in value.items()}
        return value

    expected = json.dumps(data, indent=2, ensure_ascii=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indented_json, "RUN", run)
        patch.setattr(indented_json, "PART", part)
        patch.setattr(indented_json, "TABLE_MIN", SHORT_TABLE)
        parts: list[str] = []
        write_indented(data, parts.append)
        assert "".join(parts) == expected
        assert all(len(text) for text in parts) and len(parts) >= min(2, len(expected) // (part + 200))
        assert dumps_indented(lazy(data)) == expected


def test_a_lazy_list_is_made_a_run_at_a_time() -> None:
    made: list[int] = []

    def record(n: int) -> dict:
        return {"n": n, "paths": [str(n)]}

    def made_once(n: int) -> dict:
        made.append(n)
        assert len(made) <= (n // indented_json.RUN + 1) * indented_json.RUN  # none of a later run yet
        return record(n)

    written: list[str] = []
    write_indented({"records": LazyList(made_once, range(5000))}, written.append)
    assert "".join(written) == json.dumps({"records": list(map(record, range(5000)))}, indent=2)
    assert made == list(range(5000))


class _Item:
    def __init__(self, n: int) -> None:
        self.n, self.name = n, f'f{n}%s\n"]'
        self.paths = tuple(LISTS[n % 9 : n % 9 + n % 4])
        self.more = {"a": [n, {"b": None}], "c": {}} if n % 2 else []


@pytest.mark.parametrize("run", [1, 3, 2048])
@pytest.mark.parametrize(
    "fields",
    [
        {"bytes": attrgetter("n"), "paths": attrgetter("paths")},  # the duplicates' records
        {"name": attrgetter("name"), "more": attrgetter("more"), "100%": attrgetter("n")},
        {"only": attrgetter("name")},
    ],
)
def test_a_lazy_table_is_written_from_its_columns(fields: dict, run: int) -> None:
    for count in (0, 1, 7, TABLE_MIN + 3):
        table = LazyList.table(fields, [_Item(n) for n in range(count)])
        expected = json.dumps({"t": [list(table)]}, indent=2)

        def unmade(item: object) -> dict:
            raise AssertionError("a record made to be written")

        table.make = unmade
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(indented_json, "RUN", run)
            assert dumps_indented({"t": [table]}) == expected


def test_a_lazy_table_of_no_fields_or_keys_json_turns_to_text_is_made_record_by_record() -> None:
    for fields in ({}, {1: attrgetter("n"), None: attrgetter("name")}):
        table = LazyList.table(fields, [_Item(n) for n in range(5)])
        assert dumps_indented(table) == json.dumps(list(table), indent=2)


def test_what_json_cannot_write_fails_the_same_way() -> None:
    for data in ({"a": {1, 2}}, [object()], {(1, 2): "tuple key"}):
        with pytest.raises(TypeError):
            json.dumps(data, indent=2)
        with pytest.raises(TypeError):
            dumps_indented(data)


@needs_shared
@pytest.mark.parametrize(
    "name", ["small-bloat.oci-zstd.tar", "small-bloat-ovl.docker-archive.tar", "multi.oci-index.tar"]
)
def test_report_of_a_real_image(name: str) -> None:
    data = report_dict(load(str(REAL / name)))
    assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=True)


@pytest.mark.parametrize("command", [["cache", "info"], ["ci", "DEMO"], ["report", "DEMO"]])
def test_every_command_writes_its_json_one_way(command, demo, monkeypatch, capsys) -> None:
    """`--json` of each command is written by `dumps_indented` (the bytes `json.dumps(indent=2)` gives)."""
    import explorer.present.indented_json as indented_json
    from explorer.cli import main

    written = []
    monkeypatch.setattr(indented_json, "dumps_indented", lambda data: written.append(data) or dumps_indented(data))
    monkeypatch.setattr(
        indented_json, "write_indented", lambda data, write: written.append(data) or write_indented(data, write)
    )
    main([demo if arg == "DEMO" else arg for arg in command] + ["--json"])
    out = capsys.readouterr().out
    assert len(written) == 1 and out == json.dumps(json.loads(out), indent=2) + "\n"
