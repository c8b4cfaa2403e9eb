"""The upload space of the Import dialog: accepts one configuration file (or an archive
another tool made), dragged or chosen."""

import os
from pathlib import Path
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QCoreApplication, QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label
from envops_desktop.ui.tones import current_tones

# Configuration files are zips; other tools' archives are zips or tars, compressed or not.
ACCEPTED_SUFFIXES = (
    ".zip",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.zst",
    ".tzst",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
)


def _tr(text: str) -> str:
    return QCoreApplication.translate("DropZone", text)


def refusal_reason(mime: QMimeData) -> str | None:
    """Why a drag cannot be dropped here, or None when it holds exactly one configuration file."""
    urls = [url for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
    if not urls:
        return _tr("Only files can be dropped here.")
    if len(urls) > 1:
        return _tr("Drop one configuration file at a time.")
    path = _local_path(urls[0])
    # Judged by its name: a file on a share that hangs would hold the window at each move of
    # the drag. What it holds is read on a worker once dropped (a folder named .zip too).
    if path.name.lower().endswith(ACCEPTED_SUFFIXES):
        return None
    if _is_folder(path):
        return _tr("{name} is a folder; drop a configuration file or archive.").format(
            name=path.name
        )
    return _tr(
        "{name} is not a configuration file or archive (.zip, .tar, .tar.gz, .tar.zst)."
    ).format(name=path.name)


def _is_folder(path: Path) -> bool:
    # Only to say "folder" rather than "not a configuration file": refused either way.
    try:
        return path.is_dir()
    except OSError:  # on a share whose server is gone
        return False


def dropped_file(mime: QMimeData) -> Path | None:
    return None if refusal_reason(mime) else _local_path(mime.urls()[0])


def _local_path(url: QUrl) -> Path:
    """The file a dropped `url` names. A file manager writes each byte of a name that is not
    UTF-8 as %XX (`caf%E9.zip`), which `toLocalFile` turns into U+FFFD, a name no file has:
    the bytes are read here instead, as Python names such a file."""
    if os.name != "posix" or url.host() not in ("", "localhost"):
        return Path(url.toLocalFile())
    encoded = url.path(QUrl.ComponentFormattingOption.FullyEncoded)
    return Path(os.fsdecode(unquote_to_bytes(encoded)))


class DropZone(QFrame):
    """Highlights for an acceptable file, says why for anything else, emits the dropped path."""

    file_dropped = Signal(Path)
    choose_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAccessibleName(self.tr("Drop a configuration file here"))
        self.setAcceptDrops(True)
        self.setMinimumHeight(150)
        self.setProperty("state", "idle")
        tones = current_tones()
        self.setStyleSheet(
            f"#dropZone {{ border: 2px dashed {tones.drop_border}; border-radius: 8px;"
            f" background: {tones.drop_background}; }}"
            f"#dropZone[state='accept'] {{ border-color: {tones.accept_border};"
            f" background: {tones.accept_background}; }}"
            f"#dropZone[state='refuse'] {{ border-color: {tones.refuse_border};"
            f" background: {tones.refuse_background}; }}"
        )
        picture = QLabel(self)
        picture.setPixmap(icon("import").pixmap(36, 36))
        self.message = plain_label(self.tr("Drag and drop a configuration file here, or"), self)
        self.message.setObjectName("dropZoneMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.choose_button = QPushButton(icon("file"), self.tr("&Choose file…"), self)
        self.choose_button.setObjectName("chooseFileButton")
        self.choose_button.setAccessibleName(self.tr("Choose a configuration file"))
        self.choose_button.clicked.connect(self.choose_requested)
        layout = QVBoxLayout(self)
        for widget in (picture, self.message, self.choose_button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        self._idle_text = self.message.text()

    def _set_state(self, state: str, text: str) -> None:
        self.setProperty("state", state)
        self.style().unpolish(self)
        self.style().polish(self)
        self.message.setText(text)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        reason = refusal_reason(event.mimeData())
        if reason is None:
            self._set_state(
                "accept",
                self.tr("Release to upload {name}").format(
                    name=dropped_file(event.mimeData()).name
                ),
            )
            event.acceptProposedAction()
        else:
            self._set_state("refuse", reason)
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if refusal_reason(event.mimeData()) is None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_state("idle", self._idle_text)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = dropped_file(event.mimeData())
        self._set_state("idle", self._idle_text)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.file_dropped.emit(path)

    @property
    def state(self) -> str:
        return str(self.property("state"))
