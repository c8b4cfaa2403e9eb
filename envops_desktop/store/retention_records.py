"""Rows of the `retention_rules` table: each environment's retention rule."""

from typing import TYPE_CHECKING

from envops_desktop.store.database import Database
from envops_desktop.store.service_settings import ServiceSettings

if TYPE_CHECKING:  # pydantic: loaded only by what reads a rule, not by every command
    from envops_desktop.domain.retention import RetentionRule


class RetentionRecords:
    """Reads and writes retention rules; an environment with none has the data folder's
    default rule (`ServiceSettings`), or the built-in one."""

    def __init__(self, db: Database, settings: ServiceSettings) -> None:
        self._db, self._settings = db, settings

    def get(self, environment_id: str) -> "RetentionRule":
        from envops_desktop.domain.retention import RetentionRule

        row = (
            self._db.connection()
            .execute("SELECT rule FROM retention_rules WHERE environment_id = ?", (environment_id,))
            .fetchone()
        )
        if row:
            return RetentionRule.stored(row[0])
        return self.default()

    def default(self) -> "RetentionRule":
        from envops_desktop.domain.retention import RetentionRule

        stored = self._settings.default_retention()
        return RetentionRule.stored(stored) if stored else RetentionRule()

    def set(self, environment_id: str, rule: "RetentionRule") -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO retention_rules VALUES (?, ?) ON CONFLICT (environment_id)"
                " DO UPDATE SET rule = excluded.rule",
                (environment_id, rule.model_dump_json()),
            )
