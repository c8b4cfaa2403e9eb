"""The activity log as a lazily paged table whose sorting and searching the store does.

With 100,000 entries only the pages the user scrolls to are loaded, so sorting or filtering
the loaded rows would show a misleading subset: the query goes to SQLite instead, and the
proxy in front of this model forwards the view's sort and filter requests to it.
"""

from collections.abc import Callable
from dataclasses import replace
from operator import itemgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from envops_desktop.controller.background_reads import BackgroundReads
from envops_desktop.controller.operation_runner import assert_gui_thread
from envops_desktop.controller.record_table_model import AnyIndex, as_tooltip, local_time
from envops_desktop.domain.activity_query import ACTIVITY_COLUMNS, ActivityQuery
from envops_desktop.domain.enums import Outcome
from envops_desktop.domain.models import ActivityEntry
from envops_desktop.domain.progress import CancelToken

PAGE_SIZE = 250  # a page's rows go into the view in one step of a millisecond or two

# query, the last entry loaded (None for the first page), limit, set when it is not wanted
PageLoader = Callable[[ActivityQuery, ActivityEntry | None, int, CancelToken], list[ActivityEntry]]
NewerLoader = Callable[[ActivityQuery, int], list[ActivityEntry]]  # query, after id
# query, entry, up to id: how many entries come before it in the query's order
PositionReader = Callable[[ActivityQuery, ActivityEntry, int], int]

_HEADERS = ["Time", "Environment", "Action", "User", "Outcome", "Detail"]


# One row as plain values (id, failed, has a report, then the six cells): tuples of strings,
# ints and bools are untracked by the garbage collector, so 100,000 loaded rows never
# lengthen its full passes, which pause every thread, the GUI's included.
Row = tuple[int, bool, bool, str, str, str, str, str, str]
ID_ROLE = Qt.ItemDataRole.UserRole + 4
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
    """Pages through the log with canFetchMore/fetchMore; new entries go on top, or in
    another order to their place among the rows loaded.

    A page is read on a worker: sorted by a column where most entries tie, searched for a
    word no entry holds, or filtered to an environment that holds most of 100,000 entries,
    SQLite goes through the whole log for a page (60-130 ms), which on the window's thread
    froze it at every keystroke in the search box and every click on a header.
    """

    reading_changed = Signal(bool)  # a page is being read

    def __init__(
        self,
        load_page: PageLoader,
        load_newer: NewerLoader,
        position: PositionReader,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._load_page = load_page
        self._load_newer = load_newer
        self._position = position
        self._reads = BackgroundReads(self.tr("Reading the activity log"), self)
        self._reads.reading_changed.connect(self.reading_changed)
        self.query = ActivityQuery()
        self._rows: list[Row] = []  # formatted once per row, not per paint
        self._newest_id = 0
        self._last: ActivityEntry | None = None  # where the next page starts
        self._exhausted = False
        self._failed_text: QBrush | None = None  # a failed entry's ink, as the view says
        self._newer_wanted = False  # the log changed while a page was being read

    @property
    def reading(self) -> bool:
        return self._reads.reading

    def stop(self) -> None:
        """Wait for the page being read, and drop it."""
        self._reads.stop()

    # The query -------------------------------------------------------------------------------

    def set_query(self, query: ActivityQuery) -> None:
        """Start over with another filter, search or order."""
        assert_gui_thread()
        self.beginResetModel()
        self.query = query
        self._rows = []
        self._newest_id = 0
        self._last = None
        self._exhausted = False
        # A page still being read for the query before is dropped, and its read stopped: a
        # search typed a key at a time started a read of the whole log at each key.
        self._reads.drop()
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
        if role == Qt.ItemDataRole.DisplayRole:
            return row[_FIRST_CELL + index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return as_tooltip(row[_FIRST_CELL + index.column()])
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._failed_text if row[1] else None
        if role == ID_ROLE:
            return row[0]
        if role == REPORT_ROLE:
            return row[2]
        return None

    def set_failed_text(self, color: QColor) -> None:
        """The colour a failed entry is written in: the view's, whose palette it must suit.
        Given as the model's foreground, a table draws it with no code of ours a cell; a
        delegate's Python at each cell doubled the time of each frame of a scroll."""
        self._failed_text = QBrush(color)
        if self._rows:
            last = self.index(len(self._rows) - 1, len(_HEADERS) - 1)
            roles = [Qt.ItemDataRole.ForegroundRole]
            self.dataChanged.emit(self.index(0, 0), last, roles)

    def canFetchMore(self, parent: AnyIndex) -> bool:  # noqa: N802
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: AnyIndex) -> None:  # noqa: N802
        """Start reading the next page, unless one is being read; rows come when it is in."""
        if parent.isValid() or self._exhausted or self._reads.reading:
            return
        query, after = self.query, self._last
        self._read(lambda cancel: self._load_page(query, after, PAGE_SIZE, cancel), self._page_read)

    def _read(self, work: Callable[[CancelToken], Any], then: Callable[[Any], None]) -> None:
        """`work` on the worker, `then(its result)` here, unless the query changed meanwhile.
        One read at a time, so what a page holds and where a new entry goes agree."""

        def read_in(result: Any) -> None:
            then(result)
            if self._newer_wanted:
                self.fetch_newer()

        self._reads.read(work, read_in)

    def _page_read(self, page: list[ActivityEntry]) -> None:
        self._exhausted = len(page) < PAGE_SIZE
        if page:
            self._last = page[-1]
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

    def fetch_newer(self) -> None:
        """Show entries written since the newest one loaded."""
        assert_gui_thread()
        self._newer_wanted = self._reads.reading
        if self._reads.reading:  # looked for once the page is in, which may hold them already
            return
        if not self._rows and not self._exhausted:  # nothing read yet: the first page
            self.fetchMore(QModelIndex())
            return
        # By id, past the newest loaded: a few rows whatever the log's size, read here.
        newer = self._load_newer(self.query, self._newest_id)
        if not newer:
            return
        if self.query.newest_first:
            self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
            self._append(newer, at_top=True)
            self.endInsertRows()
            return
        # In another order they belong among the rows loaded, or past them; the rows stay
        # where the user scrolled to. Placed up to the newest of these: what is written
        # meanwhile is looked for next.
        query, up_to = self.query, newer[0].id
        self._read(
            lambda _cancel: sorted(
                ((self._position(query, e, up_to), e) for e in newer), key=itemgetter(0)
            ),
            lambda placed: self._place(placed, up_to),
        )

    def _place(self, placed: list[tuple[int, ActivityEntry]], up_to: int) -> None:
        """Insert each new entry at its place in the order; those past the rows loaded come
        with a later page (they follow the last entry loaded), unless there is none."""
        for position, entry in placed:
            if position < len(self._rows) or (position == len(self._rows) and self._exhausted):
                self.beginInsertRows(QModelIndex(), position, position)
                self._rows.insert(position, _row(entry))
                self.endInsertRows()
        self._newest_id = max(self._newest_id, up_to)


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
