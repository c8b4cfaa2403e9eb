"""The environments table says when a folder was changed since its last backup."""

import threading
import time

from envops_desktop.controller import drift_watch
from envops_desktop.controller.environments_model import DRIFT_COLUMN, MODIFIED
from envops_desktop.workers import operation_worker
from tests.gui.conftest import click_button, select_environment, when_modal
from tests.gui.user import choose_backup_option, click_cell, press_shortcut, row_index
from tests.spies import threads_calling


def _badge(window) -> str:
    model = window.controller.environments_model
    return model.index(model.row_of(window.controller.selected_environment.id), DRIFT_COLUMN).data()


def test_the_drift_badge_follows_the_folder_and_goes_with_the_next_backup(
    qtbot, window, service, environment, config_dir, monkeypatch
):
    monkeypatch.setattr(drift_watch, "WATCHED_EVERY_SECONDS", 0.0)
    listed_on = threads_calling(monkeypatch, drift_watch, "_entries_in")
    service.create_backup("billing")
    window.controller.refresh()
    select_environment(window, "billing")
    qtbot.waitUntil(lambda: window.controller.drift.state(environment.id) is False, timeout=10_000)
    assert _badge(window) == ""

    (config_dir / "app.yaml").write_text("server:\n  port: 1\n")  # seen by the folder's watcher

    qtbot.waitUntil(lambda: _badge(window) == MODIFIED, timeout=10_000)
    # Its folders were listed to be watched off the window's thread: thousands of them, or
    # a slow network disk, would freeze it.
    assert listed_on and threading.main_thread() not in listed_on
    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: _badge(window) == "", timeout=20_000)
    assert len(service.list_backups("billing")) == 2


def test_a_clicked_environment_is_looked_at_once_the_window_has_drawn_the_click(
    qtbot, window, service, environment, monkeypatch
):
    # Begun at once, a big tree's listing and scan took the GIL from the window's drawing of
    # what the click changed.
    monkeypatch.setattr(operation_worker, "_MOST_WAITED_S", 60)  # only drawing starts it
    service.create_backup("billing")
    window.controller.refresh()
    listed_on = threads_calling(monkeypatch, drift_watch, "_entries_in")
    checked_on = threads_calling(monkeypatch, type(service), "modified_since_backup")
    table = window.environments.table
    click_cell(qtbot, table, row_index(table, lambda env: env.name == "billing"))
    time.sleep(0.05)  # the window's thread busy elsewhere: the click not drawn yet
    assert listed_on == [] and checked_on == []
    qtbot.waitUntil(lambda: window.controller.drift.state(environment.id) is False, timeout=10_000)
    assert listed_on and checked_on and threading.main_thread() not in listed_on + checked_on


def test_the_drift_badge_still_follows_the_folder_after_a_restore_swapped_it(
    qtbot, window, service, environment, config_dir, monkeypatch
):
    # A restore puts a new folder where the watched one was; the old one's watches then
    # report nothing, and went with it when it was removed.
    monkeypatch.setattr(drift_watch, "WATCHED_EVERY_SECONDS", 0.0)
    backup = service.create_backup("billing")
    window.controller.refresh()
    select_environment(window, "billing")

    def restore_without_a_backup_first(dialog) -> None:
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    beside = set(config_dir.parent.iterdir())
    when_modal(restore_without_a_backup_first, named="restoreBackupDialog")
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    # Settled: the folder it replaced is gone (removed in the background).
    qtbot.waitUntil(lambda: set(config_dir.parent.iterdir()) == beside, timeout=20_000)
    # The checks the swap's own events asked for run first: one still to come would find
    # the edit below even with no watch left to see it.
    qtbot.wait(500)
    qtbot.waitUntil(lambda: window.controller.drift.state(environment.id) is False, timeout=10_000)

    (config_dir / "conf.d" / "cache.ini").write_text("[edited after the restore]\n")

    qtbot.waitUntil(lambda: _badge(window) == MODIFIED, timeout=10_000)


def test_no_badge_from_before_a_restore_stays_once_it_is_done(
    qtbot, window, service, environment, config_dir
):
    backup = service.create_backup("billing")
    (config_dir / "app.yaml").write_text("server:\n  port: 1\n")
    window.controller.refresh()
    select_environment(window, "billing")  # checked as it is selected
    qtbot.waitUntil(lambda: _badge(window) == MODIFIED, timeout=10_000)
    shown_when_done = []
    window.controller.operation_ended.connect(lambda *_: shown_when_done.append(_badge(window)))

    def restore_without_a_backup_first(dialog) -> None:
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    when_modal(restore_without_a_backup_first, named="restoreBackupDialog")
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: bool(shown_when_done), timeout=20_000)

    # Restored from its last backup: the folder is that backup again. Modified, from before,
    # is not shown meanwhile; the check then finds it unchanged.
    assert shown_when_done == [""]
    qtbot.waitUntil(lambda: window.controller.drift.state(environment.id) is False, timeout=10_000)
    assert _badge(window) == ""


def test_a_check_the_folder_s_change_made_due_never_runs_once_the_window_has_closed(
    qtbot, environment, window, service, config_dir, monkeypatch
):
    # A change seen within a minute of the last check waits for the minute's end. If the
    # window closed meanwhile, that check used to run anyway: on a thread the shutdown no
    # longer waited for, against a service its owner was closing.
    monkeypatch.setattr(drift_watch, "WATCHED_EVERY_SECONDS", 0.5)
    service.create_backup("billing")
    select_environment(window, "billing")
    qtbot.waitUntil(lambda: window.controller.drift.state(environment.id) is False, timeout=10_000)
    checks = threads_calling(monkeypatch, service, "modified_since_backup")

    (config_dir / "app.yaml").write_text("server:\n  port: 1\n")  # seen by the folder's watcher
    qtbot.wait(200)
    window.close()
    qtbot.wait(1000)

    assert checks == []


def test_an_answer_still_on_its_way_when_the_window_closes_is_dropped(
    qtbot, environment, window, service, config_dir, tmp_path, monkeypatch
):
    # An answer queued to the window's thread just before the close came after the shutdown,
    # and refreshed a window whose service its owner had closed (a benchmark's next section
    # met it there, its data folder deleted).
    service.create_backup("billing")
    other = tmp_path / "other"
    other.mkdir()
    service.add_environment("other", other, version="1")
    window.controller.refresh()
    select_environment(window, "other")
    started, go, answered = threading.Event(), threading.Event(), threading.Event()
    check = service.modified_since_backup

    def held_then_noted(*args, **kwargs):
        started.set()
        go.wait(10)
        try:
            return check(*args, **kwargs)
        finally:
            answered.set()

    monkeypatch.setattr(service, "modified_since_backup", held_then_noted)
    (config_dir / "app.yaml").write_text("server:\n  port: 1\n")
    answers: list[str] = []
    window.controller.drift.changed.connect(answers.append)
    table = window.environments.table
    click_cell(qtbot, table, row_index(table, lambda e: e.name == "billing"))  # its check
    qtbot.waitUntil(started.is_set)
    answers.clear()
    go.set()
    assert answered.wait(10)
    time.sleep(0.2)  # its answer is queued to this thread, not yet taken
    window.close()
    qtbot.wait(300)

    assert answers == []
