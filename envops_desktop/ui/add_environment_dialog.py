"""Add environment…: a name, a folder chosen with the native dialog, and where the version is."""

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.domain.errors import EnvOpsError, InvalidInputError
from envops_desktop.domain.models import MAX_COMMAND_SECONDS, RestoreCommand
from envops_desktop.ui.busy_bar import BusyBar
from envops_desktop.ui.file_chooser import FileChooser
from envops_desktop.ui.icons import icon
from envops_desktop.ui.tones import error_label


class AddEnvironmentDialog(QDialog):
    """Registers a configuration folder; errors from the service are shown inside the dialog."""

    def __init__(
        self, controller: MainController, files: FileChooser, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("addEnvironmentDialog")
        self.setWindowTitle(self.tr("Add environment"))
        self._controller = controller
        self._files = files
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText(self.tr("e.g. billing-production"))
        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("pathEdit")
        browse = QPushButton(icon("folder"), self.tr("Browse…"), self)
        browse.setObjectName("browseButton")
        browse.clicked.connect(self._choose_folder)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.version_radio = QRadioButton(self.tr("Recorded version"), self)
        self.version_radio.setChecked(True)
        self.version_edit = QLineEdit(self)
        self.version_edit.setObjectName("versionEdit")
        self.version_file_radio = QRadioButton(self.tr("Read from a file in the folder"), self)
        self.version_file_edit = QLineEdit(self)
        self.version_file_edit.setObjectName("versionFileEdit")
        # Text, not a placeholder: the usual name is a real answer, and Add stays enabled.
        self.version_file_edit.setText("VERSION")
        self.pre_command_edit = QLineEdit(self)
        self.pre_command_edit.setObjectName("preRestoreCommandEdit")
        self.pre_command_edit.setPlaceholderText(
            self.tr("optional, e.g. systemctl stop billing; if it fails, nothing changes")
        )
        self.command_edit = QLineEdit(self)
        self.command_edit.setObjectName("postRestoreCommandEdit")
        self.command_edit.setPlaceholderText(self.tr("optional, e.g. systemctl restart billing"))
        self.timeout_spin = QDoubleSpinBox(self)
        self.timeout_spin.setRange(1, MAX_COMMAND_SECONDS)
        self.timeout_spin.setValue(300)
        self.timeout_spin.setSuffix(self.tr(" s"))
        self.error_label = error_label("errorLabel", self)
        self.error_label.hide()
        for widget, name in (
            (self.name_edit, self.tr("Environment name")),
            (self.path_edit, self.tr("Configuration folder")),
            (browse, self.tr("Choose the configuration folder")),
            (self.version_radio, self.tr("Use a recorded version")),
            (self.version_edit, self.tr("Version")),
            (self.version_file_radio, self.tr("Read the version from a file")),
            (self.version_file_edit, self.tr("Version file")),
            (self.pre_command_edit, self.tr("Pre-restore command")),
            (self.command_edit, self.tr("Post-restore command")),
            (self.timeout_spin, self.tr("Timeout of each command")),
        ):
            widget.setAccessibleName(name)

        # In a widget of its own, to be held as a whole while the folder is looked at.
        self.form = QWidget(self)
        form = QFormLayout(self.form)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("&Name:"), self.name_edit)
        folder_label = QLabel(self.tr("&Folder:"), self)
        folder_label.setBuddy(self.path_edit)
        form.addRow(folder_label, path_row)
        form.addRow(self.version_radio, self.version_edit)
        form.addRow(self.version_file_radio, self.version_file_edit)
        form.addRow(self.tr("&Before the swap run:"), self.pre_command_edit)
        form.addRow(self.tr("After restore &run:"), self.command_edit)
        form.addRow(self.tr("&Timeout:"), self.timeout_spin)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Add"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.waiting_label = QLabel(self)
        self.waiting_label.setObjectName("waitingLabel")
        self.waiting_label.setTextFormat(Qt.TextFormat.PlainText)
        self.waiting_label.hide()
        self.working = BusyBar(self)
        self._adding: RunningOperation | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.waiting_label)
        layout.addWidget(self.working)
        layout.addWidget(self.buttons)
        for edit in (self.name_edit, self.path_edit, self.version_edit, self.version_file_edit):
            edit.textChanged.connect(self._update_ok)
        self.version_radio.toggled.connect(self._update_ok)
        self._update_ok()
        self.resize(560, self.sizeHint().height())

    def _choose_folder(self) -> None:
        folder = self._files.folder(
            self, "chooseFolderDialog", self.tr("Choose the configuration folder")
        )
        if folder is not None:
            self.path_edit.setText(str(folder))
            if not self.name_edit.text():
                self.name_edit.setText(folder.name)

    def _update_ok(self) -> None:
        by_file = self.version_file_radio.isChecked()
        self.version_edit.setEnabled(not by_file)
        self.version_file_edit.setEnabled(by_file)
        version_given = (self.version_file_edit if by_file else self.version_edit).text().strip()
        ready = bool(self.name_edit.text().strip() and self.path_edit.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            ready and bool(version_given)
        )

    def accept(self) -> None:
        """Add: the folder is looked at on a worker, the dialog waiting with its fields
        held; it closes once the environment is added, or says why it was not."""
        by_file = self.version_file_radio.isChecked()
        try:
            pre, post = (
                RestoreCommand.from_text(edit.text(), self.timeout_spin.value(), when)
                if edit.text().strip()
                else None
                for when, edit in (("pre", self.pre_command_edit), ("post", self.command_edit))
            )
            folder = self._folder()
        except (EnvOpsError, ValueError) as error:
            self._refused(str(error))
            return
        self._adding = self._controller.add_environment(
            self.name_edit.text(),
            folder,
            None if by_file else self.version_edit.text(),
            self.version_file_edit.text().strip() if by_file else None,
            post,
            pre,
        )
        # To slots of this dialog, not lambdas: Qt disconnects them if the dialog goes first.
        self._adding.succeeded.connect(self._added)
        self._adding.failed.connect(self._refused)
        self._hold(True, self.tr("Looking at {folder}…").format(folder=folder))
        self.working.follow(self._adding)
        self._controller.runner.launch(self._adding)

    def reject(self) -> None:
        """Cancel: an add still waiting on its folder records nothing when the folder
        answers."""
        if self._adding is not None:
            self._adding.cancel()
        super().reject()

    @Slot(object)
    def _added(self, _added: object) -> None:
        self._adding = None
        super().accept()

    @Slot(str)
    def _refused(self, sentence: str) -> None:
        self._adding = None
        self._hold(False, "")
        self.error_label.setText(sentence)
        self.error_label.show()

    def _hold(self, held: bool, waiting: str) -> None:
        # While the folder is looked at, nothing can be changed or added twice; Cancel can.
        self.form.setEnabled(not held)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not held)
        self.waiting_label.setText(waiting)
        self.waiting_label.setVisible(held)
        if held:
            self.error_label.hide()
        else:
            self._update_ok()

    def _folder(self) -> Path:
        """The folder typed in, "~" for the home folder as in a shell. A path relative to
        nothing the user can see (the app's working folder) is refused."""
        folder = Path(self.path_edit.text().strip()).expanduser()
        if not folder.is_absolute():
            raise InvalidInputError(
                self.tr(
                    "Give the folder's whole path, such as {example}, or choose it with Browse…"
                ).format(example=str(Path.home() / "billing"))
            )
        return folder
