"""The environments table: name, status badge, version, path, last backup, last updated, its
schedule (an Overdue badge when a scheduled backup failed or was missed), and whether its
folder changed since its last backup (a Modified badge)."""

from PySide6.QtCore import QObject

from envops_desktop.controller.record_table_model import (
    Column,
    RecordTableModel,
    local_time,
    timestamp,
)
from envops_desktop.domain.models import Environment

STATUS_COLUMN = 1
DRIFT_COLUMN = 2
VERSION_COLUMN = 3
SCHEDULE_COLUMN = 7
OVERDUE = "Overdue"
MODIFIED = "Modified"  # since its last backup

COLUMNS: list[Column[Environment]] = [
    Column("Name", lambda e: e.name),
    Column("Status", lambda e: e.status.value),
    Column("Since backup", lambda e: MODIFIED if e.modified_since_backup else ""),
    Column("Version", lambda e: e.version),
    Column("Path", lambda e: e.path),
    Column(
        "Last backup", lambda e: local_time(e.last_backup_at), lambda e: timestamp(e.last_backup_at)
    ),
    Column("Last updated", lambda e: local_time(e.updated_at), lambda e: timestamp(e.updated_at)),
    Column("Schedule", lambda e: OVERDUE if e.backup_overdue else e.schedule),
]


class EnvironmentsTableModel(RecordTableModel[Environment]):
    """Every registered environment, one row each."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
