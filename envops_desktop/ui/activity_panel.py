"""The Activity Log tab: filterable by environment and searchable."""

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.activity_model import (
    ID_ROLE,
    REPORT_ROLE,
    StoreSortedProxy,
)
from envops_desktop.controller.main_controller import MainController
from envops_desktop.ui.table_views import make_table_view, search_field
from envops_desktop.ui.tones import tones_for


class ActivityPanel(QWidget):
    """The log newest first, fetched a page at a time as the user scrolls; a restore's entry
    opens what it changed (double-click, Enter or Show changes…)."""

    report_requested = Signal(int)  # an activity entry's id

    def __init__(self, controller: MainController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.environment_combo = QComboBox(self)
        self.environment_combo.setObjectName("activityEnvironmentFilter")
        self.environment_combo.setAccessibleName(self.tr("Show the activity of"))
        self.search_edit = search_field("activitySearch", self.tr("Search the activity log"), self)
        self.proxy = StoreSortedProxy(controller.activity_model, self)
        self.table = make_table_view("activityTable", self.tr("Activity log"), self)
        self.table.setModel(self.proxy)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        for column, width in enumerate((150, 120, 190, 90, 80)):
            self.table.setColumnWidth(column, width)
        self.show_report = QPushButton(self.tr("Show &changes…"), self)
        self.show_report.setObjectName("showReportButton")
        self.show_report.setAccessibleName(
            self.tr("Show what the selected restore or import changed")
        )
        self.show_report.setEnabled(False)
        self.show_report.clicked.connect(lambda: self._open(self.table.currentIndex()))
        self.table.activated.connect(self._open)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.search_edit.textChanged.connect(self.proxy.setFilterFixedString)
        controller.activity_model.reading_changed.connect(self._say_when_empty)
        self._write_failures_in_the_error_colour()
        controller.activity_model.modelReset.connect(self._say_when_empty)
        self.environment_combo.currentIndexChanged.connect(self._filter_environment)
        controller.environments_model.modelReset.connect(self._fill_environments)
        controller.environments_model.rowsInserted.connect(self._fill_environments)
        controller.environments_model.rowsRemoved.connect(self._fill_environments)
        bar = QHBoxLayout()
        bar.addWidget(self.environment_combo)
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.show_report)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self._fill_environments()
        self._say_when_empty()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # another theme, or the desktop's own
            self._write_failures_in_the_error_colour()

    def _write_failures_in_the_error_colour(self) -> None:
        """In the error colour of the palette the table is drawn with, so that a failed entry
        reads as well in a dark window as in a light one."""
        error = QColor(tones_for(self.palette()).error_text)
        self._controller.activity_model.set_failed_text(error)

    def _say_when_empty(self) -> None:
        model = self._controller.activity_model
        if model.reading:
            hint = self.tr("Reading the activity log…")
        elif model.query.search or model.query.environment_id is not None:
            hint = self.tr("No entry matches.")
        else:
            hint = self.tr("Nothing has happened here yet.")
        self.table.set_empty_hint(hint)

    def _selected(self) -> None:
        # Only a restore or an import that finished keeps what it changed: a failed one
        # was undone, and other entries changed no configuration.
        kept = bool(self.table.currentIndex().data(REPORT_ROLE))
        self.show_report.setEnabled(kept)
        self.show_report.setToolTip(
            ""
            if kept or not self.table.currentIndex().isValid()
            else self.tr(
                "Only a restore or an import that finished keeps a list of what it changed."
            )
        )

    def _open(self, index: QModelIndex) -> None:
        if index.isValid() and index.data(REPORT_ROLE):
            self.report_requested.emit(index.data(ID_ROLE))

    def _fill_environments(self) -> None:
        current = self.environment_combo.currentData()
        self.environment_combo.blockSignals(True)
        self.environment_combo.clear()
        self.environment_combo.addItem(self.tr("All environments"), None)
        for env in self._controller.environments_model.records():
            self.environment_combo.addItem(env.name, env.id)
        index = self.environment_combo.findData(current)
        self.environment_combo.setCurrentIndex(max(index, 0))
        self.environment_combo.blockSignals(False)

    def _filter_environment(self) -> None:
        self._controller.filter_activity(self.environment_combo.currentData())
