"""What a data folder knows of its shared store: a cache that listing the bucket rebuilds.

Which id the store gives each environment here, which backups are in the store, and where
in the store's packs each content's parts lie.
"""

from collections.abc import Iterable

from envops_desktop.store.database import Database

# A content's place in the store: (sha256, part, pack, offset, length).
SharedPart = tuple[str, int, str, int, int]


class SharedRecords:
    """Rows of `shared_environments`, `shared_backups`, `shared_blobs` and `shared_packs`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def shared_id(self, environment_id: str) -> str | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT shared_id FROM shared_environments WHERE environment_id = ?",
                (environment_id,),
            )
            .fetchone()
        )
        return row[0] if row else None

    def environment_of(self, shared_id: str) -> str | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT environment_id FROM shared_environments WHERE shared_id = ?",
                (shared_id,),
            )
            .fetchone()
        )
        return row[0] if row else None

    def map_environment(self, environment_id: str, shared_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO shared_environments VALUES (?, ?)",
                (environment_id, shared_id),
            )

    def shared_backups(self) -> set[str]:
        rows = self._db.connection().execute("SELECT backup_id FROM shared_backups")
        return {row[0] for row in rows}

    def mark_shared(self, backup_id: str) -> None:
        """Note a backup as in the store (in the caller's transaction, or its own)."""
        with self._db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO shared_backups VALUES (?)", (backup_id,))

    def known_packs(self) -> set[str]:
        return {row[0] for row in self._db.connection().execute("SELECT pack FROM shared_packs")}

    def add_pack(self, pack: str, parts: Iterable[SharedPart]) -> None:
        """Record a pack of the store and where its parts lie, all at once."""
        with self._db.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO shared_blobs VALUES (?,?,?,?,?)", parts)
            conn.execute("INSERT OR IGNORE INTO shared_packs VALUES (?)", (pack,))

    def parts_of(self, sha: str) -> list[SharedPart]:
        """The parts of a content in the store, in order; empty when the store lacks it."""
        rows = self._db.connection().execute(
            "SELECT sha256, part, pack, offset, length FROM shared_blobs WHERE sha256 = ?"
            " ORDER BY part",
            (sha,),
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def pack_sizes(self) -> dict[str, int]:
        """Each pack's size as far as its recorded parts reach."""
        rows = self._db.connection().execute(
            "SELECT pack, max(offset + length) FROM shared_blobs GROUP BY pack"
        )
        return {pack: size for pack, size in rows}

    def has(self, sha: str) -> bool:
        row = (
            self._db.connection()
            .execute("SELECT 1 FROM shared_blobs WHERE sha256 = ? LIMIT 1", (sha,))
            .fetchone()
        )
        return row is not None
