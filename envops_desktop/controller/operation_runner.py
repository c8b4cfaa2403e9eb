"""Starts operation workers on their own QThreads and keeps track of the ones running."""

import logging
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot

from envops_desktop.controller.garbage_collection import hold_full_passes, release_full_passes
from envops_desktop.domain.progress import Eta, Progress
from envops_desktop.workers.operation_worker import Explain, Operation, OperationWorker

log = logging.getLogger(__name__)


def once_drawn() -> threading.Event:
    """Set once the window has drawn what this turn of its loop changed: by a timer, which
    fires after the repaints the turn asked for (they come first, as posted events).

    A restore or an import started from a dialog closes it and changes the window's banner,
    status, tab and task bar: its worker, started at once, made the window's drawing of all
    that a 30-50 ms stall for a 200,000-file import on two cores."""
    drawn = threading.Event()
    QTimer.singleShot(1, drawn.set)
    return drawn


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
        let_go_at_quit: bool = False,
        cancellable: bool = True,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.environment_id = environment_id
        # False for work that goes to its end whatever is asked (putting an interrupted
        # restore right): no Cancel is offered for it.
        self.cancellable = cancellable
        # Nothing is lost if it never ends (it reads, or records what it read): at quit it
        # may be let go of unfinished (`OperationRunner.shut_down`).
        self.let_go_at_quit = let_go_at_quit
        self._let_go = False
        self._result_let_go: Callable[[object], None] | None = None
        self.started = 0.0  # time.monotonic() when it started
        self.last_progress: Progress | None = None
        self.last_heard = 0.0  # time.monotonic() when it started or last reported progress
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

    def start(self, not_before: threading.Event | None = None) -> None:
        """Start the worker's thread; its operation once `not_before` is set, if given (see
        `OperationRunner.launch`)."""
        self.started = self.last_heard = time.monotonic()
        self._eta = Eta()
        if self._worker is not None:
            self._worker.not_before = not_before
        self._thread.start()

    def seconds(self) -> float:
        """How long it has run."""
        return time.monotonic() - self.started

    def cancel(self) -> None:
        self._cancel_token.cancel()

    @property
    def cancelling(self) -> bool:
        """Whether it was asked to stop (and is putting things back until it ends)."""
        return self._cancel_token.cancelled

    def wait(self, timeout_ms: int) -> bool:
        return self._thread.wait(timeout_ms)

    def running_still(self) -> bool:
        return self._thread.isRunning()

    def let_go(self, then: Callable[[object], None] | None = None) -> None:
        """Relay nothing more: whoever listened (a closed window's dialog) may be gone. A
        result it still brings goes to `then`, to let go of what it holds."""
        self._let_go = True
        if then is not None:  # let go of again at quit, it still lets go of what it holds
            self._result_let_go = then

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        assert_gui_thread()
        self.last_progress, self.last_heard = progress, time.monotonic()
        self.timing = self._eta.text(progress)
        if not self._let_go:
            self.progressed.emit(progress)

    @Slot(object)
    def _on_success(self, result: object) -> None:
        assert_gui_thread()
        if not self._let_go:
            self.succeeded.emit(result)
        elif self._result_let_go is not None:
            self._result_let_go(result)

    @Slot(str, object)
    def _on_failure(self, message: str, error: object) -> None:
        assert_gui_thread()
        if not self._let_go:
            self.failed.emit(message, error)

    @Slot(str)
    def _on_cancel(self, message: str) -> None:
        assert_gui_thread()
        if not self._let_go:
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


# The main controller's way to run an operation on a worker and announce its end (banner,
# refresh, desktop notification): label, environment, operation, the text said on success
# and, optionally, the kind of that message.
Announce = Callable[..., RunningOperation]


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
        self,
        label: str,
        environment_id: str | None,
        operation: Operation,
        let_go_at_quit: bool = False,
        cancellable: bool = True,
    ) -> RunningOperation:
        """Create the operation (one that only reads may be let go of at quit:
        `let_go_at_quit`; one that ignores its cancel token is not `cancellable`); connect
        to its signals, then `launch` it."""
        running = RunningOperation(
            label, environment_id, operation, self, self._explain, let_go_at_quit, cancellable
        )
        running.finished.connect(lambda: self._forget(running))
        return running

    def launch(self, running: RunningOperation, not_before: threading.Event | None = None) -> None:
        """Start `running`; its operation, if `not_before` is given, once that is set (or a
        tenth of a second has passed): `once_drawn` for an operation started as the window
        changes, whose worker's Python would otherwise hold the GIL each time the window's
        thread asked for it while it drew those changes."""
        if not self._running:
            hold_full_passes()
        self._running.append(running)
        running.start(not_before)
        self.changed.emit()

    def _forget(self, running: RunningOperation) -> None:
        if running in self._running:
            self._running.remove(running)
            running.deleteLater()
            if not self._running:
                release_full_passes()
            self.changed.emit()

    def changes_running(self) -> bool:
        """Whether an operation that changes things runs: one a quit waits for."""
        return any(not op.let_go_at_quit for op in self._running)

    def cancel_all(self) -> None:
        """Ask everything running to stop and put things back."""
        for op in self._running:
            op.cancel()

    def cancel_all_and_wait(self, timeout_ms: int = 300_000) -> bool:
        """Cancel everything running and wait until each has put things back."""
        running = list(self._running)
        self.cancel_all()
        return all(op.wait(timeout_ms) for op in running)

    def shut_down(self, reads_by: float | None = None, writes_by: float | None = None) -> None:
        """Cancel everything running, wait until what changes anything has put things
        back, and let go of what may be let go of (`prepare`) if it has not ended by
        `reads_by` (a `time.monotonic()`; by default `READS_GRACE_MS` from now), and of
        the rest if it has not by `writes_by` (`writes_grace_ends()` by default).

        A read of a folder on a network disk that stopped answering waits in the kernel,
        where no cancelling reaches it, for as long as the disk does: the window must still
        close, and its process end (`let_go_of`). So must it after `WRITES_GRACE_MS` of an
        operation that changes things held so: ended with the process, it is undone at the
        next start, as after a crash."""
        running = list(self._running)
        self.cancel_all()
        writes_by = writes_grace_ends() if writes_by is None else writes_by
        reads_by = reads_grace_ends() if reads_by is None else reads_by
        for op in sorted(running, key=lambda op: op.let_go_at_quit):  # writes first
            ends = reads_by if op.let_go_at_quit else writes_by
            if not op.wait(max(0, int((ends - time.monotonic()) * 1000))):
                self._running.remove(op)
                let_go_of(op)


# How long a quit waits for reads to end once cancelled: they stop at their next look at
# the cancel token, in milliseconds, unless a disk holds them.
READS_GRACE_MS = 1_000
# And for an operation that changes things to put them back (a restore's new tree removed).
WRITES_GRACE_MS = 300_000


def reads_grace_ends() -> float:
    """When reads cancelled now, at quit, are let go of if they have not ended."""
    return time.monotonic() + READS_GRACE_MS / 1000


def writes_grace_ends() -> float:
    """When operations that change things, cancelled now at quit, are let go of if they
    have not put things back by then."""
    return time.monotonic() + WRITES_GRACE_MS / 1000


# Operations let go of at quit, held here until their threads end: a QThread deleted while
# its thread runs aborts the whole process.
_LET_GO: set[RunningOperation] = set()


def let_go_of(running: RunningOperation) -> None:
    """Stop waiting for `running`, whose thread is held in the kernel: nobody hears from
    it again, and it is kept alive, apart from whoever started it, until its thread ends,
    which may be never."""
    log.warning("let go of %r, which did not end when cancelled", running.label)
    running.let_go()
    running.setParent(None)
    _LET_GO.add(running)
    running.finished.connect(lambda: _LET_GO.discard(running))


def threads_let_go() -> int:
    """How many threads let go of at quit are still running: while any is, the process
    must end with `os._exit`, as tearing Python down would delete their QThreads."""
    return sum(1 for running in _LET_GO if running.running_still())
