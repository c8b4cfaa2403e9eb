"""Native file dialogs that open in the folder the user last chose something in."""

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

_LAST_FOLDER = "dialogs/lastFolder"


class FileChooser:
    """Asks for a file or folder with the platform's dialog, remembering the last folder.

    Each dialog has an objectName, so tests answer it as a user would instead of replacing
    the function behind it.
    """

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    @property
    def last_folder(self) -> Path:
        saved = self._settings.value(_LAST_FOLDER)
        folder = Path(str(saved)) if saved else Path.home()
        return folder if folder.is_dir() else Path.home()

    def save_file(
        self, parent: QWidget, object_name: str, title: str, suggested_name: str, filters: str
    ) -> Path | None:
        dialog = self._dialog(parent, object_name, title, filters)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(str(self.last_folder / suggested_name))
        return self._answer(dialog)

    def open_file(self, parent: QWidget, object_name: str, title: str, filters: str) -> Path | None:
        dialog = self._dialog(parent, object_name, title, filters)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        return self._answer(dialog)

    def folder(self, parent: QWidget, object_name: str, title: str) -> Path | None:
        dialog = self._dialog(parent, object_name, title, "")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        chosen = self._answer(dialog, remember=False)
        if chosen is not None:
            self._settings.setValue(_LAST_FOLDER, str(chosen.parent))
        return chosen

    def _dialog(self, parent: QWidget, object_name: str, title: str, filters: str) -> QFileDialog:
        dialog = QFileDialog(parent, title, str(self.last_folder), filters)
        dialog.setObjectName(object_name)
        return dialog

    def _answer(self, dialog: QFileDialog, remember: bool = True) -> Path | None:
        if not dialog.exec() or not dialog.selectedFiles():
            return None
        chosen = Path(dialog.selectedFiles()[0])
        if remember:
            self._settings.setValue(_LAST_FOLDER, str(chosen.parent))
        return chosen
