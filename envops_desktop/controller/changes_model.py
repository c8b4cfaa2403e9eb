"""The paths a restore would change (or two backups differ in), as a table the user can
untick paths in: what stays ticked is what a selective restore brings back."""

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from envops_desktop.controller.record_table_model import RECORD_ROLE, SORT_ROLE, human_size
from envops_desktop.domain.changes import ChangeKind, PathChange, TreeChanges
from envops_desktop.domain.excludes import outermost

AnyIndex = QModelIndex | QPersistentModelIndex

PATH_COLUMN, KINDS_COLUMN, SIZE_COLUMN = range(3)


def _size_text(change: PathChange) -> str:
    before, after = change.size_before, change.size_after
    if ChangeKind.MODIFIED in change.kinds and before is not None and after is not None:
        return f"{human_size(before)} → {human_size(after)}"
    size = after if after is not None else before
    return human_size(size) if size is not None else ""


class ChangesModel(QAbstractTableModel):
    """One row per changed path: path (checkable where `checkable`), kinds of change, size.

    Unticking a folder unticks everything under it, and ticking a path ticks the folders
    above it: a selective restore brings back a folder with all it holds.
    """

    HEADERS = ("Path", "Change", "Size")

    def __init__(self, changes: TreeChanges, checkable: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.changes = changes
        self._rows = list(changes.changes)
        self._checkable = checkable
        self._ticked = [True] * len(self._rows)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

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
        change = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == PATH_COLUMN:
                return self.tr("(the folder itself)") if change.path == "." else change.path
            if column == KINDS_COLUMN:
                return ", ".join(kind.value for kind in change.kinds)
            return _size_text(change)
        if role == SORT_ROLE:
            if column == SIZE_COLUMN:
                return change.size_after if change.size_after is not None else -1
            return self.data(index)
        if role == RECORD_ROLE:
            return change
        if role == Qt.ItemDataRole.CheckStateRole and self._checkable and column == PATH_COLUMN:
            ticked = self._ticked[index.row()]
            return Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.TextAlignmentRole and column == SIZE_COLUMN:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def setData(self, index: AnyIndex, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.CheckStateRole or not self._checkable:
            return False
        ticked = Qt.CheckState(value) == Qt.CheckState.Checked  # type: ignore[call-overload]
        path = self._rows[index.row()].path
        for row, change in enumerate(self._rows):
            under = change.path.startswith(path + "/") or path == "."
            above = path.startswith(change.path + "/") or change.path == "."
            if change.path == path or (under and not ticked) or (above and ticked):
                self._ticked[row] = ticked
        self.dataChanged.emit(
            self.index(0, PATH_COLUMN),
            self.index(len(self._rows) - 1, PATH_COLUMN),
            [Qt.ItemDataRole.CheckStateRole],
        )
        return True

    def selection(self) -> list[str] | None:
        """The paths a restore should bring back: None when all are ticked (the whole
        backup); otherwise the ticked paths, none inside another ticked one."""
        if all(self._ticked):
            return None
        ticked = [c.path for c, t in zip(self._rows, self._ticked, strict=True) if t]
        unticked = [c.path for c, t in zip(self._rows, self._ticked, strict=True) if not t]
        # A folder brings back all it holds: one holding an unticked path is left out (its
        # ticked paths are chosen one by one, and it keeps its own live metadata).
        whole = [p for p in ticked if p != "." and not any(u.startswith(p + "/") for u in unticked)]
        return outermost(whole)
