"""The per-environment hash cache: what each file hashed to when a backup last read it.

Compressed documents per environment (the whole and a recent part, see `HashCaches`), not a
row per file: a backup reads the whole cache anyway, and 20,000 rows took SQLite and the
`sqlite3` module 55-80 ms to hand over, where one document of the same entries decodes in
about 10 ms.

A document holds rows (path, size, mtime_ns, inode, sha256, ctime_ns, xattrs) in path
order, the order of a scan, so a backup looks its files up by walking both side by side, one
part of the document at a time. Held as a dict instead, the cache of 200,000 files took 80
MiB.

A row names the file's ctime as it was read, and a file matches it only with that ctime
too: a file edited in place with its size and mtime kept (`touch -r`, a tool that keeps
times) moves nothing else, and was taken for unchanged, as borg and restic would not.
Any change to a file's xattrs moves its ctime as well, so the row's xattrs (None when they
are not known) are the file's while its ctime is the row's, and a backup of a tree with a
few files changed need not list every other file's (20,000 calls for the 1 GiB tree). A
row of ctime 0 was written before ctimes were kept: it matches on size, mtime and inode
alone, until the next backup writes the file's row again.

The rows are `marshal` data, in parts of `_ROWS_PER_PART`, in a zstd frame with a checksum.
marshal is the quickest way Python has to turn tuples into bytes and back; its format may
change between Python versions and it is not meant for data from elsewhere, which is
acceptable here only because the cache is disposable: whatever cannot be read back (a damaged
frame, an unknown format) is an empty cache, and the next backup reads every file again,
exactly as a first backup does.
"""

import heapq
import itertools
import marshal
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING

import zstandard

from envops_desktop.domain.models import ScannedFile

if TYPE_CHECKING:  # the database imports this module for its migrations
    from envops_desktop.store.database import Database

# A file as a backup read it, (path, size, mtime_ns, inode, ctime_ns), the sha256 its
# content had, and its xattrs then (None: not known).
CacheRow = tuple[str, int, int, int, str, int, dict[str, str] | None]

_MAGIC = b"envops hash cache 4\n"  # documents of earlier formats lack it and read as empty
# Rows of the format before, without ctimes or xattrs, read as rows that know neither: a
# data folder's first backup after an update does not read every file again.
_MAGIC_BEFORE_CTIMES = b"envops hash cache 3\n"
_NO_CTIME_NOR_XATTRS = (0, None)
_LENGTH = 4
_ROWS_PER_PART = 4096
_BY_PATH = itemgetter(0)


def encode_cache(rows: Iterable[CacheRow]) -> bytearray:
    """The stored document of rows given in path order."""
    compressor = zstandard.ZstdCompressor(level=1, write_checksum=True).compressobj()
    body = bytearray(compressor.compress(_MAGIC))  # one buffer that grows, not joined parts
    rows = iter(rows)
    while part := list(islice(rows, _ROWS_PER_PART)):
        data = marshal.dumps(part, 2)
        body += compressor.compress(len(data).to_bytes(_LENGTH, "little") + data)
    body += compressor.flush()
    return body


def decode_cache(body: bytes) -> Iterator[CacheRow]:
    """The rows of a stored document, in path order; none when it cannot be trusted."""
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    try:
        # Whole, so the frame's checksum is checked before any row is believed.
        text = memoryview(decompressor.decompress(body))
    except zstandard.ZstdError:
        return
    if not decompressor.eof:  # cut short
        return
    magic = bytes(text[: len(_MAGIC)])
    if magic not in (_MAGIC, _MAGIC_BEFORE_CTIMES):  # another format
        return
    at = len(_MAGIC)
    while at < len(text):
        length = int.from_bytes(text[at : at + _LENGTH], "little")
        at += _LENGTH
        try:
            part = marshal.loads(text[at : at + length])
        except (ValueError, EOFError, TypeError):
            return
        at += length
        if magic == _MAGIC:
            yield from part
        else:
            for row in part:
                yield (*row, *_NO_CTIME_NOR_XATTRS)


@dataclass
class Known:
    """What the hash cache knows of a scan's files, each by its position in the scan."""

    # The sha256 of each file whose size, mtime, inode and ctime are as a row names them,
    # or None.
    shas: list[str | None] = field(default_factory=list)
    # 1 for each of those files whose row knows its xattrs: they need not be read.
    xattrs_as_cached: bytearray = field(default_factory=bytearray)
    xattrs: dict[int, dict[str, str]] = field(default_factory=dict)  # those that have any


def look_up(
    rows: Iterable[CacheRow], files: Iterable[ScannedFile], ctimes_ns: Iterable[int]
) -> Known:
    """What rows (in path order) know of `files` (in path order, each with its ctime)."""
    known = Known()
    add, as_cached, xattrs = known.shas.append, known.xattrs_as_cached.append, known.xattrs
    files = iter(zip(files, ctimes_ns, strict=True))
    first = next(files, None)
    if first is None:
        # Nothing to look up (a restore into an empty folder): the cache is not decoded,
        # which for 200,000 files held 30 MiB at the restore's peak of memory.
        return known
    rows = iter(rows)
    row = next(rows, None)
    for index, (file, ctime_ns) in enumerate(itertools.chain((first,), files)):
        path = file[0]
        while row is not None and row[0] < path:
            row = next(rows, None)
        sha, before_ctimes, current = None, None, 0
        # A path may have rows from the whole and the recent part; any that matches will do,
        # but one written before ctimes were kept only if it is the last (the newest).
        while row is not None and row[0] == path:
            alike = row[1] == file[1] and row[2] == file[2] and row[3] == file[3]
            before_ctimes = row[4] if alike and not row[5] else None
            if alike and row[5] == ctime_ns:
                sha = row[4]
                if row[6] is not None:
                    current = 1
                    if row[6]:
                        xattrs[index] = row[6]
            row = next(rows, None)
        add(sha or before_ctimes)
        as_cached(current)
    return known


def forget_blobs(conn: sqlite3.Connection, shas: set[str]) -> None:
    """Drop every entry naming one of `shas` (in the caller's transaction).

    Called when those blobs leave the store: the cache is trusted without looking at the
    store, so it must never name content that is gone.
    """
    if not shas:
        return
    documents = conn.execute("SELECT environment_id, body, recent FROM hash_caches").fetchall()
    for env_id, body, recent in documents:
        rows = list(_decoded(body, recent))
        kept = [row for row in rows if row[4] not in shas]
        if len(kept) != len(rows):
            _save(conn, env_id, kept)


def _decoded(body: bytes, recent: bytes | None) -> Iterator[CacheRow]:
    return heapq.merge(decode_cache(body), decode_cache(recent or b""), key=_BY_PATH)


def _save(conn: sqlite3.Connection, env_id: str, rows: Iterable[CacheRow]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO hash_caches (environment_id, body, recent) VALUES (?, ?, NULL)",
        (env_id, encode_cache(rows)),
    )


# The recent part is folded into the whole once it holds more than this share of the entries.
_RECENT_SHARE = 1 / 8


class HashCaches:
    """Reads each environment's hash cache and adds what backups read to it.

    The cache is stored as a whole and a recent part: a backup that read 1 % of the files
    rewrites only the recent part (its 200 entries instead of 20,000: 35 ms less), and the
    whole is written again when the recent part has grown past an eighth of it. Entries of
    files that changed since stay until then; they are never wrong, since a row names the
    file's size, mtime and inode as they were when its content had that hash.
    """

    def __init__(self, db: "Database") -> None:
        self._db = db

    def look_up(self, env_id: str, files: Iterable[ScannedFile], ctimes_ns: Iterable[int]) -> Known:
        """What the cache knows of scanned files (in path order, each with its ctime)."""
        row = (
            self._db.connection()
            .execute("SELECT body, recent FROM hash_caches WHERE environment_id = ?", (env_id,))
            .fetchone()
        )
        return look_up(_decoded(row[0], row[1]) if row else iter(()), files, ctimes_ns)

    def replace(self, env_id: str, rows: Iterable[CacheRow]) -> None:
        """Make `rows` (in path order) the whole cache, in the caller's transaction if any."""
        with self._db.transaction() as conn:
            _save(conn, env_id, rows)

    def add(
        self,
        env_id: str,
        fresh: Callable[[], Iterable[CacheRow]],
        whole: Callable[[], Iterable[CacheRow]],
    ) -> None:
        """Add the rows of files just read, `fresh()` (in path order); `whole()` is every row
        the cache should hold, asked for only when the cache is written whole."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT length(body), recent FROM hash_caches WHERE environment_id = ?", (env_id,)
            ).fetchone()
            if row is None:  # nothing to add to
                _save(conn, env_id, whole())
                return
            # A file read again replaces its older recent row.
            paths = set(map(_BY_PATH, fresh()))
            older = (r for r in decode_cache(row[1] or b"") if r[0] not in paths)
            encoded = encode_cache(heapq.merge(older, fresh(), key=_BY_PATH))
            # Compared by size in bytes, which follows the number of entries closely enough.
            if len(encoded) > _RECENT_SHARE * row[0]:
                del encoded, paths  # not wanted, and `whole()` is the largest part of a backup
                _save(conn, env_id, whole())
            else:
                conn.execute(
                    "UPDATE hash_caches SET recent = ? WHERE environment_id = ?", (encoded, env_id)
                )
