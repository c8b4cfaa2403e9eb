"""Asking for a passphrase, hidden as it is typed."""

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from envops_desktop.ui.label_text import ask_with_label


def ask_passphrase(parent: QWidget, object_name: str, title: str, label: str) -> str | None:
    """The passphrase the user typed, or None when they cancelled or typed nothing."""
    ask = QInputDialog(parent)
    ask.setObjectName(object_name)
    ask.setWindowTitle(title)
    ask_with_label(ask, label)
    ask.setTextEchoMode(QLineEdit.EchoMode.Password)
    if not ask.exec() or not ask.textValue():
        return None
    return ask.textValue()
