"""About EnvOps Desktop: the version, and where the data and the logs are kept."""

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from envops_desktop import APP_NAME, __version__
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label, rich_label


class AboutDialog(QDialog):
    """Shows what a support request needs: version, data folder, log folder."""

    def __init__(self, data_dir: Path, log_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(self.tr("About {app}").format(app=APP_NAME))
        logo = QLabel(self)
        logo.setPixmap(icon("app").pixmap(64, 64))
        title = rich_label(f"<h2>{APP_NAME}</h2>", self)
        form = QFormLayout()
        for name, label, value in (
            ("aboutVersion", self.tr("Version:"), __version__),
            ("aboutDataDir", self.tr("Data folder:"), str(data_dir)),
            ("aboutLogDir", self.tr("Log folder:"), str(log_dir)),
        ):
            field = plain_label(value, self)
            field.setObjectName(name)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, field)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(logo, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(form)
        layout.addWidget(buttons)
