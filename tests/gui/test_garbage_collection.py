"""The garbage collector frees Qt objects on the window's thread, never a worker's.

PySide6's `QDialog.exec()` hands a dialog back to Python; one whose slots refer to it is
then a reference cycle that the collector frees on whichever thread it happens to run.
A restore's worker freeing the Restore dialog destroyed its widgets under the window's
thread: Qt crashed now and then, right after the user pressed Restore.
"""

import gc
import threading
from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import Qt

from envops_desktop.controller.operation_runner import OperationRunner
from envops_desktop.domain.models import Backup
from envops_desktop.workers.operation_worker import OperationWorker
from tests.gui.conftest import backup_rows, click_button, select_environment, when_modal
from tests.gui.user import choose_backup_option, press_shortcut
from tests.trees import mess_up


@dataclass
class Passes:
    """Each pass of the collector: its generation, whether it ran on the window's thread and
    whether an operation was running then."""

    seen: list[tuple[int, bool, bool]] = field(default_factory=list)

    def off_the_windows_thread(self) -> list[tuple[int, bool, bool]]:
        return [one for one in self.seen if not one[1]]

    def full_while_running(self) -> list[tuple[int, bool, bool]]:
        return [one for one in self.seen if one[0] == 2 and one[2]]


def anything_running(window) -> bool:
    """Whether any of the window's runners (operations, drift checks, log pages) runs."""
    return any(runner.running for runner in window.controller.findChildren(OperationRunner))


@pytest.fixture
def passes(window):
    seen = Passes()

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            on_main = threading.current_thread() is threading.main_thread()
            seen.seen.append((info["generation"], on_main, anything_running(window)))

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


def restore_through_the_options_menu(
    qtbot, window, backup: Backup, after_its_preview: bool = False
) -> list[str]:
    """Restore `backup` as the user does, at once or `after_its_preview` is shown; the
    threads the Restore dialog was destroyed on."""
    destroyed_on: list[str] = []

    def press_restore(dialog) -> None:
        dialog.destroyed.connect(
            lambda: destroyed_on.append(threading.current_thread().name),
            Qt.ConnectionType.DirectConnection,
        )
        if after_its_preview:
            show_changes = dialog.findChild(object, "showChangesButton")
            qtbot.waitUntil(show_changes.isEnabled, timeout=10_000)
        click_button(dialog, "restoreButton")

    when_modal(press_restore)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success"
    return destroyed_on


def test_the_restore_dialog_is_freed_on_the_windows_thread_while_the_restore_runs(
    qtbot, window, service, environment, config_dir, passes
):
    backup = service.create_backup("billing", name="golden")
    window.controller.refresh()
    select_environment(window, "billing")
    for _ in range(3):
        mess_up(config_dir)
        destroyed_on = restore_through_the_options_menu(qtbot, window, backup)
        # The dialog is garbage once the restore has started; it goes by the next young
        # pass, which runs while the restore does or once it has ended.
        qtbot.waitUntil(lambda: bool(destroyed_on), timeout=5_000)  # noqa: B023
        assert destroyed_on == ["MainThread"]
    assert passes.seen
    assert passes.off_the_windows_thread() == []


def test_a_restore_dialog_read_until_its_preview_was_in_is_freed_once_the_restore_is_done(
    qtbot, window, service, environment, config_dir
):
    # The preview's operation ends while the dialog is open; what was alive then and
    # frozen out of the collector's passes would never be freed: the dialog, and the
    # preview it holds (200,000 changes for a restore into an empty folder).
    backup = service.create_backup("billing", name="golden")
    window.controller.refresh()
    select_environment(window, "billing")
    for _ in range(2):
        mess_up(config_dir)
        destroyed_on = restore_through_the_options_menu(qtbot, window, backup, True)
        qtbot.waitUntil(lambda: bool(destroyed_on), timeout=5_000)  # noqa: B023
        assert destroyed_on == ["MainThread"]


def test_full_passes_wait_until_the_backup_has_run_and_young_ones_stay_on_the_windows_thread(
    qtbot, window, environment, passes
):
    # A full pass of the collector stops every thread, the window's too: 50-180 ms with a
    # configuration file's 20,000 entries alive, several times an upload. While operations
    # run only young objects are collected; once none runs, a full pass frees what they
    # left.
    window.controller.refresh()
    select_environment(window, "billing")
    runner = window.controller.runner
    # Selecting it checks its drift on a worker: let it end first.
    qtbot.waitUntil(lambda: not anything_running(window))
    passes.seen.clear()
    frozen = gc.get_freeze_count()

    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: len(backup_rows(window)) == 1 and not runner.running, timeout=10_000)
    qtbot.waitUntil(lambda: not anything_running(window))  # the drift check after it too

    assert passes.full_while_running() == []
    assert passes.off_the_windows_thread() == []
    assert not gc.isenabled()  # Python's own passes would run on whichever thread allocates
    assert (2, True, False) in passes.seen  # a full pass once nothing ran
    # Nothing alive was frozen out of later passes (frozen objects that die leave the count).
    assert gc.get_freeze_count() <= frozen


def test_operations_that_have_ended_leave_nothing_of_theirs_in_memory(qtbot, window, environment):
    # Each operation's worker holds what the operation was given: a staged file's 20,000
    # entries, a preview's changes. It lived on after its thread had ended.
    def workers() -> set[int]:
        return {id(o) for o in gc.get_objects() if isinstance(o, OperationWorker)}

    earlier = workers()  # of windows of earlier tests, closed while theirs were queued
    window.controller.refresh()
    select_environment(window, "billing")
    for number in range(3):
        when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
        press_shortcut(qtbot, window, "Ctrl+B")
        qtbot.waitUntil(lambda: len(backup_rows(window)) == number + 1, timeout=10_000)  # noqa: B023
        qtbot.waitUntil(lambda: not anything_running(window), timeout=10_000)

    gc.collect()
    assert workers() - earlier == set()


def test_once_the_window_has_closed_the_collector_runs_on_its_own_again(qtbot, window, environment):
    assert not gc.isenabled()
    window.close()
    qtbot.waitUntil(lambda: gc.isenabled(), timeout=10_000)
