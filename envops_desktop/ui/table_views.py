"""Sortable, filterable table views over the record models."""

from PySide6.QtCore import QCoreApplication, QModelIndex, QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableView,
    QToolButton,
    QWidget,
)

from envops_desktop.controller.record_table_model import FILTER_ROLE


class RecordFilterProxy(QSortFilterProxyModel):
    """Filters a record model's rows on text; the model sorts them itself (dates as dates,
    sizes as sizes), which is many times quicker than a proxy asking for each key."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if column >= 0 and source is not None:
            source.sort(column, order)


class RecordTableView(QTableView):
    """A table of records whose rows have a menu, opened by mouse or keyboard alike.

    Right-click, the Menu key and Shift+F10 all emit `row_menu_requested` with the row and
    where to show the menu; from the keyboard that is the current row, not wherever the mouse
    pointer happens to be. Tab leaves the table instead of walking its cells.
    """

    row_menu_requested = Signal(QModelIndex, QPoint)  # the row's index, a global position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._empty_hint = ""

    @property
    def empty_hint(self) -> str:
        return self._empty_hint

    def set_empty_hint(self, text: str) -> None:
        """What an empty table says in its middle: what to do next."""
        self._empty_hint = text
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        model = self.model()
        if self._empty_hint and model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.viewport().rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._empty_hint,
            )

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        if event.reason() == QContextMenuEvent.Reason.Keyboard:
            self._menu_for_current_row()
            return
        index = self.indexAt(self.viewport().mapFromGlobal(event.globalPos()))
        if index.isValid():
            self.row_menu_requested.emit(index, event.globalPos())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Copy):
            self._copy_selected_rows()
            event.accept()
            return
        shift_f10 = (
            event.key() == Qt.Key.Key_F10 and event.modifiers() == Qt.KeyboardModifier.ShiftModifier
        )
        if event.key() == Qt.Key.Key_Menu or shift_f10:
            self._menu_for_current_row()
            event.accept()
            return
        super().keyPressEvent(event)

    def _copy_selected_rows(self) -> None:
        """Ctrl+C: the selected rows as shown, a line each, their columns (in the order they
        are shown, the Options column left out) apart by tabs, as a spreadsheet pastes them:
        a path, an error's whole sentence or a backup's name, to paste into a terminal or a
        ticket."""
        model, header = self.model(), self.horizontalHeader()
        if model is None:
            return
        columns = [
            column
            for column in map(header.logicalIndex, range(header.count()))
            if not header.isSectionHidden(column)
            and model.headerData(column, Qt.Orientation.Horizontal)
        ]
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        if rows:
            QGuiApplication.clipboard().setText(
                "\n".join(
                    "\t".join(str(model.index(row, c).data() or "") for c in columns)
                    for row in rows
                )
            )

    def _menu_for_current_row(self) -> None:
        index = self.currentIndex()
        if not index.isValid():
            return
        self.selectRow(index.row())
        rect = self.visualRect(index)
        self.row_menu_requested.emit(index, self.viewport().mapToGlobal(rect.bottomLeft()))


def make_table_view(object_name: str, accessible_name: str, parent: QWidget) -> RecordTableView:
    view = RecordTableView(parent)
    view.setObjectName(object_name)
    view.setAccessibleName(accessible_name)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(28)
    # A header is a row of buttons that sort: a screen reader names it too.
    header = view.horizontalHeader()
    header.setAccessibleName(
        QCoreApplication.translate("RecordTableView", "{table} columns").format(
            table=accessible_name
        )
    )
    header.setAccessibleDescription(
        QCoreApplication.translate("RecordTableView", "Click a column to sort the rows by it")
    )
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setTabKeyNavigation(False)
    return view


def search_field(object_name: str, what: str, parent: QWidget) -> QLineEdit:
    """A field that filters a table as the user types: `what` is both its placeholder and
    its spoken name. Its clear button, shown once something is typed, is named too."""
    edit = QLineEdit(parent)
    edit.setObjectName(object_name)
    edit.setPlaceholderText(what)
    edit.setAccessibleName(what)  # a placeholder is not read out as a label is
    edit.setClearButtonEnabled(True)
    for button in edit.findChildren(QToolButton):  # Qt's own, made for the clear action
        button.setAccessibleName(QCoreApplication.translate("RecordTableView", "Clear"))
    return edit
