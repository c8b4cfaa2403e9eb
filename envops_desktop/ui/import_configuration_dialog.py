"""Import configuration: restore an environment from a configuration file (issue 5)."""

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from envops_desktop.ui.main_window import MainWindow


class ImportConfigurationDialog(QDialog):
    """The dialog's frame; the drop zone and upload arrive with issue 5."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importConfigurationDialog")
        self.setWindowTitle(self.tr("Import configuration"))
        text = QLabel(self.tr("Restoring from a configuration file is not available yet."), self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)


def open_import_flow(window: "MainWindow", path: Path | None = None) -> None:
    ImportConfigurationDialog(window).exec()
