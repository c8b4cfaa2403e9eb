"""Where each packed blob lies: the `packed_contents` table."""

import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

from envops_desktop.store.database import Database


class PackedAt(NamedTuple):
    """A blob's body inside a pack file: `length` bytes from `offset`, zstd when `compressed`."""

    pack: str
    offset: int
    length: int
    compressed: bool


class NewPlacements:
    """Where a backup's new blobs were packed, held until the backup is recorded.

    Kept as bytes (a raw sha256 and where it lies: 49 bytes a blob) rather than tuples: a
    first backup of 200,000 small files held 45 MiB of them until its end.
    """

    _ROW = struct.Struct("<32sQQ?")

    def __init__(self) -> None:
        self._packs: list[tuple[str, bytearray]] = []

    def add(self, sha: str, at: PackedAt) -> None:
        if not self._packs or self._packs[-1][0] != at.pack:
            self._packs.append((at.pack, bytearray()))
        row = self._ROW.pack(bytes.fromhex(sha), at.offset, at.length, at.compressed)
        self._packs[-1][1].extend(row)

    def clear(self) -> None:
        self._packs.clear()

    def __iter__(self) -> Iterator[tuple[str, PackedAt]]:
        for pack, rows in self._packs:
            for digest, offset, length, compressed in self._ROW.iter_unpack(rows):
                yield digest.hex(), PackedAt(pack, offset, length, compressed)

    def rows(self, number: Callable[[str], int]) -> Iterator[tuple[bytes, int, int, int, bool]]:
        """The pack index's rows for these placements, each pack numbered by `number`."""
        for pack, rows in self._packs:
            pack_number = number(pack)
            for digest, offset, length, compressed in self._ROW.iter_unpack(rows):
                yield digest, pack_number, offset, length, compressed


_RECORDING_CACHE_KIB = 16 << 10
# A content's place with its pack's name: a row holds the pack's number (`pack_files`).
_PLACES = (
    "SELECT b.sha256, f.name, b.offset, b.length, b.compressed"
    " FROM packed_contents b JOIN pack_files f ON f.id = b.pack"
)


def _placed(row: sqlite3.Row) -> tuple[str, PackedAt]:
    return _sha_of(row[0]), PackedAt(row[1], row[2], row[3], bool(row[4]))


def _sha_of(digest: object) -> str:
    """A row's content hash, as text. SQLite does not notice every damaged page: one zeroed
    gave rows whose hash read as NULL, and `gc` ended in an AttributeError."""
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise sqlite3.DatabaseError(
            "database disk image is malformed: a stored content's row names no content"
        )
    return digest.hex()


class _PackNumbers:
    """The numbers of packs named in one transaction, each given one the first time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._known: dict[str, int] = {}

    def of(self, pack: str) -> int:
        number = self._known.get(pack)
        if number is None:
            self._conn.execute("INSERT OR IGNORE INTO pack_files (name) VALUES (?)", (pack,))
            row = self._conn.execute("SELECT id FROM pack_files WHERE name = ?", (pack,))
            number = self._known[pack] = row.fetchone()[0]
        return number


def _row(number: Callable[[str], int], sha: str, at: PackedAt) -> tuple[bytes, int, int, int, bool]:
    # A placement as the index holds it: (sha256, pack, offset, length, compressed).
    return bytes.fromhex(sha), number(at.pack), at.offset, at.length, at.compressed


def _forget_empty_packs(conn: sqlite3.Connection) -> None:
    # A few thousand packs at most, each one look-up in the by-pack index.
    conn.execute(
        "DELETE FROM pack_files"
        " WHERE NOT EXISTS (SELECT 1 FROM packed_contents WHERE pack = pack_files.id)"
    )


class PackIndex:
    """Reads and writes the pack index through the caller's thread's connection.

    Rows are written in the transaction that records the backup needing them, after the packs
    are flushed to disk: a pack with no rows is leftover from a backup that never finished.

    A row holds a content's sha256 as its 32 bytes and its pack by number: as text and by
    name, a content took 262 bytes of rows and by-pack index (99 now), and recording the
    200,000 of a first backup 1.3 s at its end, when nothing else runs (0.8 s now).
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def locate(self, sha: str) -> PackedAt | None:
        return self.locate_many([sha]).get(sha)

    def locate_many(self, shas: Sequence[str]) -> dict[str, PackedAt]:
        """Where each of the packed ones among `shas` lies, in one query (at most 999 shas)."""
        rows = self._db.connection().execute(
            f"{_PLACES} WHERE b.sha256 IN ({','.join('?' * len(shas))})",
            tuple(map(bytes.fromhex, shas)),
        )
        return dict(_placed(row) for row in rows)

    def record(self, placed: Iterable[tuple[str, PackedAt]] | NewPlacements) -> None:
        """Note where blobs were packed; content another writer recorded first keeps its place."""
        conn = self._db.connection()
        # Rows go in by sha256, all over the table: with SQLite's default 2 MiB of cache,
        # 200,000 rows read the same pages again and again (1.2 s into an empty table, 1.7 s
        # beside 200,000 others). 16 MiB records them in 0.8 and 1.2-1.4 s, as quickly as 32
        # did. The process keeps that memory to its end (SQLite frees it, the allocator
        # does not give it back): at 32 MiB a first backup of 200,000 files went over 200.
        default = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = -{_RECORDING_CACHE_KIB}")
        try:
            with self._db.transaction():
                number = _PackNumbers(conn).of
                # A backup's own placements go in as they are held, raw: made into text and
                # back, 200,000 of them took 0.94 s to record instead of 0.78.
                rows = (
                    placed.rows(number)
                    if isinstance(placed, NewPlacements)
                    else (_row(number, sha, at) for sha, at in placed)
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO packed_contents (sha256, pack, offset, length,"
                    " compressed) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        finally:
            conn.execute(f"PRAGMA cache_size = {int(default)}")

    def all_blobs(self) -> Iterator[str]:
        for (sha,) in self._db.connection().execute("SELECT sha256 FROM packed_contents"):
            yield _sha_of(sha)

    def packs_in_use(self) -> set[str]:
        rows = self._db.connection().execute(
            "SELECT name FROM pack_files f"
            " WHERE EXISTS (SELECT 1 FROM packed_contents WHERE pack = f.id)"
        )
        return {row[0] for row in rows}

    def forget(self, shas: Iterable[str]) -> set[str]:
        """Drop the blobs' rows; return the packs that held any of them."""
        with self._db.transaction() as conn:
            touched: set[str] = set()
            for sha in shas:
                digest = bytes.fromhex(sha)
                row = conn.execute(
                    "SELECT f.name FROM packed_contents b JOIN pack_files f ON f.id = b.pack"
                    " WHERE b.sha256 = ?",
                    (digest,),
                ).fetchone()
                if row:
                    touched.add(row[0])
                    conn.execute("DELETE FROM packed_contents WHERE sha256 = ?", (digest,))
            _forget_empty_packs(conn)
            return touched

    def blobs_in(self, pack: str) -> list[tuple[str, PackedAt]]:
        """The live blobs of a pack, in the order they lie in it."""
        rows = self._db.connection().execute(
            f"{_PLACES} WHERE f.name = ? ORDER BY b.offset", (pack,)
        )
        return [_placed(row) for row in rows]

    def move(self, placed: Iterable[tuple[str, PackedAt]]) -> None:
        """Point blobs at their copies in another pack, all at once."""
        with self._db.transaction() as conn:
            number = _PackNumbers(conn).of
            conn.executemany(
                "UPDATE packed_contents SET pack = ?2, offset = ?3, length = ?4, compressed = ?5"
                " WHERE sha256 = ?1",
                (_row(number, sha, at) for sha, at in placed),
            )
            _forget_empty_packs(conn)
