"""Rows of the `activity` table, read newest first in pages."""

import sqlite3

from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.models import ActivityEntry
from envops_desktop.store.database import Database
from envops_desktop.store.timestamps import from_text, to_text, utc_now


def _entry(row: sqlite3.Row) -> ActivityEntry:
    return ActivityEntry(
        id=row["id"],
        time=from_text(row["time"]),
        environment_id=row["environment_id"],
        environment_name=row["environment_name"],
        action=ActivityAction(row["action"]),
        user=row["user"],
        outcome=Outcome(row["outcome"]),
        detail=row["detail"],
    )


class ActivityRecords:
    """Appends to and pages through the activity log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self,
        environment_id: str | None,
        environment_name: str,
        action: ActivityAction,
        user: str,
        outcome: Outcome,
        detail: str = "",
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO activity (time, environment_id, environment_name, action, user,"
                " outcome, detail) VALUES (?,?,?,?,?,?,?)",
                (
                    to_text(utc_now()),
                    environment_id,
                    environment_name,
                    action.value,
                    user,
                    outcome.value,
                    detail,
                ),
            )

    def page(
        self,
        environment_id: str | None = None,
        before_id: int | None = None,
        limit: int = 500,
        after_id: int | None = None,
    ) -> list[ActivityEntry]:
        """Entries newest first; pass the last id seen as `before_id` for the next page, or
        the newest id seen as `after_id` for what has been written since."""
        clauses, params = [], []
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        if environment_id is not None:
            clauses.append("environment_id = ?")
            params.append(environment_id)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.connection().execute(
            f"SELECT * FROM activity {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_entry(row) for row in rows]

    def latest_id(self) -> int:
        row = self._db.connection().execute("SELECT MAX(id) FROM activity").fetchone()
        return row[0] or 0
