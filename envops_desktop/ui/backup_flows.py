"""What the window does when the user asks for something about one backup: restore it
(into its environment, into another, or into a folder), compare it, export or delete it,
and open a restore's report from the Activity Log."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QComboBox, QInputDialog

from envops_desktop.controller.action_rules import Needs
from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.notifications import Notification
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.controller.record_table_model import local_time
from envops_desktop.domain.errors import PreviewOutOfDateError, VersionMismatchError
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.paths import export_file_name
from envops_desktop.ui.changes_dialog import (
    ChangesDialog,
    backup_and_other_contents,
    file_saver,
    live_and_backup_contents,
    when_listed,
)
from envops_desktop.ui.export_dialog import ExportDialog
from envops_desktop.ui.label_text import ask_with_label, literal
from envops_desktop.ui.restore_backup_dialog import RestoreBackupDialog

if TYPE_CHECKING:
    from envops_desktop.ui.main_window import MainWindow


class BackupFlows(QObject):
    """The flows of the backups table's Options (…) menu and the Backup menu, each from the
    first question to the operation it starts; dialogs open over `window`."""

    def __init__(self, window: "MainWindow", settings: QSettings) -> None:
        super().__init__(window)
        self._window = window
        self.controller: MainController = window.controller
        self._settings = settings

    def _choose(self, name: str, title: str, label: str, items: list[str]) -> int | None:
        """Which of `items` the user picks in a small modal list (None: cancelled)."""
        dialog = QInputDialog(self._window)
        dialog.setObjectName(name)
        dialog.setWindowTitle(title)
        ask_with_label(dialog, label)
        dialog.setComboBoxItems(items)
        dialog.setComboBoxEditable(False)
        if not dialog.exec():
            return None
        # By place, not text: two backups of one name made in one minute read alike.
        chosen = dialog.findChild(QComboBox)
        assert chosen is not None  # made by setComboBoxItems
        return chosen.currentIndex()

    def restore_into_another(self, backup: Backup) -> None:
        """Restore to…: a backup of this environment into another of the same version."""
        source = self.controller.service.get_environment(backup.environment_id)
        others = [e for e in self.controller.environments_model.records() if e.id != source.id]
        if not others:
            self._window.banner.show_message(
                Notification.INFO, self.tr("There is no other environment to restore into.")
            )
            return
        chosen = self._choose(
            "restoreToDialog",
            self.tr("Restore to another environment"),
            self.tr("Restore {backup} of {source} into:").format(
                backup=literal(backup.name), source=literal(source.name)
            ),
            [f"{e.name} ({e.version})" for e in others],
        )
        if chosen is not None:
            self.restore_backup(backup, others[chosen], source)

    def restore_to_folder(self, backup: Backup) -> None:
        """Restore to a folder…: the backup written into a new (or empty) folder."""
        folder = self._window.files.folder(
            self._window, "restoreToFolderDialog", self.tr("Choose a new or empty folder")
        )
        if folder is not None:
            self.controller.restore_to_folder(backup, folder)

    def show_restore_report(self, activity_id: int) -> None:
        """What the restore an activity entry records changed, as it was kept then."""

        def listed(rows: ChangeRows | None) -> None:
            if rows is None:
                self._window.banner.show_message(
                    Notification.INFO,
                    self.tr(
                        "This entry has no list of changes: only a restore or an import that "
                        "finished keeps one."
                    ),
                )
            else:
                ChangesDialog(
                    rows, None, checkable=False, parent=self._window, settings=self._settings
                ).exec()

        when_listed(
            self.controller,
            self._window.activity.show_report,
            lambda: self.controller.service.restore_report(activity_id),
            listed,
            lambda message: self._window.banner.show_message(Notification.ERROR, message),
        )

    def saver_of(self, backup: Backup) -> Callable[[str], None]:
        """Save… in the changes: one file of `backup`, where the user chooses."""
        return file_saver(
            self._window,
            self.controller,
            self._window.files,
            backup.name,
            lambda path, destination: self.controller.service.save_backup_file(
                backup.id, path, destination
            ),
        )

    def compare_backup(self, backup: Backup) -> None:
        """Compare with…: this backup beside another of its environment, or its folder now."""
        others = [b for b in self.controller.backups_model.records() if b.id != backup.id]
        choices = [None, *others]
        chosen = self._choose(
            "compareWithDialog",
            self.tr("Compare with"),
            self.tr("Compare {backup} with:").format(backup=literal(backup.name)),
            [self.tr("the folder as it is now")]
            + [f"{b.name} ({local_time(b.created_at)})" for b in others],
        )
        if chosen is None:
            return
        other = choices[chosen]
        environment = self.controller.service.get_environment(backup.environment_id)
        comparing = self.controller.dialog_work.compare(backup, other)
        contents = backup_and_other_contents(self.controller, environment, backup, other)
        save = self.saver_of(other) if other is not None else None
        comparing.succeeded.connect(
            lambda rows: ChangesDialog(
                rows, contents, False, self._window, save, self._settings
            ).exec()
        )
        comparing.failed.connect(
            lambda message, _error: self._window.banner.show_message(Notification.ERROR, message)
        )
        self.controller.runner.launch(comparing)

    def restore_backup(
        self,
        backup: Backup,
        target: Environment | None = None,
        source: Environment | None = None,
        only: list[str] | None = None,
    ) -> None:
        """The restore flow: refuse a busy environment or another version, confirm, start;
        into `target` (the selected environment unless given), a backup of `source`; `only`
        those paths chosen to begin with (None: all)."""
        reason = self.controller.why_unavailable(Needs.IDLE, backup)
        if reason is not None:
            self._window.banner.show_message(Notification.INFO, reason)
            return
        environment = target or self.controller.selected_environment
        try:
            self.controller.dialog_work.check_restorable_version(environment, backup.version)
        except VersionMismatchError as mismatch:
            self._window.ask_about_version_mismatch(mismatch)
            return
        if self._window.unlocking_store_first(
            environment, lambda: self.restore_backup(backup, target, source, only)
        ):
            return

        def preview(chosen: list[str] | None) -> RunningOperation:
            work = self.controller.dialog_work
            running = work.preview_restore(environment, backup, source, chosen)
            self.controller.runner.launch(running)
            return running

        contents = live_and_backup_contents(self.controller, environment, backup)
        save = self.saver_of(backup)
        dialog = RestoreBackupDialog(
            environment,
            backup,
            self._window,
            preview,
            contents,
            source,
            save,
            only,
            self._settings,
        )
        if dialog.exec():
            self._window.show_backups()
            running = self.controller.restore_backup(
                environment,
                backup,
                dialog.backup_first.isChecked(),
                dialog.only,
                source,
                dialog.previewed,
            )
            # Let go of off the window's thread once the restore ends: left to the dialog,
            # a preview of 200,000 changes was freed by the window's next full collection.
            shown = [dialog.previewed] if dialog.previewed is not None else []
            dialog.previewed = None
            running.finished.connect(lambda: self.controller.dialog_work.let_go_of(shown))
            # The folder changed after the preview: the dialog again, with the new one and
            # the paths chosen (else one Restore more would restore what was left alone).
            chosen = dialog.only
            running.failed.connect(
                lambda _message, error: (
                    isinstance(error, PreviewOutOfDateError)
                    and QTimer.singleShot(
                        0, lambda: self.restore_backup(backup, target, source, chosen)
                    )
                )
            )
        elif dialog.mismatch is not None:
            self._window.ask_about_version_mismatch(dialog.mismatch)

    def export_backup(self, backup: Backup) -> None:
        environment = self.controller.service.get_environment(backup.environment_id)
        options = ExportDialog(backup, environment.name, self._window)
        if not options.exec():
            return
        suggested = export_file_name(environment.name, backup.name)
        path = self._window.files.save_file(
            self._window,
            "exportFileDialog",
            self.tr("Export backup"),
            suggested,
            self.tr("EnvOps configuration files (*.envops.zip *.zip)"),
        )
        if path is not None:
            self.controller.export_backup(backup, path, options.passphrase())

    def delete_backup(self, backup: Backup) -> None:
        if self._window.confirm(
            "confirmDeleteBox",
            self.tr("Delete backup"),
            self.tr(
                "Move the backup {name} of {date} to Deleted? It can be recovered there "
                "for {days:g} days; then its content is freed."
            ).format(
                name=backup.name,
                date=backup.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                days=self.controller.service.bin_days(),
            ),
            self.tr("Delete"),
        ):
            self.controller.delete_backup(backup)

    def empty_bin(self) -> None:
        if self._window.confirm(
            "confirmEmptyBinBox",
            self.tr("Empty Deleted"),
            self.tr(
                "Free every backup in Deleted now, of every environment? They cannot be "
                "recovered afterwards."
            ),
            self.tr("Empty"),
        ):
            self.controller.empty_bin()
