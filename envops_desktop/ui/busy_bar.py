"""A moving bar beside work that cannot say how far it has got."""

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QProgressBar, QWidget

from envops_desktop.controller.operation_runner import RunningOperation

# Work quicker than this shows no bar: it would only flash.
SHOWN_AFTER_MS = 1000


class BusyBar(QProgressBar):
    """Shown once the operations it follows have run a second, until the last has ended.

    Working out what a restore or an import would change reports no progress: over
    200,000 files it takes five seconds or more, and a line of text that stays the same
    that long looks like a dialog that has hung.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 0)  # busy: no figure to show
        self.setTextVisible(False)
        self.setMaximumHeight(self.fontMetrics().height())
        self.hide()
        self._following: set[RunningOperation] = set()
        self._after_a_second = QTimer(self)
        self._after_a_second.setSingleShot(True)
        self._after_a_second.setInterval(SHOWN_AFTER_MS)
        self._after_a_second.timeout.connect(self._show_if_working)

    def follow(self, running: RunningOperation) -> None:
        """Show the bar while `running` runs, from its first second on."""
        # To a slot of this bar, not a lambda: Qt disconnects it when the dialog goes first.
        running.finished.connect(self._ended)
        if not self._following:
            self._after_a_second.start()
        self._following.add(running)

    @Slot()
    def _ended(self) -> None:
        self._following.discard(self.sender())  # type: ignore[arg-type]
        if not self._following:
            self._after_a_second.stop()
            self.hide()

    @Slot()
    def _show_if_working(self) -> None:
        self.setVisible(bool(self._following))
