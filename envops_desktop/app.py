"""The `envops-desktop` entry point: QApplication, logging, data dir, --demo."""

import argparse
import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop import APP_NAME, ORGANIZATION, __version__
from envops_desktop.data_dir import cannot_open, log_dir, resolve_data_dir

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

    from envops_desktop.service import EnvOpsService
    from envops_desktop.ui.crash_reporter import CrashReporter
    from envops_desktop.ui.main_window import MainWindow

log = logging.getLogger("envops_desktop")
_GUI_SWITCH_INTERVAL = 0.0002  # seconds; Python's default is 0.005


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="envops-desktop", description=APP_NAME)
    parser.add_argument("--data-dir", help="where EnvOps keeps its data")
    parser.add_argument("--demo", action="store_true", help="create a demo workspace (once)")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="check this installation offscreen: back up, restore, open every dialog; exit",
    )
    parser.add_argument(
        "--check-display",
        action="store_true",
        help="check that the system libraries for a window are installed, say what is missing",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("file", nargs="?", help="a configuration file to import")
    # For start-up benchmarks: quit as soon as the main window has been shown.
    parser.add_argument("--exit-when-shown", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _set_up_logging() -> Path:
    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "envops-desktop.log"
    # A name that is not UTF-8 (in an error's message) is written as \udcXX: strictly
    # encoded, the whole record, a crash's traceback too, was dropped.
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=5, encoding="utf-8", errors="backslashreplace"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def _why_no_display(force_xcb: bool = False) -> str | None:
    """The install command, when Qt's X11 plugin would abort for want of system libraries."""
    from envops_desktop import display_libraries

    if not (force_xcb or display_libraries.will_use_xcb()):
        return None
    plugin = display_libraries.xcb_plugin()
    reason = display_libraries.why_xcb_cannot_load(plugin) if plugin is not None else None
    return None if reason is None else display_libraries.missing_libraries_message(reason)


def open_main_window(
    service: "EnvOpsService", settings: "QSettings", crash_reporter: "CrashReporter | None" = None
) -> "MainWindow":
    """Build the window and start its controller, which puts interrupted restores right
    and says what it did."""
    from envops_desktop.controller.garbage_collection import settle_heap
    from envops_desktop.controller.main_controller import MainController
    from envops_desktop.ui.main_window import MainWindow

    controller = MainController(service)
    window = MainWindow(controller, settings, crash_reporter)
    controller.start()
    window.select_remembered_environment()
    # Qt wrappers, pydantic schemas and imported modules are alive for the whole session: a
    # full collection walking them all took 50-200 ms whenever a worker's allocations
    # triggered one.
    settle_heap()
    # A worker thread running Python (parsing a manifest) keeps the GIL for up to the switch
    # interval each time the GUI thread asks for it, and the GUI thread asks at every call
    # into Qt that releases it and every call back into Python (a model's data(), a slot):
    # at the default 5 ms, a burst of such calls added up to a quarter-second stall while a
    # configuration file was read; at 1 ms, 117-150 ms in the GUI bench; at 0.2 ms, 27-40 ms,
    # the operations no slower.
    sys.setswitchinterval(_GUI_SWITCH_INTERVAL)
    return window


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    log_path = _set_up_logging()
    # Before Qt's GUI modules are imported: they too need system libraries (libGL).
    reason = _why_no_display(force_xcb=args.check_display)
    if reason is not None:
        log.critical(reason)
        print(reason, file=sys.stderr)
        return 1
    if args.check_display:
        print("The system libraries for a window are installed.")
        return 0

    # Qt is imported here, not at module import, so `--help` and the CLI never load it.
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from envops_desktop.demo_workspace import create_demo_workspace
    from envops_desktop.domain.errors import EnvOpsError
    from envops_desktop.service import EnvOpsService
    from envops_desktop.ui.crash_reporter import CrashReporter
    from envops_desktop.ui.file_open_filter import FileOpenFilter
    from envops_desktop.ui.icons import icon
    from envops_desktop.ui.label_text import plain_box

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icon("app"))

    if args.smoke_test:
        from envops_desktop.smoke_test import run_smoke_test

        return run_smoke_test(app)
    crash_reporter = CrashReporter(log_path)
    crash_reporter.install()
    data_dir = resolve_data_dir(args.data_dir)
    try:
        service = EnvOpsService(data_dir)
    except OSError as error:  # no permission, a file in the way
        plain_box(QMessageBox.Icon.Critical, APP_NAME, cannot_open(data_dir, error)).exec()
        return 1
    except EnvOpsError as error:  # a damaged database, a full disk: its sentence names it
        plain_box(QMessageBox.Icon.Critical, APP_NAME, str(error)).exec()
        return 1
    if args.demo:
        create_demo_workspace(service)
    from envops_desktop.ui.theme import apply_theme, chosen_theme

    settings = QSettings()
    apply_theme(app, chosen_theme(settings))
    window = open_main_window(service, settings, crash_reporter)
    app.installEventFilter(FileOpenFilter(window))
    window.show()
    if args.exit_when_shown:
        QTimer.singleShot(0, app.quit)
    if args.file:
        window.open_configuration_file(Path(args.file))
    code = app.exec()
    service.close()
    from envops_desktop.controller.operation_runner import threads_let_go

    if threads_let_go():
        # Reads held by a network disk that stopped answering, let go of at quit: tearing
        # Python down would delete their QThreads while they run, which aborts the process.
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
