"""Restore Backup: warns that the configuration will be erased and offers a backup first."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.record_table_model import local_time
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.ui.icons import icon


class RestoreBackupDialog(QDialog):
    """Shows the backup's name, creation date and version, and what it will not bring back
    exactly; Restore or Cancel."""

    def __init__(
        self,
        environment: Environment,
        backup: Backup,
        caveats: list[str] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("restoreBackupDialog")
        self.setWindowTitle(self.tr("Restore backup"))
        warning_icon = QLabel(self)
        warning_icon.setPixmap(icon("warning").pixmap(32, 32))
        warning = QLabel(
            self.tr(
                "<b>Restoring a previous backup will erase the current configuration of "
                "{env}.</b><br>Everything in {path} is replaced by the backup below."
            ).format(env=environment.name, path=environment.path),
            self,
        )
        warning.setObjectName("restoreWarning")
        warning.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(warning_icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(warning, 1)
        details = QFormLayout()
        for name, title, value in (
            ("backupName", self.tr("Backup:"), backup.name),
            ("backupCreated", self.tr("Created:"), local_time(backup.created_at)),
            ("backupVersion", self.tr("Version:"), backup.version),
        ):
            label = QLabel(value, self)
            label.setObjectName(name)
            details.addRow(title, label)
        self.backup_first = QCheckBox(self.tr("&Back up the current configuration first"), self)
        self.backup_first.setObjectName("backupFirstCheckBox")
        self.backup_first.setAccessibleName(self.backup_first.text().replace("&", ""))
        self.backup_first.setChecked(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.restore_button = buttons.addButton(
            self.tr("&Restore"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.setAccessibleName(self.tr("Restore the backup"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addSpacing(8)
        layout.addLayout(details)
        if caveats:
            notes = QLabel("\n".join(f"• {caveat}" for caveat in caveats), self)
            notes.setObjectName("restoreCaveats")
            notes.setWordWrap(True)
            layout.addWidget(notes)
        layout.addWidget(self.backup_first)
        layout.addWidget(buttons)
        self.resize(480, self.sizeHint().height())
