"""A one-line progress bar for the command line, drawn only on a terminal."""

import shutil
import sys
from typing import TextIO

from envops_desktop.domain.paths import on_one_line
from envops_desktop.domain.progress import Eta, Progress


class TerminalProgressBar:
    """Draws `phase [####....] 42% 12.0/28.5 MiB 0:04 elapsed, about 0:06 left path` on one
    line of stderr."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._drawn = False
        self._eta = Eta()

    def __call__(self, progress: Progress) -> None:
        if not self._enabled:
            return
        width = shutil.get_terminal_size((80, 20)).columns
        mib = f"{progress.done / 2**20:.1f}/{progress.total / 2**20:.1f} MiB"
        bar_width = 24
        filled = bar_width * progress.percent // 100
        path = on_one_line(progress.path)
        line = (
            f"{progress.phase} [{'#' * filled}{'.' * (bar_width - filled)}] "
            f"{progress.percent:3d}% {mib} {self._eta.text(progress)} {path}"
        )
        self._stream.write("\r" + line[: width - 1].ljust(width - 1))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
