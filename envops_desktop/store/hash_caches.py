"""The per-environment hash cache: what each file hashed to when a backup last read it.

One compressed document per environment, not a row per file: a backup reads the whole cache
anyway, and 20,000 rows took SQLite and the `sqlite3` module 55-80 ms to hand over, where
one document of the same entries decodes in about 10 ms.

The document is `marshal` data in a zstd frame with a checksum. marshal is the quickest way
Python has to turn a dict of tuples into bytes and back; its format may change between Python
versions and it is not meant for data from elsewhere, which is acceptable here only because
the cache is disposable: whatever cannot be read back (a damaged frame, an unknown format) is
an empty cache, and the next backup reads every file again, exactly as a first backup does.
"""

import marshal
import sqlite3
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
    for env_id, body in conn.execute("SELECT environment_id, body FROM hash_caches").fetchall():
        cache = decode_cache(body)
        kept = {key: sha for key, sha in cache.items() if sha not in shas}
        if len(kept) != len(cache):
            _save(conn, env_id, kept)


def _save(conn: sqlite3.Connection, env_id: str, cache: HashCache) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO hash_caches (environment_id, body) VALUES (?, ?)",
        (env_id, encode_cache(cache)),
    )


class HashCaches:
    """Reads and rewrites each environment's hash cache."""

    def __init__(self, db: "Database") -> None:
        self._db = db

    def read(self, env_id: str) -> HashCache:
        row = (
            self._db.connection()
            .execute("SELECT body FROM hash_caches WHERE environment_id = ?", (env_id,))
            .fetchone()
        )
        return decode_cache(row[0]) if row else {}

    def write(self, env_id: str, cache: HashCache) -> None:
        """Replace the environment's cache."""
        with self._db.transaction() as conn:
            _save(conn, env_id, cache)
