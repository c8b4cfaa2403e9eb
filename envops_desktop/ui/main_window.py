"""The main window: environments on the left; Overview, Backups and Activity on the right."""

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from envops_desktop import APP_NAME
from envops_desktop.controller.main_controller import MainController
from envops_desktop.data_dir import log_dir
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.store.configuration_reader import peek_environment_name
from envops_desktop.ui.about_dialog import AboutDialog
from envops_desktop.ui.activity_panel import ActivityPanel
from envops_desktop.ui.add_environment_dialog import AddEnvironmentDialog
from envops_desktop.ui.backups_panel import BackupsPanel
from envops_desktop.ui.drop_zone import dropped_file
from envops_desktop.ui.environment_overview import EnvironmentOverview
from envops_desktop.ui.environments_panel import EnvironmentsPanel
from envops_desktop.ui.icons import icon
from envops_desktop.ui.import_configuration_dialog import open_import_flow
from envops_desktop.ui.notification_banner import NotificationBanner
from envops_desktop.ui.restore_backup_dialog import open_restore_flow
from envops_desktop.ui.task_progress import TaskProgress
from envops_desktop.ui.update_environment_dialog import UpdateEnvironmentDialog
from envops_desktop.ui.window_layout import WindowLayoutMemory


class MainWindow(QMainWindow):
    """Shows what the controller holds and turns the user's requests into controller calls."""

    def __init__(
        self, controller: MainController, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setAccessibleName(APP_NAME)
        self.controller = controller
        self.banner = NotificationBanner(self)
        self.environments = EnvironmentsPanel(controller, self)
        self.overview = EnvironmentOverview(self)
        self.backups = BackupsPanel(controller, self)
        self.activity = ActivityPanel(controller, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("detailTabs")
        self.tabs.addTab(self.overview, self.tr("&Overview"))
        self.tabs.addTab(self.backups, self.tr("&Backups"))
        self.tabs.addTab(self.activity, self.tr("Activity &Log"))
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.environments)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 760])
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.task_progress = TaskProgress(controller.runner, self)
        self.statusBar().addPermanentWidget(self.task_progress)
        self._make_actions()
        self._connect()
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._layout = WindowLayoutMemory(
            settings,
            self,
            self.splitter,
            {
                "environments": self.environments.table,
                "backups": self.backups.table,
                "activity": self.activity.table,
            },
        )
        self._layout.restore()
        self._update_state()

    # Actions, menus and toolbar ---------------------------------------------------------------

    def _action(
        self,
        name: str,
        text: str,
        icon_name: str | None,
        shortcut: QKeySequence | str | None,
        slot: Callable[[], object],
        tip: str = "",
    ) -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text.replace("&", "").replace("…", ""))
        action.setStatusTip(action.toolTip())
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        tr = self.tr
        self.add_action = self._action(
            "addEnvironmentAction",
            tr("&Add environment…"),
            "add",
            QKeySequence.StandardKey.New,
            self.add_environment,
        )
        self.update_action = self._action(
            "updateEnvironmentAction",
            tr("&Update environment…"),
            "edit",
            "Ctrl+E",
            self.update_environment,
        )
        self.remove_action = self._action(
            "removeEnvironmentAction",
            tr("&Remove environment…"),
            "remove",
            "Ctrl+Shift+Del",
            self.remove_environment,
        )
        self.backup_action = self._action(
            "createBackupAction",
            tr("Create &backup…"),
            "backup",
            "Ctrl+B",
            self.create_backup,
        )
        self.restore_action = self._action(
            "restoreBackupAction",
            tr("&Restore backup…"),
            "restore",
            "Ctrl+R",
            self.restore_selected_backup,
        )
        self.import_action = self._action(
            "importConfigurationAction",
            tr("Restore from &file…"),
            "import",
            "Ctrl+I",
            self.import_configuration,
        )
        self.export_action = self._action(
            "exportBackupAction",
            tr("&Export backup…"),
            "export",
            "Ctrl+Shift+E",
            lambda: self._with_backup(self.export_backup),
        )
        self.delete_action = self._action(
            "deleteBackupAction",
            tr("&Delete backup…"),
            "trash",
            QKeySequence.StandardKey.Delete,
            lambda: self._with_backup(self.delete_backup),
        )
        self.refresh_action = self._action(
            "refreshAction",
            tr("Re&fresh"),
            "refresh",
            QKeySequence.StandardKey.Refresh,
            self.controller.refresh,
        )
        self.quit_action = self._action(
            "quitAction", tr("&Quit"), None, QKeySequence.StandardKey.Quit, self.close
        )
        self.find_action = self._action(
            "findAction",
            tr("&Find environment"),
            None,
            QKeySequence.StandardKey.Find,
            self.environments.filter_edit.setFocus,
        )
        file_menu = self.menuBar().addMenu(tr("&File"))
        file_menu.addActions([self.import_action, self.export_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        env_menu = self.menuBar().addMenu(tr("&Environment"))
        env_menu.addActions([self.add_action, self.update_action, self.remove_action])
        env_menu.addSeparator()
        env_menu.addActions([self.find_action, self.refresh_action])
        backup_menu = self.menuBar().addMenu(tr("&Backup"))
        backup_menu.addActions(
            [self.backup_action, self.restore_action, self.export_action, self.delete_action]
        )
        self.about_action = self._action(
            "aboutAction", tr("&About EnvOps Desktop"), None, None, self.show_about
        )
        self.menuBar().addMenu(tr("&Help")).addAction(self.about_action)
        toolbar = QToolBar(tr("Main toolbar"), self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        toolbar.addActions([self.add_action, self.update_action])
        toolbar.addSeparator()
        toolbar.addActions([self.backup_action, self.restore_action, self.import_action])
        toolbar.addSeparator()
        toolbar.addAction(self.refresh_action)
        self.addToolBar(toolbar)
        for action, object_name in (
            (self.backup_action, "createBackupButton"),
            (self.import_action, "importConfigurationButton"),
        ):
            button = toolbar.widgetForAction(action)
            button.setObjectName(object_name)
            button.setAccessibleName(action.toolTip())
        for action in (
            self.add_action,
            self.update_action,
            self.restore_action,
            self.refresh_action,
        ):
            toolbar.widgetForAction(action).setAccessibleName(action.toolTip())
        self.environments.table.customContextMenuRequested.connect(self._environment_menu)

    def _environment_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addActions([self.backup_action, self.import_action])
        menu.addSeparator()
        menu.addActions([self.update_action, self.remove_action])
        menu.popup(self.environments.table.viewport().mapToGlobal(position))

    def _connect(self) -> None:
        c = self.controller
        c.notify.connect(self.banner.show_message)
        c.selection_changed.connect(self._update_state)
        c.operations_changed.connect(self._update_state)
        self.environments.selected.connect(self._environment_selected)
        self.environments.add_requested.connect(self.add_environment)
        self.backups.restore_requested.connect(self.restore_backup)
        self.backups.export_requested.connect(self.export_backup)
        self.backups.delete_requested.connect(self.delete_backup)
        self.backups.table.selectionModel().selectionChanged.connect(self._update_state)

    def _environment_selected(self, env: Environment | None) -> None:
        self.controller.select_environment(env.id if env else None)

    def _update_state(self) -> None:
        env = self.controller.selected_environment
        busy = env is not None and self.controller.environment_busy(env)
        has_env = env is not None
        has_backup = self.backups.current() is not None
        self.update_action.setEnabled(has_env and not busy and env.version_file is None)
        self.remove_action.setEnabled(has_env and not busy)
        self.backup_action.setEnabled(has_env and not busy)
        self.restore_action.setEnabled(has_env and not busy and has_backup)
        self.import_action.setEnabled(has_env and not busy)
        self.export_action.setEnabled(has_backup)
        self.delete_action.setEnabled(has_backup and not busy)
        last = None
        if env is not None and env.last_restored_backup_id:
            row = self.controller.backups_model.row_of(env.last_restored_backup_id)
            last = self.controller.backups_model.record(row) if row is not None else None
        self.overview.show_environment(env, last)
        title = APP_NAME if env is None else f"{env.name} ({env.status.value}) — {APP_NAME}"
        self.setWindowTitle(title)

    # What the user asks for ------------------------------------------------------------------

    def confirm(self, object_name: str, title: str, text: str, yes: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        box.setObjectName(object_name)
        accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is accept

    def show_about(self) -> None:
        AboutDialog(self.controller.service.data_dir, log_dir(), self).exec()

    def add_environment(self) -> None:
        dialog = AddEnvironmentDialog(self.controller, self)
        if dialog.exec():
            env = self.controller.service.get_environment(dialog.name_edit.text().strip())
            self.environments.select(env.id)

    def update_environment(self) -> None:
        env = self.controller.selected_environment
        if env is not None:
            UpdateEnvironmentDialog(self.controller, env, self).exec()

    def remove_environment(self) -> None:
        env = self.controller.selected_environment
        if env is not None and self.confirm(
            "confirmRemoveBox",
            self.tr("Remove environment"),
            self.tr(
                "Remove {name} and delete its {count} backups? The folder {path} and its "
                "files are not touched."
            ).format(name=env.name, count=self.controller.backups_model.rowCount(), path=env.path),
            self.tr("Remove"),
        ):
            self.controller.remove_environment(env.id)

    def create_backup(self) -> None:
        env = self.controller.selected_environment
        if env is None:
            return
        name, ok = QInputDialog.getText(
            self,
            self.tr("Create backup"),
            self.tr("Name for the backup of {name} (optional):").format(name=env.name),
        )
        if ok:
            self.controller.create_backup(env, name.strip() or None)
            self.tabs.setCurrentWidget(self.backups)

    def _with_backup(self, action: Callable[[Backup], None]) -> None:
        backup = self.backups.current()
        if backup is not None:
            action(backup)

    def restore_selected_backup(self) -> None:
        self._with_backup(self.restore_backup)

    def restore_backup(self, backup: Backup) -> None:
        open_restore_flow(self, backup)

    def select_environment_for(self, path: Path) -> None:
        """Select the environment a configuration file came from, or the only one."""
        environments = self.controller.environments_model.records()
        named = peek_environment_name(path)
        matches = [e for e in environments if e.name == named] or (
            environments if len(environments) == 1 else []
        )
        if matches:
            self.environments.select(matches[0].id)

    def import_configuration(self, path: Path | None = None) -> None:
        open_import_flow(self, path)

    def export_backup(self, backup: Backup) -> None:
        suggested = Path.home() / f"{backup.name.replace('/', '-')}.envops.zip"
        path, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Export backup"),
            str(suggested),
            self.tr("EnvOps configuration files (*.envops.zip *.zip)"),
        )
        if path:
            self.controller.export_backup(backup, Path(path))

    def delete_backup(self, backup: Backup) -> None:
        if self.confirm(
            "confirmDeleteBox",
            self.tr("Delete backup"),
            self.tr("Delete the backup {name} of {date}? This cannot be undone.").format(
                name=backup.name, date=backup.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            ),
            self.tr("Delete"),
        ):
            self.controller.delete_backup(backup)

    # Dropping a configuration file onto the window ------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self.import_action.isEnabled() and dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = dropped_file(event.mimeData())
        if path is None or not self.import_action.isEnabled():
            event.ignore()
            return
        event.acceptProposedAction()
        # Open the dialog once the drop has finished, not inside the platform's drag loop.
        QTimer.singleShot(0, lambda: self.import_configuration(path))

    # Layout memory and closing ---------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        running = self.controller.runner.running
        if running and not self.confirm(
            "confirmQuitBox",
            self.tr("Quit while working?"),
            self.tr(
                "{what} is still running. Quit anyway? It will be cancelled and everything "
                "it changed put back first."
            ).format(what=running[-1].label),
            self.tr("Cancel it and quit"),
        ):
            event.ignore()
            return
        self.statusBar().showMessage(self.tr("Cancelling and putting everything back…"))
        self._layout.save()
        self.controller.shutdown()
        event.accept()
