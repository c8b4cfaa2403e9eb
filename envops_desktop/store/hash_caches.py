"""The per-environment hash cache: what each file hashed to when a backup last read it.

Compressed documents per environment (the whole and a recent part, see `HashCaches`), not a
row per file: a backup reads the whole cache anyway, and 20,000 rows took SQLite and the
`sqlite3` module 55-80 ms to hand over, where one document of the same entries decodes in
about 10 ms.

The document is `marshal` data in a zstd frame with a checksum. marshal is the quickest way
Python has to turn a dict of tuples into bytes and back; its format may change between Python
versions and it is not meant for data from elsewhere, which is acceptable here only because
the cache is disposable: whatever cannot be read back (a damaged frame, an unknown format) is
an empty cache, and the next backup reads every file again, exactly as a first backup does.
"""

import marshal
import sqlite3
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING

import zstandard

if TYPE_CHECKING:  # the database imports this module for its migrations
    from envops_desktop.store.database import Database

# A file as a scan found it (path, size, mtime_ns, inode): the first four fields of a scanned
# file, so that one `itemgetter` makes the keys of a whole scan without Python per file.
CacheKey = tuple[str, int, int, int]
HashCache = dict[CacheKey, str]  # → the sha256 its content had when a backup read it
CACHE_KEY = itemgetter(0, 1, 2, 3)


def encode_cache(cache: HashCache) -> bytes:
    """The stored document of a cache."""
    return zstandard.ZstdCompressor(level=1, write_checksum=True).compress(marshal.dumps(cache, 2))


def decode_cache(body: bytes) -> HashCache:
    """The cache in a stored document; empty when the document cannot be trusted."""
    try:
        cache = marshal.loads(zstandard.ZstdDecompressor().decompress(body))
    except (zstandard.ZstdError, ValueError, EOFError, TypeError):
        return {}
    # A cache of the first format (keyed by path alone) matches no key and is replaced whole.
    return cache if isinstance(cache, dict) else {}


def forget_blobs(conn: sqlite3.Connection, shas: set[str]) -> None:
    """Drop every entry naming one of `shas` (in the caller's transaction).

    Called when those blobs leave the store: the cache is trusted without looking at the
    store, so it must never name content that is gone.
    """
    if not shas:
        return
    rows = conn.execute("SELECT environment_id, body, recent FROM hash_caches").fetchall()
    for env_id, body, recent in rows:
        cache = _decoded(body, recent)
        kept = {key: sha for key, sha in cache.items() if sha not in shas}
        if len(kept) != len(cache):
            _save(conn, env_id, kept)


def _decoded(body: bytes, recent: bytes | None) -> HashCache:
    cache = decode_cache(body)
    if recent is not None:
        cache.update(decode_cache(recent))
    return cache


def _save(conn: sqlite3.Connection, env_id: str, cache: HashCache) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO hash_caches (environment_id, body, recent) VALUES (?, ?, NULL)",
        (env_id, encode_cache(cache)),
    )


# The recent part is folded into the whole once it holds more than this share of the entries.
_RECENT_SHARE = 1 / 8


class HashCaches:
    """Reads each environment's hash cache and adds what backups read to it.

    The cache is stored as a whole and a recent part: a backup that read 1 % of the files
    rewrites only the recent part (its 200 entries instead of 20,000: 35 ms less), and the
    whole is written again when the recent part has grown past an eighth of it. Entries of
    files that changed since stay until then; they are never wrong, since a key names the
    file's size, mtime and inode as they were when its content had that hash.
    """

    def __init__(self, db: "Database") -> None:
        self._db = db

    def read(self, env_id: str) -> HashCache:
        row = (
            self._db.connection()
            .execute("SELECT body, recent FROM hash_caches WHERE environment_id = ?", (env_id,))
            .fetchone()
        )
        return _decoded(row[0], row[1]) if row else {}

    def add(self, env_id: str, fresh: HashCache, whole: Callable[[], HashCache]) -> None:
        """Add the `fresh` entries; `whole()` is every entry the cache should hold, asked for
        only when the cache is written whole."""
        if not fresh:
            return
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT length(body), recent FROM hash_caches WHERE environment_id = ?", (env_id,)
            ).fetchone()
            recent = decode_cache(row[1]) if row and row[1] is not None else {}
            encoded = encode_cache(recent | fresh)
            # Compared by size in bytes, which follows the number of entries closely enough.
            if row is None or len(encoded) > _RECENT_SHARE * row[0]:
                _save(conn, env_id, whole())
            else:
                conn.execute(
                    "UPDATE hash_caches SET recent = ? WHERE environment_id = ?", (encoded, env_id)
                )
