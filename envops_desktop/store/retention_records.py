"""Rows of the `retention_rules` table: each environment's retention rule."""

from typing import TYPE_CHECKING

from envops_desktop.store.database import Database

if TYPE_CHECKING:  # pydantic: loaded only by what reads a rule, not by every command
    from envops_desktop.domain.retention import RetentionRule


class RetentionRecords:
    """Reads and writes retention rules; an environment with none has the defaults."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, environment_id: str) -> "RetentionRule":
        from envops_desktop.domain.retention import RetentionRule

        row = (
            self._db.connection()
            .execute("SELECT rule FROM retention_rules WHERE environment_id = ?", (environment_id,))
            .fetchone()
        )
        return RetentionRule.model_validate_json(row[0]) if row else RetentionRule()

    def set(self, environment_id: str, rule: "RetentionRule") -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO retention_rules VALUES (?, ?) ON CONFLICT (environment_id)"
                " DO UPDATE SET rule = excluded.rule",
                (environment_id, rule.model_dump_json()),
            )
