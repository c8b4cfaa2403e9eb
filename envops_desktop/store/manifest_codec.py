"""A backup's manifest as one compressed document named by its sha256.

Stored once per distinct content rather than as a row per file: a backup of an unchanged tree
writes one small row instead of 20,000, and ten backups of a tree that barely changes cost ten
small compressed documents, not 200,000 rows and their index.

The document holds one JSON array per line, in path order, so it is written while a backup
reads its files and read back one part at a time: a restore of 200,000 files never holds its
whole manifest (as one JSON document decoded at once, 127 MiB at its peak). Documents of the
first format, one JSON array of arrays, are still read.
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from operator import itemgetter
from typing import Any

import orjson
import zstandard

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.name_json import dumps_any_name, loads_any_name

# path, kind, mode, size, mtime_ns, sha256, target and metadata (`file_metadata.EntryMeta`,
# absent from rows written before it was kept): plain tuples.
EntryRow = tuple[Any, ...]

# Rows encoded per call into the hash and the compressor: one call per row cost a
# 20,000-file backup 60 ms.
_ROWS_PER_PART = 1024
# Text decoded at a time, its rows in one call: 128 KiB is about 1,200 rows (2.4 MiB decoded).
_READ_SIZE = 128 << 10


def _loads_lines(lines: list[bytes]) -> list[Any]:
    """The rows of whole lines, decoded in one call where they are all UTF-8 (a call per
    line was a fifth of a 200,000-file restore's reading of its manifest)."""
    try:
        return orjson.loads(b"[" + b",".join(lines) + b"]")  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return [loads_any_name(line) for line in lines]


def _lines(rows: list[EntryRow]) -> bytes:
    """`rows` as JSON lines, one row a line. orjson: a fifth of json.dumps's time; it escapes
    control characters, so a line break only ever ends a row."""
    # One call for them all, then split between rows: one call per row cost 6 µs each
    # (1.2 s of a 200,000-file backup's main thread), one call for 1,024 rows 0.2 µs a row.
    # A row is an array, so the array of rows is the rows joined by "," in brackets, and
    # where "],[" is found exactly once between each two rows it is found nowhere else (in
    # a name, or in nested arrays of attributes): those are the places to split.
    joined = orjson.dumps(rows)
    if joined.count(b"],[") == len(rows) - 1:
        return joined[1:-1].replace(b"],[", b"]\n[") + b"\n"
    return b"\n".join(map(orjson.dumps, rows)) + b"\n"


class ManifestWriter:
    """Encodes rows handed over in path order, as they come, into a manifest document."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        # Level 1: on a 20,000-entry manifest both quicker (12 vs 35 ms) and smaller than 3.
        self._compressor = zstandard.ZstdCompressor(level=1).compressobj()
        # One buffer that grows, not parts joined at the end: 9 MiB less at a 200,000-file
        # backup's peak.
        self._body = bytearray()

    def add(self, rows: Iterable[EntryRow]) -> None:
        """Append rows; each must come after every row added before it in path order."""
        rows = iter(rows)
        while part := list(islice(rows, _ROWS_PER_PART)):
            try:
                text = _lines(part)
            except TypeError:  # a name that is not UTF-8 (Linux allows any bytes)
                text = b"\n".join(map(dumps_any_name, part)) + b"\n"
            self._hash.update(text)
            self._body += self._compressor.compress(text)

    def finish(self) -> tuple[str, bytearray]:
        """The document's name (the sha256 of its text) and its compressed body."""
        self._body += self._compressor.flush()
        return self._hash.hexdigest(), self._body


def encode_manifest(rows: Iterable[EntryRow]) -> tuple[str, bytearray]:
    """The name and body of the manifest of `rows`, in any order."""
    writer = ManifestWriter()
    # By path alone, which is unique in a tree: three times quicker than comparing tuples.
    writer.add(sorted(rows, key=itemgetter(0)))
    return writer.finish()


def save_manifest(conn: sqlite3.Connection, name: str, body: bytes | bytearray) -> None:
    """Store a manifest unless one of that name is stored already (in the caller's
    transaction)."""
    conn.execute("INSERT OR IGNORE INTO manifests (sha256, body) VALUES (?, ?)", (name, body))


class DamagedManifestError(OperationFailedError):
    """A stored manifest that does not decode, or whose text no longer hashes to its name."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(
            f"The stored list of a backup's files (manifest {name[:12]}) is damaged: {what}. "
            "Run envops verify."
        )
        self.name = name


def read_manifest(
    body: bytes, name: str | None = None, holding: bytes | None = None
) -> Iterator[EntryRow]:
    """The rows of a stored document, in path order, decoded a part at a time.

    Given its `name`, the text is checked against it as it is read: a damaged document raises
    DamagedManifestError by its last row at the latest, so a restore writing files as the rows
    come fails (and rolls back) instead of finishing with wrong modes or times.

    Given `holding`, only rows whose line holds those bytes are decoded (every row of a
    document of the first format): at least the rows wanted, which the caller picks from.
    """
    try:
        yield from _rows_of(body, name, holding)
    except (zstandard.ZstdError, ValueError, TypeError) as error:  # JSONDecodeError too
        if name is None:
            raise
        raise DamagedManifestError(name, f"it does not decode ({error})") from None


def _rows_of(body: bytes, name: str | None, holding: bytes | None) -> Iterator[EntryRow]:
    reader = zstandard.ZstdDecompressor().stream_reader(body)
    head = reader.read(2)
    if head in (b"[[", b"[]"):  # the first format: one JSON document, named another way
        yield from map(tuple, json.loads(head + reader.read()))
        return
    digest = hashlib.sha256(head)
    rest = head
    while chunk := reader.read(_READ_SIZE):
        digest.update(chunk)
        text = rest + chunk
        cut = text.rfind(b"\n") + 1
        whole, rest = text[:cut], text[cut:]
        if holding is not None:
            # Most parts hold no such row (a 200,000-file tree, hardly a hardlink): looked
            # for in the part at once, rows split and decoded only where it is.
            if holding not in whole:
                continue
            lines = [line for line in whole.split(b"\n") if holding in line]
        else:
            lines = whole.split(b"\n")[:-1]
        if lines:
            yield from map(tuple, _loads_lines(lines))
    if name is not None and digest.hexdigest() != name:
        raise DamagedManifestError(name, "its text does not match its checksum")
    if rest and (holding is None or holding in rest):
        yield tuple(loads_any_name(rest))
