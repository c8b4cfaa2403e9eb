"""Rows of the `service_settings` table: what the service needs that is not per environment
(how long Deleted keeps backups, the retention rule of environments that have none), so that
`envops` under cron and the window go by the same values."""

from envops_desktop.domain.recycle_bin import DEFAULT_BIN_DAYS
from envops_desktop.store.database import Database

_BIN_DAYS = "bin_days"
_DEFAULT_RETENTION = "default_retention"


class ServiceSettings:
    """Reads and writes the data folder's own settings."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _get(self, key: str) -> str | None:
        row = (
            self._db.connection()
            .execute("SELECT value FROM service_settings WHERE key = ?", (key,))
            .fetchone()
        )
        return row[0] if row else None

    def _set(self, key: str, value: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO service_settings VALUES (?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def bin_days(self) -> float:
        """How many days a backup stays in Deleted before its content is freed."""
        value = self._get(_BIN_DAYS)
        return float(value) if value is not None else DEFAULT_BIN_DAYS

    def set_bin_days(self, days: float) -> None:
        self._set(_BIN_DAYS, repr(float(days)))

    def default_retention(self) -> str | None:
        """The default retention rule as JSON, if one was set."""
        return self._get(_DEFAULT_RETENTION)

    def set_default_retention(self, rule_json: str) -> None:
        self._set(_DEFAULT_RETENTION, rule_json)
