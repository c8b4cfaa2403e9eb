"""The environments' version files, read again on a worker whenever the window refreshes."""

from PySide6.QtCore import QObject

from envops_desktop.controller.operation_runner import OperationRunner
from envops_desktop.service import EnvOpsService


class VersionReads(QObject):
    """Reads every version file again on a worker, and records what they say now; the
    window's poll then shows the versions that changed, as it shows any change recorded.

    Not on the window's thread: a version file in a folder on a network disk that stopped
    answering holds its read for as long as the disk does. One read runs at a time; one
    asked for meanwhile runs once it ends, and none piles up behind a disk that hangs.
    """

    def __init__(self, service: EnvOpsService, parent: QObject) -> None:
        super().__init__(parent)
        self._service = service
        self._runner = OperationRunner(self)
        self._reading = False
        self._again = False
        self._stopped = False

    def read(self) -> None:
        """Read the version files again, now or once the read under way ends."""
        if self._stopped:
            return
        if self._reading:
            self._again = True
            return
        self._reading = True
        reading = self._runner.prepare(
            self.tr("Reading version files"),
            None,
            lambda _progress, _cancel: self._service.read_versions(),
            let_go_at_quit=True,
        )
        reading.finished.connect(self._ended)
        # A fault no read foresaw (a damaged database) is raised on the window's thread,
        # which names it as it does any fault a slot meets.
        reading.failed.connect(lambda _message, error: self._raise(error))
        self._runner.launch(reading)

    def stop(self, reads_by: float | None = None) -> None:
        """Read no more; let go of a read a disk holds (`OperationRunner.shut_down`)."""
        self._stopped = True
        self._runner.shut_down(reads_by)

    def _ended(self) -> None:
        self._reading = False
        if self._again:
            self._again = False
            self.read()

    def _raise(self, error: Exception) -> None:
        if not self._stopped:
            raise error
