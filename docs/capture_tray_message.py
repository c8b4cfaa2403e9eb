"""docs/screenshots/tray-message.png: a real system tray message, on a real X server.

Offscreen Qt has no tray, so this runs under Xvfb with a window manager that has one:

    xvfb-run -a -s "-screen 0 1280x800x24" sh -c \\
        'icewm & sleep 2; .venv/bin/python docs/capture_tray_message.py'

The main window is minimised, a backup runs, and the notifier says how it ended in the tray
as it would for a user who went on with other work; the whole screen is then grabbed.
"""

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from envops_desktop.controller.main_controller import MainController
from envops_desktop.demo_workspace import create_demo_workspace
from envops_desktop.service import EnvOpsService
from envops_desktop.ui.icons import icon
from envops_desktop.ui.main_window import MainWindow

OUT = Path(__file__).resolve().parent / "screenshots" / "tray-message.png"


def main() -> int:
    app = QApplication([])
    app.setWindowIcon(icon("app"))
    app.setQuitOnLastWindowClosed(False)  # minimised, the window may count as closed
    if not QSystemTrayIcon.isSystemTrayAvailable():
        print("no system tray on this display: run it under a window manager with one")
        return 1
    scratch = Path(tempfile.mkdtemp())
    service = EnvOpsService(scratch / "data")
    create_demo_workspace(service)
    controller = MainController(service)
    window = MainWindow(controller, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat))
    controller.start()
    window.show()
    window.notifier.long_seconds = 0  # the demo's backup is quicker than a person
    billing = service.get_environment("billing-production")

    def shoot() -> None:
        OUT.parent.mkdir(exist_ok=True)
        app.primaryScreen().grabWindow(0).save(str(OUT))
        print("wrote", OUT)
        app.quit()

    def back_up_once_in_the_background() -> None:
        if window.isActiveWindow():  # the window manager has not minimised it yet
            QTimer.singleShot(100, back_up_once_in_the_background)
            return
        controller.create_backup(billing, "Before the night shift")

    window.notifier.shown.connect(lambda *_said: QTimer.singleShot(1500, shoot))
    QTimer.singleShot(1500, window.showMinimized)
    QTimer.singleShot(1600, back_up_once_in_the_background)
    QTimer.singleShot(30_000, app.quit)  # never hang a capture run
    try:
        return app.exec()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the demo workspace, half a gigabyte


if __name__ == "__main__":
    sys.exit(main())
