"""Labels and message boxes that say which kind of text they show: markup only where we
wrote it.

A QLabel left to guess reads its text as markup when it sees a tag, and markup drops what it
does not know: a folder named `/srv/<tenant>/conf` was shown as `/srv//conf` in the warning
of what a restore erases, and a configuration file's own environment name could add lines
of its choosing to the Import dialog. So a label that shows a name is plain text, and one
with markup of ours puts every name in with `rich`.
"""

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel, QMessageBox, QWidget

from envops_desktop.domain.paths import shown

# Each space but the last of a run: markup would fold "a  b" into "a b".
_FOLDED = re.compile(" (?= )")
# A stretch of a name with nowhere to break a line (a space or a "/"), up to where one is
# given: a folder named by a 192-digit hash made the Restore dialog 1,470 pixels wide.
_UNBROKEN = re.compile(r"[^\s/]{40}(?=[^\s/])")
_MAY_BREAK = "\u200b"  # zero width space: a line may break here, and nothing is shown


def rich(template: str, **names: object) -> str:
    """`template`, markup of ours, with each of `names` put in as the text it is."""
    return template.format(**{key: _as_typed(value) for key, value in names.items()})


def _as_typed(value: object) -> str:
    # `shown`: a byte of a name that is not UTF-8 as \xNN, where Qt would drop it.
    breakable = _UNBROKEN.sub(lambda run: run[0] + _MAY_BREAK, shown(str(value)))
    return _FOLDED.sub("&nbsp;", html.escape(breakable, quote=False))


def literal(name: str) -> str:
    """`name` for the text of a button, a menu entry or a field's label, where "&" marks
    the Alt key: "R&D" shown so, not as "RD" with Alt+D."""
    return name.replace("&", "&&")


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows `text`, and whatever it is given later, exactly as it is."""
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def rich_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows markup: `text` and later texts made with `rich`, or of ours alone."""
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def plain_box(
    kind: QMessageBox.Icon, title: str, text: str, parent: QWidget | None = None
) -> QMessageBox:
    """A message box that shows `text`, and the informative text it is given, as it is."""
    box = QMessageBox(kind, title, text, parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def ask_with_label(dialog: QInputDialog, text: str) -> None:
    """Give `dialog` the label `text` (names in it `literal`), shown as it is."""
    dialog.setLabelText(text)
    label = dialog.findChild(QLabel)
    assert label is not None  # made by setLabelText
    label.setTextFormat(Qt.TextFormat.PlainText)
