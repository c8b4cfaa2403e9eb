"""The Backups tab: the selected environment's backups, each with its Options (…) menu."""

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.action_rules import Needs
from envops_desktop.controller.backups_model import OPTIONS_COLUMN
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.record_table_model import RECORD_ROLE
from envops_desktop.domain.models import Backup
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label
from envops_desktop.ui.table_views import RecordFilterProxy, make_table_view

# Room for a name such as "Before invoices v2": what the other columns leave the name in
# the window's first size (1,280 pixels), so that every column still shows there.
NAME_MIN_WIDTH = 120


class BackupsPanel(QWidget):
    """Lists backups newest first; Restore, Export… and Delete act on one of them.

    Enter or a double-click on a row asks to restore it; the ⋯ cell, a right-click, the Menu
    key and Shift+F10 open the row's Options menu.
    """

    restore_requested = Signal(object)  # Backup
    restore_elsewhere_requested = Signal(object)  # into another environment
    restore_to_folder_requested = Signal(object)
    compare_requested = Signal(object)
    export_requested = Signal(object)
    delete_requested = Signal(object)
    pin_requested = Signal(object)  # pin, or unpin a pinned one
    recover_requested = Signal(object)  # a backup in Deleted
    empty_bin_requested = Signal()

    def __init__(self, controller: MainController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.proxy = RecordFilterProxy(self)
        self.proxy.setSourceModel(controller.backups_model)
        self.table = make_table_view("backupsTable", self.tr("Backups"), self)
        self.table.setModel(self.proxy)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # Name fills what the others leave, as the table's width changes or the user drags
        # another column's edge.
        self.table.viewport().installEventFilter(self)
        header.sectionResized.connect(self._column_resized)
        for column, width in ((1, 130), (2, 70), (3, 90), (4, 80), (5, 60), (6, 90), (7, 60)):
            self.table.setColumnWidth(column, width)
        self.table.setColumnWidth(OPTIONS_COLUMN, 32)
        self.table.clicked.connect(self._clicked)
        self.table.activated.connect(self._activated)
        self.table.row_menu_requested.connect(self._popup)
        self.schedule_line = plain_label(parent=self)
        self.schedule_line.setObjectName("scheduleLine")
        self.schedule_line.setContentsMargins(4, 2, 4, 2)
        # On one line, a schedule's sentence was the tab's minimum width: opening the tab in
        # a narrow window pushed the splitter and squeezed the environments list for good.
        self.schedule_line.setWordWrap(True)
        self.show_deleted = QCheckBox(self.tr("Show &Deleted"), self)
        self.show_deleted.setObjectName("showDeletedCheckBox")
        self.show_deleted.setAccessibleName(self.tr("Show the backups in Deleted"))
        self.show_deleted.setToolTip(
            self.tr("Deleted backups stay recoverable for the days set in Preferences.")
        )
        self.show_deleted.toggled.connect(controller.show_deleted)
        self.empty_bin = QPushButton(self.tr("Em&pty Deleted…"), self)
        self.empty_bin.setObjectName("emptyBinButton")
        self.empty_bin.setAccessibleName(self.tr("Free every backup in Deleted now"))
        self.empty_bin.clicked.connect(self.empty_bin_requested)
        controller.selection_changed.connect(self._show_schedule)
        row = QHBoxLayout()
        row.addWidget(self.schedule_line, 1)
        row.addWidget(self.show_deleted)
        row.addWidget(self.empty_bin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table)
        self._show_schedule()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_name_column()
        return super().eventFilter(watched, event)

    def _column_resized(self, column: int, _old: int, _new: int) -> None:
        if column != 0:
            self._fit_name_column()

    def _fit_name_column(self) -> None:
        # The width the other columns leave, but never less than a name needs: stretched by
        # the header instead, it was squeezed to three letters in a window 1,200 pixels wide,
        # where the table now scrolls sideways. Interactive (a layout saved before had it
        # stretch), so the user may still widen it.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        others = sum(header.sectionSize(column) for column in range(1, header.count()))
        header.resizeSection(0, max(NAME_MIN_WIDTH, self.table.viewport().width() - others))

    def _show_schedule(self) -> None:
        env = self._controller.selected_environment
        summary = None if env is None else self._controller.schedule_work.schedule_text(env)
        self.schedule_line.setVisible(summary is not None)
        self.empty_bin.setVisible(self._controller.showing_deleted)
        if summary is not None:
            self.schedule_line.setText(self.tr("Schedule: {summary}").format(summary=summary))

    def current(self) -> Backup | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(RECORD_ROLE) if rows else None

    def options_menu(self, backup: Backup) -> QMenu:
        """The Options (…) menu of one backup row (of one in Deleted: Recover)."""
        menu = QMenu(self)
        menu.setObjectName("backupOptionsMenu")
        menu.setToolTipsVisible(True)
        entries = (
            ("restoreAction", self.tr("Restore…"), "restore", Needs.IDLE, self.restore_requested),
            (
                "restoreToAction",
                self.tr("Restore to another environment…"),
                None,
                Needs.NOTHING,
                self.restore_elsewhere_requested,
            ),
            (
                "restoreToFolderAction",
                self.tr("Restore to a folder…"),
                None,
                Needs.NOTHING,
                self.restore_to_folder_requested,
            ),
            (
                "compareAction",
                self.tr("Compare with…"),
                None,
                Needs.NOTHING,
                self.compare_requested,
            ),
            ("exportAction", self.tr("Export…"), "export", Needs.NOTHING, self.export_requested),
            ("deleteAction", self.tr("Delete…"), "trash", Needs.IDLE, self.delete_requested),
            (
                "pinAction",
                self.tr("Unpin")
                if backup.pinned
                else self.tr("Pin (keep whatever retention says)"),
                None,
                Needs.NOTHING,
                self.pin_requested,
            ),
        )
        if backup.deleted_at is not None:
            entries = (
                (
                    "recoverAction",
                    self.tr("Recover"),
                    "restore",
                    Needs.NOTHING,
                    self.recover_requested,
                ),
            )
        for name, text, icon_name, needs, signal in entries:
            action = QAction(icon(icon_name) if icon_name else QIcon(), text, menu)
            action.setObjectName(name)
            reason = self._controller.why_unavailable(needs, backup)
            action.setEnabled(reason is None)
            action.setToolTip(reason or text.replace("&", ""))
            action.triggered.connect(lambda _checked=False, s=signal: s.emit(backup))
            menu.addAction(action)
        menu.addSeparator()
        # What `envops restore`, `diff` and `backup recover` take: the table shows names, and
        # two backups made in one minute share theirs.
        copy_id = menu.addAction(self.tr("Copy ID ({id})").format(id=backup.id))
        copy_id.setObjectName("copyIdAction")
        copy_id.triggered.connect(lambda: QGuiApplication.clipboard().setText(backup.id))
        return menu

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == OPTIONS_COLUMN:
            rect = self.table.visualRect(index)
            self._popup(index, self.table.viewport().mapToGlobal(rect.bottomLeft()))

    def _activated(self, index: QModelIndex) -> None:
        if index.column() != OPTIONS_COLUMN and not self._controller.showing_deleted:
            self.restore_requested.emit(index.data(RECORD_ROLE))

    def _popup(self, index: QModelIndex, where: QPoint) -> None:
        self.table.selectRow(index.row())
        menu = self.options_menu(index.data(RECORD_ROLE))
        # A menu is made for each popup: gone once closed, not one more child per click.
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(where)
