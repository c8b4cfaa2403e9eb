"""A one-line progress bar for the command line, drawn only on a terminal."""

import shutil
import sys
from typing import TextIO

from envops_desktop.domain.paths import on_one_line
from envops_desktop.domain.progress import Eta, Progress

_BAR_WIDTH = 24
# Narrower than this, the bar says nothing its percentage does not: it is left out.
_LEAST_BAR_WIDTH = 6


class TerminalProgressBar:
    """Draws `phase [####....] 42% 12.0/28.5 MiB 0:04 elapsed, about 0:06 left path` on one
    line of stderr. On a narrow terminal the path goes first (keeping its end, the file's own
    name, while it can), then the bar narrows or goes, then the sizes: the time left always
    shows."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._drawn = False
        self._eta = Eta()

    def __call__(self, progress: Progress) -> None:
        if not self._enabled:
            return
        room = shutil.get_terminal_size((80, 20)).columns - 1  # the last column wraps
        mib = f" {progress.done / 2**20:.1f}/{progress.total / 2**20:.1f} MiB"
        timing = self._eta.text(progress)
        figures = f"{progress.percent:3d}%{mib} {timing}"
        if len(progress.phase) + len(figures) >= room or progress.total <= 0:
            # The sizes go before the time left; a wait has none, and no bar to fill.
            figures = timing if progress.total <= 0 else f"{progress.percent:3d}% {timing}"
        bar_width = min(_BAR_WIDTH, room - len(progress.phase) - len(figures) - 4)
        if bar_width >= _LEAST_BAR_WIDTH and progress.total > 0:
            filled = bar_width * progress.percent // 100
            line = f"{progress.phase} [{'#' * filled}{'.' * (bar_width - filled)}] {figures}"
        else:
            line = f"{progress.phase} {figures}"
        path = on_one_line(progress.path)
        left = room - len(line) - 1
        if path and left > 1:
            line += " " + (path if len(path) <= left else "..." + path[len(path) - left + 3 :])
        self._stream.write("\r" + line[:room].ljust(room))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
