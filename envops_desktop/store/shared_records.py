"""What a data folder knows of its shared store: a cache that listing the bucket rebuilds.

Which id the store gives each environment here, which backups are in the store and which
were deleted from it, versions and settings changed here and not yet told, the store's
append-only objects (events, activity) seen here, and where in the store's packs each
content's parts lie.
"""

from collections.abc import Iterable

from envops_desktop.store.database import Database

# A content's place in the store: (sha256, part, pack, offset, length).
SharedPart = tuple[str, int, str, int, int]
# Contents looked up in one query: SQLite allows 999 parameters in older builds.
_PER_QUERY = 500


class SharedRecords:
    """Rows of the `shared_*` tables."""

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

    def forget_shared(self, backup_id: str) -> None:
        """Let this data folder's record of a backup in the store go, as if it had never
        been taken in: the next sync takes the store's copy in again."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM shared_backups WHERE backup_id = ?", (backup_id,))

    def known_packs(self) -> set[str]:
        return {row[0] for row in self._db.connection().execute("SELECT pack FROM shared_packs")}

    def add_pack(self, pack: str, parts: Iterable[SharedPart]) -> None:
        """Record a pack of the store and where its parts lie, all at once."""
        with self._db.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO shared_parts VALUES (?,?,?,?,?)", parts)
            conn.execute("INSERT OR IGNORE INTO shared_packs VALUES (?)", (pack,))

    def parts_of_many(self, shas: Iterable[str]) -> dict[str, list[SharedPart]]:
        """The parts of each of `shas` the store has, in order, each in one of the packs
        that hold it (the latest sent); one query per few hundred contents, where one per
        content took a sync of 20,000 files a third of a second. Asked in order, so that each
        query reads neighbouring pages of the index: in a set's order, twice as long."""
        found: dict[str, list[SharedPart]] = {}
        wanted = sorted(shas)
        for start in range(0, len(wanted), _PER_QUERY):
            chunk = wanted[start : start + _PER_QUERY]
            rows = self._db.connection().execute(
                "SELECT sha256, part, max(pack), offset, length FROM shared_parts"
                f" WHERE sha256 IN ({','.join('?' * len(chunk))})"
                " GROUP BY sha256, part ORDER BY sha256, part",
                chunk,
            )
            for row in rows:
                found.setdefault(row[0], []).append(tuple(row))  # type: ignore[arg-type]
        return found

    def contents_by_pack(self) -> dict[str, set[str]]:
        """Each pack's contents."""
        found: dict[str, set[str]] = {}
        for pack, sha in self._db.connection().execute("SELECT pack, sha256 FROM shared_parts"):
            found.setdefault(pack, set()).add(sha)
        return found

    def pack_sizes(self) -> dict[str, int]:
        """Each pack's size as far as its recorded parts reach."""
        rows = self._db.connection().execute(
            "SELECT pack, max(offset + length) FROM shared_parts GROUP BY pack"
        )
        return {pack: size for pack, size in rows}

    def is_shared(self, backup_id: str) -> bool:
        row = (
            self._db.connection()
            .execute("SELECT 1 FROM shared_backups WHERE backup_id = ?", (backup_id,))
            .fetchone()
        )
        return row is not None

    def note_deleted(self, backup_id: str, event: str | None = None) -> None:
        """Note a shared backup as deleted: here (`event` None, to be told to the store at
        the next sync), or by the store's event `event`."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO shared_deleted VALUES (?, ?) ON CONFLICT (backup_id)"
                " DO UPDATE SET event = coalesce(excluded.event, event)",
                (backup_id, event),
            )

    def take_back_deletion(self, backup_id: str) -> bool:
        """Forget a deletion made here that the store has not been told of yet; False if
        it was told (the team deleted it) and stands."""
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM shared_deleted WHERE backup_id = ? AND event IS NULL", (backup_id,)
            )
            told = conn.execute(
                "SELECT 1 FROM shared_deleted WHERE backup_id = ?", (backup_id,)
            ).fetchone()
        return told is None

    def deleted(self) -> set[str]:
        """Shared backups deleted, here or elsewhere."""
        return {r[0] for r in self._db.connection().execute("SELECT backup_id FROM shared_deleted")}

    def deletions_to_tell(self) -> list[str]:
        """Backups deleted here whose deletion the store has not been told of yet."""
        rows = self._db.connection().execute(
            "SELECT backup_id FROM shared_deleted WHERE event IS NULL ORDER BY backup_id"
        )
        return [row[0] for row in rows]

    def note_version_changed(self, environment_id: str, version: str) -> None:
        """Note that a shared environment's version was changed here, to be told to the
        store at the next sync."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO shared_versions VALUES (?, ?, NULL) ON CONFLICT (environment_id)"
                " DO UPDATE SET to_tell = excluded.to_tell",
                (environment_id, version),
            )

    def versions_to_tell(self) -> list[tuple[str, str]]:
        """(environment id, version) of each version changed here and not told yet."""
        rows = self._db.connection().execute(
            "SELECT environment_id, to_tell FROM shared_versions WHERE to_tell IS NOT NULL"
        )
        return [(row[0], row[1]) for row in rows]

    def note_version_told(self, environment_id: str, version: str) -> None:
        """The store was told of `version` (unless the version changed again meanwhile)."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE shared_versions SET to_tell = NULL"
                " WHERE environment_id = ? AND to_tell = ?",
                (environment_id, version),
            )

    def newest_version_event(self, environment_id: str) -> str:
        """The newest version event of the environment followed here, as `StoreEvent.order`
        sorts it; empty if none."""
        row = (
            self._db.connection()
            .execute(
                "SELECT newest FROM shared_versions WHERE environment_id = ?", (environment_id,)
            )
            .fetchone()
        )
        return (row[0] if row else None) or ""

    def note_version_event(self, environment_id: str, order: str) -> None:
        """Note the newest version event followed here."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO shared_versions VALUES (?, NULL, ?) ON CONFLICT (environment_id)"
                " DO UPDATE SET newest = excluded.newest",
                (environment_id, order),
            )

    def note_setting_changed(self, kind: str, subject: str, value: str) -> None:
        """Note that a setting (`kind`: a pin, a retention rule) of `subject` was set here to
        `value` (JSON), to be told to the store at the next sync."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO shared_settings (kind, subject, to_tell) VALUES (?, ?, ?)"
                " ON CONFLICT (kind, subject) DO UPDATE SET to_tell = excluded.to_tell",
                (kind, subject, value),
            )

    def settings_to_tell(self) -> list[tuple[str, str, str]]:
        """(kind, subject, value) of each setting changed here and not told yet."""
        rows = self._db.connection().execute(
            "SELECT kind, subject, to_tell FROM shared_settings WHERE to_tell IS NOT NULL"
            " ORDER BY kind, subject"
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def note_setting_told(self, kind: str, subject: str, value: str) -> None:
        """The store was told of `value` (unless it changed again meanwhile)."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE shared_settings SET to_tell = NULL"
                " WHERE kind = ? AND subject = ? AND to_tell = ?",
                (kind, subject, value),
            )

    def followed_setting(self, kind: str, subject: str) -> tuple[str, str | None]:
        """The order (as `StoreEvent.order` sorts it; empty if none) and value of the newest
        event of this setting followed here."""
        row = (
            self._db.connection()
            .execute(
                "SELECT newest, followed FROM shared_settings WHERE kind = ? AND subject = ?",
                (kind, subject),
            )
            .fetchone()
        )
        return (row[0], row[1]) if row else ("", None)

    def note_setting_followed(self, kind: str, subject: str, order: str, value: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO shared_settings (kind, subject, newest, followed) VALUES (?,?,?,?)"
                " ON CONFLICT (kind, subject) DO UPDATE SET newest = excluded.newest,"
                " followed = excluded.followed",
                (kind, subject, order, value),
            )

    def seen(self, under: str) -> set[str]:
        """The store's append-only objects under `under` ("events/", "activity/") written
        from here or read here already, by name."""
        rows = self._db.connection().execute(
            "SELECT name FROM shared_seen WHERE name >= ? AND name < ?", (under, under + "\uffff")
        )
        return {row[0] for row in rows}

    def note_seen(self, name: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO shared_seen VALUES (?)", (name,))

    def forget_packs(self, packs: Iterable[str]) -> None:
        """Forget packs the store no longer holds (garbage collection freed them): a content
        only they held is no longer in the store, and the next backup that needs it sends it
        again."""
        with self._db.transaction() as conn:
            for pack in packs:
                conn.execute("DELETE FROM shared_parts WHERE pack = ?", (pack,))
                conn.execute("DELETE FROM shared_packs WHERE pack = ?", (pack,))
