"""The status bar's view of the running operation: what, how far, and Cancel."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from envops_desktop.controller.operation_runner import OperationRunner, RunningOperation
from envops_desktop.controller.record_table_model import as_tooltip
from envops_desktop.domain.progress import Progress
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label

# The bar's width until its text needs more: "42% · 0:12 elapsed, about 0:30 left" fits in a
# usual font; an hour's times, or a larger font, widen it.
_BAR_WIDTH = 220
# Room the style keeps around the bar's text (frame and padding), in pixels.
_TEXT_MARGIN = 16
# The most of a path the line shows, in average characters: a longer one loses its middle,
# so that its file's own name, at the end, still shows (the tooltip has it whole).
_PATH_CHARACTERS = 60


class TaskProgress(QWidget):
    """Shows the newest running operation; Cancel asks it to stop and put things back."""

    def __init__(self, runner: OperationRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._current: RunningOperation | None = None
        self.label = plain_label(parent=self)
        self.label.setObjectName("taskLabel")
        self.bar = QProgressBar(self)
        self.bar.setObjectName("taskProgressBar")
        self.bar.setAccessibleName(self.tr("Operation progress"))
        self.bar.setFixedWidth(_BAR_WIDTH)
        self.cancel_button = QPushButton(icon("close"), self.tr("Cancel"), self)
        self.cancel_button.setObjectName("cancelTaskButton")
        self.cancel_button.setAccessibleName(self.tr("Cancel the running operation"))
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        runner.changed.connect(self._follow)
        self.hide()

    def _follow(self) -> None:
        running = self._runner.running
        current = running[-1] if running else None
        if current is self._current:
            return
        if self._current is not None:
            self._current.progressed.disconnect(self._show)
        self._current = current
        self.setVisible(current is not None)
        if current is not None:
            current.progressed.connect(self._show)
            self.label.setText(current.label)
            self.bar.setRange(0, 0)  # busy until the first report
            self.bar.setFixedWidth(_BAR_WIDTH)
            self.cancel_button.setEnabled(current.cancellable)
            if current.cancelling:
                self.show_putting_back()

    def _show(self, progress: Progress) -> None:
        if self._current is not None and self._current.cancelling:
            return  # a report sent before it saw the cancel: it is putting things back now
        if progress.total <= 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 100)
            self.bar.setValue(progress.percent)
        metrics = self.label.fontMetrics()
        room = metrics.averageCharWidth() * _PATH_CHARACTERS
        path = metrics.elidedText(progress.path, Qt.TextElideMode.ElideMiddle, room)
        detail = f" — {path}" if path else ""
        doing = self._current.label if self._current else ""
        # "Backing up billing — app.yaml", not "Backing up billing: Backing up — app.yaml":
        # the phase where the operation's own name does not say it already.
        if not doing.lower().startswith(progress.phase.lower()):
            doing = f"{doing}: {progress.phase.capitalize()}"
        timing = self._current.timing if self._current else ""
        self.bar.setFormat(f"%p% · {timing}" if timing else "%p%")
        # Wider, never narrower while it runs: its time left is read, not cut off, and the
        # bar does not jump back and forth as the figures change.
        needed = self.bar.fontMetrics().horizontalAdvance(self.bar.text()) + _TEXT_MARGIN
        if needed > self.bar.width():
            self.bar.setFixedWidth(needed)
        self.label.setText(f"{doing}{detail}")
        self.label.setToolTip(as_tooltip(progress.path))

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self.show_putting_back()

    def show_putting_back(self) -> None:
        """Say that the operation shown, cancelled, is putting things back: busy, since how
        far that has come is not measured (removing a restore's 100,000 new files took
        13 s)."""
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 0)
        self.bar.setFormat("")
        self.label.setText(self.tr("Cancelling — putting everything back…"))
