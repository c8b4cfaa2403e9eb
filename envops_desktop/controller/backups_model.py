"""The backups table of the selected environment."""

from PySide6.QtCore import QObject

from envops_desktop.controller.record_table_model import (
    Column,
    RecordTableModel,
    human_size,
    local_time,
    timestamp,
)
from envops_desktop.domain.models import Backup


def _name(backup: Backup) -> str:
    # Marked where it shows first: the backup may hold a file mixing old and new parts.
    if backup.changed_while_read:
        return f"{backup.name} — incomplete: {len(backup.changed_while_read)} changed while read"
    return backup.name


COLUMNS: list[Column[Backup]] = [
    Column("Name", _name, lambda b: b.name),
    Column("Created", lambda b: local_time(b.created_at), lambda b: timestamp(b.created_at)),
    Column("Version", lambda b: b.version),
    Column("Origin", lambda b: b.origin.value),
    Column("Size", lambda b: human_size(b.total_bytes), lambda b: b.total_bytes, align_right=True),
    Column("Files", lambda b: str(b.file_count), lambda b: b.file_count, align_right=True),
    # Who, and for a backup from the shared store made elsewhere, on which workstation.
    Column("Created by", lambda b: b.made_on or b.created_by),
    Column("Kept", lambda b: "Pinned" if b.pinned else "", lambda b: not b.pinned),
    Column("", lambda _b: "⋯"),  # the row's Options (…) menu opens from here
]

OPTIONS_COLUMN = len(COLUMNS) - 1


class BackupsTableModel(RecordTableModel[Backup]):
    """The backups of one environment, newest first until the user sorts otherwise."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
