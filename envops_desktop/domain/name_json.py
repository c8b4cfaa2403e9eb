"""JSON that holds names as Python reads them from disk, bytes that are not UTF-8 included.

Python holds such a byte as a lone surrogate (`\\udcff` for 0xff). JSON has no UTF-8 for
it, so it is written as that escape, as the configuration file format's version 2 does:
`json.loads` reads it back to the very same name, and `os.fsencode` to its bytes. Written
as text (`\\xff`) it would read as another name, one that holds a backslash.
"""

import json
from typing import Any

import orjson


def dumps_any_name(value: Any) -> bytes:
    """JSON of a value whose names may hold bytes that are not UTF-8, written as JSON
    escapes `\\udcXX`, which `loads_any_name` reads back to the very same bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def loads_any_name(text: bytes | str) -> Any:
    """JSON as `dumps_any_name` (or `json.dumps`) writes it, names not in UTF-8 included:
    orjson reads it in a third of json's time, but refuses their escapes, which json reads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if (b"\\udc" if isinstance(text, bytes) else "\\udc") not in text:
            raise
        return json.loads(text)  # a lone surrogate escape: a name that is not UTF-8
