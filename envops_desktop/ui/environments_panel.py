"""The left side of the window: the environments table with its filter, or the empty state."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.environments_model import (
    DRIFT_COLUMN,
    SCHEDULE_COLUMN,
    STATUS_COLUMN,
)
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.record_table_model import RECORD_ROLE
from envops_desktop.domain.models import Environment
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import rich_label
from envops_desktop.ui.status_delegate import StatusBadgeDelegate
from envops_desktop.ui.table_views import RecordFilterProxy, make_table_view, search_field


class EnvironmentsPanel(QStackedWidget):
    """Shows the environments, keeps the selection across refreshes, tells who is selected."""

    selected = Signal(object)  # Environment | None
    add_requested = Signal()

    def __init__(self, controller: MainController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.filter_edit = search_field("environmentsFilter", self.tr("Filter environments"), self)
        self.proxy = RecordFilterProxy(self)
        self.proxy.setSourceModel(controller.environments_model)
        self.table = make_table_view("environmentsTable", self.tr("Environments"), self)
        self.table.setModel(self.proxy)
        badges = StatusBadgeDelegate(self.table)
        self.table.setItemDelegateForColumn(STATUS_COLUMN, badges)
        self.table.setItemDelegateForColumn(SCHEDULE_COLUMN, badges)
        self.table.setItemDelegateForColumn(DRIFT_COLUMN, badges)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setColumnWidth(0, 160)
        self.table.setColumnWidth(STATUS_COLUMN, 120)
        self.table.setColumnWidth(DRIFT_COLUMN, 100)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.selectionModel().selectionChanged.connect(self._emit_selection)
        controller.environments_model.rowsInserted.connect(self._show_page)
        controller.environments_model.rowsRemoved.connect(self._show_page)

        listing = QWidget(self)
        layout = QVBoxLayout(listing)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table)
        self.addWidget(listing)
        self.addWidget(self._empty_state())
        self._show_page()

    def _empty_state(self) -> QWidget:
        page = QWidget(self)
        page.setObjectName("emptyState")
        title = rich_label(self.tr("<h2>No environments yet</h2>"), page)
        text = QLabel(
            self.tr(
                "Add the folder that holds an environment's configuration. EnvOps will back it "
                "up and restore it, all or nothing."
            ),
            page,
        )
        text.setObjectName("emptyStateText")
        text.setWordWrap(True)
        button = QPushButton(icon("add"), self.tr("Add environment…"), page)
        button.setObjectName("emptyStateAddButton")
        button.setAccessibleName(self.tr("Add environment"))
        button.clicked.connect(self.add_requested)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(title)
        # Without an alignment of its own: the layout then gives the wrapped text the height
        # its lines need at the width it has (an aligned one gets its one-line height).
        layout.addWidget(text)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return page

    def _show_page(self) -> None:
        self.setCurrentIndex(0 if self._controller.environments_model.rowCount() else 1)

    def _emit_selection(self) -> None:
        self.selected.emit(self.current())

    def current(self) -> Environment | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(RECORD_ROLE) if rows else None

    def select(self, environment_id: str) -> None:
        row = self._controller.environments_model.row_of(environment_id)
        if row is not None:
            source = self._controller.environments_model.index(row, 0)
            self.table.selectRow(self.proxy.mapFromSource(source).row())
