"""The activity log as a lazily paged table: newest first, older pages fetched on scroll."""

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt

from envops_desktop.controller.operation_runner import assert_gui_thread
from envops_desktop.domain.enums import Outcome
from envops_desktop.domain.models import ActivityEntry
from envops_desktop.ui.record_table_model import (
    FILTER_ROLE,
    RECORD_ROLE,
    SORT_ROLE,
    AnyIndex,
    timestamp,
)

PAGE_SIZE = 500

# (before_id, after_id, limit) -> entries newest first
PageLoader = Callable[[int | None, int | None, int], list[ActivityEntry]]

_HEADERS = ["Time", "Environment", "Action", "User", "Outcome", "Detail"]


def _cells(entry: ActivityEntry) -> tuple[str, ...]:
    return (
        entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        entry.environment_name,
        entry.action.value,
        entry.user,
        entry.outcome.value,
        entry.detail,
    )


class ActivityTableModel(QAbstractTableModel):
    """Pages through the log with canFetchMore/fetchMore; new entries are prepended."""

    def __init__(self, loader: PageLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._entries: list[ActivityEntry] = []
        self._exhausted = False

    def set_loader(self, loader: PageLoader) -> None:
        """Start over with another source (another environment's log)."""
        assert_gui_thread()
        self.beginResetModel()
        self._loader = loader
        self._entries = []
        self._exhausted = False
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return _cells(entry)[index.column()]
        if role == FILTER_ROLE:
            return " ".join(_cells(entry))
        if role == SORT_ROLE:
            return timestamp(entry.time) if index.column() == 0 else _cells(entry)[index.column()]
        if role == RECORD_ROLE:
            return entry
        if role == Qt.ItemDataRole.ForegroundRole and entry.outcome is Outcome.FAILURE:
            return Qt.GlobalColor.darkRed
        return None

    def canFetchMore(self, parent: AnyIndex) -> bool:  # noqa: N802
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: AnyIndex) -> None:  # noqa: N802
        if parent.isValid() or self._exhausted:
            return
        before = self._entries[-1].id if self._entries else None
        page = self._loader(before, None, PAGE_SIZE)
        if len(page) < PAGE_SIZE:
            self._exhausted = True
        if page:
            first = len(self._entries)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self._entries.extend(page)
            self.endInsertRows()

    def fetch_newer(self) -> int:
        """Prepend entries written since the newest one shown; return how many."""
        assert_gui_thread()
        if not self._entries:
            if self._exhausted:
                self._exhausted = False
            self.fetchMore(QModelIndex())
            return len(self._entries)
        newer = self._loader(None, self._entries[0].id, PAGE_SIZE * 20)
        if newer:
            self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
            self._entries[:0] = newer
            self.endInsertRows()
        return len(newer)
