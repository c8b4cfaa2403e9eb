"""The Overview of the selected environment: its details as they are now."""

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from envops_desktop.controller.record_table_model import local_time
from envops_desktop.domain.models import Backup, Environment, RestoreCommand
from envops_desktop.ui.label_text import plain_label, rich_label


class EnvironmentOverview(QWidget):
    """Name, status, version, folder, restore commands, last backup and last restore."""

    FIELDS = (
        "name",
        "status",
        "version",
        "path",
        "version source",
        "pre-restore command",
        "post-restore command",
        "last backup",
        "last restored",
        "last updated",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("environmentOverview")
        self.setAccessibleName(self.tr("Environment overview"))
        layout = QFormLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setVerticalSpacing(10)
        self.values: dict[str, QLabel] = {}
        titles = (
            self.tr("Name"),
            self.tr("Status"),
            self.tr("Version"),
            self.tr("Folder"),
            self.tr("Version source"),
            self.tr("Before the swap"),
            self.tr("After restore"),
            self.tr("Last backup"),
            self.tr("Last restored"),
            self.tr("Last updated"),
        )
        for field, title in zip(self.FIELDS, titles, strict=True):
            value = plain_label(parent=self)
            value.setObjectName(f"overview_{field.replace(' ', '_').replace('-', '_')}")
            value.setTextInteractionFlags(value.textInteractionFlags().TextSelectableByMouse)
            value.setWordWrap(True)
            layout.addRow(rich_label(f"<b>{title}</b>", self), value)
            self.values[field] = value
        self.show_environment(None, None)

    def show_environment(self, env: Environment | None, last_restored: Backup | None) -> None:
        if env is None:
            for label in self.values.values():
                label.setText("—")
            return
        restored = "—"
        if last_restored is not None:
            restored = f"{last_restored.name} ({last_restored.version})"
        texts = {
            "name": env.name,
            "status": env.status.value,
            "version": env.version,
            "path": env.path,
            "version source": (
                self.tr("file {name}").format(name=env.version_file)
                if env.version_file
                else self.tr("recorded")
            ),
            "pre-restore command": self._command_text(env.pre_restore_command),
            "post-restore command": self._command_text(env.post_restore_command),
            "last backup": local_time(env.last_backup_at),
            "last restored": restored,
            "last updated": local_time(env.updated_at),
        }
        for field, text in texts.items():
            self.values[field].setText(text)

    def _command_text(self, command: RestoreCommand | None) -> str:
        if command is None:
            return "—"
        timeout = self.tr(" (timeout {s:g} s)").format(s=command.timeout_seconds)
        return command.line + timeout
