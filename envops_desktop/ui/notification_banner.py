"""A colour-coded message across the top of the window that stays until dismissed."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from envops_desktop.controller.notifications import Notification
from envops_desktop.ui.label_text import plain_label

_STYLES = {
    Notification.SUCCESS: ("#e3f4e8", "#1e6b34", "#9fd4ae"),
    Notification.INFO: ("#e6effa", "#1d4f91", "#a9c4e8"),
    Notification.ERROR: ("#fde2e1", "#a11b14", "#f0a8a4"),
}


class NotificationBanner(QWidget):
    """Shows one message at a time (success, information or error) with a Dismiss button."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notificationBanner")
        self.kind = ""
        self._label = plain_label(parent=self)
        self._label.setObjectName("notificationText")
        self._label.setWordWrap(True)
        self._dismiss = QPushButton(self.tr("Dismiss"), self)
        self._dismiss.setObjectName("dismissButton")
        self._dismiss.setAccessibleName(self.tr("Dismiss notification"))
        self._dismiss.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addWidget(self._label, 1)
        layout.addWidget(self._dismiss)
        self.setAccessibleName(self.tr("Notification"))
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.hide()

    @property
    def text(self) -> str:
        return self._label.text()

    def show_message(self, kind: str, text: str) -> None:
        background, foreground, border = _STYLES.get(kind, _STYLES[Notification.INFO])
        self.kind = kind
        self.setStyleSheet(
            f"#notificationBanner {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 6px; }} #notificationText {{ color: {foreground}; }}"
        )
        self._label.setText(text)
        self.setAccessibleDescription(text)
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
