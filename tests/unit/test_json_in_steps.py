"""The piecewise JSON parser reads exactly what json.loads reads, and refuses what it refuses."""

import json

import pytest

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
