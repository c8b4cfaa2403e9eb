"""The upload space of the Import dialog: accepts one configuration file (or an archive
another tool made), dragged or chosen."""

import os
import time
from pathlib import Path
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QCoreApplication, QMimeData, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from envops_desktop.service.folder_reach import LookWithoutWaiting
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


# A refused drag gets no leave event: the refusal stays said, and whether it was a folder
# is waited for this long, past any disk that answers.
_LOOK_FOR_S = 5.0


def _tr(text: str) -> str:
    return QCoreApplication.translate("DropZone", text)


def refusal_reason(mime: QMimeData) -> str | None:
    """Why a drag cannot be dropped here, or None when it holds exactly one configuration file.

    Judged by the names alone: a file on a share that hangs would hold the window at each
    move of the drag. What it holds is read on a worker once dropped (a folder named .zip
    too)."""
    path = _the_one_path(mime)
    if isinstance(path, str):
        return path
    if path.name.lower().endswith(ACCEPTED_SUFFIXES):
        return None
    return _tr(
        "{name} is not a configuration file or archive (.zip, or .tar, compressed or not: "
        ".tar.gz, .tar.zst, .tar.bz2, .tar.xz)."
    ).format(name=path.name)


def _the_one_path(mime: QMimeData) -> Path | str:
    """The one local file `mime` carries, or why it does not carry exactly one."""
    urls = [url for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
    if not urls:
        return _tr("Only files can be dropped here.")
    if len(urls) > 1:
        return _tr("Drop one configuration file at a time.")
    return _local_path(urls[0])


def _a_folder(path: Path) -> str:
    return _tr("{name} is a folder; drop a configuration file or archive.").format(name=path.name)


def dropped_file(mime: QMimeData) -> Path | None:
    """The configuration file a drag carries, or None when `refusal_reason` refuses it."""
    path = _the_one_path(mime)
    return path if isinstance(path, Path) and refusal_reason(mime) is None else None


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
        self._look: tuple[Path, LookWithoutWaiting, float] | None = None  # and until when
        self._answer_timer = QTimer(self)
        self._answer_timer.setInterval(20)
        self._answer_timer.timeout.connect(self._say_if_folder)

    def _set_state(self, state: str, text: str) -> None:
        self.setProperty("state", state)
        self.style().unpolish(self)
        self.style().polish(self)
        self.message.setText(text)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        self._stop_looking()
        reason = refusal_reason(event.mimeData())
        if reason is None:
            self._set_state(
                "accept",
                self.tr("Release to upload {name}").format(
                    name=dropped_file(event.mimeData()).name
                ),
            )
            event.acceptProposedAction()
            return
        self._set_state("refuse", reason)
        event.ignore()
        path = _the_one_path(event.mimeData())
        if isinstance(path, Path):
            # Only to say "folder" rather than "not a configuration file", refused either
            # way: asked off the window's thread, and said once the disk answers.
            self._look = (path, LookWithoutWaiting(path), time.monotonic() + _LOOK_FOR_S)
            self._answer_timer.start()

    def _say_if_folder(self) -> None:
        if self._look is None:
            return
        path, look, until = self._look
        if look.is_folder is not None or time.monotonic() > until:
            self._stop_looking()
            if look.is_folder:
                self.message.setText(_a_folder(path))

    def _stop_looking(self) -> None:
        self._answer_timer.stop()
        self._look = None

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        # Only a drag accepted as it entered moves on to here (what is dragged stays the same
        # for the whole drag): judged once, then.
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._stop_looking()
        self._set_state("idle", self._idle_text)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._stop_looking()
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
