"""macOS hands a double-clicked document to the running app as a QFileOpenEvent."""

from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent

from envops_desktop.ui.main_window import MainWindow


class FileOpenFilter(QObject):
    """Installed on the application: a configuration file opened from Finder opens Import."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = Path(event.file())
            if path.suffix.lower() == ".zip":
                self._window.open_configuration_file(path)
                return True
        return super().eventFilter(watched, event)
