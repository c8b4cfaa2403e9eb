"""Reads a table model needs, on a worker, whose result is dropped once no longer wanted."""

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from envops_desktop.controller.operation_runner import OperationRunner, assert_gui_thread
from envops_desktop.domain.progress import CancelToken


class BackgroundReads(QObject):
    """Runs a model's reads of the database on workers, and hands each result to the model
    on the window's thread, unless the model has since asked for something else.

    Its own runner: a read is no operation the user waits for or is asked about at quit.
    """

    reading_changed = Signal(bool)  # whether a read the model still wants is under way

    def __init__(self, label: str, parent: QObject) -> None:
        super().__init__(parent)
        self._label = label
        self._runner = OperationRunner(self)
        self._generation = 0  # what the model wants now; a read asked for before is dropped
        self._reading = False

    @property
    def reading(self) -> bool:
        return self._reading

    def read(self, work: Callable[[CancelToken], Any], then: Callable[[Any], None]) -> None:
        """`work(a token set once it is no longer wanted)` on a worker; `then(its result)`
        here. A fault is raised here, on the window's thread, which names it (a damaged
        database, say) as it does any fault a slot meets."""
        generation = self._generation
        reading = self._runner.prepare(self._label, None, lambda _progress, cancel: work(cancel))
        reading.succeeded.connect(lambda result: self._done(generation, then, result))
        reading.failed.connect(lambda _message, error: self._failed(generation, error))
        self._set_reading(True)
        self._runner.launch(reading)

    def drop(self) -> None:
        """Forget the reads under way and ask them to stop: their results are not wanted."""
        self._generation += 1
        self._runner.cancel_all()
        self._set_reading(False)

    def stop(self) -> None:
        """Wait for the reads under way, and drop them."""
        self._generation += 1
        self._runner.cancel_all_and_wait()

    def _done(self, generation: int, then: Callable[[Any], None], result: Any) -> None:
        assert_gui_thread()
        if generation != self._generation:
            return
        self._set_reading(False)
        then(result)

    def _failed(self, generation: int, error: Exception) -> None:
        if generation != self._generation:
            return
        self._set_reading(False)
        raise error

    def _set_reading(self, reading: bool) -> None:
        if reading != self._reading:
            self._reading = reading
            self.reading_changed.emit(reading)
