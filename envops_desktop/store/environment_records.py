"""Rows of the `environments` table as `Environment` models."""

import json
import sqlite3

from envops_desktop.domain.enums import EnvironmentStatus
from envops_desktop.domain.models import MAX_COMMAND_SECONDS, Environment, RestoreCommand
from envops_desktop.store.database import Database
from envops_desktop.store.timestamps import from_text, to_text, utc_now

_SELECT = """
SELECT e.*, (SELECT MAX(b.created_at) FROM backups b WHERE b.environment_id = e.id)
       AS last_backup_at
FROM environments e
"""


def _command(argv: str | None, timeout: float | None) -> RestoreCommand | None:
    if not argv:
        return None
    # An older version kept any timeout, infinity too: as long as a restore now waits.
    timeout = min(timeout or 300.0, MAX_COMMAND_SECONDS)
    return RestoreCommand(argv=json.loads(argv), timeout_seconds=timeout)


def command_columns(prefix: str, command: RestoreCommand | None) -> dict[str, object]:
    """The columns that hold an environment's pre- or post-restore (`prefix`) command."""
    return {
        f"{prefix}_argv": json.dumps(command.argv) if command else None,
        f"{prefix}_timeout": command.timeout_seconds if command else None,
    }


def _environment(row: sqlite3.Row) -> Environment:
    command = _command(row["post_restore_argv"], row["post_restore_timeout"])
    return Environment(
        id=row["id"],
        name=row["name"],
        path=row["path"],
        version=row["version"],
        version_file=row["version_file"],
        status=EnvironmentStatus(row["status"]),
        post_restore_command=command,
        pre_restore_command=_command(row["pre_restore_argv"], row["pre_restore_timeout"]),
        last_restored_backup_id=row["last_restored_backup_id"],
        last_backup_at=from_text(row["last_backup_at"]) if row["last_backup_at"] else None,
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        excludes=tuple(json.loads(row["excludes"] or "[]")),
        allow_links_out=bool(row["allow_links_out"]),
    )


class EnvironmentRecords:
    """Reads and writes environments."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(self, env: Environment) -> None:
        columns = {
            "id": env.id,
            "name": env.name,
            "path": env.path,
            "version": env.version,
            "version_file": env.version_file,
            "status": env.status.value,
            **command_columns("post_restore", env.post_restore_command),
            **command_columns("pre_restore", env.pre_restore_command),
            "last_restored_backup_id": env.last_restored_backup_id,
            "created_at": to_text(env.created_at),
            "updated_at": to_text(env.updated_at),
        }
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO environments ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                tuple(columns.values()),
            )

    def all(self) -> list[Environment]:
        rows = self._db.connection().execute(_SELECT + " ORDER BY e.name COLLATE NOCASE")
        return [_environment(row) for row in rows]

    def by_id(self, env_id: str) -> Environment | None:
        row = self._db.connection().execute(_SELECT + " WHERE e.id = ?", (env_id,)).fetchone()
        return _environment(row) if row else None

    def by_name(self, name: str) -> Environment | None:
        row = (
            self._db.connection()
            .execute(_SELECT + " WHERE e.name = ? COLLATE NOCASE", (name,))
            .fetchone()
        )
        return _environment(row) if row else None

    def update(self, env_id: str, **columns: object) -> None:
        """Set the given columns (by their SQL names) and bump `updated_at`."""
        columns["updated_at"] = to_text(utc_now())
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._db.transaction() as conn:
            conn.execute(
                f"UPDATE environments SET {assignments} WHERE id = ?",
                (*columns.values(), env_id),
            )

    def delete(self, env_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM environments WHERE id = ?", (env_id,))
