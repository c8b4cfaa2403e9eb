"""Starts operation workers on their own QThreads and keeps track of the ones running."""

import time

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from envops_desktop.controller.garbage_collection import hold_full_passes, release_full_passes
from envops_desktop.domain.progress import Eta, Progress
from envops_desktop.workers.operation_worker import Explain, Operation, OperationWorker


def assert_gui_thread() -> None:
    """Fail loudly if a model or widget is about to be touched off the GUI thread."""
    app = QCoreApplication.instance()
    if app is not None and QThread.currentThread() is not app.thread():
        raise RuntimeError("GUI state touched from a worker thread")


class RunningOperation(QObject):
    """One operation in flight, living on the GUI thread and relaying its worker's signals.

    The worker's signals are connected to this object's slots, so Qt queues them onto the GUI
    thread; whoever listens to the relayed signals below is therefore always on that thread.
    """

    progressed = Signal(object)  # Progress
    succeeded = Signal(object)
    failed = Signal(str, object)
    cancelled = Signal(str)
    finished = Signal()

    def __init__(
        self,
        label: str,
        environment_id: str | None,
        operation: Operation,
        parent: QObject,
        explain: Explain | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.environment_id = environment_id
        self.started = 0.0  # time.monotonic() when it started
        self.last_progress: Progress | None = None
        # "0:12 elapsed, about 0:30 left", as of its last progress report.
        self.timing = ""
        self._eta = Eta()
        self._thread = QThread(self)
        self._worker: OperationWorker | None = OperationWorker(operation, explain)
        self._cancel_token = self._worker.cancel_token
        self._worker.moveToThread(self._thread)
        self._worker.progressed.connect(self._on_progress)
        self._worker.succeeded.connect(self._on_success)
        self._worker.failed.connect(self._on_failure)
        self._worker.cancelled.connect(self._on_cancel)
        # Direct: quit() is thread-safe, and a queued quit would never arrive while the GUI
        # thread is blocked in wait() at shutdown.
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self.started = time.monotonic()
        self._eta = Eta()
        self._thread.start()

    def seconds(self) -> float:
        """How long it has run."""
        return time.monotonic() - self.started

    def cancel(self) -> None:
        self._cancel_token.cancel()

    def wait(self, timeout_ms: int) -> bool:
        return self._thread.wait(timeout_ms)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        assert_gui_thread()
        self.last_progress = progress
        self.timing = self._eta.text(progress)
        self.progressed.emit(progress)

    @Slot(object)
    def _on_success(self, result: object) -> None:
        assert_gui_thread()
        self.succeeded.emit(result)

    @Slot(str, object)
    def _on_failure(self, message: str, error: object) -> None:
        assert_gui_thread()
        self.failed.emit(message, error)

    @Slot(str)
    def _on_cancel(self, message: str) -> None:
        assert_gui_thread()
        self.cancelled.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        # Let go of the worker here, on the window's thread, which deletes it: its own thread
        # has ended, and a `deleteLater()` posted there is never carried out. Each operation
        # left its worker, and what the operation held (a staged file's 20,000 entries, a
        # preview's changes), in memory for good.
        self._thread.wait()  # it has emitted `finished`: it ends at once
        self._worker = None
        self.finished.emit()


class OperationRunner(QObject):
    """Runs operations in the background and knows which are still running; while any
    runs, the garbage collector's full passes, which stop every thread, wait."""

    changed = Signal()  # an operation started or finished

    def __init__(self, parent: QObject | None = None, explain: Explain | None = None) -> None:
        super().__init__(parent)
        self._running: list[RunningOperation] = []
        self._explain = explain  # what a fault no operation foresaw means to the user

    @property
    def running(self) -> list[RunningOperation]:
        return list(self._running)

    def busy_environment_ids(self) -> set[str]:
        return {op.environment_id for op in self._running if op.environment_id}

    def prepare(
        self, label: str, environment_id: str | None, operation: Operation
    ) -> RunningOperation:
        """Create the operation; connect to its signals, then `launch` it."""
        running = RunningOperation(label, environment_id, operation, self, self._explain)
        running.finished.connect(lambda: self._forget(running))
        return running

    def launch(self, running: RunningOperation) -> None:
        if not self._running:
            hold_full_passes()
        self._running.append(running)
        running.start()
        self.changed.emit()

    def _forget(self, running: RunningOperation) -> None:
        if running in self._running:
            self._running.remove(running)
            running.deleteLater()
            if not self._running:
                release_full_passes()
            self.changed.emit()

    def cancel_all(self) -> None:
        """Ask everything running to stop and put things back."""
        for op in self._running:
            op.cancel()

    def cancel_all_and_wait(self, timeout_ms: int = 300_000) -> bool:
        """Cancel everything running and wait until each has put things back."""
        running = list(self._running)
        self.cancel_all()
        return all(op.wait(timeout_ms) for op in running)
