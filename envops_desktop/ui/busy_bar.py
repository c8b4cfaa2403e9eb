"""A bar beside work that runs a while: moving until the work can say how far it has got."""

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QProgressBar, QWidget

from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.domain.progress import Progress

# Work quicker than this shows no bar: it would only flash.
SHOWN_AFTER_MS = 1000


class BusyBar(QProgressBar):
    """Shown once the operations it follows have run a second, until the last has ended.

    Working out what a restore or an import would change takes five seconds or more over
    200,000 files. Its first phase, looking at the folder, has no total: the bar moves.
    Each phase after it has one (the files' attributes, what changed, the folder's entries,
    the backup's files): the bar fills, with the time taken and the time left, as the
    status bar shows them.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._moving()
        self.setMaximumHeight(self.fontMetrics().height() + 4)
        self.hide()
        self._following: set[RunningOperation] = set()
        self._after_a_second = QTimer(self)
        self._after_a_second.setSingleShot(True)
        self._after_a_second.setInterval(SHOWN_AFTER_MS)
        self._after_a_second.timeout.connect(self._show_if_working)

    def follow(self, running: RunningOperation) -> None:
        """Show the bar while `running` runs, from its first second on."""
        # To slots of this bar, not lambdas: Qt disconnects them when the dialog goes first.
        # Gone with the outcome, which the dialog shows at once, not with the worker's thread,
        # which on a busy machine ends tens of milliseconds later; `finished` as well, should
        # an operation end with no outcome.
        for ended in (running.succeeded, running.failed, running.cancelled, running.finished):
            ended.connect(self._ended)
        running.progressed.connect(self._progressed)
        if not self._following:
            self._after_a_second.start()
        self._following.add(running)

    def _moving(self) -> None:
        self.setRange(0, 0)  # no figure to show
        self.setTextVisible(False)
        self.setToolTip("")

    @Slot(object)
    def _progressed(self, progress: Progress) -> None:
        running = self.sender()
        if progress.total <= 0 or not isinstance(running, RunningOperation):
            self._moving()
            return
        self.setRange(0, 100)
        self.setValue(progress.percent)
        self.setTextVisible(True)
        self.setFormat(f"%p% · {running.timing}" if running.timing else "%p%")
        self.setToolTip(progress.phase.capitalize())

    @Slot()
    def _ended(self) -> None:
        self._following.discard(self.sender())  # type: ignore[arg-type]
        if not self._following:
            self._after_a_second.stop()
            self.hide()
            self._moving()

    @Slot()
    def _show_if_working(self) -> None:
        self.setVisible(bool(self._following))
