"""Restoring from a saved backup through the window, exactly as the product guide describes."""

import contextlib
import hashlib
import signal
import subprocess
import sys
import threading

from PySide6.QtCore import Qt

from envops_desktop.app import open_main_window
from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService, recovery, restore, swap
from tests.disks import needs_root_to_mount
from tests.gui.conftest import click_button, select_environment, when_modal
from tests.gui.user import choose_backup_option, press_shortcut
from tests.reliability.scenario import build_scenario, kill, paused_at_first_progress
from tests.spies import letting_go_of_changes, threads_calling
from tests.trees import describe_tree, mess_up

SLOW_CHECK = [sys.executable, "-c", "import time; time.sleep(1.5)"]


def status_in_table(window) -> str:
    model = window.controller.environments_model
    return model.index(0, 1).data()


def add_billing(service, config_dir, argv=None):
    command = RestoreCommand(argv=argv, timeout_seconds=30) if argv else None
    service.add_environment("billing", config_dir, version="4.2.0", post_restore_command=command)


def open_restore(qtbot, window, backup, answer) -> None:
    when_modal(answer)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")


def restore_dialog_seen(qtbot, window, service, folder) -> dict:
    """What the Restore dialog of a backup "golden" of billing, registered at `folder`,
    shows when opened from the backups table; then cancelled."""
    add_billing(service, folder)
    backup = service.create_backup("billing", name="golden")
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def inspect(dialog) -> None:
        seen["name"] = dialog.objectName()
        seen["width"] = dialog.width()
        seen["warning"] = dialog.findChild(object, "restoreWarning").text()
        seen["backup"] = dialog.findChild(object, "backupName").text()
        seen["version"] = dialog.findChild(object, "backupVersion").text()
        seen["first"] = dialog.findChild(object, "backupFirstCheckBox").isChecked()
        dialog.reject()

    open_restore(qtbot, window, backup, inspect)
    return seen


def test_restore_dialog_shows_the_backup_and_warns(qtbot, window, service, config_dir):
    seen = restore_dialog_seen(qtbot, window, service, config_dir)
    assert seen["name"] == "restoreBackupDialog"
    assert "erase the current configuration" in seen["warning"]
    assert (seen["backup"], seen["version"], seen["first"]) == ("golden", "4.2.0", True)
    assert len(service.list_backups("billing")) == 1  # cancelled: nothing happened


def test_a_folder_with_a_long_name_does_not_widen_the_restore_dialog(
    qtbot, window, service, tmp_path
):
    # The name had nowhere to break a line: a folder named by a 192-digit hash (three
    # sha256s, as a container's layers are) made the dialog 1,400 pixels wide, past the
    # edge of a laptop's screen, its buttons with it.
    folder = tmp_path / (hashlib.sha256(b"layer").hexdigest() * 3) / "conf"
    folder.mkdir(parents=True)
    (folder / "app.yaml").write_text("port: 80\n")
    seen = restore_dialog_seen(qtbot, window, service, folder)
    assert seen["width"] <= 600
    assert str(folder) in seen["warning"].replace("\u200b", "")


def test_successful_restore_shows_updating_then_success(qtbot, window, service, config_dir):
    add_billing(service, config_dir, SLOW_CHECK)
    wanted = describe_tree(config_dir)
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")

    open_restore(qtbot, window, backup, lambda d: click_button(d, "restoreButton"))
    assert window.banner.kind == "info" and "being updated" in window.banner.text
    assert status_in_table(window) == "Updating"
    # Updating is seen while the worker runs, in the table, the Overview and the title.
    qtbot.waitUntil(lambda: service.get_environment("billing").status.value == "Updating")
    window.controller.refresh()
    assert status_in_table(window) == "Updating"
    assert window.overview.values["status"].text() == "Updating"
    assert "(Updating)" in window.windowTitle()
    assert not window.actions.backup.isEnabled() and not window.actions.restore.isEnabled()
    assert window.task_progress.isVisible()

    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success"
    assert window.banner.text == "billing was restored to golden (4.2.0)."
    assert describe_tree(config_dir) == wanted
    assert status_in_table(window) == "Ready"
    assert window.overview.values["last restored"].text() == "golden (4.2.0)"
    latest = service.activity("billing")[0]
    assert latest.action is ActivityAction.BACKUP_RESTORED and latest.user == service.user
    pre_restore = [b for b in service.list_backups("billing") if b.origin.value == "pre-restore"]
    assert len(pre_restore) == 1  # "back up first" was checked by default


def test_a_restore_lets_go_of_what_its_dialog_showed_off_the_window_s_thread(
    qtbot, window, service, config_dir, monkeypatch
):
    # Left to the closed dialog, a preview of 200,000 changes was freed by the window's
    # next full collection, with the window held 70-80 ms.
    let_go = letting_go_of_changes(monkeypatch)
    add_billing(service, config_dir)
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    shown = []

    def restore_once_counted(dialog) -> None:
        qtbot.waitUntil(lambda: dialog.previewed is not None, timeout=10_000)
        shown.append(dialog.previewed)
        click_button(dialog, "restoreButton")

    open_restore(qtbot, window, backup, restore_once_counted)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)

    assert window.banner.kind == "success", window.banner.text
    qtbot.waitUntil(lambda: bool(let_go), timeout=10_000)
    assert let_go == [(shown[0], False)]


def test_version_mismatch_box_changes_nothing(qtbot, window, service, config_dir):
    add_billing(service, config_dir)
    backup = service.create_backup("billing")
    service.update_environment_version("billing", "5.0.0")
    mess_up(config_dir)
    before = describe_tree(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def read_and_ok(box) -> None:
        seen["name"] = box.objectName()
        seen["text"] = box.text() + " " + box.informativeText()
        click_button(box, "okButton")

    open_restore(qtbot, window, backup, read_and_ok)
    assert seen["name"] == "versionMismatchBox"
    assert "4.2.0" in seen["text"] and "5.0.0" in seen["text"]
    assert "This backup is version 4.2.0" in seen["text"]
    assert "then restore the backup again" in seen["text"]
    assert describe_tree(config_dir) == before
    assert service.activity("billing")[0].action is ActivityAction.ENVIRONMENT_UPDATED


def test_version_mismatch_box_offers_to_update_the_environment(qtbot, window, service, config_dir):
    add_billing(service, config_dir)
    backup = service.create_backup("billing")
    service.update_environment_version("billing", "5.0.0")
    window.controller.refresh()
    select_environment(window, "billing")
    opened = []

    def update_instead(box) -> None:
        def in_update_dialog(dialog) -> None:
            opened.append(dialog.objectName())
            dialog.version_edit.setText("4.2.0")
            dialog.accept()

        when_modal(in_update_dialog)
        click_button(box, "updateEnvironmentButton")

    open_restore(qtbot, window, backup, update_instead)
    qtbot.waitUntil(lambda: opened == ["updateEnvironmentDialog"])
    assert service.get_environment("billing").version == "4.2.0"


def test_a_failing_pre_restore_command_set_in_add_environment_changes_nothing(
    qtbot, window, service, config_dir
):
    def add_with_a_command_that_fails(dialog) -> None:
        dialog.name_edit.setText("billing")
        dialog.path_edit.setText(str(config_dir))
        dialog.version_edit.setText("4.2.0")
        dialog.findChild(object, "preRestoreCommandEdit").setText(
            "sh -c 'echo billing will not stop; exit 5'"
        )
        dialog.accept()

    when_modal(add_with_a_command_that_fails)
    press_shortcut(qtbot, window, "Ctrl+N")
    assert "billing will not stop" in window.overview.values["pre-restore command"].text()
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")

    open_restore(qtbot, window, backup, lambda d: click_button(d, "restoreButton"))
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)

    assert window.banner.kind == "error"
    assert "pre-restore command failed with exit code 5" in window.banner.text
    assert describe_tree(config_dir) == messed
    assert status_in_table(window) == "Update Failed"


def test_failed_post_restore_command_gives_update_failed_and_retry_works(
    qtbot, window, service, config_dir, tmp_path
):
    flag = tmp_path / "healthy"
    check = [
        sys.executable,
        "-c",
        f"import os,sys; sys.exit(0 if os.path.exists({str(flag)!r}) else 3)",
    ]
    add_billing(service, config_dir, check)
    wanted = describe_tree(config_dir)
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")

    def restore_without_backup(dialog) -> None:
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    open_restore(qtbot, window, backup, restore_without_backup)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "error"
    assert "exit code 3" in window.banner.text and "back in place" in window.banner.text
    assert describe_tree(config_dir) == messed
    assert status_in_table(window) == "Update Failed"
    assert service.activity("billing")[0].action is ActivityAction.RESTORE_FAILED
    qtbot.mouseClick(window.banner.findChild(object, "dismissButton"), Qt.MouseButton.LeftButton)
    assert not window.banner.isVisible()

    flag.touch()
    open_restore(qtbot, window, backup, restore_without_backup)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    assert describe_tree(config_dir) == wanted
    assert status_in_table(window) == "Ready"


def start_restore_that_hangs(qtbot, window, service, config_dir) -> dict:
    """Start a restore whose post-restore command never ends; return the tree before it."""
    add_billing(service, config_dir, [sys.executable, "-c", "import time; time.sleep(30)"])
    backup = service.create_backup("billing")
    mess_up(config_dir)
    before = describe_tree(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    open_restore(qtbot, window, backup, lambda d: click_button(d, "restoreButton"))
    qtbot.waitUntil(lambda: window.task_progress.isVisible())
    qtbot.waitUntil(lambda: "post-restore" in window.task_progress.label.text(), timeout=10_000)
    return before


def test_cancel_puts_the_old_configuration_back(qtbot, window, service, config_dir):
    messed = start_restore_that_hangs(qtbot, window, service, config_dir)
    qtbot.mouseClick(window.task_progress.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "info" and "cancelled" in window.banner.text
    # The command the user stopped, which hung, is not run again on the configuration put back.
    assert "post-restore command, stopped before it ended, was not run again" in (
        window.banner.text
    )
    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.READY


def test_quitting_during_a_restore_says_it_puts_everything_back_then_closes(
    qtbot, window, service, config_dir, monkeypatch
):
    # The roll-back held until the test has seen the window meanwhile: removing a big new
    # tree takes seconds, and the window froze for all of them, unpainted, in its shutdown.
    putting_back, go_on = threading.Event(), threading.Event()
    real_roll_back = restore.roll_back

    def roll_back_once_seen(entry) -> None:
        putting_back.set()
        go_on.wait(20)
        real_roll_back(entry)

    monkeypatch.setattr(restore, "roll_back", roll_back_once_seen)
    messed = start_restore_that_hangs(qtbot, window, service, config_dir)

    when_modal(lambda box: click_button(box, text="Cancel"))
    press_shortcut(qtbot, window, "Ctrl+Q")
    assert window.isVisible()  # the user chose to keep working
    assert not putting_back.is_set()

    asked: list[str] = []
    when_modal(
        lambda box: (asked.append(box.objectName()), click_button(box, text="Cancel it and quit"))
    )
    press_shortcut(qtbot, window, "Ctrl+Q")
    assert putting_back.wait(10)
    assert asked == ["confirmQuitBox"]
    assert window.isVisible() and not window.isEnabled()
    assert window.task_progress.label.text() == "Cancelling — putting everything back…"
    assert window.task_progress.bar.maximum() == 0  # busy: how far it is, is not known
    assert window.statusBar().currentMessage() == "EnvOps quits once everything is put back…"
    opened: list[str] = []
    when_modal(lambda dialog: (opened.append(dialog.objectName()), dialog.reject()), 500)
    press_shortcut(qtbot, window, "Ctrl+N")  # nothing new starts meanwhile
    qtbot.wait(600)
    assert opened == []

    go_on.set()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)
    assert not window.controller.runner.running
    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.READY


def test_killed_restore_is_recovered_and_announced_at_next_start(qtbot, tmp_path, settings):
    scenario = build_scenario(tmp_path)
    process = scenario.restore_process(scenario.messed, crash_at="staged")
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    service = EnvOpsService(scenario.data_dir)
    window = open_main_window(service, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(window.banner.isVisible, timeout=20_000)  # put right on a worker
    assert window.banner.kind == "info"
    assert "Recovered billing" in window.banner.text and "rolled back" in window.banner.text
    assert scenario.state() == "original"
    assert status_in_table(window) == "Update Failed"
    # Worker threads hand the GIL back to the window within a millisecond, not Python's 5 ms.
    assert sys.getswitchinterval() <= 0.001
    window.controller.shutdown()
    service.close()


def test_the_window_answers_while_it_clears_what_a_killed_restore_to_a_folder_left(
    qtbot, tmp_path, settings, monkeypatch
):
    # A restore to a folder killed part-way leaves its hidden tree beside the folder, which
    # the next start removes: 200,000 files take seconds. That was done on the window's
    # thread, before the window showed.
    scenario = build_scenario(tmp_path, files=40)
    beside = tmp_path / "old-configurations"
    beside.mkdir()
    ready = tmp_path / "ready"
    to = str(beside / "billing-then")
    kill(paused_at_first_progress(scenario.data_dir, ready, "to-folder", scenario.original, to))
    removing, may_go_on = threading.Event(), threading.Event()

    def held(tree):
        removing.set()
        may_go_on.wait(10)
        swap.remove_tree(tree)

    monkeypatch.setattr(recovery, "remove_tree", held)
    service = EnvOpsService(scenario.data_dir)
    window = open_main_window(service, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert removing.wait(10)
    doing = window.task_progress.label.text()
    may_go_on.set()
    qtbot.waitUntil(lambda: not window.task_progress.isVisible(), timeout=10_000)
    window.controller.shutdown()
    service.close()

    assert doing == "Clearing what an interrupted operation left"
    assert list(beside.iterdir()) == []


@contextlib.contextmanager
def read_only(folder):
    """`folder` read-only for the block, as a share mounted read-only is: nothing in it can
    be renamed or removed."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@needs_root_to_mount
def test_a_restore_after_an_interrupted_one_the_start_could_not_undo_is_kept(
    qtbot, tmp_path, settings
):
    scenario = build_scenario(tmp_path)
    killed = scenario.restore_process(scenario.messed, crash_at="swapped")
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    service = EnvOpsService(scenario.data_dir)
    with read_only(scenario.target.parent):  # its disk cannot be written as the window opens
        window = open_main_window(service, settings)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    said_at_start = window.banner.text
    select_environment(window, "billing")
    messed = service.get_backup(scenario.messed)

    counted: list[str] = []

    def restore_once_previewed(dialog) -> None:
        qtbot.waitUntil(dialog.findChild(object, "showChangesButton").isEnabled, timeout=10_000)
        counted.append(dialog.findChild(object, "previewCounts").text())
        if len(counted) == 1:  # the interrupted restore is rolled back first: shown again
            when_modal(restore_once_previewed)
        click_button(dialog, "restoreButton")

    # The user restores billing again, from the window, once its disk can be written.
    open_restore(qtbot, window, messed, restore_once_previewed)
    qtbot.waitUntil(lambda: len(counted) == 2, timeout=20_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    said_after = window.banner.text
    window.controller.shutdown()
    service.close()
    # The next start undid the interrupted restore over this one: billing went back to the
    # configuration before both, and was marked Update Failed.
    service = EnvOpsService(scenario.data_dir)
    service.recover_interrupted_operations()

    assert "could not be cleaned up" in said_at_start
    assert counted[0] == "no changes" and counted[1] != "no changes"
    assert said_after == "billing was restored to messed (4.2.0)."
    assert scenario.state() == "messed"
    assert service.get_environment("billing").status is EnvironmentStatus.READY
    service.close()


def test_an_incomplete_backup_is_marked_and_its_restore_names_the_file_first(
    qtbot, window, service, config_dir, monkeypatch
):
    from envops_desktop.store import blobs

    add_billing(service, config_dir)
    real_identity = blobs._identity
    reads = iter(range(10**6))
    # live.log is being written on every read, as a busy log is.
    monkeypatch.setattr(
        blobs,
        "_identity",
        lambda st: (*real_identity(st), next(reads) if st.st_size == 37 else 0),
    )
    (config_dir / "live.log").write_bytes(b"l" * 37)
    backup = service.create_backup("billing", name="busy")
    window.controller.refresh()
    select_environment(window, "billing")
    names = [
        window.controller.backups_model.index(row, 0).data()
        for row in range(window.controller.backups_model.rowCount())
    ]
    seen = {}
    # Read off the window's thread: unless it may give files away, this process reads
    # every entry's owner for them (0.36-0.51 s for 200,000 files).
    readers = threads_calling(monkeypatch, EnvOpsService, "restore_caveats")

    def inspect(dialog) -> None:
        caveats = dialog.findChild(object, "restoreCaveats")
        qtbot.waitUntil(caveats.isVisible, timeout=10_000)  # with the preview, on a worker
        seen["caveats"] = caveats.text()
        dialog.reject()

    open_restore(qtbot, window, backup, inspect)

    assert names == ["busy — incomplete: 1 changed while read"]
    assert "live.log kept changing while busy was made" in seen["caveats"]
    assert readers and threading.main_thread() not in readers
