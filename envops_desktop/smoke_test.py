"""`envops-desktop --smoke-test`: prove an installed build works, end to end, offscreen.

Creates an environment in a temporary folder, backs it up and restores it through the real
window, controller and worker threads, exports the backup, opens every dialog, and exits 0;
any failure prints one line and exits 1. Used by CI on the frozen bundle.
"""

import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDialog

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


def _run(app: QApplication, scratch: Path) -> None:
    from envops_desktop.app import open_main_window
    from envops_desktop.data_dir import log_dir
    from envops_desktop.domain.errors import VersionMismatchError
    from envops_desktop.ui.about_dialog import AboutDialog
    from envops_desktop.ui.add_environment_dialog import AddEnvironmentDialog
    from envops_desktop.ui.import_configuration_dialog import ImportConfigurationDialog
    from envops_desktop.ui.restore_backup_dialog import RestoreBackupDialog
    from envops_desktop.ui.update_environment_dialog import UpdateEnvironmentDialog
    from envops_desktop.ui.version_mismatch_box import show_version_mismatch

    service = EnvOpsService(scratch / "data")
    create_demo_workspace(service)
    window = open_main_window(
        service, QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    )
    window.show()
    controller = window.controller
    env = service.get_environment("web-frontend")
    window.environments.select(env.id)
    before = sorted(p.name for p in Path(env.path).rglob("*"))
    controller.create_backup(env, "smoke test")
    _wait_for(app, lambda: not controller.runner.running, "the backup")
    backup = service.list_backups(env.id)[0]
    if backup.name != "smoke test":
        raise RuntimeError(f"the backup was not recorded: {window.banner.text}")
    (Path(env.path) / "nginx" / "nginx.conf").write_text("broken\n")
    # As a big restore does, in helper processes: proves they start in this build.
    parallel.PROCESSES_FROM_BYTES = 0
    controller.restore_backup(env, backup, backup_first=True)
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
    dialogs: list[QDialog] = [
        AddEnvironmentDialog(controller, window),
        UpdateEnvironmentDialog(controller, env, window),
        RestoreBackupDialog(env, backup, window),
        ImportConfigurationDialog(controller, env, window),
        AboutDialog(service.data_dir, log_dir(), window),
    ]
    for dialog in dialogs:
        dialog.show()
        app.processEvents()
        dialog.reject()
    QTimer.singleShot(50, lambda: app.activeModalWidget() and app.activeModalWidget().done(0))
    show_version_mismatch(window, VersionMismatchError(env.name, "2.3.0", "2.2.0"))
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
