"""Restore Backup: warns that the configuration will be erased, says what would change (worked
out on a worker while the dialog is open) and offers a backup first."""

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.main_controller import RestorePreview
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.controller.record_table_model import local_time
from envops_desktop.domain.changes import TreeChanges
from envops_desktop.domain.errors import VersionMismatchError
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.ui.busy_bar import BusyBar
from envops_desktop.ui.changes_dialog import ChangesDialog, Contents, when_listed
from envops_desktop.ui.dialog_buttons import cancel_or_erase
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label, rich, rich_label


class RestoreBackupDialog(QDialog):
    """Shows the backup's name, creation date and version, what the restore would change
    (from `preview`, a running operation whose result is the changes) and what it will not
    bring back exactly; Show changes… lets paths be unticked (`only`); Restore or Cancel."""

    def __init__(
        self,
        environment: Environment,
        backup: Backup,
        caveats: list[str] | None = None,
        parent: QWidget | None = None,
        preview: RunningOperation | None = None,
        contents: Contents | None = None,
        source: Environment | None = None,
        save: Callable[[str], None] | None = None,
        only: list[str] | None = None,
        settings: QSettings | None = None,
    ):
        super().__init__(parent)
        self._settings = settings  # where the changes view keeps its size
        self.setObjectName("restoreBackupDialog")
        self.setWindowTitle(self.tr("Restore backup"))
        warning_icon = QLabel(self)
        warning_icon.setPixmap(icon("warning").pixmap(32, 32))
        template = (
            self.tr(
                "<b>Restoring a previous backup will erase the current configuration of "
                "{env}.</b><br>Everything in {path} is replaced by the backup below."
            )
            if source is None
            else self.tr(
                "<b>Restoring this backup of {source} will erase the current configuration "
                "of {env}.</b><br>Everything in {path} is replaced by {source}'s backup below."
            )
        )
        text = rich(
            template,
            env=environment.name,
            path=environment.path,
            source=source.name if source is not None else "",
        )
        warning = rich_label(text, self)
        warning.setObjectName("restoreWarning")
        warning.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(warning_icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(warning, 1, Qt.AlignmentFlag.AlignTop)
        details = QFormLayout()
        for name, title, value in (
            ("backupName", self.tr("Backup:"), backup.name),
            ("backupCreated", self.tr("Created:"), local_time(backup.created_at)),
            ("backupVersion", self.tr("Version:"), backup.version),
        ):
            label = plain_label(value, self)
            label.setObjectName(name)
            details.addRow(title, label)
        self.only = only  # the paths chosen, or None: the whole backup
        self.previewed: TreeChanges | None = None  # what it was shown to change
        self._contents, self._save = contents, save
        self.counts = plain_label(self.tr("Working out what would change…"), self)
        self.counts.setObjectName("previewCounts")
        self.counts.setWordWrap(True)
        self.show_changes = QPushButton(self.tr("Show &changes…"), self)
        self.show_changes.setObjectName("showChangesButton")
        self.show_changes.setAccessibleName(self.tr("Show every path the restore would change"))
        self.show_changes.setEnabled(False)
        self.show_changes.clicked.connect(self._open_changes)
        # The counts on a row of their own: beside the button, QFormLayout gave a second
        # line of them no height, and cut them.
        details.addRow(self.tr("Changes:"), self.counts)
        self.working = BusyBar(self)
        self.working.setObjectName("previewBusyBar")
        self.working.setAccessibleName(self.tr("Working out what the restore would change"))
        button_row = QHBoxLayout()
        button_row.addWidget(self.show_changes)
        # The bar takes the row's room, for its time left; the stretch, where it is hidden.
        button_row.addWidget(self.working, 1)
        button_row.addStretch(0)
        details.addRow("", button_row)
        # Another version found by the preview: the dialog closes for the version box.
        self.mismatch: VersionMismatchError | None = None
        if preview is not None:
            preview.succeeded.connect(self._previewed)
            preview.failed.connect(self._preview_failed)
            self.working.follow(preview)
            self.finished.connect(preview.cancel)  # closed first: no need to finish it
        self.backup_first = QCheckBox(self.tr("&Back up the current configuration first"), self)
        self.backup_first.setObjectName("backupFirstCheckBox")
        self.backup_first.setAccessibleName(self.backup_first.text().replace("&", ""))
        self.backup_first.setChecked(True)
        buttons, self.restore_button = cancel_or_erase(self, self.tr("&Restore"))
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.setAccessibleName(self.tr("Restore the backup"))
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addSpacing(8)
        layout.addLayout(details)
        if caveats:
            notes = plain_label("\n".join(f"• {caveat}" for caveat in caveats), self)
            notes.setObjectName("restoreCaveats")
            notes.setWordWrap(True)
            layout.addWidget(notes)
        layout.addWidget(self.backup_first)
        layout.addWidget(buttons)
        # The height its wrapped texts take at that width: the size hint is for a narrower
        # dialog, whose taller text would leave a gap here.
        self.resize(520, layout.totalHeightForWidth(520))

    def _previewed(self, preview: RestorePreview) -> None:
        if preview.changes is None:
            assert preview.refusal is not None
            self._say(preview.refusal)
            self.restore_button.setEnabled(False)
            return
        self.previewed = preview.changes
        self._show_counts()
        self.show_changes.setEnabled(self._contents is not None)

    def _preview_failed(self, message: str, error: object) -> None:
        if isinstance(error, VersionMismatchError) and self.isVisible():
            self.mismatch = error
            self.reject()
            return
        self._say(message)

    def _show_counts(self) -> None:
        if self.only is not None:
            # Not a count: a folder ticked whole is one chosen path, and a path chosen
            # before the folder changed may have no change left when the dialog comes back.
            self._say(self.tr("Only the paths ticked in Show changes…: the rest stays as it is."))
        elif self.previewed is not None:
            self._say(self.previewed.summary)

    def _say(self, text: str) -> None:
        """`text` as the counts, the dialog grown to hold it: sized for one line of them, it
        would cut a longer text to that line's height."""
        self.counts.setText(text)
        self.layout().activate()  # else the layout answers for the text it laid out last
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _open_changes(self) -> None:
        assert self.previewed is not None and self._contents is not None
        previewed = self.previewed
        when_listed(
            self._contents.controller,
            self.show_changes,
            lambda: previewed,
            self._changes_listed,
            self._say,
            self.only,
        )

    def _changes_listed(self, rows: ChangeRows | None) -> None:
        if rows is None:
            return
        dialog = ChangesDialog(rows, self._contents, True, self, self._save, self._settings)
        if dialog.exec():
            self.only = dialog.selection()
            self._show_counts()
