"""Update environment…: record the version the environment now runs, what it excludes, and
whether teammates' backups may hold links that lead out of its folder."""

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import MainController
from envops_desktop.domain.errors import EnvOpsError
from envops_desktop.domain.models import Environment


class UpdateEnvironmentDialog(QDialog):
    """Sets the recorded version (environments with a version file change that file instead)
    and the patterns of paths the environment's backups leave out and its restores leave
    alone, one a line."""

    def __init__(
        self,
        controller: MainController,
        environment: Environment,
        suggested_version: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("updateEnvironmentDialog")
        self.setWindowTitle(self.tr("Update {name}").format(name=environment.name))
        self._controller = controller
        self._environment = environment
        # After a version mismatch: the backup's version, the one the user is updating to.
        self.version_edit = QLineEdit(suggested_version or environment.version, self)
        self.version_edit.setObjectName("versionEdit")
        self.version_edit.setAccessibleName(self.tr("Version"))
        self.version_edit.selectAll()
        self.error_label = QLabel(self)
        self.error_label.setObjectName("errorLabel")
        self.error_label.setStyleSheet("color: #a11b14")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        if environment.version_file is not None:
            # The folder says what it runs: its excludes are all there is to change here.
            self.version_edit.setReadOnly(True)
            said = self.tr(
                "{name} reads its version from {file}: change that file in the environment's "
                "folder to change it."
            ).format(name=environment.name, file=environment.version_file)
        else:
            said = self.tr(
                "Record the version {name} runs now, after you have updated it. Backups can "
                "only be restored into an environment running their version."
            ).format(name=environment.name)
        intro = QLabel(said, self)
        intro.setWordWrap(True)
        self.excludes_edit = QPlainTextEdit("\n".join(environment.excludes), self)
        self.excludes_edit.setObjectName("excludesEdit")
        self.excludes_edit.setAccessibleName(self.tr("Excluded paths, one pattern a line"))
        self.excludes_edit.setPlaceholderText("logs/\n*.tmp\ncache/**")
        self.excludes_edit.setTabChangesFocus(True)
        self.excludes_edit.setFixedHeight(80)
        self.links_out_box = QCheckBox(
            self.tr("&Take in teammates' backups whose links lead out of the folder"), self
        )
        self.links_out_box.setObjectName("allowLinksOutBox")
        self.links_out_box.setChecked(environment.allow_links_out)
        self.links_out_box.setToolTip(
            self.tr(
                "A copy of /etc links to ../usr/lib/os-release. Backups from a shared store "
                "that hold such links are refused unless this is ticked."
            )
        )
        form = QFormLayout()
        form.addRow(self.tr("&Version:"), self.version_edit)
        form.addRow(self.tr("E&xclude:"), self.excludes_edit)
        form.addRow("", self.links_out_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Update"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.resize(440, self.sizeHint().height())

    def accept(self) -> None:
        patterns = [line for line in self.excludes_edit.toPlainText().splitlines() if line.strip()]
        try:
            if tuple(p.strip() for p in patterns) != self._environment.excludes:
                self._controller.set_excludes(self._environment.id, patterns)
            if self.links_out_box.isChecked() != self._environment.allow_links_out:
                self._controller.allow_links_out(
                    self._environment.id, self.links_out_box.isChecked()
                )
            if self.version_edit.text().strip() != self._environment.version:
                self._controller.update_environment_version(
                    self._environment.id, self.version_edit.text()
                )
        except EnvOpsError as error:
            self.error_label.setText(str(error))
            self.error_label.show()
            return
        super().accept()
