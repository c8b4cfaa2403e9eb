"""Rows of `backups`, `backup_entries` and `file_cache`."""

import json
import sqlite3
from collections.abc import Iterable, Iterator

from envops_desktop.domain.enums import BackupOrigin, EntryKind
from envops_desktop.domain.models import Backup, ManifestEntry
from envops_desktop.store.database import Database, like_prefix
from envops_desktop.store.timestamps import from_text, to_text

CachedHash = tuple[int, int, int, str]  # size, mtime_ns, inode, sha256
# path, kind, mode, size, mtime_ns, sha256, target: plain tuples, which the garbage collector
# stops tracking, so a 20,000-file manifest adds nothing to its full passes.
EntryRow = tuple[str, str, int, int, int, str | None, str | None]


def entry_row(entry: ManifestEntry) -> EntryRow:
    return (
        entry.path,
        entry.kind.value,
        entry.mode,
        entry.size,
        entry.mtime_ns,
        entry.sha256,
        entry.target,
    )


def _backup(row: sqlite3.Row) -> Backup:
    return Backup(
        id=row["id"],
        environment_id=row["environment_id"],
        name=row["name"],
        created_at=from_text(row["created_at"]),
        version=row["version"],
        created_by=row["created_by"],
        origin=BackupOrigin(row["origin"]),
        file_count=row["file_count"],
        total_bytes=row["total_bytes"],
        skipped=json.loads(row["skipped"]),
        root_mode=row["root_mode"],
        root_mtime_ns=row["root_mtime_ns"],
    )


class BackupRecords:
    """Reads and writes backups, their manifests, and the per-environment file-hash cache."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(self, backup: Backup, rows: Iterable[EntryRow]) -> None:
        """Record a backup and its manifest in one transaction: all of it or none."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO backups (id, environment_id, name, created_at, version,"
                " created_by, origin, file_count, total_bytes, skipped, root_mode,"
                " root_mtime_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    backup.id,
                    backup.environment_id,
                    backup.name,
                    to_text(backup.created_at),
                    backup.version,
                    backup.created_by,
                    backup.origin.value,
                    backup.file_count,
                    backup.total_bytes,
                    json.dumps(backup.skipped),
                    backup.root_mode,
                    backup.root_mtime_ns,
                ),
            )
            conn.executemany(
                "INSERT INTO backup_entries (backup_id, path, kind, mode, size, mtime_ns,"
                " sha256, target) VALUES (?,?,?,?,?,?,?,?)",
                ((backup.id, *row) for row in rows),
            )

    def for_environment(self, env_id: str) -> list[Backup]:
        rows = self._db.connection().execute(
            "SELECT * FROM backups WHERE environment_id = ? ORDER BY created_at DESC, id DESC",
            (env_id,),
        )
        return [_backup(row) for row in rows]

    def by_id(self, backup_id: str) -> Backup | None:
        row = (
            self._db.connection()
            .execute("SELECT * FROM backups WHERE id = ?", (backup_id,))
            .fetchone()
        )
        return _backup(row) if row else None

    def ids_starting_with(self, prefix: str) -> list[str]:
        rows = self._db.connection().execute(
            "SELECT id FROM backups WHERE id LIKE ? ESCAPE '\\'", (like_prefix(prefix),)
        )
        return [row["id"] for row in rows]

    def entries(self, backup_id: str) -> Iterator[ManifestEntry]:
        """The manifest in path order, so parents always come before their children."""
        rows = self._db.connection().execute(
            "SELECT * FROM backup_entries WHERE backup_id = ? ORDER BY path", (backup_id,)
        )
        for row in rows:
            yield ManifestEntry.model_construct(
                path=row["path"],
                kind=EntryKind(row["kind"]),
                mode=row["mode"],
                size=row["size"],
                mtime_ns=row["mtime_ns"],
                sha256=row["sha256"],
                target=row["target"],
            )

    def delete(self, backup_id: str) -> set[str]:
        """Delete a backup; return the blobs that no other backup references any more."""
        with self._db.transaction() as conn:
            orphans = {
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT e.sha256 FROM backup_entries e WHERE e.backup_id = ?"
                    " AND e.sha256 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM backup_entries o"
                    " WHERE o.sha256 = e.sha256 AND o.backup_id != e.backup_id)",
                    (backup_id,),
                )
            }
            conn.execute("DELETE FROM backups WHERE id = ?", (backup_id,))
        return orphans

    def referenced_blobs(self) -> dict[str, int]:
        """Every blob some backup needs, with its size."""
        rows = self._db.connection().execute(
            "SELECT sha256, MAX(size) FROM backup_entries WHERE sha256 IS NOT NULL GROUP BY sha256"
        )
        return {row[0]: row[1] for row in rows}

    def cached_hashes(self, env_id: str) -> dict[str, CachedHash]:
        rows = self._db.connection().execute(
            "SELECT path, size, mtime_ns, inode, sha256 FROM file_cache WHERE environment_id = ?",
            (env_id,),
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}

    def replace_cached_hashes(self, env_id: str, cache: dict[str, CachedHash]) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM file_cache WHERE environment_id = ?", (env_id,))
            conn.executemany(
                "INSERT INTO file_cache (environment_id, path, size, mtime_ns, inode, sha256)"
                " VALUES (?,?,?,?,?,?)",
                ((env_id, path, *values) for path, values in cache.items()),
            )
