"""Native file dialogs that open in the folder the user last chose something in."""

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.service.folder_reach import is_folder

_LAST_FOLDER = "dialogs/lastFolder"
# What a local disk, or a share that answers, takes to say whether the last folder is one.
_ANSWER_S = 0.2


class FileChooser:
    """Asks for a file or folder with the platform's dialog, remembering the last folder.

    Each dialog has an objectName, so tests answer it as a user would instead of replacing
    the function behind it.
    """

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    @property
    def last_folder(self) -> Path:
        """The folder last chosen in, or the home folder if it is gone, or on a share that
        has gone away or does not answer within a moment (the window waits for it)."""
        saved = self._settings.value(_LAST_FOLDER)
        if not saved:
            return Path.home()
        folder = Path(str(saved))
        try:
            return folder if is_folder(folder, within=_ANSWER_S) else Path.home()
        except OperationFailedError:  # its share has gone away, or does not answer
            return Path.home()

    def save_file(
        self, parent: QWidget, object_name: str, title: str, suggested_name: str, filters: str
    ) -> Path | None:
        folder = self.last_folder
        dialog = self._dialog(parent, object_name, title, filters, folder)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(str(folder / suggested_name))
        return self._answer(dialog)

    def open_file(self, parent: QWidget, object_name: str, title: str, filters: str) -> Path | None:
        dialog = self._dialog(parent, object_name, title, filters, self.last_folder)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        return self._answer(dialog)

    def folder(self, parent: QWidget, object_name: str, title: str) -> Path | None:
        dialog = self._dialog(parent, object_name, title, "", self.last_folder)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        chosen = self._answer(dialog, remember=False)
        if chosen is not None:
            self._settings.setValue(_LAST_FOLDER, str(chosen.parent))
        return chosen

    def _dialog(
        self, parent: QWidget, object_name: str, title: str, filters: str, folder: Path
    ) -> QFileDialog:
        dialog = QFileDialog(parent, title, str(folder), filters)
        dialog.setObjectName(object_name)
        return dialog

    def _answer(self, dialog: QFileDialog, remember: bool = True) -> Path | None:
        if not dialog.exec() or not dialog.selectedFiles():
            return None
        chosen = Path(dialog.selectedFiles()[0])
        if remember:
            self._settings.setValue(_LAST_FOLDER, str(chosen.parent))
        return chosen
