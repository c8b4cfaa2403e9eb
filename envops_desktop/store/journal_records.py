"""Rows of the `journal` table: the durable record of where each restore is."""

import sqlite3
from dataclasses import dataclass

from envops_desktop.domain.enums import EnvironmentStatus, JournalPhase
from envops_desktop.domain.paths import shown
from envops_desktop.store.database import Database
from envops_desktop.store.timestamps import to_text, utc_now


@dataclass(frozen=True)
class JournalEntry:
    """One restore in flight: the four directories it moves between and its phase."""

    id: str
    environment_id: str
    environment_name: str
    backup_id: str
    action: str
    phase: JournalPhase
    target: str
    staging: str
    previous: str
    discard: str
    prior_status: EnvironmentStatus
    has_post_restore: bool
    boot_id: str | None = None  # the machine's boot in which it reached `flushing`
    # The post-restore command's process group, as "pid start-time" (the start time tells
    # it from a later process given the same number), while it runs.
    post_restore_process: str | None = None
    # What it is, in words: "the restore of nightly (4.2.0)", "the import of 'billing.zip'".
    subject: str | None = None
    # The staged tree's inode, once the swap begins: after an exchange of the two folders
    # the old tree sits at the staging path, and only this tells the two apart.
    staged_inode: int | None = None
    # For an environment shared with a team: the generation object this restore claimed in
    # the shared store before its swap (`team_locks.py`).
    generation: str | None = None


def _entry(row: sqlite3.Row) -> JournalEntry:
    return JournalEntry(
        id=row["id"],
        environment_id=row["environment_id"],
        environment_name=row["environment_name"],
        backup_id=row["backup_id"],
        action=row["action"],
        phase=JournalPhase(row["phase"]),
        target=row["target"],
        staging=row["staging"],
        previous=row["previous"],
        discard=row["discard"],
        prior_status=EnvironmentStatus(row["prior_status"]),
        has_post_restore=bool(row["has_post_restore"]),
        boot_id=row["boot_id"],
        post_restore_process=row["post_restore_process"],
        subject=row["subject"],
        staged_inode=row["staged_inode"],
        generation=row["generation"],
    )


class JournalRecords:
    """Writes each phase change in its own durable transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def begin(self, entry: JournalEntry) -> None:
        """Journal the start and mark the environment `Updating` in the same transaction."""
        now = to_text(utc_now())
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO journal (id, environment_id, environment_name, backup_id, action,"
                " phase, target, staging, previous, discard, prior_status, has_post_restore,"
                " started_at, updated_at, subject) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    entry.id,
                    entry.environment_id,
                    entry.environment_name,
                    entry.backup_id,
                    entry.action,
                    entry.phase.value,
                    entry.target,
                    entry.staging,
                    entry.previous,
                    entry.discard,
                    entry.prior_status.value,
                    int(entry.has_post_restore),
                    now,
                    now,
                    shown(entry.subject),  # words, naming a file whose name may not be UTF-8
                ),
            )
            conn.execute(
                "UPDATE environments SET status = ?, updated_at = ? WHERE id = ?",
                (EnvironmentStatus.UPDATING.value, now, entry.environment_id),
            )

    def set_phase(self, journal_id: str, phase: JournalPhase, boot_id: str | None = None) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE journal SET phase = ?, boot_id = ?, updated_at = ? WHERE id = ?",
                (phase.value, boot_id, to_text(utc_now()), journal_id),
            )

    def begin_swap(self, journal_id: str, staged_inode: int, generation: str | None = None) -> None:
        """Journal `swapping`, with the inode of the tree about to be swapped in (and the
        shared store's generation claimed for it)."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE journal SET phase = ?, staged_inode = ?, generation = ?, updated_at = ?"
                " WHERE id = ?",
                (
                    JournalPhase.SWAPPING.value,
                    staged_inode,
                    generation,
                    to_text(utc_now()),
                    journal_id,
                ),
            )

    def set_post_restore_process(self, journal_id: str, process: str | None) -> None:
        """Note (or clear) the running post-restore command, for recovery to end it."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE journal SET post_restore_process = ? WHERE id = ?", (process, journal_id)
            )

    def advance(self, journal_id: str, expected: JournalPhase, phase: JournalPhase) -> bool:
        """Move an entry from `expected` to `phase` if it is there; whether it was."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE journal SET phase = ?, updated_at = ? WHERE id = ? AND phase = ?",
                (phase.value, to_text(utc_now()), journal_id, expected.value),
            )
        return cursor.rowcount == 1

    def by_id(self, journal_id: str) -> JournalEntry | None:
        row = (
            self._db.connection()
            .execute("SELECT * FROM journal WHERE id = ?", (journal_id,))
            .fetchone()
        )
        return _entry(row) if row else None

    def of_environment(self, environment_id: str) -> list[JournalEntry]:
        """The environment's restores that have not been cleared, oldest first."""
        rows = self._db.connection().execute(
            "SELECT * FROM journal WHERE environment_id = ? ORDER BY started_at",
            (environment_id,),
        )
        return [_entry(row) for row in rows]

    def unfinished(self, include_done: bool = False) -> list[JournalEntry]:
        """Restores that have not been cleared, oldest first."""
        skip = "" if include_done else JournalPhase.DONE.value
        rows = self._db.connection().execute(
            "SELECT * FROM journal WHERE phase != ? ORDER BY started_at", (skip,)
        )
        return [_entry(row) for row in rows]

    def remove(self, journal_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM journal WHERE id = ?", (journal_id,))
