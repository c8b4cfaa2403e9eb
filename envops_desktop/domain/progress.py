"""Progress reports and cancellation, shared by every long operation of the service."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from envops_desktop.domain.errors import OperationCancelledError
from envops_desktop.domain.paths import shown


@dataclass(frozen=True)
class Progress:
    """A snapshot of a long operation: its phase, bytes done out of total, and current path."""

    phase: str
    done: int
    total: int
    path: str = ""  # text to show: a name's bytes that are not UTF-8 written as `\\xNN`

    @property
    def percent(self) -> int:
        return 100 if self.total <= 0 else min(100, self.done * 100 // self.total)


ProgressCallback = Callable[[Progress], None]

# Items a loop over many small ones (files, entries) counts between two reports: a report
# costs a lock and a clock's reading, more than a small item's own work.
REPORTED_EVERY = 64


def ignore_progress(_progress: Progress) -> None:
    """A progress callback for callers that do not show progress."""


class CancelToken:
    """Set from any thread to ask a running operation to stop and put things back."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise OperationCancelledError()


class ProgressMeter:
    """Counts bytes for one phase and forwards at most `rate` reports a second to a callback.

    Safe to call from several pool threads: the count is guarded, the callback is throttled so
    a fast operation never floods a GUI with signals.
    """

    def __init__(
        self, callback: ProgressCallback, phase: str, total: int, rate: float = 30.0
    ) -> None:
        self._callback = callback
        self._phase = phase
        self._total = total
        self._done = 0
        self._shown = 0  # the most reported: a bar never goes back
        self._interval = 1.0 / rate
        self._last = 0.0
        self._lock = threading.Lock()
        callback(Progress(phase, 0, total))

    def advance(self, nbytes: int, path: str = "") -> None:
        with self._lock:
            self._done += nbytes
            snapshot = self._due(self._done, path)
        if snapshot is not None:
            self._callback(snapshot)

    def ahead(self, nbytes: int, path: str = "") -> None:
        """Report `nbytes` past what is counted, under way, without counting them: a
        helper's way through a large file, which its batch's result counts once it is out
        (`advance`). Never past the total."""
        with self._lock:
            snapshot = self._due(min(self._done + nbytes, max(self._total, self._done)), path)
        if snapshot is not None:
            self._callback(snapshot)

    def _due(self, done: int, path: str) -> Progress | None:
        # The report to make now, if one is due (under the lock).
        now = time.monotonic()
        if now - self._last < self._interval:
            return None
        self._last = now
        self._shown = max(self._shown, done)
        # Made text here, once a report is due, for every view alike: Qt would drop the
        # odd bytes of a name that is not UTF-8, a terminal show a surrogate's escape.
        return Progress(self._phase, self._shown, self._total, shown(path))

    def finish(self) -> None:
        self._callback(Progress(self._phase, self._total, self._total))


def clock_text(seconds: float) -> str:
    """0:07, 1:05, 1:02:03."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Eta:
    """The time an operation has taken, and an estimate of the time it has left from the
    throughput of its current phase (each phase goes at its own pace: reading, writing)."""

    # Before this many seconds of a phase, its pace says too little to estimate from.
    SETTLED_SECONDS = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._phase: str | None = None
        self._phase_started = self._started
        self._phase_done = 0

    def text(self, progress: Progress) -> str:
        """ "0:12 elapsed, about 0:30 left" (without an estimate while there is none)."""
        now = self._clock()
        if progress.phase != self._phase:
            self._phase, self._phase_started, self._phase_done = progress.phase, now, progress.done
        said = f"{clock_text(now - self._started)} elapsed"
        pace_seconds, done = now - self._phase_started, progress.done - self._phase_done
        if progress.total > 0 and done > 0 and pace_seconds >= self.SETTLED_SECONDS:
            left = pace_seconds * max(0, progress.total - progress.done) / done
            said += f", about {clock_text(left)} left"
        return said
