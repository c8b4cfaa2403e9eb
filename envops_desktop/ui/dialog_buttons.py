"""The buttons of a dialog whose action erases a configuration."""

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton


def cancel_or_erase(dialog: QDialog, text: str) -> tuple[QDialogButtonBox, QPushButton]:
    """Cancel, and the button (`text`) that goes ahead and erases; both answer `dialog`.

    Cancel is the default, so that Enter pressed anywhere but on the button itself erases
    nothing: otherwise a button box makes its first accepting button the default, and Enter
    after unticking "Back up the current configuration first" replaced the configuration
    with no backup.
    """
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, dialog)
    erase = buttons.addButton(text, QDialogButtonBox.ButtonRole.AcceptRole)
    buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons, erase
