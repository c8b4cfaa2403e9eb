"""The app's last word on an exception that nothing else caught: logged, shown and kept."""

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


class CrashReporter:
    """Installed as `sys.excepthook`: an exception escaping a slot ends up here.

    It logs the exception, shows "Something went wrong" (in the window's banner once there is
    one) and keeps it in `raised`. The test fixtures install this same reporter and fail any
    test that leaves something in `raised`, so no test passes while that banner is up.
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self.raised: list[BaseException] = []
        self._log_path = log_path
        self._show: Callable[[str], None] | None = None
        self._explain: Callable[[Exception], str | None] | None = None
        self._previous: ExceptHook | None = None

    def install(self) -> None:
        self._previous = sys.excepthook
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self and self._previous is not None:
            sys.excepthook = self._previous

    def show_with(
        self, show: Callable[[str], None], explain: Callable[[Exception], str | None] | None = None
    ) -> None:
        """Show later reports through `show` (the window's banner) instead of a message box,
        in `explain`'s words where it has some (a damaged database, say)."""
        self._show = show
        self._explain = explain

    def __call__(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        self.raised.append(error)
        log.critical("uncaught exception", exc_info=(kind, error, tb))
        explained = (
            self._explain(error)
            if self._explain is not None and isinstance(error, Exception)
            else None
        )
        text = explained or f"Something went wrong: {error}"
        if self._log_path is not None:
            text += f" Details were written to {self._log_path}."
        if self._show is not None:
            self._show(text)
        else:
            _message_box(text, "".join(traceback.format_exception_only(kind, error)))

    def describe(self) -> str:
        """Every kept exception with its traceback, for a failing test's report."""
        return "\n".join(
            "".join(traceback.format_exception(type(error), error, error.__traceback__))
            for error in self.raised
        )


def _message_box(text: str, detail: str) -> None:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from envops_desktop import APP_NAME
    from envops_desktop.ui.label_text import plain_box

    if QApplication.instance() is None:
        print(text, detail, sep="\n", file=sys.stderr)
        return
    plain_box(QMessageBox.Icon.Critical, APP_NAME, f"{text}\n\n{detail}").exec()
