"""The main window: environments on the left; Overview, Backups and Activity on the right."""

import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from envops_desktop import APP_NAME
from envops_desktop.controller.action_rules import Needs
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.notifications import Notification
from envops_desktop.controller.operation_runner import writes_grace_ends
from envops_desktop.controller.store_work import StoreCheck
from envops_desktop.data_dir import log_dir
from envops_desktop.domain.errors import VersionMismatchError
from envops_desktop.domain.models import MAX_BACKUP_NAME_LENGTH, Backup, Environment
from envops_desktop.store.configuration_reader import peek_environment_name
from envops_desktop.ui.about_dialog import AboutDialog
from envops_desktop.ui.activity_panel import ActivityPanel
from envops_desktop.ui.add_environment_dialog import AddEnvironmentDialog
from envops_desktop.ui.backup_flows import BackupFlows
from envops_desktop.ui.backups_panel import BackupsPanel
from envops_desktop.ui.crash_reporter import CrashReporter
from envops_desktop.ui.desktop_notifier import DesktopNotifier
from envops_desktop.ui.drop_zone import dropped_file
from envops_desktop.ui.environment_overview import EnvironmentOverview
from envops_desktop.ui.environments_panel import EnvironmentsPanel
from envops_desktop.ui.file_chooser import FileChooser
from envops_desktop.ui.import_configuration_dialog import ImportConfigurationDialog
from envops_desktop.ui.label_text import ask_with_label, literal, plain_box
from envops_desktop.ui.notification_banner import NotificationBanner
from envops_desktop.ui.passphrase_prompt import ask_passphrase
from envops_desktop.ui.preferences_dialog import PreferencesDialog
from envops_desktop.ui.retention_dialog import RetentionDialog
from envops_desktop.ui.schedule_dialog import ScheduleDialog
from envops_desktop.ui.store_check_dialog import StoreCheckDialog
from envops_desktop.ui.task_progress import TaskProgress
from envops_desktop.ui.update_environment_dialog import UpdateEnvironmentDialog
from envops_desktop.ui.version_mismatch_box import (
    OPEN_FOLDER,
    UPDATE,
    show_version_mismatch,
)
from envops_desktop.ui.window_actions import WindowActions
from envops_desktop.ui.window_layout import WindowLayoutMemory

_LAST_ENVIRONMENT = "selection/environment"


class MainWindow(QMainWindow):
    """Shows what the controller holds and turns the user's requests into controller calls."""

    def __init__(
        self,
        controller: MainController,
        settings: QSettings,
        crash_reporter: CrashReporter | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setAccessibleName(APP_NAME)
        self.controller = controller
        self._settings = settings
        self.files = FileChooser(settings)
        self.banner = NotificationBanner(self)
        self.environments = EnvironmentsPanel(controller, self)
        self.overview = EnvironmentOverview(self)
        self.backups = BackupsPanel(controller, self)
        self.activity = ActivityPanel(controller, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("detailTabs")
        self.tabs.addTab(self.overview, self.tr("&Overview"))
        self.tabs.addTab(self.backups, self.tr("Bac&kups"))
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
        self.notifier = DesktopNotifier(controller, self, settings, self.environments.select)
        self.task_progress = TaskProgress(controller.runner, self)
        self.statusBar().addPermanentWidget(self.task_progress)
        # Restore, compare, export and delete, from the menus and the backups table.
        self.backup_flows = BackupFlows(self, settings)
        self._make_actions()
        self._set_tab_order()
        self._connect()
        if crash_reporter is not None:
            crash_reporter.show_with(
                lambda text: self.banner.show_message(Notification.ERROR, text),
                controller.service.explain,
            )
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
        # Set when the user has said to quit: when what it cancelled is let go of unfinished.
        self._changes_let_go_at: float | None = None
        self._waiting_to_close: QTimer | None = None  # for that, once asked to quit
        self._update_state()

    # Actions, menus and toolbar ---------------------------------------------------------------

    def _make_actions(self) -> None:
        actions = self.actions = WindowActions(self)
        for action, slot in (
            (actions.add, self.add_environment),
            (actions.update_env, self.update_environment),
            (actions.schedule, self.schedule_backups),
            (actions.retention, self.edit_retention),
            (actions.remove, self.remove_environment),
            (actions.backup, self.create_backup),
            (actions.restore, lambda: self._with_backup(self.backup_flows.restore_backup)),
            (actions.import_file, self.import_configuration),
            (actions.export, lambda: self._with_backup(self.backup_flows.export_backup)),
            (actions.delete, lambda: self._with_backup(self.backup_flows.delete_backup)),
            (actions.refresh, self.controller.refresh),
            (actions.find, self.find),
            (actions.quit, self.close),
            (actions.about, self.show_about),
            (actions.preferences, self.show_preferences),
            (actions.sync, self.sync_with_team),
            (actions.verify, self.controller.store_work.verify_store),
        ):
            actions.connect(action, slot)
        actions.fill_menus()
        self.addToolBar(actions.make_toolbar())
        self._environment_menu = actions.environment_menu()
        self.environments.table.row_menu_requested.connect(self._show_environment_menu)

    def _show_environment_menu(self, index: QModelIndex, where: QPoint) -> None:
        self.environments.table.selectRow(index.row())  # the menu acts on the row it opened on
        self._environment_menu.popup(where)

    def _set_tab_order(self) -> None:
        """Tab goes from widget to widget in reading order, never from cell to cell."""
        chain = [
            self.environments.filter_edit,
            self.environments.table,
            self.tabs.tabBar(),
            self.backups.table,
            self.activity.environment_combo,
            self.activity.search_edit,
            self.activity.table,
        ]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _connect(self) -> None:
        c = self.controller
        flows = self.backup_flows
        c.notify.connect(self.banner.show_message)
        c.version_mismatch.connect(self.ask_about_version_mismatch)
        c.store_work.store_checked.connect(self.show_store_problems)
        c.selection_changed.connect(self._update_state)
        c.operations_changed.connect(self._update_state)
        self.environments.selected.connect(self._environment_selected)
        self.environments.add_requested.connect(self.add_environment)
        self.activity.report_requested.connect(flows.show_restore_report)
        self.backups.restore_requested.connect(flows.restore_backup)
        self.backups.restore_elsewhere_requested.connect(flows.restore_into_another)
        self.backups.restore_to_folder_requested.connect(flows.restore_to_folder)
        self.backups.compare_requested.connect(flows.compare_backup)
        self.backups.export_requested.connect(flows.export_backup)
        self.backups.delete_requested.connect(flows.delete_backup)
        self.backups.pin_requested.connect(self.controller.toggle_pin)
        self.backups.recover_requested.connect(self.controller.recover_backup)
        self.backups.empty_bin_requested.connect(flows.empty_bin)
        self.backups.table.selectionModel().selectionChanged.connect(self._update_state)

    def _environment_selected(self, env: Environment | None) -> None:
        self.controller.select_environment(env.id if env else None)
        if env is not None:
            self._settings.setValue(_LAST_ENVIRONMENT, env.id)

    def select_remembered_environment(self) -> None:
        """At start: the environment selected last time, or the first one on a first start."""
        remembered = self._settings.value(_LAST_ENVIRONMENT)
        records = self.controller.environments_model.records()
        if remembered and any(e.id == remembered for e in records):
            self.environments.select(str(remembered))
        elif self.environments.proxy.rowCount():
            self.environments.table.selectRow(0)  # the first as the table sorts them

    def _update_state(self) -> None:
        env = self.controller.selected_environment
        backup = self.backups.current()
        self.actions.update(lambda needs: self.controller.why_unavailable(needs, backup))
        self.backups.table.set_empty_hint(
            self.tr("Select an environment to see its backups.")
            if env is None
            else self.tr("Reading the backups of {env}…").format(env=env.name)
            if self.controller.backups_model.rows_to_come
            else self.tr("No backups of {env} yet — Create backup ({keys}).").format(
                env=env.name,
                keys=self.actions.backup.shortcut().toString(
                    QKeySequence.SequenceFormat.NativeText
                ),
            )
        )
        last = None
        if env is not None and env.last_restored_backup_id:
            row = self.controller.backups_model.row_of(env.last_restored_backup_id)
            last = self.controller.backups_model.record(row) if row is not None else None
        self.overview.show_environment(env, last)
        title = APP_NAME if env is None else f"{env.name} ({env.status.value}) — {APP_NAME}"
        self.setWindowTitle(title)

    # What the user asks for ------------------------------------------------------------------

    def confirm(
        self,
        object_name: str,
        title: str,
        text: str,
        yes: str,
        while_open: Callable[[QMessageBox, QAbstractButton], None] | None = None,
    ) -> bool:
        """Ask a question whose safe answer, Cancel, is the default; True for `yes`.

        `while_open(box, yes_button)` runs once the box is built, to let it follow events.
        """
        box = plain_box(QMessageBox.Icon.Question, title, text, self)
        box.setObjectName(object_name)
        accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if while_open is not None:
            while_open(box, accept)
        box.exec()
        return box.clickedButton() is accept

    def find(self) -> None:
        """Ctrl+F: into the search box of what is shown, the Activity Log's when it is in
        front, else the environments' filter; its text selected, so typing replaces it."""
        box = (
            self.activity.search_edit
            if self.tabs.currentWidget() is self.activity
            else self.environments.filter_edit
        )
        box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        box.selectAll()

    def show_about(self) -> None:
        AboutDialog(self.controller.service.data_dir, log_dir(), self).exec()

    def show_preferences(self) -> None:
        PreferencesDialog(self.controller, self._settings, self).exec()

    def sync_with_team(self) -> None:
        """Share the backups made here and take in the team's, asking for the passphrase
        when neither ENVOPS_PASSPHRASE nor the keyring has it."""
        settings = self.controller.store_work.shared_store()
        if settings is None:
            self.banner.show_message(
                Notification.INFO,
                self.tr("Connect a shared store first: File → Preferences → Storage."),
            )
            return
        self._with_store_passphrase(settings.url, self.controller.store_work.sync_store)

    def show_store_problems(self, check: StoreCheck) -> None:
        """After Verify store: list what it found wrong, if anything, and offer the repair."""
        if check.report.healthy:
            return  # the banner said so
        store = self.controller.store_work
        dialog = StoreCheckDialog(check, store.store_summary(check.report), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: store.repair_store(check.report))
        dialog.open()

    def _with_store_passphrase(self, url: str, then: Callable[[str], object]) -> None:
        """Call `then` with the shared store's passphrase: from ENVOPS_PASSPHRASE or the
        keyring (looked up on a worker), else asked for; not at all if the user cancels."""

        def found(passphrase: str | None) -> None:
            passphrase = passphrase or ask_passphrase(
                self,
                "passphraseDialog",
                self.tr("Shared store"),
                self.tr("Passphrase of {url}:").format(url=literal(url)),
            )
            if passphrase:
                then(passphrase)

        running = self.controller.store_work.stored_passphrase(url)
        running.succeeded.connect(found)
        running.failed.connect(lambda _message, _error: found(None))
        self.controller.runner.launch(running)

    def unlocking_store_first(self, environment: Environment, then: Callable[[], None]) -> bool:
        """For an environment shared with the team whose store is still locked in this
        window: ask for the passphrase, unlock on a worker, then do `then` again. True when
        the caller is to stop here (unlocking, or the user cancelled)."""
        settings = self.controller.store_work.shared_store()
        if settings is None or not self.controller.service.needs_unlocking_for(environment.id):
            return False

        def unlock(passphrase: str) -> None:
            running = self.controller.store_work.unlock_store(passphrase)
            running.succeeded.connect(lambda _opened: then())
            running.failed.connect(
                lambda message, _error: self.banner.show_message(Notification.ERROR, message)
            )
            self.controller.runner.launch(running)

        self._with_store_passphrase(settings.url, unlock)
        return True

    def add_environment(self) -> None:
        dialog = AddEnvironmentDialog(self.controller, self.files, self)
        if dialog.exec():
            env = self.controller.service.get_environment(dialog.name_edit.text().strip())
            self.environments.select(env.id)

    def update_environment(
        self, suggested_version: str | None = None, environment: Environment | None = None
    ) -> None:
        env = environment or self.controller.selected_environment
        if env is not None:
            UpdateEnvironmentDialog(self.controller, env, suggested_version, self).exec()

    def schedule_backups(self) -> None:
        env = self.controller.selected_environment
        if env is not None:
            ScheduleDialog(self.controller, env, self).exec()

    def edit_retention(self) -> None:
        env = self.controller.selected_environment
        if env is not None:
            RetentionDialog(self.controller, env, self).exec()

    def ask_about_version_mismatch(self, mismatch: VersionMismatchError) -> None:
        """The version box for a restore of another version, found before it or once it
        began (a backup of another environment whose version file says so, or a version
        file edited meanwhile); what the user chooses there is done to the environment it
        names (restored into from another one, not the one selected)."""
        env = self.controller.service.get_environment(mismatch.environment)
        choice = show_version_mismatch(self, mismatch, env.version_file)
        if choice == UPDATE:
            self.update_environment(mismatch.backup_version, env)
        elif choice == OPEN_FOLDER:
            QDesktopServices.openUrl(QUrl.fromLocalFile(env.path))

    def remove_environment(self) -> None:
        env = self.controller.selected_environment
        if env is None:
            return
        # Not the table's rows: they are those in Deleted or the others, and may still be
        # being read.
        count = self.controller.service.count_backups(env.id)
        question = (
            self.tr("Remove {name}? It has no backups.")
            if count == 0
            else self.tr("Remove {name} and delete its backup?")
            if count == 1
            else self.tr("Remove {name} and delete its {count} backups?")
        ).format(name=env.name, count=count)
        if self.confirm(
            "confirmRemoveBox",
            self.tr("Remove environment"),
            self.tr("{question} The folder {path} and its files are not touched.").format(
                question=question, path=env.path
            ),
            self.tr("Remove"),
        ):
            self.controller.remove_environment(env.id)

    def create_backup(self) -> None:
        env = self.controller.selected_environment
        if env is None:
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("createBackupDialog")
        dialog.setWindowTitle(self.tr("Create backup"))
        ask_with_label(
            dialog,
            self.tr("Name for the backup of {name} (optional):").format(name=literal(env.name)),
        )
        dialog.setInputMode(QInputDialog.InputMode.TextInput)  # makes its line edit now
        dialog.findChild(QLineEdit).setMaxLength(MAX_BACKUP_NAME_LENGTH)
        if dialog.exec():
            self.controller.create_backup(env, dialog.textValue().strip() or None)
            self.show_backups()

    def show_backups(self) -> None:
        """Bring the Backups tab to the front, where an operation just started shows."""
        self.tabs.setCurrentWidget(self.backups)

    def _with_backup(self, action: Callable[[Backup], None]) -> None:
        backup = self.backups.current()
        if backup is not None:
            action(backup)

    def select_environment_for(self, path: Path) -> None:
        """Select the environment a configuration file came from, or the only one."""
        environments = self.controller.environments_model.records()
        named = peek_environment_name(path)
        matches = [e for e in environments if e.name == named] or (
            environments if len(environments) == 1 else []
        )
        if matches:
            self.environments.select(matches[0].id)

    def open_configuration_file(self, path: Path) -> None:
        """A configuration file opened with the app (named to it in a terminal or by a
        file manager, or sent by Finder): the import flow, for the environment the file
        names where there is one, whichever was selected; otherwise as a dropped file."""
        self.select_environment_for(path)
        self.import_configuration(path)

    def import_configuration(self, path: Path | None = None) -> None:
        """The import flow: the Import dialog for the selected environment, `path` uploading.

        With nothing selected (a file dropped or opened with the app), the environment the
        file names, or the only one there is, is selected for it.
        """
        if self.controller.selected_environment is None and path is not None:
            self.select_environment_for(path)
        reason = self.controller.why_unavailable(Needs.IDLE)
        if reason is not None:
            self.banner.show_message(Notification.INFO, reason)
            return
        if self.unlocking_store_first(
            self.controller.selected_environment, lambda: self.import_configuration(path)
        ):
            return
        dialog = ImportConfigurationDialog(
            self.controller, self.controller.selected_environment, self.files, self, self._settings
        )
        dialog.update_environment_requested.connect(self.update_environment)
        dialog.accepted.connect(self.show_backups)
        # Once accepted it lives on hidden until its import ends: it comes back if the
        # folder changed since its preview.
        dialog.rejected.connect(dialog.deleteLater)
        # Window-modal but not a nested event loop: an upload can take minutes.
        dialog.open()
        if path is not None:
            dialog.upload(path, once_drawn=True)

    # Dropping a configuration file onto the window ------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self.actions.import_file.isEnabled() and dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = dropped_file(event.mimeData())
        if path is None or not self.actions.import_file.isEnabled():
            event.ignore()
            return
        event.acceptProposedAction()
        # Open the dialog once the drop has finished, not inside the platform's drag loop.
        QTimer.singleShot(0, lambda: self.import_configuration(path))

    # Layout memory and closing ---------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        runner = self.controller.runner
        if self._changes_let_go_at is None:
            if runner.running and not self._quit_while_working():
                event.ignore()
                return
            self._changes_let_go_at = writes_grace_ends()
            # Nothing new starts once the user has chosen to quit: scheduled backups, due
            # as the work waited for ended, were taken before the window closed.
            self.controller.stop()
            runner.cancel_all()
        if runner.changes_running() and time.monotonic() < self._changes_let_go_at:
            # Waited for here, not in the shutdown: its wait holds the window's thread, and
            # the window froze, unpainted, for as long as a cancelled restore took to remove
            # its new tree (1.4 s for 100,000 files, 13 s on a busy disk).
            self._close_once_put_back(self._changes_let_go_at)
            event.ignore()
            return
        if self._waiting_to_close is not None:
            self._waiting_to_close.stop()
            self._waiting_to_close = None
            runner.changed.disconnect(self._close_if_put_back)
        self._layout.save()
        self.controller.shutdown(writes_by=self._changes_let_go_at)
        event.accept()

    def _close_once_put_back(self, let_go_at: float) -> None:
        """Close once every cancelled change is put back, or at `let_go_at` (a
        `time.monotonic()`) if one is not; meanwhile say so, and take no more requests."""
        if self._waiting_to_close is not None:
            return
        self.setEnabled(False)
        self.task_progress.show_putting_back()
        self.statusBar().showMessage(self.tr("EnvOps quits once everything is put back…"))
        self.controller.runner.changed.connect(self._close_if_put_back)
        self._waiting_to_close = QTimer(self)
        self._waiting_to_close.setSingleShot(True)
        self._waiting_to_close.timeout.connect(self._close_letting_go)
        self._waiting_to_close.start(max(0, int((let_go_at - time.monotonic()) * 1000)))

    def _close_if_put_back(self) -> None:
        if not self.controller.runner.changes_running():
            self.close()

    def _close_letting_go(self) -> None:
        # Its time is up, even if the timer came a few milliseconds early, as timers may.
        self._changes_let_go_at = time.monotonic()
        self.close()

    def _quit_while_working(self) -> bool:
        """Ask before cancelling what runs; the question follows it, if it ends meanwhile."""
        runner = self.controller.runner
        newest = runner.running[-1]
        what = newest.label

        def follow_the_work(box: QMessageBox, quit_button: QAbstractButton) -> None:
            def finished() -> None:
                if not runner.running:
                    box.setText(self.tr("{what} has finished. Quit now?").format(what=what))
                    quit_button.setText(self.tr("Quit"))

            runner.changed.connect(finished)
            box.finished.connect(lambda _result: runner.changed.disconnect(finished))

        if newest.cancellable:
            question = self.tr(
                "{what} is still running. Quit anyway? It will be cancelled and everything "
                "it changed put back first."
            )
            answer = self.tr("Cancel it and quit")
        else:  # it goes to its end whatever is asked
            question = self.tr("{what} is still running. Quit once it has finished?")
            answer = self.tr("Quit when done")
        return self.confirm(
            "confirmQuitBox",
            self.tr("Quit while working?"),
            question.format(what=what),
            answer,
            follow_the_work,
        )
