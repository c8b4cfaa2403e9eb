"""The Export dialog: what a backup is exported as, before the file is chosen."""

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.domain.models import Backup
from envops_desktop.ui.label_text import rich, rich_label


class ExportDialog(QDialog):
    """Export a backup as a configuration file, protected by a passphrase if asked; its
    Save as… button leads on to the system's file dialog."""

    def __init__(self, backup: Backup, environment_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(self.tr("Export backup"))
        intro = rich_label(
            rich(
                self.tr(
                    "Export <b>{backup}</b> of {env} as a configuration file, which another "
                    "workstation can import."
                ),
                backup=backup.name,
                env=environment_name,
            ),
            self,
        )
        intro.setWordWrap(True)
        self.encrypt = QCheckBox(self.tr("&Protect it with a passphrase (safe to mail)"), self)
        self.encrypt.setObjectName("encryptCheckBox")
        self.passphrase_edit = self._hidden_edit("exportPassphraseEdit", self.tr("Passphrase"))
        self.repeat_edit = self._hidden_edit(
            "exportPassphraseRepeatEdit", self.tr("The same passphrase again")
        )
        self.note = QLabel(self)
        self.note.setObjectName("exportPassphraseNote")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton(
            self.tr("&Save as…"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.save_button.setObjectName("exportSaveButton")
        self.save_button.setDefault(True)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.encrypt, self.passphrase_edit, self.repeat_edit, self.note):
            layout.addWidget(widget)
        layout.addWidget(self.buttons)
        self.encrypt.toggled.connect(self._update)
        self.passphrase_edit.textChanged.connect(self._update)
        self.repeat_edit.textChanged.connect(self._update)
        self._update()

    def _hidden_edit(self, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setPlaceholderText(placeholder)
        edit.setAccessibleName(placeholder)  # a placeholder is not read out as a label is
        return edit

    def _update(self) -> None:
        protect = self.encrypt.isChecked()
        for edit in (self.passphrase_edit, self.repeat_edit):
            edit.setEnabled(protect)
        typed, again = self.passphrase_edit.text(), self.repeat_edit.text()
        if not protect:
            self.note.setText(
                self.tr("The file holds the configuration as it is, passwords included.")
            )
        elif again and typed != again:
            self.note.setText(self.tr("The two passphrases differ."))
        else:
            self.note.setText(
                self.tr(
                    "Whoever imports the file needs the passphrase: send it another way than "
                    "the file. Lose it and the file cannot be read."
                )
            )
        self.save_button.setEnabled(not protect or (bool(typed) and typed == again))

    def passphrase(self) -> str | None:
        """The passphrase to protect the file with, or None for a plain file."""
        return self.passphrase_edit.text() if self.encrypt.isChecked() else None
