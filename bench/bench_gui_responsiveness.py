"""How responsive the window stays: event-loop stalls during a 1 GiB backup and restore,
opening and scrolling a 100,000-entry activity log, opening Show changes… over the 200,000
paths a restore into an empty folder would add, restoring those 200,000 files from the
Restore dialog, cancelling that dialog, opening an export of those files with the app,
the diff of a file changed throughout, and selecting environments of 2,000 backups each.

Run: .venv/bin/python bench/bench_gui_responsiveness.py [--size-mib 1024] [--files 20000]
     [--changes 200000] [--backups 2000]
Offscreen, on a real service and a real tree; prints a Markdown table.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from bench.datasets import change_files, mixed_tree, small_files_tree
from bench.event_loop_monitor import EventLoopMonitor
from envops_desktop.app import open_main_window
from envops_desktop.controller.activity_model import PAGE_SIZE
from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.dialog_work import RestorePreview
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.service import EnvOpsService
from envops_desktop.ui.changes_dialog import ChangesDialog, live_and_backup_contents, when_listed
from envops_desktop.ui.file_diff import MORE
from envops_desktop.ui.import_configuration_dialog import ImportConfigurationDialog
from envops_desktop.ui.main_window import MainWindow
from envops_desktop.ui.restore_backup_dialog import RestoreBackupDialog

HERE = Path(__file__).resolve().parent

# What was timed, its seconds, and its worst and 99th-percentile stalls in milliseconds.
Row = tuple[str, float, float, float]


def watch_until(
    app: QApplication, begin: Callable[[], object], done: Callable[[], bool]
) -> tuple[float, float, float]:
    """Call `begin`, then spin the event loop until `done()`.

    Returns the seconds it took and the worst and 99th-percentile stalls in milliseconds.
    """
    monitor = EventLoopMonitor()
    monitor.start()
    began = time.perf_counter()
    begin()
    while not done():
        app.processEvents()
        time.sleep(0.001)
    elapsed = time.perf_counter() - began
    # A few more turns of the loop: a stall at the very end (or all of `begin`, had it
    # blocked) shows only as the late tick that follows it.
    while time.perf_counter() - began < elapsed + 0.02:
        app.processEvents()
        time.sleep(0.001)
    monitor.stop()
    return elapsed, monitor.worst_ms, monitor.percentile_ms(0.99)


def run_and_watch(
    app: QApplication, controller: MainController, start: Callable[[], RunningOperation]
) -> tuple[float, float, float]:
    """Start an operation and spin the event loop until it ends (`watch_until`)."""
    # Its end as its signals tell it: the worker's thread is gone once it has ended.
    ended: list[bool] = []

    def begin() -> None:
        running = start()
        for signal in (running.succeeded, running.failed, running.cancelled):
            signal.connect(lambda *_args: ended.append(True))

    return watch_until(app, begin, lambda: bool(ended) and not controller.runner.running)


def spin_until(app: QApplication, deadline: float) -> None:
    """Run the event loop until `deadline` (a `time.perf_counter()` reading)."""
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)


def when_previewed(app: QApplication, act: Callable[[RestoreBackupDialog], None]) -> None:
    """Call `act` with the Restore dialog once it is open and its preview is in."""

    def look() -> None:
        dialog = app.activeModalWidget()
        if isinstance(dialog, RestoreBackupDialog) and dialog.previewed is not None:
            act(dialog)
        else:
            QTimer.singleShot(20, look)

    QTimer.singleShot(20, look)


def shown(app: QApplication, window: MainWindow, env: Environment) -> None:
    """Show the window with `env` selected and let it settle as a user's window has before
    they act: painted, with half a second for the reads and the drift check its selection
    starts. Timed at once instead, the window's first paint (about 40 ms, the loop not yet
    run) fell in the next row's stalls."""
    window.show()
    QTest.qWaitForWindowExposed(window)
    window.environments.select(env.id)
    spin_until(app, time.perf_counter() + 0.5)


def _launched(controller: MainController, running: RunningOperation) -> RunningOperation:
    controller.runner.launch(running)
    return running


def _upload(dialog: ImportConfigurationDialog, path: Path) -> RunningOperation:
    dialog.upload(path)
    assert dialog._upload is not None
    return dialog._upload


def _full_and_empty(
    files: int, scratch: Path
) -> tuple[EnvOpsService, Environment, Backup, Environment]:
    """A service with an environment of `files` small files ("full"), its backup, and an
    empty environment ("empty") to restore that backup into."""
    source = small_files_tree(HERE / "data" / f"small-{files}", files)
    service = EnvOpsService(scratch / "data")
    full = service.add_environment("full", source, version="1")  # only read, by its backup
    backup = service.create_backup("full", name="all")
    (scratch / "empty").mkdir()
    empty = service.add_environment("empty", scratch / "empty", version="1")
    return service, full, backup, empty


def open_changes_view(app: QApplication, files: int, scratch: Path) -> tuple[float, float, float]:
    """Show changes… of a restore that would add `files` paths (another environment's backup
    into an empty folder), from the click to the view on screen: laid out on a worker, as
    the Restore dialog's button does it. Returns seconds, worst and 99th-percentile stalls.

    The preview is worked out first as the Restore dialog does, on a worker with the
    window's collector running: worked out on this thread, its 200,000 changes were young
    objects none of the window's passes had seen, and the first pass over them (70-150 ms
    after the Activity Log's rows) fell in the timing, a state the window never reaches."""
    service, full, backup, empty = _full_and_empty(files, scratch)
    controller = MainController(service)
    previewed: list[RestorePreview] = []
    previewing = controller.dialog_work.preview_restore(empty, backup, full)
    previewing.succeeded.connect(previewed.append)
    run_and_watch(app, controller, lambda: _launched(controller, previewing))
    changes = previewed[0].changes
    button = QPushButton("Show changes…")
    button.show()
    shown: list[ChangesDialog] = []

    def listed(rows: ChangeRows | None) -> None:
        assert rows is not None
        dialog = ChangesDialog(rows, None, True)
        dialog.open()  # modal, as the window opens it (with exec(), which would block here)
        shown.append(dialog)

    monitor = EventLoopMonitor()
    monitor.start()
    began = time.perf_counter()
    when_listed(controller, button, lambda: changes, listed, print)
    while not shown:
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()  # its first paint
    elapsed = time.perf_counter() - began
    monitor.stop()
    shown[0].close()
    controller.shutdown()
    service.close()
    return elapsed, monitor.worst_ms, monitor.percentile_ms(0.99)


def _restore_dialog_acted_on(
    app: QApplication, files: int, scratch: Path, act: Callable[[RestoreBackupDialog], None]
) -> tuple[MainWindow, EnvOpsService, EventLoopMonitor, float]:
    """The Restore dialog of a backup of `files` small files into an empty environment, as
    Options → Restore to… opens it, and `act` done on it once its preview is in. Returns
    once the dialog has closed: the window, its service, a monitor started as `act` began,
    and when that was."""
    service, full, backup, target = _full_and_empty(files, scratch)
    window = open_main_window(
        service, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat)
    )
    shown(app, window, target)
    monitor = EventLoopMonitor()
    began: list[float] = []

    def once_previewed(dialog: RestoreBackupDialog) -> None:
        began.append(time.perf_counter())
        monitor.start()
        act(dialog)

    when_previewed(app, once_previewed)
    window.backup_flows.restore_backup(backup, target, full)
    return window, service, monitor, began[0]


def restore_from_the_dialog(app: QApplication, files: int, scratch: Path) -> Row:
    """Restore `files` small files into an empty environment as a user does: the Restore
    dialog opened, Restore pressed once its preview is in; stalls from the press until three
    seconds after the restore ended, when the collector's full pass over what the dialog and
    the operation left runs."""
    window, service, monitor, pressed = _restore_dialog_acted_on(
        app, files, scratch, lambda dialog: dialog.restore_button.click()
    )
    while window.controller.runner.running:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - pressed
    spin_until(app, time.perf_counter() + 3)
    monitor.stop()
    window.close()
    service.close()
    return (
        f"Restore {files:,} files from the Restore dialog, into an empty folder",
        seconds,
        monitor.worst_ms,
        monitor.percentile_ms(0.99),
    )


def cancel_a_previewed_restore(app: QApplication, files: int, scratch: Path) -> Row:
    """The Restore dialog of a backup of `files` small files into an empty folder, closed
    with Esc once its preview is in: stalls until two seconds later, when its preview has
    been let go of and the window's full collection has run."""
    window, service, monitor, pressed = _restore_dialog_acted_on(
        app, files, scratch, lambda dialog: QTest.keyClick(dialog, Qt.Key.Key_Escape)
    )
    seconds = time.perf_counter() - pressed
    spin_until(app, pressed + 2)
    monitor.stop()
    window.close()
    service.close()
    return (
        f"Cancel the Restore dialog (Esc) once it shows the changes to {files:,} files",
        seconds,
        monitor.worst_ms,
        monitor.percentile_ms(0.99),
    )


def show_a_diff(app: QApplication, lines: int, scratch: Path) -> list[Row]:
    """Show changes… of a restore, and in it a file of `lines` lines changed on every one
    (a file rewritten by a tool), from selecting it to its diff on screen; then the rows
    held back, by the diff's link, five times."""
    (scratch / "env").mkdir()
    settings = scratch / "settings.yaml"
    settings.write_text("".join(f"key{i}: {i}\n" for i in range(lines)))
    service = EnvOpsService(scratch / "data")
    env = service.add_environment("rewritten", scratch / "env", version="1")
    shutil.move(settings, scratch / "env" / "settings.yaml")
    backup = service.create_backup("rewritten")
    (scratch / "env" / "settings.yaml").write_text(
        "".join(f"key{i}: {i + 1}\n" for i in range(lines))
    )
    controller = MainController(service)
    dialog = ChangesDialog(
        ChangeRows(service.preview_restore("rewritten", backup.id)),
        live_and_backup_contents(controller, env, backup),
        True,
    )
    dialog.open()  # modal, as the window opens it
    app.processEvents()
    monitor = EventLoopMonitor()
    monitor.start()
    began = time.perf_counter()
    dialog.table.selectRow(0)
    while (
        dialog.diff.toPlainText().startswith("Reading")
        or controller.runner.running
        or dialog.diff.laying_out
    ):
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()  # its first paint
    rows: list[Row] = [
        (
            f"The diff of a file of {lines:,} lines, each changed",
            time.perf_counter() - began,
            monitor.worst_ms,
            monitor.percentile_ms(0.99),
        )
    ]
    monitor.stop()
    monitor = EventLoopMonitor()
    monitor.start()
    began = time.perf_counter()
    for _ in range(5):
        dialog.diff.anchorClicked.emit(QUrl(MORE))  # as a click on "Show the next 200"
        app.processEvents()
        while dialog.diff.laying_out:  # a turn at a time
            app.processEvents()
        app.processEvents()  # its paint
    rows.append(
        (
            "Its next 200 rows, five times",
            time.perf_counter() - began,
            monitor.worst_ms,
            monitor.percentile_ms(0.99),
        )
    )
    monitor.stop()
    dialog.close()
    controller.shutdown()
    service.close()
    return rows


def scroll_the_activity_log(app: QApplication, entries: int, scratch: Path) -> list[Row]:
    """Open the Activity Log over `entries` entries, scroll to its end newest first, then
    sorted by user (with ties, as a few operators make every entry)."""
    (scratch / "env").mkdir()
    service = EnvOpsService(scratch / "data")
    env = service.add_environment("bench", scratch / "env", version="1")
    with service._ctx.db.transaction() as conn:
        conn.executemany(
            "INSERT INTO activity (time, environment_id, environment_name, action, user,"
            " outcome, detail) VALUES (?, ?, 'bench', 'backup created', ?, 'success', ?)",
            (
                (f"2026-01-01T00:00:{i % 60:02d}+00:00", env.id, f"ops{i % 5}", f"entry {i}")
                for i in range(entries)
            ),
        )
    began = time.perf_counter()
    window = open_main_window(
        service, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat)
    )
    model = window.controller.activity_model
    window.show()
    window.tabs.setCurrentWidget(window.activity)
    app.processEvents()
    while model.reading:  # the first page, read on a worker
        app.processEvents()
    rows: list[Row] = [
        (f"Open log with {entries:,} entries (first page)", time.perf_counter() - began, 0.0, 0.0)
    ]
    table = window.activity.table

    def when_read(start: Callable[[], None]) -> tuple[float, float, float]:
        monitor = EventLoopMonitor()
        monitor.start()
        began = time.perf_counter()
        start()
        while model.canFetchMore(model.index(-1, -1)) or model.reading:
            table.scrollToBottom()  # the view asks the model for the next page, as a wheel
            app.processEvents()
        seconds = time.perf_counter() - began
        monitor.stop()
        return seconds, monitor.worst_ms, monitor.percentile_ms(0.99)

    def type_in_search() -> None:
        for letter in "no such entry":  # a key at a time, as typed
            QTest.keyClick(window.activity.search_edit, letter)
            app.processEvents()

    for what, start in (
        ("newest first", lambda: None),
        # As a click on the header: the log loads again in that order.
        ("sorted by user", lambda: table.sortByColumn(3, Qt.SortOrder.AscendingOrder)),
    ):
        seconds, worst, p99 = when_read(start)
        pages = -(-model.rowCount() // PAGE_SIZE)
        rows.append(
            (
                f"Scroll to the end, {what} ({model.rowCount():,} rows, {pages} pages)",
                seconds,
                worst,
                p99,
            )
        )
    seconds, worst, p99 = when_read(type_in_search)
    rows.append(("Type a search no entry matches, a key at a time", seconds, worst, p99))
    window.close()
    service.close()
    return rows


def switch_between_environments(app: QApplication, backups: int, scratch: Path) -> Row:
    """Click one environment, then another, each with `backups` backups (an hourly schedule
    keeps 720 under the default retention; a team's store may hold more), six times."""
    service = EnvOpsService(scratch / "data")
    for name in ("first", "second"):
        (scratch / name).mkdir()
        (scratch / name / "app.conf").write_text(f"{name} = 1\n")
        service.add_environment(name, scratch / name, version="1")
        made = service.create_backup(name)
        # The rest as copies of its row: making them one by one would take minutes.
        with service._ctx.db.transaction() as conn:
            row = dict(conn.execute("SELECT * FROM backups WHERE id = ?", (made.id,)).fetchone())
            columns = ", ".join(row)
            places = ", ".join("?" * len(row))
            conn.executemany(
                f"INSERT INTO backups ({columns}) VALUES ({places})",
                (
                    tuple({**row, "id": f"{made.id}-{i}", "name": f"hourly {i}"}.values())
                    for i in range(1, backups)
                ),
            )
    window = open_main_window(
        service, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat)
    )
    window.show()
    table = window.environments.table
    app.processEvents()
    monitor = EventLoopMonitor()
    monitor.start()
    began = time.perf_counter()
    for click in range(6):
        where = table.visualRect(table.model().index(click % 2, 0)).center()
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)
        spin_until(app, time.perf_counter() + 0.5)  # its drift check, on a worker, meanwhile
    seconds = time.perf_counter() - began
    monitor.stop()
    assert window.controller.backups_model.rowCount() == backups
    window.close()
    service.close()
    what = f"Select environments of {backups:,} backups each, six clicks (0.5 s apart)"
    return what, seconds, monitor.worst_ms, monitor.percentile_ms(0.99)


def remove_an_upload(app: QApplication, exported: Path, scratch: Path, size: str) -> Row:
    """The Import dialog's trash button on an uploaded file, in a data folder that held none
    of its contents (so each was staged), until the staged copy of every one is gone."""
    (scratch / "environment").mkdir(parents=True)
    service = EnvOpsService(scratch / "data")
    env = service.add_environment("elsewhere", scratch / "environment", version="1")
    window = open_main_window(
        service, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat)
    )
    window.show()
    dialog = ImportConfigurationDialog(window.controller, env, window.files, window)
    dialog.open()
    run_and_watch(app, window.controller, lambda: _upload(dialog, exported))
    staging = scratch / "data" / "staging"
    remove = dialog.findChild(QPushButton, "removeFileButton")
    seconds, worst, p99 = watch_until(app, remove.click, lambda: not any(staging.iterdir()))
    dialog.reject()
    window.close()
    service.close()
    return (f"Remove an uploaded {size} file (Import dialog's trash button)", seconds, worst, p99)


def _previewed(app: QApplication, window: MainWindow) -> ImportConfigurationDialog | None:
    """The Import dialog, once its file is uploaded and what it would change is shown."""
    dialog = app.activeModalWidget()
    if not isinstance(dialog, ImportConfigurationDialog) or dialog.staged is None:
        return None
    return None if window.controller.runner.running else dialog


def open_a_configuration_file(app: QApplication, files: int, scratch: Path) -> list[Row]:
    """The app given an export of `files` small files (as a file manager opens it with the
    app), another environment selected: from the open until the Import dialog has uploaded
    it and shows what it would change, with the environment the file names selected. Then
    the dialog closed with Esc, until its staged copy is gone, watched long enough for the
    window's next full collection, which frees what the dialog held. Then the file imported
    into the other environment (`_import_into`)."""
    service, full, backup, target = _full_and_empty(files, scratch)
    exported = service.export_backup(backup.id, scratch / "full.envops.zip")
    window = open_main_window(
        service, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat)
    )
    shown(app, window, target)
    seconds, worst, p99 = watch_until(
        app, lambda: window.open_configuration_file(exported), lambda: _previewed(app, window)
    )
    assert window.controller.selected_environment.id == full.id
    opened = (
        f"Open a configuration file of {files:,} files with the app, until its changes show",
        seconds,
        worst,
        p99,
    )
    staging = scratch / "data" / "staging"
    closed_at = time.perf_counter()
    removed: list[float] = []

    def removed_and_collected() -> bool:
        if not removed and not any(staging.iterdir()):
            removed.append(time.perf_counter() - closed_at)
        # The window's collector, idle again, takes a full pass within a second.
        return bool(removed) and time.perf_counter() - closed_at > 1.2

    dialog = app.activeModalWidget()
    _, worst, p99 = watch_until(
        app, lambda: QTest.keyClick(dialog, Qt.Key.Key_Escape), removed_and_collected
    )
    closed = (
        "Close the Import dialog on that file (Esc), until its staged copy is gone",
        removed[0],
        worst,
        p99,
    )
    imported = _import_into(app, window, target, exported, files)
    window.close()
    service.close()
    return [opened, closed, imported]


def _import_into(
    app: QApplication, window: MainWindow, env: Environment, exported: Path, files: int
) -> Row:
    """Import `exported` into `env` (empty) from the toolbar's Import dialog: from the press
    of Import, once its preview shows, until the import has ended and 1.5 s more have
    passed, for the refresh it starts and the window's full collection after it."""
    shown(app, window, env)
    window.import_configuration(exported)
    while (dialog := _previewed(app, window)) is None:
        app.processEvents()
        time.sleep(0.001)
    pressed = time.perf_counter()
    ended: list[float] = []

    def ended_a_while_ago() -> bool:
        if not ended and not window.controller.runner.running:
            ended.append(time.perf_counter())
        return bool(ended) and time.perf_counter() - ended[0] > 1.5

    _, worst, p99 = watch_until(
        app, dialog.findChild(QPushButton, "importButton").click, ended_a_while_ago
    )
    assert any(Path(env.path).iterdir()), "nothing was imported"
    what = f"Import that file into an empty folder (Import pressed), {files:,} files"
    return (what, ended[0] - pressed, worst, p99)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--activity", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--backups", type=int, default=2_000)
    args = parser.parse_args()
    app = QApplication([])
    source = mixed_tree(
        HERE / "data" / f"mixed-{args.size_mib}m-{args.files}", args.size_mib << 20, args.files
    )
    rows: list[Row] = []
    size = f"{args.size_mib / 1024:g} GiB" if args.size_mib >= 1024 else f"{args.size_mib} MiB"
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        scratch_dir = Path(scratch)
        tree = scratch_dir / "environment"
        shutil.copytree(source, tree, symlinks=True)
        service = EnvOpsService(scratch_dir / "data")
        env = service.add_environment("bench", tree, version="1")
        window = open_main_window(
            service, QSettings(str(scratch_dir / "s.ini"), QSettings.Format.IniFormat)
        )
        controller = window.controller
        shown(app, window, env)
        seconds, worst, p99 = run_and_watch(
            app, controller, lambda: controller.create_backup(env, "bench")
        )
        rows.append((f"Create backup (first, {size})", seconds, worst, p99))
        backup = service.list_backups("bench")[0]
        seconds, worst, p99 = run_and_watch(
            app, controller, lambda: controller.restore_backup(env, backup, False)
        )
        rows.append((f"Restore backup ({size})", seconds, worst, p99))
        change_files(tree, 0.01, seed=77)
        seconds, worst, p99 = run_and_watch(
            app,
            controller,
            lambda: _launched(controller, controller.dialog_work.preview_restore(env, backup)),
        )
        rows.append(
            ("Work out a restore's changes (Restore dialog), 1 % changed", seconds, worst, p99)
        )
        exported = service.export_backup(backup.id, scratch_dir / "bench.envops.zip")
        dialog = ImportConfigurationDialog(controller, env, window.files, window)
        dialog.open()  # window-modal, as the window opens it
        seconds, worst, p99 = run_and_watch(app, controller, lambda: _upload(dialog, exported))
        rows.append((f"Upload a {size} configuration file (Import dialog)", seconds, worst, p99))
        dialog.reject()
        window.close()
        service.close()
        rows.append(remove_an_upload(app, exported, scratch_dir / "elsewhere", size))

    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        rows.extend(scroll_the_activity_log(app, args.activity, Path(scratch)))
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        seconds, worst, p99 = open_changes_view(app, args.changes, Path(scratch))
        rows.append((f"Show changes… over {args.changes:,} paths", seconds, worst, p99))
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        rows.append(restore_from_the_dialog(app, args.changes, Path(scratch)))
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        rows.extend(open_a_configuration_file(app, args.changes, Path(scratch)))
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        rows.append(cancel_a_previewed_restore(app, args.changes, Path(scratch)))
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        rows.extend(show_a_diff(app, 5_000, Path(scratch)))
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        rows.append(switch_between_environments(app, args.backups, Path(scratch)))

    print("| what | seconds | worst event-loop stall (ms) | 99th percentile (ms) |")
    print("| --- | --- | --- | --- |")
    for what, seconds, worst, p99 in rows:
        print(f"| {what} | {seconds:.2f} | {worst:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown, where PySide6 6.12 can crash after the work is done
