"""Parsing a large JSON document a value at a time, so that other threads keep running.

`json.loads` parses a whole document in one C call that holds the GIL: a configuration
file's 20,000-entry manifest stopped the GUI thread for up to 170 ms while a worker read it.
Here the outer levels are walked in Python and each inner value is one short `raw_decode`,
so the interpreter can hand the GIL over between values.

The document may come in parts, and only a window of it is held: the 67 MB manifest of
200,000 files made into one string (decoded whole, or joined from decoded parts) held the
GIL 35-40 ms, most of it the fresh string's pages.
"""

import json
import re
from collections.abc import Iterable, Iterator

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Text held past where a value starts, so that it is decoded whole in one go but for a
# value longer than this: one of those is decoded again once more text is held.
AHEAD = 1 << 16
_NUMBER_GOES_ON = 2


def loads_in_steps(text: str | Iterable[str], levels: int = 2) -> object:
    """`json.loads` of `text`, or of the concatenation of its parts, with arrays and
    objects down to `levels` deep parsed piecewise. An error says where, in the whole."""
    document = _Document(iter([text]) if isinstance(text, str) else iter(text))
    value, end = _value(document, document.skip(0), levels)
    end = document.skip(end)
    if not document.ends_at(end):
        raise document.error("Extra data", end)
    return value


class _Document:
    """The document as far as it has been read and not yet parsed past, by positions in
    the whole of it."""

    def __init__(self, parts: Iterator[str]) -> None:
        self._parts = parts
        self._text = ""
        self._base = 0  # where `_text` starts in the whole document
        self._lines = 0  # newlines before `_base`
        self._line_start = 0  # where the line `_base` is on starts
        self._read_all = False

    def startswith(self, prefix: str, pos: int) -> bool:
        self._hold(pos, len(prefix))
        return self._text.startswith(prefix, pos - self._base)

    def ends_at(self, pos: int) -> bool:
        self._hold(pos, 1)
        return pos - self._base >= len(self._text)

    def skip(self, pos: int) -> int:
        """Where the whitespace from `pos` on ends."""
        while True:
            self._hold(pos, AHEAD)
            end = _WHITESPACE.match(self._text, pos - self._base).end()  # type: ignore[union-attr]
            if end < len(self._text) or self._read_all:
                return end + self._base
            pos = end + self._base

    def decode(self, pos: int) -> tuple[object, int]:
        """The JSON value at `pos`, and where it ends; read again with more text held
        where it may go on past what was held."""
        ahead = AHEAD
        while True:
            self._hold(pos, ahead)
            local = pos - self._base
            try:
                value, end = _DECODER.raw_decode(self._text, local)
            except json.JSONDecodeError as error:
                if self._read_all:
                    raise self.error(error.msg, error.pos + self._base) from None
            else:
                # A number cut short ends where it was cut, or before its "." or "e-".
                if end + _NUMBER_GOES_ON < len(self._text) or self._read_all:
                    return value, end + self._base
            ahead *= 2

    def error(self, message: str, pos: int) -> json.JSONDecodeError:
        """`json.loads`'s error at `pos` of the whole document, with its line and column."""
        local = pos - self._base
        newline = self._text.rfind("\n", 0, local)
        line = self._lines + self._text.count("\n", 0, local) + 1
        column = pos - (newline + self._base if newline >= 0 else self._line_start - 1)
        error = json.JSONDecodeError(message, self._text, max(local, 0))
        error.pos, error.lineno, error.colno = pos, line, column
        error.args = (f"{message}: line {line} column {column} (char {pos})",)
        return error

    def _hold(self, pos: int, length: int) -> None:
        """Hold the text from `pos` on, `length` characters or up to the document's end;
        what comes before `pos` is let go of."""
        if pos + length > self._base + len(self._text) and not self._read_all:
            self._read(pos, length)

    def _read(self, pos: int, length: int) -> None:
        let_go = pos - self._base
        self._lines += self._text.count("\n", 0, let_go)
        last = self._text.rfind("\n", 0, let_go)
        if last >= 0:
            self._line_start = self._base + last + 1
        pieces = [self._text[let_go:]]
        held = len(pieces[0])
        while held < length:
            part = next(self._parts, None)
            if part is None:
                self._read_all = True
                break
            pieces.append(part)
            held += len(part)
        self._text, self._base = "".join(pieces), pos


def _value(document: _Document, pos: int, levels: int) -> tuple[object, int]:
    if levels > 0 and document.startswith("[", pos):
        return _array(document, document.skip(pos + 1), levels - 1)
    if levels > 0 and document.startswith("{", pos):
        return _object(document, document.skip(pos + 1), levels - 1)
    return document.decode(pos)


def _after_item(document: _Document, pos: int, closing: str) -> tuple[int, bool]:
    # Where the next item starts, and whether the container ended instead.
    pos = document.skip(pos)
    if document.startswith(",", pos):
        return document.skip(pos + 1), False
    if document.startswith(closing, pos):
        return pos + 1, True
    raise document.error("Expecting ',' delimiter", pos)


def _array(document: _Document, pos: int, levels: int) -> tuple[list[object], int]:
    items: list[object] = []
    if document.startswith("]", pos):
        return items, pos + 1
    while True:
        item, pos = _value(document, pos, levels)
        items.append(item)
        pos, ended = _after_item(document, pos, "]")
        if ended:
            return items, pos


def _object(document: _Document, pos: int, levels: int) -> tuple[dict[str, object], int]:
    result: dict[str, object] = {}
    if document.startswith("}", pos):
        return result, pos + 1
    while True:
        if not document.startswith('"', pos):
            raise document.error("Expecting property name enclosed in double quotes", pos)
        key, pos = document.decode(pos)
        pos = document.skip(pos)
        if not document.startswith(":", pos):
            raise document.error("Expecting ':' delimiter", pos)
        result[key], pos = _value(document, document.skip(pos + 1), levels)  # type: ignore[index]
        pos, ended = _after_item(document, pos, "}")
        if ended:
            return result, pos
