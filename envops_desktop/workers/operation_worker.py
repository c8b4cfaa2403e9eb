"""Runs one long service operation on a QThread, turning its callback into signals."""

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from envops_desktop.domain.errors import EnvOpsError, OperationCancelledError
from envops_desktop.domain.progress import CancelToken, Progress, ProgressCallback

log = logging.getLogger(__name__)

Operation = Callable[[ProgressCallback, CancelToken], object]
# A sentence for the user about an exception no operation foresaw, or None.
Explain = Callable[[Exception], str | None]


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

    def _report(self, progress: Progress) -> None:
        self.progressed.emit(progress)

    @Slot()
    def run(self) -> None:
        try:
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
