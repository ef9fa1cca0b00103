"""`dumps_indented` writes exactly what `json.dumps(indent=2, ensure_ascii=True)` writes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.analysis import load
from explorer.present.indented_json import dumps_indented
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
    return draw(st.lists(record, min_size=8, max_size=12))


@settings(max_examples=200, deadline=None)
@given(tables())
def test_a_table_of_records_same_as_the_standard_library(data: list) -> None:
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
        [{"100%": [i], "%s": {"%d": "%s%%"}, "x\ny": float("nan")} for i in range(9)],
        [{"a": [1], "b": 2}] * 8 + [{"b": 2, "a": [1]}],  # same keys, another order: not a table
        [{"a": {"x": i, "y": [i, {"z": i}]}, "b": {"x": None, "y": {}}, "c": {}} for i in range(9)],  # nested
    ],
)
def test_edges(data: object) -> None:
    assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=True)


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
    main([demo if arg == "DEMO" else arg for arg in command] + ["--json"])
    out = capsys.readouterr().out
    assert len(written) == 1 and out == json.dumps(json.loads(out), indent=2) + "\n"
