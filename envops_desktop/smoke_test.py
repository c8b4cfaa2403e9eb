"""`envops-desktop --smoke-test`: prove an installed build works, end to end, offscreen.

On the demo workspace in a temporary folder, through the real window, controller and worker
threads and the controls a user touches: backs up with the toolbar button, restores from the
backup row's Options menu, exports, restores from that file through the toolbar's Restore
from file… and the Import dialog, opens the other dialogs, and exits 0; any failure, or any
exception that reached the app's catch-all handler, prints one line and exits 1. Used by CI
on the frozen bundle, offscreen and on a real X server.
"""

import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QMenu,
    QToolButton,
    QWidget,
)

from envops_desktop.demo_workspace import create_demo_workspace
from envops_desktop.service import EnvOpsService, parallel

TIMEOUT_SECONDS = 60


def _wait_for(app: QApplication, done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def _answer(name: str, answer: Callable[[QDialog], None]) -> list[str]:
    """Answer the next modal dialog, which must be `name`, as a user would; note that it did."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    answered: list[str] = []

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog) and dialog.objectName() == name:
            answered.append(name)
            answer(dialog)
        elif time.monotonic() < deadline:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)
    return answered


def _click_button(dialog: QWidget, name: str) -> None:
    button = dialog.findChild(QAbstractButton, name)
    if button is None or not button.isEnabled():
        raise RuntimeError(f"{dialog.objectName()} has no enabled {name}")
    button.click()


def _run(app: QApplication, scratch: Path) -> None:
    from envops_desktop.app import open_main_window
    from envops_desktop.controller.backups_model import OPTIONS_COLUMN
    from envops_desktop.ui.crash_reporter import CrashReporter
    from envops_desktop.ui.icons import icon

    if icon("restore").isNull():
        raise RuntimeError("the icons in resources/ were not installed with the app")
    service = EnvOpsService(scratch / "data")
    create_demo_workspace(service)
    from envops_desktop.domain.schedules import ScheduleRule

    # A teammate's schedule names its time zone; the bundle's zone data must know it.
    ScheduleRule.model_validate({"frequency": "daily", "at": "02:00", "zone": "Pacific/Chatham"})
    reporter = CrashReporter()
    reporter.install()
    window = open_main_window(
        service, QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat), reporter
    )
    window.show()
    controller = window.controller
    env = service.get_environment("web-frontend")
    window.environments.select(env.id)
    before = sorted(p.name for p in Path(env.path).rglob("*"))

    def name_it(dialog: QDialog) -> None:
        dialog.setTextValue("smoke test")  # type: ignore[attr-defined]
        dialog.accept()

    _answer("createBackupDialog", name_it)
    window.findChild(QToolButton, "createBackupButton").click()
    _wait_for(app, lambda: not controller.runner.running, "the backup")
    backup = service.list_backups(env.id)[0]
    if backup.name != "smoke test":
        raise RuntimeError(f"the backup was not recorded: {window.banner.text}")
    _wait_for(app, lambda: controller.backups_model.row_of(backup.id) is not None, "its row")

    # Restore, as the product guide's first procedure: the row's Options menu, Restore.
    (Path(env.path) / "nginx" / "nginx.conf").write_text("broken\n")
    # As a big restore does, in helper processes: proves they start in this build.
    parallel.PROCESSES_FROM_BYTES = 0
    table = window.backups.table
    source = controller.backups_model.index(
        controller.backups_model.row_of(backup.id), OPTIONS_COLUMN
    )
    cell = table.visualRect(window.backups.proxy.mapFromSource(source)).center()
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0), cell)
    menu = QApplication.activePopupWidget()
    restore = menu.findChild(QAction, "restoreAction") if isinstance(menu, QMenu) else None
    if restore is None:
        raise RuntimeError("the backup's Options menu did not open")
    confirmed = _answer("restoreBackupDialog", lambda d: _click_button(d, "restoreButton"))
    center = menu.actionGeometry(restore).center()
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0), center)
    if not confirmed:
        raise RuntimeError("Restore in the Options menu did not open the Restore dialog")
    _wait_for(app, lambda: not controller.runner.running, "the restore")
    if window.banner.kind != "success":
        raise RuntimeError(f"the restore failed: {window.banner.text}")
    if sorted(p.name for p in Path(env.path).rglob("*")) != before:
        raise RuntimeError("the restored tree differs from the backup")

    # Exports deflate with ISA-L in the helpers: a zip whose every entry checks out proves it.
    exported = service.export_backup(backup.id, scratch / "smoke.envops.zip")
    with zipfile.ZipFile(exported) as archive:
        if archive.testzip() is not None or len(archive.namelist()) < 2:
            raise RuntimeError("the exported configuration file does not check out")

    # Restore from file, as the product guide's second procedure: the toolbar button.
    window.findChild(QToolButton, "importConfigurationButton").click()
    dialog = app.activeModalWidget()
    if dialog is None or dialog.objectName() != "importConfigurationDialog":
        raise RuntimeError("Restore from file did not open the Import dialog")
    dialog.drop_zone.file_dropped.emit(exported)  # what a drop on the zone emits
    _wait_for(app, lambda: dialog.findChild(QAbstractButton, "importButton").isEnabled(), "upload")
    _click_button(dialog, "importButton")
    _wait_for(app, lambda: not controller.runner.running, "the import")
    if window.banner.kind != "success":
        raise RuntimeError(f"the import failed: {window.banner.text}")

    # Every other dialog, from its control.
    for action_name, dialog_name in (
        ("addEnvironmentAction", "addEnvironmentDialog"),
        ("updateEnvironmentAction", "updateEnvironmentDialog"),
        ("aboutAction", "aboutDialog"),
    ):
        answered = _answer(dialog_name, lambda dialog: dialog.reject())
        window.findChild(QAction, action_name).trigger()
        if not answered:
            raise RuntimeError(f"{action_name} did not open {dialog_name}")
    if reporter.raised:
        raise RuntimeError(f"something went wrong: {reporter.raised[0]!r}")
    controller.shutdown()
    window.close()
    service.close()


def run_smoke_test(app: QApplication) -> int:
    with tempfile.TemporaryDirectory(prefix="envops-smoke-") as scratch:
        try:
            _run(app, Path(scratch))
        except Exception as error:  # the one line CI shows
            print(f"smoke test failed: {error!r}", file=sys.stderr)
            return 1
    print("smoke test passed")
    return 0
