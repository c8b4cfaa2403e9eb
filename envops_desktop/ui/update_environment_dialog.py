"""Update environment…: record the version the environment now runs, what it excludes, the
commands run around its restores, and whether teammates' backups may hold links that lead
out of its folder."""

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import MainController
from envops_desktop.domain.errors import EnvOpsError
from envops_desktop.domain.models import Environment, RestoreCommand
from envops_desktop.ui.label_text import plain_label
from envops_desktop.ui.tones import error_label


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
        self.error_label = error_label("errorLabel", self)
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
        intro = plain_label(said, self)
        intro.setWordWrap(True)
        self.excludes_edit = QPlainTextEdit("\n".join(environment.excludes), self)
        self.excludes_edit.setObjectName("excludesEdit")
        self.excludes_edit.setAccessibleName(self.tr("Excluded paths, one pattern a line"))
        self.excludes_edit.setPlaceholderText("logs/\n*.tmp\ncache/**")
        self.excludes_edit.setToolTip(
            self.tr(
                "One pattern a line, as in .gitignore: logs/ is a folder at any depth, *.tmp "
                "a name at any depth, /build/ the top folder's build only, cache/** all that "
                "cache holds, !keep.log takes keep.log back; a line starting with # is a note."
            )
        )
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
        self.command_edits = {}
        for when, name, current in (
            ("pre", "preRestoreCommandEdit", environment.pre_restore_command),
            ("post", "postRestoreCommandEdit", environment.post_restore_command),
        ):
            edit = QLineEdit(current.line if current else "", self)
            edit.setObjectName(name)
            edit.setPlaceholderText(self.tr("none"))
            self.command_edits[when] = (edit, current)
        self.command_edits["pre"][0].setAccessibleName(self.tr("Pre-restore command"))
        self.command_edits["post"][0].setAccessibleName(self.tr("Post-restore command"))
        form = QFormLayout()
        form.addRow(self.tr("&Version:"), self.version_edit)
        form.addRow(self.tr("E&xclude:"), self.excludes_edit)
        form.addRow(self.tr("&Before the swap run:"), self.command_edits["pre"][0])
        form.addRow(self.tr("After restore &run:"), self.command_edits["post"][0])
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
            for when, (edit, current) in self.command_edits.items():
                text = edit.text().strip()
                if text != (current.line if current else ""):
                    timeout = current.timeout_seconds if current else 300.0
                    command = RestoreCommand.from_text(text, timeout, when) if text else None
                    self._controller.set_restore_command(self._environment.id, when, command)
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
