"""Measures how long the GUI event loop goes without running: the stall a user would feel."""

import time

from PySide6.QtCore import QObject, QTimer


class EventLoopMonitor(QObject):
    """A 5 ms timer; any gap between its ticks beyond the interval is a stall."""

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self._interval = interval_ms / 1000
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.gaps: list[float] = []

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(max(0.0, now - self._last - self._interval))
        self._last = now

    @property
    def worst_ms(self) -> float:
        return 1000 * max(self.gaps, default=0.0)

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.gaps)
        return 1000 * ordered[int(fraction * (len(ordered) - 1))] if ordered else 0.0
