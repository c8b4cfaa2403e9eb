"""Colours that mean something (an error, a change, a place to drop a file), each in a light
and a dark version: text is drawn in the palette's colour, so a tint behind it or a colour
of its own must suit the palette the window has, the desktop's or the one chosen."""

from dataclasses import dataclass

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from envops_desktop.ui.label_text import plain_label


@dataclass(frozen=True)
class DiffTones:
    """A text diff's backgrounds: a changed, added or removed line's, and the stronger one
    of the characters that changed in a changed line."""

    changed_line: str
    added_line: str
    removed_line: str
    changed_text: str


@dataclass(frozen=True)
class Tones:
    """One palette's colours of meaning."""

    error_text: str
    drop_border: str
    drop_background: str
    accept_border: str
    accept_background: str
    refuse_border: str
    refuse_background: str
    diff: DiffTones


LIGHT_TONES = Tones(
    error_text="#a11b14",
    drop_border="#9aa7b8",
    drop_background="#f7f9fc",
    accept_border="#2b5797",
    accept_background="#e6effa",
    refuse_border="#a11b14",
    refuse_background="#fde2e1",
    diff=DiffTones(
        changed_line="#fff8d9",
        added_line="#e6f8ea",
        removed_line="#fde8e8",
        changed_text="#ffe27a",
    ),
)
DARK_TONES = Tones(
    error_text="#ff8a80",
    drop_border="#5c6677",
    drop_background="#25272b",
    accept_border="#6ea8fe",
    accept_background="#1f3350",
    refuse_border="#ff8a80",
    refuse_background="#4a2326",
    diff=DiffTones(
        changed_line="#3b3518",
        added_line="#1e3a27",
        removed_line="#3f2124",
        changed_text="#6e5a12",
    ),
)


def tones_for(palette: QPalette) -> Tones:
    """The tones that suit `palette`: the dark ones behind light text."""
    text = palette.color(QPalette.ColorRole.Text).lightness()
    base = palette.color(QPalette.ColorRole.Base).lightness()
    return DARK_TONES if text > base else LIGHT_TONES


def current_tones() -> Tones:
    """The tones of the application's palette now (read it on the GUI thread)."""
    return tones_for(QApplication.palette())


def error_label(object_name: str, parent: QWidget) -> QLabel:
    """A word-wrapped label for a sentence saying what went wrong, in the error colour."""
    label = plain_label(parent=parent)
    label.setObjectName(object_name)
    label.setStyleSheet(f"color: {current_tones().error_text}")
    label.setWordWrap(True)
    return label
