"""A backup's manifest as one compressed document named by its sha256.

Stored once per distinct content rather than as a row per file: a backup of an unchanged tree
writes one small row instead of 20,000, and ten backups of a tree that barely changes cost ten
small compressed documents, not 200,000 rows and their index.
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterable

import zstandard

# path, kind, mode, size, mtime_ns, sha256, target: plain tuples, which the garbage collector
# stops tracking, so a 20,000-file manifest adds nothing to its full passes.
EntryRow = tuple[str, str, int, int, int, str | None, str | None]


def manifest_text(rows: Iterable[EntryRow]) -> tuple[str, bytes]:
    """The manifest document (rows in path order, so parents come first) and its name."""
    text = json.dumps(sorted(rows), separators=(",", ":")).encode()
    return hashlib.sha256(text).hexdigest(), text


def save_manifest(conn: sqlite3.Connection, rows: Iterable[EntryRow]) -> str:
    """Store the manifest of `rows` unless it is stored already (in the caller's transaction);
    return its name."""
    name, text = manifest_text(rows)
    # Compressed only when new: a backup of an unchanged tree has the last one's manifest.
    if not conn.execute("SELECT 1 FROM manifests WHERE sha256 = ?", (name,)).fetchone():
        body = zstandard.ZstdCompressor(level=3).compress(text)
        conn.execute("INSERT INTO manifests (sha256, body) VALUES (?, ?)", (name, body))
    return name


def decode_manifest(body: bytes) -> list[EntryRow]:
    """The rows of a document made by `encode_manifest`."""
    rows = json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(body))
    return [tuple(row) for row in rows]
