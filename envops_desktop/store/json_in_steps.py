"""Parsing a large JSON document a value at a time, so that other threads keep running.

`json.loads` parses a whole document in one C call that holds the GIL: a configuration
file's 20,000-entry manifest stopped the GUI thread for up to 170 ms while a worker read it.
Here the outer levels are walked in Python and each inner value is one short `raw_decode`,
so the interpreter can hand the GIL over between values.
"""

import json
import re

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def loads_in_steps(text: str, levels: int = 2) -> object:
    """`json.loads(text)`, with arrays and objects down to `levels` deep parsed piecewise."""
    value, end = _value(text, _skip(text, 0), levels)
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _value(text: str, pos: int, levels: int) -> tuple[object, int]:
    if levels > 0 and text.startswith("[", pos):
        return _array(text, _skip(text, pos + 1), levels - 1)
    if levels > 0 and text.startswith("{", pos):
        return _object(text, _skip(text, pos + 1), levels - 1)
    return _DECODER.raw_decode(text, pos)


def _after_item(text: str, pos: int, closing: str) -> tuple[int, bool]:
    # Where the next item starts, and whether the container ended instead.
    pos = _skip(text, pos)
    if text.startswith(",", pos):
        return _skip(text, pos + 1), False
    if text.startswith(closing, pos):
        return pos + 1, True
    raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _array(text: str, pos: int, levels: int) -> tuple[list[object], int]:
    items: list[object] = []
    if text.startswith("]", pos):
        return items, pos + 1
    while True:
        item, pos = _value(text, pos, levels)
        items.append(item)
        pos, ended = _after_item(text, pos, "]")
        if ended:
            return items, pos


def _object(text: str, pos: int, levels: int) -> tuple[dict[str, object], int]:
    result: dict[str, object] = {}
    if text.startswith("}", pos):
        return result, pos + 1
    while True:
        if not text.startswith('"', pos):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, pos
            )
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if not text.startswith(":", pos):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        result[key], pos = _value(text, _skip(text, pos + 1), levels)
        pos, ended = _after_item(text, pos, "}")
        if ended:
            return result, pos
