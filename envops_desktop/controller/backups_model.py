"""The backups table of the selected environment."""

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from envops_desktop.controller.background_reads import BackgroundReads
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


# The backups of an environment (True: those in Deleted instead), newest first.
BackupReader = Callable[[str, bool], list[Backup]]


class BackupsTableModel(RecordTableModel[Backup]):
    """The backups of one environment, newest first until the user sorts otherwise.

    Read on a worker: an environment of 2,000 backups (an hourly schedule keeps 720) took
    15-45 ms of the window's thread to read at each click on it, and at each refresh.
    """

    read_in = Signal()  # the rows are those of the environment shown, as last read

    def __init__(self, read: BackupReader, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
        self._read = read
        self._reads = BackgroundReads(self.tr("Reading backups"), self)
        self._shown: tuple[str, bool] | None = None  # the environment, and whether Deleted
        self._filled = False  # its rows have been read at least once

    @property
    def reading(self) -> bool:
        """Whether a read of the rows is under way."""
        return self._reads.reading

    @property
    def rows_to_come(self) -> bool:
        """Whether the environment shown has had no rows read yet: the hint says so, not
        "No backups yet" (a read again, at each refresh, keeps the hint as it was)."""
        return self._shown is not None and not self._filled

    def show(self, environment_id: str | None, deleted: bool = False) -> None:
        """List this environment's backups, or those in Deleted; none with None. Another
        environment's rows go at once, so that none is ever shown as this one's."""
        shown = None if environment_id is None else (environment_id, deleted)
        if shown != self._shown:
            self._shown = shown
            self._filled = False
            self.set_records([])
        # Read again even if shown already: updated in place once read, keeping the
        # selection and the order.
        self._reads.drop()
        if self._shown is None:
            return
        environment_id, deleted = self._shown
        self._reads.read(lambda _cancel: self._read(environment_id, deleted), self._fill)

    def stop(self) -> None:
        """Wait for a read under way, and drop it."""
        self._reads.stop()

    def _fill(self, backups: list[Backup]) -> None:
        self._filled = True
        self.set_records(backups)
        self.read_in.emit()
