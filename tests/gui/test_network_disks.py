"""An environment's folder on a network disk that stops answering (an NFS server that
hangs) or goes away (an sshfs connection dropped): the window opens, answers and closes all
the same, and what needs the folder says why it cannot have it."""

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from bench.event_loop_monitor import EventLoopMonitor
from envops_desktop.app import open_main_window
from envops_desktop.controller import drift_watch, main_controller, operation_runner
from envops_desktop.controller.environments_model import VERSION_COLUMN
from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.service import EnvOpsService, environments, folder_reach, scanning
from tests.disks import needs_root_to_mount, network_disk_gone, network_disk_not_answering
from tests.gui.conftest import click_button, scheduled_two_hours_ago, when_modal
from tests.gui.test_import_flow import drag_and_drop, open_import_dialog
from tests.gui.user import click_cell, press_shortcut, row_index
from tests.reliability.scenario import build_scenario
from tests.spies import threads_calling
from tests.trees import make_config_tree
from tests.zips import simple_configuration

pytestmark = needs_root_to_mount
# Long enough for any window to open: a test whose window waits for the disk fails, after.
DISK_GIVEN_UP_AFTER_S = 30


class Hang:
    """A network disk that stops answering, given up by the test's end at the latest."""

    def __init__(self, give_up) -> None:
        self._give_up = give_up
        self.given_up = threading.Event()
        self._watchdog = threading.Timer(DISK_GIVEN_UP_AFTER_S, self.end)
        self._watchdog.start()

    def end(self) -> None:
        self.given_up.set()
        self._give_up()
        self._watchdog.cancel()


@pytest.fixture
def billing_on_a_disk_that_hangs(service, tmp_path):
    """billing, whose version is in a file, backed up; its network disk hangs from now on."""
    folder = tmp_path / "share" / "billing"
    make_config_tree(folder)
    (folder / "VERSION").write_text("4.2.0\n")
    service.add_environment("billing", folder, version_file="VERSION")
    service.create_backup("billing")
    with network_disk_not_answering(tmp_path / "share") as give_up:
        hang = Hang(give_up)
        yield hang
        hang.end()


def _longest_stall_ms(qtbot, seconds: float) -> float:
    """The longest the window's thread went without running its event loop, over `seconds`."""
    monitor = EventLoopMonitor()
    monitor.start()
    qtbot.wait(int(seconds * 1000))
    monitor.stop()
    return monitor.worst_ms


def test_a_network_disk_that_stops_answering_never_freezes_the_window(
    qtbot, billing_on_a_disk_that_hangs, window
):
    # The window read every version file on its own thread: it never opened.
    assert not billing_on_a_disk_that_hangs.given_up.is_set()
    table = window.environments.table
    billing = row_index(table, lambda env: env.name == "billing")
    assert billing.siblingAtColumn(VERSION_COLUMN).data() == "4.2.0"

    click_cell(qtbot, table, billing)  # its drift check waits on the disk, on a worker
    assert window.controller.selected_environment.name == "billing"
    assert _longest_stall_ms(qtbot, 1.0) < 250

    press_shortcut(qtbot, window, "Ctrl+Q")

    # Its checks wait on the disk: let go of, they hold the window no more.
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    assert not billing_on_a_disk_that_hangs.given_up.is_set()


def test_a_changed_version_file_shows_once_read_off_the_windows_thread(
    qtbot, window, service, tmp_path, monkeypatch
):
    folder = tmp_path / "shop"
    make_config_tree(folder)
    (folder / "VERSION").write_text("1.0\n")
    service.add_environment("shop", folder, version_file="VERSION")
    read_on = threads_calling(monkeypatch, environments, "read_version_file")
    (folder / "VERSION").write_text("1.1\n")  # an upgrade, behind the window's back

    press_shortcut(qtbot, window, "F5")

    table = window.environments.table
    shop = row_index(table, lambda env: env.name == "shop")
    version = shop.siblingAtColumn(VERSION_COLUMN)
    qtbot.waitUntil(lambda: version.data() == "1.1", timeout=10_000)
    assert read_on and threading.main_thread() not in read_on


def test_a_version_file_changed_behind_the_windows_back_shows_as_its_watcher_sees_it(
    qtbot, window, service, tmp_path, monkeypatch
):
    # Read only by the database, the table kept the old version until something else
    # changed there; a change seen in the folder is now checked on a worker, the version too.
    monkeypatch.setattr(drift_watch, "WATCHED_EVERY_SECONDS", 0.0)
    folder = tmp_path / "shop"
    make_config_tree(folder)
    (folder / "VERSION").write_text("1.0\n")
    service.add_environment("shop", folder, version_file="VERSION")
    window.controller.refresh()
    table = window.environments.table
    click_cell(qtbot, table, row_index(table, lambda env: env.name == "shop"))
    qtbot.wait(500)  # its folders watched

    (folder / "VERSION").write_text("1.1\n")  # an upgrade, by the deploy job

    version = row_index(table, lambda env: env.name == "shop").siblingAtColumn(VERSION_COLUMN)
    qtbot.waitUntil(lambda: version.data() == "1.1", timeout=10_000)


def test_a_backup_of_a_folder_whose_network_disk_is_gone_says_why(qtbot, service, tmp_path, window):
    folder = tmp_path / "share" / "billing"
    make_config_tree(folder)
    service.add_environment("billing", folder, version="4.2.0")
    window.controller.refresh()
    ended = []
    window.controller.operation_ended.connect(lambda kind, text, *_: ended.append(text))
    with network_disk_gone(tmp_path / "share"):
        table = window.environments.table
        click_cell(qtbot, table, row_index(table, lambda env: env.name == "billing"))
        when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
        press_shortcut(qtbot, window, "Ctrl+B")
        qtbot.waitUntil(lambda: bool(ended), timeout=10_000)

    assert ended == [
        f"Cannot reach {folder}: Transport endpoint is not connected. If it is on a network "
        "or removable disk, check that the disk is still mounted and its server answers."
    ]


def test_quitting_during_a_backup_a_disk_holds_ends_the_window_once_the_wait_is_over(
    qtbot, billing_on_a_disk_that_hangs, window, monkeypatch
):
    # Cancelled, a backup held in the kernel by its disk never ends: the window waited for
    # it, then deleted its running thread, which aborts the process. Let go of, it is ended
    # with the process, and what it wrote is cleaned away at the next start.
    monkeypatch.setattr(operation_runner, "WRITES_GRACE_MS", 500)
    table = window.environments.table
    click_cell(qtbot, table, row_index(table, lambda env: env.name == "billing"))
    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: bool(window.controller.runner.running))
    asked: list[str] = []

    def cancel_it_and_quit(box) -> None:
        asked.append(box.objectName())
        click_button(box, text="Cancel it and quit")

    when_modal(cancel_it_and_quit)
    press_shortcut(qtbot, window, "Ctrl+Q")

    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    assert asked == ["confirmQuitBox"]
    assert operation_runner.threads_let_go() >= 1
    assert not billing_on_a_disk_that_hangs.given_up.is_set()


def test_adding_a_folder_on_a_disk_that_hangs_waits_off_the_window_and_cancel_adds_nothing(
    qtbot, window, service, tmp_path
):
    folder = tmp_path / "share" / "shop"
    make_config_tree(folder)
    seen: dict[str, object] = {}

    def add_then_cancel(dialog) -> None:
        dialog.findChild(QLineEdit, "nameEdit").setText("shop")
        dialog.findChild(QLineEdit, "pathEdit").setText(str(folder))
        dialog.findChild(QLineEdit, "versionEdit").setText("1.0")
        click_button(dialog, text="Add")
        seen["waiting"] = dialog.findChild(QLabel, "waitingLabel").text()
        seen["stall"] = _longest_stall_ms(qtbot, 0.5)
        seen["add enabled"] = dialog.buttons.buttons()[0].isEnabled()
        click_button(dialog, text="Cancel")

    with network_disk_not_answering(tmp_path / "share") as give_up:
        hang = Hang(give_up)
        when_modal(add_then_cancel)
        press_shortcut(qtbot, window, "Ctrl+N")
        assert not hang.given_up.is_set()
        hang.end()  # the look at the folder fails now, "not connected"
        qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=10_000)

    assert seen["waiting"] == f"Looking at {folder}…"
    assert seen["stall"] < 250
    assert seen["add enabled"] is False
    assert [e.name for e in service.list_environments()] == []


# The app as an operator starts it, Ctrl+Q pressed in its window two seconds after it shows.
_QUIT_AFTER_TWO_SECONDS = """
import sys
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from envops_desktop import app

qapp = QApplication([sys.argv[0]])
def quit_from_the_window():
    window = next(w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow")
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
QTimer.singleShot(2000, quit_from_the_window)
sys.exit(app.main(["--data-dir", sys.argv[1]]))
"""


def test_the_app_quit_while_a_disk_holds_its_reads_ends_its_process_cleanly(
    billing_on_a_disk_that_hangs, service, tmp_path
):
    # Its reads let go of, the process must still end: left to Python's teardown, their
    # running QThreads were deleted, and Qt aborted the process ("QThread: Destroyed while
    # thread is still running").
    service.close()
    started = time.monotonic()
    ended = subprocess.run(
        [sys.executable, "-c", _QUIT_AFTER_TWO_SECONDS, str(service.data_dir)],
        capture_output=True,
        text=True,
        timeout=DISK_GIVEN_UP_AFTER_S - 5,
        env={**os.environ, "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
    )

    assert ended.returncode == 0, ended.stderr
    assert time.monotonic() - started < 15
    assert not billing_on_a_disk_that_hangs.given_up.is_set()


def test_a_configuration_file_on_a_share_that_hangs_is_dragged_read_and_quit_without_a_freeze(
    qtbot, window, environment, tmp_path
):
    share = tmp_path / "share"
    share.mkdir()
    simple_configuration(share / "billing.envops.zip")
    with network_disk_not_answering(share) as give_up:
        hang = Hang(give_up)
        dialog = open_import_dialog(qtbot, window, "billing")
        zone = dialog.findChild(QWidget, "dropZone")

        # Judged by its name as it is dragged over; read on a worker once dropped.
        assert drag_and_drop(zone, share / "billing.envops.zip") == (True, True)
        qtbot.waitUntil(lambda: bool(window.controller.runner.running))
        stall = _longest_stall_ms(qtbot, 0.5)
        asked: list[str] = []

        def cancel_it_and_quit(box) -> None:
            asked.append(box.objectName())
            click_button(box, text="Cancel it and quit")

        dialog.reject()
        when_modal(cancel_it_and_quit)
        press_shortcut(qtbot, window, "Ctrl+Q")
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
        assert not hang.given_up.is_set()

    assert stall < 250
    assert asked == ["confirmQuitBox"]


def test_files_dragged_from_a_share_that_is_gone_are_refused_in_a_sentence(
    qtbot, window, environment, tmp_path
):
    share = tmp_path / "share"
    with network_disk_gone(share):
        dialog = open_import_dialog(qtbot, window, "billing")
        zone = dialog.findChild(QWidget, "dropZone")
        message = dialog.findChild(QLabel, "dropZoneMessage")

        # A look at what it is raised "not connected" out of the drag, to the crash banner.
        assert drag_and_drop(zone, share / "notes") == (False, False)
        said_of_notes = message.text()
        assert drag_and_drop(zone, share / "billing.envops.zip") == (True, True)
        error = dialog.findChild(QLabel, "uploadErrorLabel")
        qtbot.waitUntil(lambda: error.isVisible(), timeout=10_000)
        dialog.reject()

    assert said_of_notes.startswith("notes is not a configuration file or archive")
    assert error.text() == (
        "billing.envops.zip was refused: it cannot be read (Transport endpoint is not connected)."
    )


def _with_a_restore_killed_once_swapped(tmp_path: Path) -> EnvOpsService:
    """The service of billing (its folder in tmp_path/envs), whose restore was killed once
    its new tree was swapped in: to be put right at the next start."""
    scenario = build_scenario(tmp_path)
    killed = scenario.restore_process(scenario.messed, crash_at="swapped")
    killed.communicate(timeout=60)
    return EnvOpsService(scenario.data_dir)


def test_the_window_opens_at_once_while_an_interrupted_restores_disk_hangs(
    qtbot, tmp_path, settings, monkeypatch
):
    # Putting the interrupted restore right waited for the disk before the window showed:
    # with nothing on the screen, for as long as the look at its folder was given.
    monkeypatch.setattr(folder_reach, "ANSWER_SECONDS", 3.0)
    service = _with_a_restore_killed_once_swapped(tmp_path)
    with network_disk_not_answering(tmp_path / "envs") as give_up:
        hang = Hang(give_up)
        started = time.monotonic()
        window = open_main_window(service, settings)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        took = time.monotonic() - started
        doing = window.task_progress.label.text()
        cancel_offered = window.task_progress.cancel_button.isEnabled()
        status_meanwhile = window.controller.environments_model.index(0, 1).data()
        qtbot.waitUntil(window.banner.isVisible, timeout=10_000)
        said = window.banner.text
        status = window.controller.environments_model.index(0, 1).data()
        press_shortcut(qtbot, window, "Ctrl+Q")
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
        assert not hang.given_up.is_set()
    service.close()

    assert took < 1.5
    assert doing == "Putting right an interrupted restore"
    assert not cancel_offered  # it goes to its end, whatever is asked
    assert status_meanwhile == "Updating"
    assert said == (
        "Recovered billing after an interruption: the interrupted restore waits for its "
        f"folder: {tmp_path / 'envs'} did not answer within 3 s: if it is on a network disk, "
        "check that its server answers; EnvOps will try again at the next start or restore "
        "of it."
    )
    assert status == "Update Failed"


def test_a_folder_dragged_from_a_share_that_hangs_is_refused_without_a_freeze(
    qtbot, window, environment, tmp_path
):
    share = tmp_path / "share"
    (share / "configs").mkdir(parents=True)
    with network_disk_not_answering(share) as give_up:
        hang = Hang(give_up)
        dialog = open_import_dialog(qtbot, window, "billing")
        zone = dialog.findChild(QWidget, "dropZone")
        message = dialog.findChild(QLabel, "dropZoneMessage")

        # Whether a name of no archive's was a folder was asked on the window's thread.
        started = time.monotonic()
        over_the_dialog = drag_and_drop(zone, share / "configs")
        over_the_window = drag_and_drop(window, share / "configs")
        took = time.monotonic() - started
        stall = _longest_stall_ms(qtbot, 0.5)
        said = message.text()
        dialog.reject()
        assert not hang.given_up.is_set()

    assert over_the_dialog == over_the_window == (False, False)
    assert took < 0.25 and stall < 250
    assert said.startswith("configs is not a configuration file or archive")


@pytest.fixture
def shop(service, tmp_path):
    """shop, on a local disk, backed up."""
    folder = tmp_path / "shop"
    make_config_tree(folder)
    service.add_environment("shop", folder, version="1.0")
    service.create_backup("shop")
    return folder


def test_a_disk_that_hangs_keeps_no_other_folder_from_being_watched(
    qtbot, monkeypatch, shop, billing_on_a_disk_that_hangs, window
):
    # The window listed every environment's folders to watch in one go, which billing's
    # disk held: a change in shop showed only once shop was selected.
    monkeypatch.setattr(drift_watch, "WATCHED_EVERY_SECONDS", 0.0)
    shop_id = window.controller.service.get_environment("shop").id
    qtbot.wait(500)  # its folders watched

    (shop / "app.yaml").write_text("server:\n  port: 1\n")  # by hand, on the server

    qtbot.waitUntil(lambda: window.controller.drift.state(shop_id) is True, timeout=5_000)
    assert not billing_on_a_disk_that_hangs.given_up.is_set()


@pytest.mark.parametrize("share_is", ["gone", "not answering"])
def test_a_file_dialog_last_used_on_a_share_away_opens_in_the_home_folder(
    qtbot, window, environment, settings, tmp_path, share_is
):
    # Its last folder was looked at on the window's thread: a share that hangs froze the
    # window, and one that is gone raised "not connected" out of Choose file….
    share = tmp_path / "share"
    (share / "configs").mkdir(parents=True)
    settings.setValue("dialogs/lastFolder", str(share / "configs"))
    opened_in: list[str] = []

    def look_and_cancel(file_dialog) -> None:
        opened_in.append(file_dialog.directory().absolutePath())
        file_dialog.reject()

    with contextlib.ExitStack() as away:
        if share_is == "gone":
            away.enter_context(network_disk_gone(share))
        else:
            hang = Hang(away.enter_context(network_disk_not_answering(share)))
            away.callback(hang.end)
        dialog = open_import_dialog(qtbot, window, "billing")
        when_modal(look_and_cancel, named="chooseConfigurationFileDialog")
        started = time.monotonic()
        qtbot.mouseClick(dialog.findChild(QWidget, "chooseFileButton"), Qt.MouseButton.LeftButton)
        took = time.monotonic() - started
        dialog.reject()
        assert share_is == "gone" or not hang.given_up.is_set()

    assert opened_in == [str(Path.home())]
    assert took < 5


@pytest.fixture
def billing_held_halfway_through_its_scheduled_backup(service, tmp_path, monkeypatch):
    """billing and shop, both on a schedule set two hours ago (due now, billing's first);
    billing's network disk answers a backup's first look at its folder, then stops
    answering."""
    folder = tmp_path / "share" / "billing"
    make_config_tree(folder)
    service.add_environment("billing", folder, version="4.2.0")
    make_config_tree(tmp_path / "shop")
    service.add_environment("shop", tmp_path / "shop", version="1.0")
    scheduled_two_hours_ago(service, "billing", "shop")
    monkeypatch.setattr(scanning, "is_folder", lambda _path, within=None: True)
    # Checked often, and a run quiet for a second taken to be held.
    monkeypatch.setattr(main_controller, "SCHEDULE_CHECK_MS", 200)
    monkeypatch.setattr(main_controller, "SCHEDULED_RUN_QUIET_S", 1.0)
    with network_disk_not_answering(tmp_path / "share") as give_up:
        hang = Hang(give_up)
        yield hang
        hang.end()


def test_a_scheduled_backup_a_disk_holds_keeps_no_other_environment_from_its_own(
    qtbot, billing_held_halfway_through_its_scheduled_backup, window
):
    # The app took the scheduled backups that were due in one run, one environment after
    # another: held on billing's disk, it kept shop's from being taken until the disk
    # answered, or the app was restarted.
    service = window.controller.service

    def taken(name: str) -> bool:
        return [b.origin for b in service.list_backups(name)] == [BackupOrigin.SCHEDULED]

    qtbot.waitUntil(lambda: taken("shop"), timeout=20_000)
    assert not billing_held_halfway_through_its_scheduled_backup.given_up.is_set()
    assert service.list_backups("billing") == []  # still held
    assert "Taking scheduled backups" in [op.label for op in window.controller.runner.running]

    billing_held_halfway_through_its_scheduled_backup.end()  # its disk gone now
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.text.startswith("The scheduled backup of billing failed: ")
    assert "not connected" in window.banner.text


def test_quitting_while_the_start_puts_a_restore_right_waits_for_it_and_starts_nothing_more(
    qtbot, tmp_path, settings, monkeypatch
):
    # Scheduled backups are taken once interrupted restores are put right. Quit meanwhile,
    # the window waited for that, then took shop's backup, due, after it had closed.
    monkeypatch.setattr(folder_reach, "ANSWER_SECONDS", 2.0)
    service = _with_a_restore_killed_once_swapped(tmp_path)
    make_config_tree(tmp_path / "shop")
    service.add_environment("shop", tmp_path / "shop", version="1.0")
    scheduled_two_hours_ago(service, "shop")
    asked: list[str] = []

    def quit_when_done(box) -> None:
        asked.append(box.text())
        click_button(box, text="Quit when done")

    with network_disk_not_answering(tmp_path / "envs") as give_up:
        hang = Hang(give_up)
        window = open_main_window(service, settings)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        when_modal(quit_when_done)
        press_shortcut(qtbot, window, "Ctrl+Q")
        waited = window.isVisible() and not window.isEnabled()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
        qtbot.wait(500)  # time for anything a closed window would still start
        running = [op.label for op in window.controller.runner.running]
        assert not hang.given_up.is_set()
    service.close()

    assert asked == [
        "Putting right an interrupted restore is still running. Quit once it has finished?"
    ]
    assert waited
    assert running == []
    again = EnvOpsService(service.data_dir)
    assert again.list_backups("shop") == []
    again.close()
