"""The piecewise JSON parser reads exactly what json.loads reads, and refuses what it refuses."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envops_desktop.store import json_in_steps
from envops_desktop.store.json_in_steps import loads_in_steps

DOCUMENTS = [
    '{"format": "envops", "entries": [{"path": "a", "size": 1}, {"path": "b/é", "size": 2}]}',
    ' {\n "entries" : [ ] ,\n "root_mode" : 493 , "nested": {"x": [1, {"y": null}]} }\n',
    '[1, 2.5, -3e2, true, false, null, "\\u00e9\\n", [], {}, [[[]]]]',
    '{"same": 1, "same": 2}',
    '"just a string"',
    "42",
    "{}",
]

MALFORMED = [
    '{"entries": [1, 2,]}',
    '{"entries" [1]}',
    '{"entries": [1 2]}',
    "{entries: []}",
    '{"entries": []} trailing',
    '{"entries": [',
    "",
    '{"a": 1,}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_piecewise_parse_reads_what_json_loads_reads(text):
    assert loads_in_steps(text) == json.loads(text)


@pytest.mark.parametrize("text", MALFORMED)
def test_piecewise_parse_refuses_what_json_loads_refuses(text):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        loads_in_steps(text)


def _in_parts(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


@pytest.mark.parametrize("ahead", [1, 3, 64])
@pytest.mark.parametrize("text", DOCUMENTS)
def test_a_document_in_parts_reads_as_it_does_whole_wherever_it_is_cut(text, ahead, monkeypatch):
    # Read so, the 67 MB manifest of 200,000 files is never one string: made one, it held
    # the GIL 35-40 ms. A value cut by a part's end, or longer than what is held ahead of
    # it, is read again once more is held.
    monkeypatch.setattr(json_in_steps, "AHEAD", ahead)
    for size in range(1, len(text) + 1):
        assert loads_in_steps(_in_parts(text, size)) == json.loads(text), size


@pytest.mark.parametrize("ahead", [2, 64])
@pytest.mark.parametrize(
    "text",
    [*MALFORMED, '{\n "entries": [\n  {"path": "a"},\n  {"path": "b"} x\n ]\n}', '[1,\n2,\n"ab'],
)
def test_an_error_in_parts_is_placed_where_json_loads_places_it(text, ahead, monkeypatch):
    monkeypatch.setattr(json_in_steps, "AHEAD", ahead)
    with pytest.raises(json.JSONDecodeError) as whole:
        json.loads(text)
    for size in range(1, len(text) + 1):
        with pytest.raises(json.JSONDecodeError) as parted:
            loads_in_steps(_in_parts(text, size))
        found = parted.value
        assert (found.pos, found.lineno, found.colno) == (
            whole.value.pos,
            whole.value.lineno,
            whole.value.colno,
        ), size


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(JSON_VALUES, st.sampled_from([None, 0, 2]), st.integers(1, 40), st.integers(1, 50))
def test_any_document_in_any_parts_reads_as_json_loads_reads_it(value, indent, size, ahead):
    text = json.dumps(value, indent=indent)
    original = json_in_steps.AHEAD
    json_in_steps.AHEAD = ahead
    try:
        assert loads_in_steps(_in_parts(text, size)) == json.loads(text)
    finally:
        json_in_steps.AHEAD = original
