"""The paths a restore would change (or two backups differ in), as a table the user can
untick paths in: what stays ticked is what a selective restore brings back."""

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from envops_desktop.controller.change_rows import (
    KINDS_COLUMN,
    PATH_COLUMN,
    SIZE_COLUMN,
    ChangeRows,
    kinds_text,
)
from envops_desktop.controller.record_table_model import RECORD_ROLE, human_size
from envops_desktop.domain.changes import ChangeKind, PathChange
from envops_desktop.domain.paths import name_on_one_line, shown

AnyIndex = QModelIndex | QPersistentModelIndex

_CHECK_STATE = {True: Qt.CheckState.Checked, False: Qt.CheckState.Unchecked}


def _size_text(change: PathChange) -> str:
    before, after = change.size_before, change.size_after
    if ChangeKind.MODIFIED in change.kinds and before is not None and after is not None:
        return f"{human_size(before)} → {human_size(after)}"
    size = after if after is not None else before
    return human_size(size) if size is not None else ""


class ChangesModel(QAbstractTableModel):
    """One row per changed path: path (checkable where `checkable`), kinds of change, size.

    The rows, their ticks and their sort orders are a `ChangeRows`, built on a worker; a
    folder's box follows what it holds, and ticking or unticking it does the same to
    everything in it.
    """

    HEADERS = ("Path", "Change", "Size")

    def __init__(self, rows: ChangeRows, checkable: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.rows = rows
        self._checkable = checkable
        self._order = rows.order(PATH_COLUMN, descending=False)  # the row shown at each place

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr(self.HEADERS[section])
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if self._checkable and index.column() == PATH_COLUMN:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self._order[index.row()]
        change = self.rows.rows[row]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == PATH_COLUMN:
                return self._path_text(change)
            if column == KINDS_COLUMN:
                return kinds_text(change)
            return _size_text(change)
        if role == RECORD_ROLE:
            return change
        if role == Qt.ItemDataRole.CheckStateRole and self._checkable and column == PATH_COLUMN:
            state = self.rows.state(row)
            return Qt.CheckState.PartiallyChecked if state is None else _CHECK_STATE[state]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == SIZE_COLUMN:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def _path_text(self, change: PathChange) -> str:
        # A name that is not UTF-8 with its bytes as \x escapes: Qt would drop them unseen,
        # and "caf\xe9.conf" would show as a "caf.conf" that may be another file. A newline
        # in a name as \n: a row of one line showed only what came before it.
        if change.path == ".":
            return self.tr("(the folder itself)")
        return shown(name_on_one_line(change.path))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by the orders worked out ahead, not in a QSortFilterProxyModel: its
        comparisons each asked `data()` twice, which kept the window frozen for 21 s over
        200,000 changed paths."""
        before = self._order
        after = self.rows.order(column, descending=order == Qt.SortOrder.DescendingOrder)
        if after is before:
            return
        self.layoutAboutToBeChanged.emit()
        self._order = after
        kept = self.persistentIndexList()  # the selection and the current row, say
        if kept:
            shown_at = [0] * len(self.rows)
            for view_row, row in enumerate(after):
                shown_at[row] = view_row
            self.changePersistentIndexList(
                kept, [self.index(shown_at[before[i.row()]], i.column()) for i in kept]
            )
        self.layoutChanged.emit()

    def setData(self, index: AnyIndex, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.CheckStateRole or not self._checkable:
            return False
        # A click on a partly ticked folder ticks all of it (the box is not user-tristate).
        ticked = Qt.CheckState(value) != Qt.CheckState.Unchecked  # type: ignore[call-overload]
        if not self.rows.tick(self._order[index.row()], ticked):
            return True
        self.dataChanged.emit(
            self.index(0, PATH_COLUMN),
            self.index(len(self.rows) - 1, PATH_COLUMN),
            [Qt.ItemDataRole.CheckStateRole],
        )
        return True

    def anything_ticked(self) -> bool:
        """Whether a restore of the ticked paths would bring anything back."""
        return self.rows.anything_ticked()

    def selection(self) -> list[str] | None:
        """The paths a restore should bring back (None: the whole backup)."""
        return self.rows.selection()
