"""The activity log as a lazily paged table whose sorting and searching the store does.

With 100,000 entries only the pages the user scrolls to are loaded, so sorting or filtering
the loaded rows would show a misleading subset: the query goes to SQLite instead, and the
proxy in front of this model forwards the view's sort and filter requests to it.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt

from envops_desktop.controller.operation_runner import assert_gui_thread
from envops_desktop.controller.record_table_model import AnyIndex, local_time
from envops_desktop.domain.activity_query import ACTIVITY_COLUMNS, ActivityQuery
from envops_desktop.domain.enums import Outcome
from envops_desktop.domain.models import ActivityEntry

PAGE_SIZE = 250  # one fetch stays well under a frame budget of ~20 ms

PageLoader = Callable[[ActivityQuery, int, int], list[ActivityEntry]]  # query, offset, limit
NewerLoader = Callable[[ActivityQuery, int], list[ActivityEntry]]  # query, after id

_HEADERS = ["Time", "Environment", "Action", "User", "Outcome", "Detail"]


# One row as plain values (id, failed, has a report, then the six cells): tuples of strings,
# ints and bools are untracked by the garbage collector, so 100,000 loaded rows never
# lengthen its full passes, which pause every thread, the GUI's included.
Row = tuple[int, bool, bool, str, str, str, str, str, str]
ID_ROLE = Qt.ItemDataRole.UserRole + 4
FAILED_ROLE = Qt.ItemDataRole.UserRole + 5  # the entry's outcome was a failure: the view marks it
REPORT_ROLE = Qt.ItemDataRole.UserRole + 6  # a list of what it changed is kept
_FIRST_CELL = 3


def _row(entry: ActivityEntry) -> Row:
    return (
        entry.id,
        entry.outcome is Outcome.FAILURE,
        entry.has_report,
        local_time(entry.time, with_seconds=True),
        entry.environment_name,
        entry.action.value,
        entry.user,
        entry.outcome.value,
        entry.detail,
    )


class ActivityTableModel(QAbstractTableModel):
    """Pages through the log with canFetchMore/fetchMore; new entries go on top."""

    def __init__(
        self, load_page: PageLoader, load_newer: NewerLoader, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._load_page = load_page
        self._load_newer = load_newer
        self.query = ActivityQuery()
        self._rows: list[Row] = []  # formatted once per row, not per paint
        self._newest_id = 0
        self._exhausted = False

    # The query -------------------------------------------------------------------------------

    def set_query(self, query: ActivityQuery) -> None:
        """Start over with another filter, search or order."""
        assert_gui_thread()
        self.beginResetModel()
        self.query = query
        self._rows = []
        self._newest_id = 0
        self._exhausted = False
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        descending = order == Qt.SortOrder.DescendingOrder
        sort_column = ACTIVITY_COLUMNS[column] if 0 <= column < len(ACTIVITY_COLUMNS) else "time"
        if (sort_column, descending) != (self.query.sort_column, self.query.descending):
            self.set_query(replace(self.query, sort_column=sort_column, descending=descending))

    def set_search(self, text: str) -> None:
        if text != self.query.search:
            self.set_query(replace(self.query, search=text))

    def set_environment(self, environment_id: str | None) -> None:
        if environment_id != self.query.environment_id:
            self.set_query(replace(self.query, environment_id=environment_id))

    # Qt's model interface --------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr(_HEADERS[section])
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[_FIRST_CELL + index.column()]
        if role == ID_ROLE:
            return row[0]
        if role == FAILED_ROLE:
            return row[1]
        if role == REPORT_ROLE:
            return row[2]
        return None

    def canFetchMore(self, parent: AnyIndex) -> bool:  # noqa: N802
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: AnyIndex) -> None:  # noqa: N802
        if parent.isValid() or self._exhausted:
            return
        page = self._load_page(self.query, len(self._rows), PAGE_SIZE)
        self._exhausted = len(page) < PAGE_SIZE
        if page:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self._append(page, at_top=False)
            self.endInsertRows()

    def _append(self, entries: list[ActivityEntry], at_top: bool) -> None:
        rows = [_row(e) for e in entries]
        if at_top:
            self._rows[:0] = rows
        else:
            self._rows.extend(rows)
        self._newest_id = max(self._newest_id, max(e.id for e in entries))

    def fetch_newer(self) -> int:
        """Show entries written since the newest one loaded; return how many there were."""
        assert_gui_thread()
        if not self._rows and not self._exhausted:  # nothing loaded yet: the first page
            self.fetchMore(QModelIndex())
            return len(self._rows)
        newer = self._load_newer(self.query, self._newest_id)
        if not newer:
            return 0
        if self.query.newest_first:
            self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
            self._append(newer, at_top=True)
            self.endInsertRows()
        else:  # they belong somewhere in the middle of another order: load afresh
            self.set_query(self.query)
        return len(newer)


class StoreSortedProxy(QSortFilterProxyModel):
    """Passes the view's sorting and the search box to a model that queries the store."""

    def __init__(self, source: ActivityTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setDynamicSortFilter(False)
        self._source = source

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._source.sort(column, order)

    def setFilterFixedString(self, pattern: str) -> None:  # noqa: N802
        self._source.set_search(pattern)
