"""Runs one long service operation on a QThread, turning its callback into signals."""

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from envops_desktop.domain.errors import EnvOpsError, OperationCancelledError
from envops_desktop.domain.progress import CancelToken, Progress, ProgressCallback

log = logging.getLogger(__name__)

Operation = Callable[[ProgressCallback, CancelToken], object]
# A sentence for the user about an exception no operation foresaw, or None.
Explain = Callable[[Exception], str | None]

# The longest a worker waits for the window to have drawn (`not_before`): the window's thread
# sets it within milliseconds, unless something holds that thread.
_MOST_WAITED_S = 0.1


class OperationWorker(QObject):
    """Calls `operation(progress, cancel)` in its thread; one of succeeded/failed/cancelled follows.

    The worker only emits signals: the controller that owns it turns them into model updates
    and notifications on the GUI thread, so no widget is ever touched from here.
    """

    progressed = Signal(object)  # Progress
    succeeded = Signal(object)  # the operation's result
    failed = Signal(str, object)  # a sentence for the user, the exception
    cancelled = Signal(str)
    done = Signal()

    def __init__(self, operation: Operation, explain: Explain | None = None) -> None:
        super().__init__()
        self._operation = operation
        self._explain = explain
        self.cancel_token = CancelToken()
        # Set by the window's thread once it has drawn what starting this changed; until
        # then the operation waits, without the GIL (`RunningOperation.start`).
        self.not_before: threading.Event | None = None

    def _report(self, progress: Progress) -> None:
        self.progressed.emit(progress)

    @Slot()
    def run(self) -> None:
        if self.not_before is not None:
            self.not_before.wait(_MOST_WAITED_S)
        try:
            if self.not_before is not None:  # cancelled as it waited: never begun
                self.cancel_token.raise_if_cancelled()
            result = self._operation(self._report, self.cancel_token)
        except OperationCancelledError as error:
            self.cancelled.emit(str(error))
        except EnvOpsError as error:
            self.failed.emit(str(error), error)
        except Exception as error:  # an unforeseen fault must still reach the user
            log.exception("operation failed unexpectedly")
            sentence = self._explain(error) if self._explain is not None else None
            self.failed.emit(
                sentence or f"Unexpected error: {error}. Details are in the log.", error
            )
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()
