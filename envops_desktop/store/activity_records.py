"""Rows of the `activity` table, read newest first in pages."""

import sqlite3
from enum import Enum

import zstandard

from envops_desktop.domain.activity_query import ActivityQuery
from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.models import ActivityEntry
from envops_desktop.domain.paths import shown
from envops_desktop.domain.progress import CancelToken
from envops_desktop.store.database import Database, like_prefix
from envops_desktop.store.timestamps import from_text, to_text, utc_now


def _entry(row: sqlite3.Row, reported: set[int]) -> ActivityEntry:
    return ActivityEntry(
        id=row["id"],
        time=from_text(row["time"]),
        environment_id=row["environment_id"],
        environment_name=row["environment_name"],
        action=ActivityAction(row["action"]),
        user=row["user"],
        outcome=Outcome(row["outcome"]),
        detail=row["detail"],
        has_report=row["id"] in reported,
    )


def _where(query: ActivityQuery, *more: tuple[str, list[object]]) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if query.environment_id is not None:
        clauses.append("environment_id = ?")
        params.append(query.environment_id)
    if query.search:
        clauses.append(
            "(environment_name || ' ' || action || ' ' || user || ' ' || outcome || ' ' || detail)"
            " LIKE ? ESCAPE '\\'"
        )
        params.append("%" + like_prefix(query.search))
    for clause, values in more:
        clauses.append(clause)
        params.extend(values)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _order(query: ActivityQuery) -> tuple[str, str]:
    """The column the query sorts by (time by id, the order entries were written in) and
    its direction; ties always go newest first."""
    column = "id" if query.sort_column == "time" else query.sort_column
    return column, "DESC" if query.descending else "ASC"


def _beside(query: ActivityQuery, entry: ActivityEntry, before: bool) -> tuple[str, list[object]]:
    """The entries that come before `entry` in the query's order, or after it.

    A page starts after the last entry loaded rather than at an OFFSET: SQLite's sorter
    keeps every row before an offset, so deep into 100,000 entries sorted by user each page
    took 100-140 ms on the window's thread, where a page after a key takes one pass over the
    log (15 ms) at any depth."""
    column, direction = _order(query)
    smaller = (direction == "DESC") != before
    beyond = "<" if smaller else ">"
    if column == "id":
        return f"id {beyond} ?", [entry.id]
    value = getattr(entry, column)
    value = value.value if isinstance(value, Enum) else value
    tie = ">" if before else "<"  # ties newest first
    return f"({column} {beyond} ? OR ({column} = ? AND id {tie} ?))", [value, value, entry.id]


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
    ) -> int:
        """Add an entry; returns its id."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO activity (time, environment_id, environment_name, action, user,"
                " outcome, detail) VALUES (?,?,?,?,?,?,?)",
                (
                    to_text(utc_now()),
                    environment_id,
                    environment_name,
                    action.value,
                    user,
                    outcome.value,
                    # A path in it may be a name that is not UTF-8, which SQLite's text cannot
                    # hold: the entry of a restore that worked must not fail it.
                    shown(detail),
                ),
            )
            return int(cursor.lastrowid or 0)

    def attach_report(self, activity_id: int, report_json: bytes | bytearray) -> None:
        """Keep what a restore changed (JSON) with its entry."""
        body = zstandard.ZstdCompressor(level=3).compress(report_json)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO restore_reports (activity_id, body) VALUES (?, ?)",
                (activity_id, body),
            )

    def report(self, activity_id: int) -> bytes | None:
        """The JSON of what the restore of entry `activity_id` changed, if it was kept."""
        row = (
            self._db.connection()
            .execute("SELECT body FROM restore_reports WHERE activity_id = ?", (activity_id,))
            .fetchone()
        )
        return None if row is None else zstandard.ZstdDecompressor().decompress(row[0])

    def made_here(self, environment_ids: set[str]) -> list[ActivityEntry]:
        """The entries of these environments written here (not taken in from elsewhere)."""
        rows = self._db.connection().execute(
            "SELECT * FROM activity WHERE made_on IS NULL AND environment_id IS NOT NULL"
            " ORDER BY id"
        )
        return self._entries([row for row in rows if row["environment_id"] in environment_ids])

    def adopt(self, entry: ActivityEntry, made_on: str) -> None:
        """Take in an entry written on another workstation, keeping its time."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO activity (time, environment_id, environment_name, action, user,"
                " outcome, detail, made_on) VALUES (?,?,?,?,?,?,?,?)",
                (
                    to_text(entry.time),
                    entry.environment_id,
                    entry.environment_name,
                    entry.action.value,
                    entry.user,
                    entry.outcome.value,
                    entry.detail,
                    made_on,
                ),
            )

    def page(
        self,
        query: ActivityQuery,
        after: ActivityEntry | None = None,
        limit: int = 500,
        cancel: CancelToken | None = None,
    ) -> list[ActivityEntry]:
        """One page of the log in the query's order (ties broken by id, newest first): the
        first, or the one that follows entry `after`; given up once `cancel` is set."""
        where, params = _where(
            query, *([] if after is None else [_beside(query, after, before=False)])
        )
        column, direction = _order(query)
        with self._db.interruptible(cancel) as conn:
            rows = conn.execute(
                f"SELECT * FROM activity {where} ORDER BY {column} {direction}, id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return self._entries(rows)

    def newer_than(self, query: ActivityQuery, after_id: int) -> list[ActivityEntry]:
        """Entries written after `after_id` that match the query, newest first."""
        where, params = _where(query, ("id > ?", [after_id]))
        rows = self._db.connection().execute(
            f"SELECT * FROM activity {where} ORDER BY id DESC", params
        )
        return self._entries(rows.fetchall())

    def position(self, query: ActivityQuery, entry: ActivityEntry, up_to_id: int) -> int:
        """Where `entry` stands in the query's order among the entries up to `up_to_id`:
        how many of them come before it."""
        where, params = _where(query, _beside(query, entry, before=True), ("id <= ?", [up_to_id]))
        row = self._db.connection().execute(f"SELECT COUNT(*) FROM activity {where}", params)
        return int(row.fetchone()[0])

    def _entries(self, rows: list[sqlite3.Row]) -> list[ActivityEntry]:
        """`rows` as entries, each knowing whether a list of what it changed is kept: asked
        for these rows alone, not computed for every row a sort goes through."""
        ids = [row["id"] for row in rows]
        reported: set[int] = set()
        for start in range(0, len(ids), 500):  # within SQLite's limit of parameters
            chunk = ids[start : start + 500]
            reported.update(
                found
                for (found,) in self._db.connection().execute(
                    "SELECT activity_id FROM restore_reports WHERE activity_id IN "
                    f"({','.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return [_entry(row, reported) for row in rows]

    def latest_id(self) -> int:
        row = self._db.connection().execute("SELECT MAX(id) FROM activity").fetchone()
        return row[0] or 0
