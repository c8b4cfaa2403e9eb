"""Regenerate docs/screenshots/: the main window on the demo workspace and every dialog.

Run: .venv/bin/python docs/capture_screenshots.py   (offscreen; 1280×800 main window)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget

from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.demo_workspace import create_demo_workspace
from envops_desktop.domain.errors import VersionMismatchError
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService
from envops_desktop.ui.add_environment_dialog import AddEnvironmentDialog
from envops_desktop.ui.changes_dialog import (
    ChangesDialog,
    backup_and_other_contents,
    live_and_backup_contents,
)
from envops_desktop.ui.export_dialog import ExportDialog
from envops_desktop.ui.icons import icon
from envops_desktop.ui.import_configuration_dialog import ImportConfigurationDialog
from envops_desktop.ui.main_window import MainWindow
from envops_desktop.ui.preferences_dialog import PreferencesDialog
from envops_desktop.ui.restore_backup_dialog import RestoreBackupDialog
from envops_desktop.ui.retention_dialog import RetentionDialog
from envops_desktop.ui.schedule_dialog import ScheduleDialog
from envops_desktop.ui.theme import DARK, SYSTEM, apply_theme
from envops_desktop.ui.update_environment_dialog import UpdateEnvironmentDialog
from envops_desktop.ui.version_mismatch_box import show_version_mismatch

OUT = Path(__file__).resolve().parent / "screenshots"


def save(widget: QWidget, name: str) -> None:
    QApplication.processEvents()
    if isinstance(widget, MainWindow):
        _backups_read(widget)
    widget.grab().save(str(OUT / f"{name}.png"))
    print("wrote", name)


def _backups_read(window: MainWindow) -> None:
    while window.controller.backups_model.reading:  # its rows, read on a worker
        QApplication.processEvents()


def _select(window: MainWindow, environment_id: str) -> None:
    window.environments.select(environment_id)
    _backups_read(window)


def _settings(file: Path) -> QSettings:
    return QSettings(str(file), QSettings.Format.IniFormat)


def _open_window(service: EnvOpsService, settings: QSettings) -> MainWindow:
    """A 1280×800 main window on `service`, shown, its controller started."""
    controller = MainController(service)
    window = MainWindow(controller, settings)
    controller.start()
    window.resize(1280, 800)
    window.show()
    return window


def _capture_caveats(controller: MainController, window: MainWindow, scratch: Path) -> None:
    """The Restore dialog naming, once its preview is in, a file that kept changing while
    its backup read it: a log written to all through the backup."""
    ledger_dir = scratch / "ledger"
    ledger_dir.mkdir()
    (ledger_dir / "ledger.yaml").write_text("currency: EUR\n")
    log = ledger_dir / "ledger.log"
    log.write_bytes(os.urandom(32 << 20))
    ledger = controller.service.add_environment("ledger", ledger_dir, version="2.0.0")
    writing = threading.Event()

    def keep_writing() -> None:
        with open(log, "r+b") as f:
            while not writing.is_set():
                f.seek(0)
                f.write(os.urandom(1 << 20))
                f.flush()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        busy = controller.service.create_backup("ledger", name="Busy")
    finally:
        writing.set()
        writer.join()
    assert busy.changed_while_read, "the log did not change while it was read"

    def preview(chosen: list[str] | None) -> RunningOperation:
        running = controller.dialog_work.preview_restore(ledger, busy, None, chosen)
        controller.runner.launch(running)
        return running

    dialog = RestoreBackupDialog(ledger, busy, window, preview)
    dialog.show()
    _finish(controller)
    QApplication.processEvents()
    save(dialog, "restore-backup-dialog-caveats")
    dialog.close()


def _finish(controller: MainController) -> None:
    while controller.runner.running:
        QApplication.processEvents()


def grab_modal(name: str) -> None:
    """Grab the next modal box, then close it."""

    def shoot() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(20, shoot)
            return
        save(box, name)
        box.done(0)

    QTimer.singleShot(50, shoot)


def main() -> None:
    app = QApplication([])
    app.setWindowIcon(icon("app"))
    apply_theme(app, SYSTEM)  # as the app's start does
    OUT.mkdir(exist_ok=True)
    # The demo workspace and its files are half a gigabyte: gone again once shot.
    scratch = Path(tempfile.mkdtemp())
    try:
        _capture(app, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _capture(app: QApplication, scratch: Path) -> None:
    _capture_first_start(scratch)
    _capture_recovering(scratch)
    _capture_quitting(scratch)
    _capture_large_file(scratch)
    service = EnvOpsService(scratch / "data")
    create_demo_workspace(service)
    settings = _settings(scratch / "s.ini")
    window = _open_window(service, settings)
    controller = window.controller
    billing = service.get_environment("billing-production")
    _select(window, billing.id)
    window.tabs.setCurrentWidget(window.backups)
    window.backups.table.selectRow(0)
    save(window, "main-window-backups")
    # In a window 800 pixels wide the schedule's line wraps; the list keeps its width.
    window.resize(800, 560)
    save(window, "main-window-narrow")
    window.resize(1280, 800)
    window.tabs.setCurrentWidget(window.overview)
    save(window, "main-window-overview")
    window.tabs.setCurrentWidget(window.activity)
    while controller.activity_model.reading:  # its first page, read on a worker
        QApplication.processEvents()
    save(window, "main-window-activity")
    # An environment with no backups yet: the empty table says what to do next.
    reporting_dir = scratch / "reporting"
    reporting_dir.mkdir()
    (reporting_dir / "reports.yaml").write_text("schedule: daily\n")
    reporting = service.add_environment("reporting", reporting_dir, version="1.0.0")
    controller.refresh()
    _select(window, reporting.id)
    window.tabs.setCurrentWidget(window.backups)
    save(window, "main-window-no-backups")
    _select(window, billing.id)

    # The three notifications, from real restores: one that succeeds, one whose health check
    # fails (an extra environment, so the demo's own stay green).
    backup = service.list_backups(billing.id)[0]
    window.tabs.setCurrentWidget(window.backups)
    controller.restore_backup(billing, backup, backup_first=False)
    save(window, "notification-updating")
    _finish(controller)
    save(window, "notification-success")
    payments_dir = scratch / "payments"
    payments_dir.mkdir()
    (payments_dir / "gateway.yaml").write_text("provider: acme\ntimeout: 30\n")
    failing = RestoreCommand(
        argv=[sys.executable, "-c", "import sys; print('health check failed'); sys.exit(3)"]
    )
    payments = service.add_environment(
        "payments", payments_dir, version="1.4.0", post_restore_command=failing
    )
    payments_backup = service.create_backup("payments", name="Nightly")
    controller.refresh()
    _select(window, payments.id)
    controller.restore_backup(payments, payments_backup, backup_first=False)
    _finish(controller)
    save(window, "notification-error")
    _select(window, billing.id)
    window.banner.dismiss()

    # An operator's edits since the backup, for the restore's preview and its changes.
    billing_dir = Path(billing.path)
    (billing_dir / "app.yaml").write_text(
        "server:\n  port: 9443\n  workers: 16\nfeatures:\n  invoices_v2: false\n"
    )
    (billing_dir / "conf.d" / "cache.ini").unlink()
    (billing_dir / "conf.d" / "debug.ini").write_text("[debug]\nverbose = true\n")
    older = service.find_backup(billing.id, "Before invoices v2")
    held: list[RunningOperation] = []

    def preview(chosen: list[str] | None) -> RunningOperation:
        running = controller.dialog_work.preview_restore(billing, older, None, chosen)
        if held_back:  # launched only once the dialog is grabbed
            held.append(running)
        else:
            controller.runner.launch(running)
        return running

    held_back = False
    contents = live_and_backup_contents(controller, billing, older)
    dialog = RestoreBackupDialog(billing, older, window, preview, contents)
    _finish(controller)
    dialog.show()
    save(dialog, "restore-backup-dialog")
    dialog.close()
    # A folder named by a long hash: its name breaks across lines instead of widening it.
    layered = Path(billing.path).parent / ("9f2c41d07be35a68" * 12) / "billing"
    dialog = RestoreBackupDialog(replace(billing, path=str(layered)), older, window)
    dialog.show()
    save(dialog, "restore-backup-dialog-long-path")
    dialog.close()
    # A preview past its first second (one over 200,000 files takes five): the moving bar.
    held_back = True
    dialog = RestoreBackupDialog(billing, older, window, preview, contents)
    dialog.show()
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:
        QApplication.processEvents()
    save(dialog, "restore-backup-dialog-working")
    held_back = False
    controller.runner.launch(held.pop())
    _finish(controller)
    dialog.close()
    # Some paths unticked in Show changes…: only the ticked ones are restored.
    dialog = RestoreBackupDialog(billing, older, window, preview, contents, only=["app.yaml"])
    _finish(controller)
    dialog.show()
    save(dialog, "restore-backup-dialog-selective")
    dialog.close()
    _capture_caveats(controller, window, scratch)
    previewed = ChangeRows(service.preview_restore(billing.id, older.id))
    _capture_changes(controller, window, previewed, contents, older, "changes-dialog")
    nightly = service.find_backup(billing.id, "Nightly")
    compared = ChangesDialog(
        ChangeRows(service.compare(older.id, nightly.id)),
        backup_and_other_contents(controller, billing, older, nightly),
        checkable=False,
        parent=window,
    )
    compared.show()
    compared.table.selectRow(0)
    _finish(controller)
    save(compared, "compare-dialog")
    compared.close()
    # The edits above, seen by the drift check: the Modified badge in the table. Anew: an
    # answer from before the edits may be in already.
    controller.drift.check_anew(service.get_environment(billing.id))
    while controller.drift.state(billing.id) is None:
        QApplication.processEvents()
    controller.refresh()
    window.tabs.setCurrentWidget(window.backups)
    save(window, "main-window-drift")
    grab_modal("version-mismatch-box")
    show_version_mismatch(window, VersionMismatchError("web-frontend", "2.3.0", "2.2.0"))
    grab_modal("version-mismatch-box-import")
    show_version_mismatch(
        window, VersionMismatchError("web-frontend", "2.3.0", "2.2.0", "configuration file")
    )
    add = AddEnvironmentDialog(controller, window.files, window)
    add.show()
    save(add, "add-environment-dialog")
    add.name_edit.setText("reporting-staging")
    add.path_edit.setText("/srv/nfs/reporting")
    add.version_edit.setText("1.0.0")
    add.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    # Grabbed before the worker's answer is let in: what the first moments look like.
    add.grab().save(str(OUT / "add-environment-dialog-waiting.png"))
    print("wrote add-environment-dialog-waiting")
    while not add.error_label.isVisible():  # no such folder here: refused, in the dialog
        QApplication.processEvents()
    save(add, "add-environment-dialog-refused")
    add.close()
    web = service.get_environment("web-frontend")
    update = UpdateEnvironmentDialog(controller, web, parent=window)
    update.show()
    save(update, "update-environment-dialog")
    update.close()
    preferences = PreferencesDialog(controller, settings, window)
    preferences.show()
    save(preferences, "preferences-general")
    preferences.tabs.setCurrentIndex(1)
    preferences.url.setText("s3://ops-team-envops/production")
    preferences.endpoint.setText("https://minio.internal:9000")
    preferences.passphrase.setText("not a real one")
    preferences.show()
    save(preferences, "preferences-storage")
    preferences.close()
    export = ExportDialog(backup, billing.name, window)
    export.encrypt.setChecked(True)
    export.passphrase_edit.setText("not a real one")
    export.repeat_edit.setText("not a real one")
    export.show()
    save(export, "export-dialog")
    export.close()
    schedule = ScheduleDialog(controller, billing, window)
    schedule.show()
    save(schedule, "schedule-dialog")
    schedule.close()
    retention = RetentionDialog(controller, billing, window)
    retention.before_restore_last.setValue(1)
    retention.show()
    save(retention, "retention-dialog")
    retention.close()
    _capture_import_dialog(controller, service, billing, window, scratch)
    analytics = service.get_environment("analytics-staging")
    _select(window, analytics.id)
    window.tabs.setCurrentWidget(window.backups)
    window.backups.show_deleted.setChecked(True)
    save(window, "main-window-deleted")
    window.backups.show_deleted.setChecked(False)
    apply_theme(app, DARK)
    _select(window, billing.id)
    window.tabs.setCurrentWidget(window.backups)
    save(window, "main-window-dark")
    _capture_changes(controller, window, previewed, contents, older, "changes-dialog-dark")
    apply_theme(app, SYSTEM)
    _capture_store_check(controller, scratch)  # last: it damages the store
    window.close()


def _capture_store_check(controller: MainController, scratch: Path) -> None:
    # Bit rot in the middle of a pack: the list names the files and backups that need what
    # it held.
    pack = max((scratch / "data" / "objects" / "packs").iterdir(), key=lambda p: p.stat().st_size)
    with open(pack, "r+b") as file:
        file.seek(pack.stat().st_size // 2)
        file.write(b"bit rot " * 32)
    controller.store_work.verify_store()
    _finish(controller)
    while (dialog := QApplication.activeModalWidget()) is None:
        QApplication.processEvents()
    save(dialog, "store-check-dialog")
    dialog.done(0)


def _capture_changes(controller, window, previewed, contents, backup, name: str) -> None:  # noqa: ANN001
    """Show changes… with app.yaml's diff, conf.d/debug.ini left as it is."""
    changes = ChangesDialog(previewed, contents, True, window, window.backup_flows.saver_of(backup))
    changes.show()
    table = changes.table
    for row in range(table.model().rowCount()):
        index = table.model().index(row, 0)
        if index.data() == "app.yaml":
            table.selectRow(row)
        if index.data() == "conf.d/debug.ini":  # left as it is: conf.d partly ticked
            table.model().setData(
                index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole
            )
    _finish(controller)  # the diff is read on a worker
    save(changes, name)
    changes.close()


def _capture_first_start(scratch: Path) -> None:
    """The window as a new user first sees it: no environments yet."""
    window = _open_window(EnvOpsService(scratch / "first-start"), _settings(scratch / "first.ini"))
    save(window, "main-window-empty")
    window.close()


def _capture_recovering(scratch: Path) -> None:
    """The window as it opens after a crash killed a restore: putting it right, on a worker."""
    data = scratch / "crashed"
    folder = scratch / "crashed-env"
    folder.mkdir()
    for number in range(2000):  # enough that the roll-back is still going when shot
        (folder / f"site{number:04}.conf").write_text(f"listen = {8000 + number}\n")
    service = EnvOpsService(data)
    service.add_environment("billing-production", folder, version="4.2.0")
    backup = service.create_backup("billing-production", name="Nightly")
    service.close()
    restore_it = ["restore", "billing-production", backup.id, "--yes", "--no-backup-first"]
    killed = subprocess.run(
        [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(data), *restore_it],
        env={**os.environ, "ENVOPS_CRASH_AT": "swapped"},
        capture_output=True,
        check=False,
    )
    assert killed.returncode < 0, killed.stderr
    window = _open_window(EnvOpsService(data), _settings(scratch / "crashed.ini"))
    window.grab().save(str(OUT / "main-window-recovering.png"))  # before the worker ends
    print("wrote", "main-window-recovering")
    _finish(window.controller)
    window.close()


def _capture_large_file(scratch: Path) -> None:
    """A backup a fifth of the way through its one large file (a disk image of 64 GiB, all
    hole: nothing on the disk), its time left estimated; then cancelled."""
    folder = scratch / "images-env"
    folder.mkdir()
    with open(folder / "runner.qcow2", "wb") as image:
        image.truncate(64 << 30)
    service = EnvOpsService(scratch / "images")
    environment = service.add_environment("build-runners", folder, version="2.1.0")
    window = _open_window(service, _settings(scratch / "images.ini"))
    controller = window.controller
    _select(window, environment.id)
    running = controller.create_backup(environment, "Before the upgrade")
    bar = window.task_progress.bar
    while not (bar.maximum() == 100 and bar.value() >= 20 and "left" in bar.format()):
        QApplication.processEvents()
    save(window, "main-window-large-file")
    running.cancel()
    _finish(controller)
    window.close()


def _capture_quitting(scratch: Path) -> None:
    """Ctrl+Q while a restore runs, "Cancel it and quit" answered: the window waits, its
    roll-back held here until it is shot."""
    from envops_desktop.service import restore

    folder = scratch / "quitting-env"
    folder.mkdir()
    (folder / "app.yaml").write_text("server:\n  port: 8443\n")
    service = EnvOpsService(scratch / "quitting")
    hang = RestoreCommand(argv=[sys.executable, "-c", "import time; time.sleep(60)"])
    environment = service.add_environment(
        "billing-production", folder, version="4.2.0", post_restore_command=hang
    )
    backup = service.create_backup("billing-production", name="Nightly")
    window = _open_window(service, _settings(scratch / "quitting.ini"))
    controller = window.controller
    _select(window, environment.id)
    shot = threading.Event()
    real_roll_back = restore.roll_back

    def roll_back_once_shot(entry) -> None:  # noqa: ANN001
        shot.wait(30)
        real_roll_back(entry)

    restore.roll_back = roll_back_once_shot
    controller.restore_backup(environment, backup, backup_first=False)
    while "post-restore" not in window.task_progress.label.text():
        QApplication.processEvents()

    def cancel_it_and_quit() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(20, cancel_it_and_quit)
            return
        next(b for b in box.buttons() if b.text() == "Cancel it and quit").click()

    QTimer.singleShot(50, cancel_it_and_quit)
    window.close()  # as Ctrl+Q does
    save(window, "main-window-quitting")
    shot.set()
    while window.isVisible():
        QApplication.processEvents()
    restore.roll_back = real_roll_back


def _capture_import_dialog(controller, service, environment, window, scratch: Path) -> None:  # noqa: ANN001
    """The Import dialog empty, uploading (a real upload, caught mid-way), uploaded, refused."""
    big_env = scratch / "big"
    big_env.mkdir()
    for index in range(8):
        (big_env / f"part{index}.bin").write_bytes(os.urandom(24 << 20))
    service.add_environment("big", big_env, version="4.2.0")
    big_file = service.export_backup(service.create_backup("big").id, scratch / "billing-big.zip")
    good = service.export_backup(
        service.list_backups(environment.id)[0].id, scratch / "billing-nightly.envops.zip"
    )
    dialog = ImportConfigurationDialog(controller, environment, window.files, window)
    dialog.show()
    save(dialog, "import-dialog-empty")
    # A file that is no configuration file nor archive, dragged over: refused as it enters.
    notes = scratch / "notes.txt"
    notes.write_text("not a configuration\n")
    dragged = QMimeData()
    dragged.setUrls([QUrl.fromLocalFile(str(notes))])
    zone = dialog.findChild(QWidget, "dropZone")
    QApplication.sendEvent(
        zone,
        QDragEnterEvent(
            QPoint(10, 10),
            Qt.DropAction.CopyAction,
            dragged,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )
    save(dialog, "import-dialog-drag-refused")
    QApplication.sendEvent(zone, QDragLeaveEvent())
    shot: list[int] = []

    def catch_midway(value: int) -> None:
        if 30 <= value <= 70 and not shot:
            shot.append(value)
            save(dialog, "import-dialog-uploading")

    dialog.progress_bar.valueChanged.connect(catch_midway)
    dialog.upload(big_file)
    while dialog._upload is not None:
        QApplication.processEvents()
    dialog.progress_bar.valueChanged.disconnect(catch_midway)
    dialog.upload(good)
    while dialog._upload is not None or not dialog.show_changes.isEnabled():
        QApplication.processEvents()
    save(dialog, "import-dialog-uploaded")
    bad = scratch / "billing-tampered.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "config/app.yaml":
                data = data.replace(b"8443", b"1337")
            target.writestr(info, data)
    dialog.upload(bad)
    while dialog._upload is not None:
        QApplication.processEvents()
    save(dialog, "import-dialog-refused")
    # A file exported from another environment: the warning names where it came from.
    staging_dir = scratch / "billing-staging"
    staging_dir.mkdir()
    (staging_dir / "app.yaml").write_text("server:\n  port: 9443\n")
    service.add_environment("billing-staging", staging_dir, version=environment.version)
    other = service.export_backup(
        service.create_backup("billing-staging").id, scratch / "billing-staging.envops.zip"
    )
    dialog.upload(other)
    while dialog._upload is not None:
        QApplication.processEvents()
    save(dialog, "import-dialog-other-environment")
    # An archive another tool made, of one folder: the version and the root are asked.
    tarball = scratch / "billing-from-ansible.tar.gz"
    subprocess.run(
        [
            "tar",
            "-czf",
            str(tarball),
            "-C",
            str(Path(environment.path).parent),
            Path(environment.path).name,
        ],
        check=True,
    )
    dialog.upload(tarball)
    while dialog._upload is not None or ": " not in dialog.answers.top_level_root.text():
        QApplication.processEvents()
    dialog.answers.folder_root.setChecked(True)
    dialog.answers.version.setCurrentIndex(0)
    save(dialog, "import-dialog-archive")
    dialog.reject()


if __name__ == "__main__":
    main()
