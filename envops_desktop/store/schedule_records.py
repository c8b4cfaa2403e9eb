"""Rows of the `schedules` table: each environment's schedule and the slot it last took."""

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from envops_desktop.store.database import Database
from envops_desktop.store.timestamps import from_text, to_text

if TYPE_CHECKING:  # pydantic: loaded only by what reads a schedule, not by every command
    from envops_desktop.domain.schedules import ScheduleRule

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


@dataclass(frozen=True)
class ScheduleRow:
    """An environment's schedule as stored: on or off, set at `since` (its first slot comes
    after), the last slot taken and how its backup ended."""

    environment_id: str
    rule: "ScheduleRule"
    enabled: bool
    since: datetime
    last_slot: datetime | None
    last_outcome: str | None
    last_detail: str


class ScheduleRecords:
    """Reads and writes schedules; a slot is taken by one process only (`claim`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(
        self, environment_id: str, rule: "ScheduleRule", enabled: bool, since: datetime
    ) -> None:
        """Set the environment's schedule; a new rule, or one turned on, starts at `since`."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO schedules (environment_id, rule, enabled, since)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (environment_id) DO UPDATE SET"
                " rule = excluded.rule, enabled = excluded.enabled, since = excluded.since,"
                " last_slot = NULL, last_outcome = NULL, last_detail = ''",
                (environment_id, rule.model_dump_json(), int(enabled), to_text(since)),
            )

    def turn_off(self, environment_id: str) -> None:
        """Stop the schedule, keeping its rule for the day it is turned on again."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE schedules SET enabled = 0 WHERE environment_id = ?", (environment_id,)
            )

    def get(self, environment_id: str) -> ScheduleRow | None:
        row = (
            self._db.connection()
            .execute("SELECT * FROM schedules WHERE environment_id = ?", (environment_id,))
            .fetchone()
        )
        return _row(row) if row else None

    def all(self) -> list[ScheduleRow]:
        return [_row(row) for row in self._db.connection().execute("SELECT * FROM schedules")]

    def claim(self, environment_id: str, last_slot: datetime | None, slot: datetime) -> bool:
        """Take `slot` for this process, if the last slot taken is still `last_slot`: of
        two processes that find the same slot due, one gets it."""
        with self._db.transaction() as conn:
            taken = conn.execute(
                "UPDATE schedules SET last_slot = ?, last_outcome = ?, last_detail = ''"
                " WHERE environment_id = ? AND enabled = 1 AND coalesce(last_slot, '') = ?",
                (to_text(slot), RUNNING, environment_id, to_text(last_slot) if last_slot else ""),
            )
            return taken.rowcount == 1

    def finish(self, environment_id: str, slot: datetime, outcome: str, detail: str = "") -> None:
        """Say how the backup of `slot` ended."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE schedules SET last_outcome = ?, last_detail = ?"
                " WHERE environment_id = ? AND last_slot = ?",
                (outcome, detail, environment_id, to_text(slot)),
            )


def _row(row: sqlite3.Row) -> ScheduleRow:
    from envops_desktop.domain.schedules import ScheduleRule

    return ScheduleRow(
        environment_id=row["environment_id"],
        rule=ScheduleRule.model_validate_json(row["rule"]),
        enabled=bool(row["enabled"]),
        since=from_text(row["since"]),
        last_slot=from_text(row["last_slot"]) if row["last_slot"] else None,
        last_outcome=row["last_outcome"],
        last_detail=row["last_detail"] or "",
    )
