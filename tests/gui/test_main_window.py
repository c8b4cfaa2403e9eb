"""Driving the main window as a user would, against a real service in tmp_path."""

import os
import sqlite3
import threading
from datetime import time

import pytest
from PySide6.QtCore import QPoint, Qt, QThread, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QInputDialog, QLabel, QLineEdit, QTabWidget

from envops_desktop.controller.activity_model import PAGE_SIZE
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.record_table_model import RECORD_ROLE
from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.progress import CancelToken, ProgressMeter
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service.service import EnvOpsService
from envops_desktop.ui.backups_panel import NAME_MIN_WIDTH
from envops_desktop.ui.main_window import MainWindow
from tests.disks import needs_root_to_mount, small_disk
from tests.gui.conftest import (
    backup_rows,
    backups_read,
    click_button,
    log_read,
    progress_lines,
    quit_insisting,
    select_environment,
    when_modal,
)
from tests.gui.user import (
    choose_backup_option,
    click_cell,
    click_header,
    click_menu_entry,
    click_toolbar_button,
    open_menu_bar_menu,
    press_shortcut,
    row_index,
)
from tests.meanwhile import after_the_backup_scan
from tests.spies import outcomes_of, threads_calling
from tests.store_view import damage_table
from tests.trees import describe_tree


def test_selecting_an_environment_shows_its_backups_and_overview(window, environment, service):
    service.create_backup("billing", name="nightly")
    window.controller.refresh()
    select_environment(window, "billing")
    assert backup_rows(window) == ["nightly"]
    assert window.overview.values["version"].text() == "4.2.0"
    assert window.overview.values["name"].text() == "billing"
    assert "billing (Ready)" in window.windowTitle()


def _held_reads_of_backups(monkeypatch, service) -> threading.Event:
    """From now on each read of an environment's backups waits, before it looks the
    environment up, until the event is set (or 5 s)."""
    held = threading.Event()
    read = service.list_backups

    def held_back(environment: str):
        held.wait(5)
        return read(environment)

    monkeypatch.setattr(service, "list_backups", held_back)
    return held


def test_an_environments_backups_are_read_off_the_windows_thread_and_no_others_show_meanwhile(
    qtbot, window, environment, service, tmp_path, monkeypatch
):
    service.create_backup("billing", name="nightly")
    other = tmp_path / "other"
    other.mkdir()
    service.add_environment("other", other, version="1")
    service.create_backup("other", name="other's")
    window.controller.refresh()
    select_environment(window, "other")
    read_on = threads_calling(monkeypatch, service._ctx.backups, "for_environment")
    held = _held_reads_of_backups(monkeypatch, service)
    table = window.environments.table

    click_cell(qtbot, table, row_index(table, lambda e: e.name == "billing"))

    # The click came back at once: its rows are still being read, and no row of other's is
    # shown as billing's meanwhile.
    assert window.controller.backups_model.rowCount() == 0
    assert window.backups.table.empty_hint == "Reading the backups of billing…"
    held.set()
    qtbot.waitUntil(lambda: backup_rows(window) == ["nightly"])
    assert threading.main_thread() not in read_on
    assert window.backups.table.empty_hint.startswith("No backups of billing yet")


def test_refreshing_an_environment_with_no_backups_keeps_saying_so_while_they_are_read(
    qtbot, window, environment, service, monkeypatch
):
    window.controller.refresh()
    select_environment(window, "billing")
    assert window.backups.table.empty_hint.startswith("No backups of billing yet")
    held = _held_reads_of_backups(monkeypatch, service)

    press_shortcut(qtbot, window, "F5")  # Refresh: its rows are read again

    assert window.controller.backups_model.reading
    assert window.backups.table.empty_hint.startswith("No backups of billing yet")
    held.set()
    backups_read(window)


def test_an_environment_removed_elsewhere_as_its_backups_are_read_shows_none_and_no_error(
    qtbot, window, environment, service, tmp_path, monkeypatch
):
    service.create_backup("billing", name="nightly")
    window.controller.refresh()
    held = _held_reads_of_backups(monkeypatch, service)
    table = window.environments.table
    click_cell(qtbot, table, row_index(table, lambda e: e.name == "billing"))

    elsewhere = EnvOpsService(tmp_path / "data")  # the command line, say
    elsewhere.remove_environment("billing")
    elsewhere.close()
    held.set()

    qtbot.waitUntil(lambda: window.controller.environments_model.rowCount() == 0)
    assert backup_rows(window) == []
    assert not window.banner.isVisible()  # no "Something went wrong"


def test_create_backup_button_backs_up_and_the_row_appears(qtbot, window, environment):
    window.controller.refresh()
    select_environment(window, "billing")
    button = window.findChild(object, "createBackupButton")
    assert button.isEnabled() and button.accessibleName()

    def name_it(dialog: QDialog) -> None:
        assert isinstance(dialog, QInputDialog)
        dialog.findChild(QLineEdit).setText("before the upgrade")
        dialog.accept()

    when_modal(name_it)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: backup_rows(window) == ["before the upgrade"], timeout=10_000)
    qtbot.waitUntil(lambda: window.banner.isVisible() and window.banner.kind == "success")
    assert "before the upgrade" in window.banner.text


def test_a_file_removed_as_the_backup_button_backs_up_is_counted_in_the_banner(
    qtbot, window, environment, config_dir, monkeypatch
):
    after_the_backup_scan(monkeypatch, (config_dir / "app.yaml").unlink)
    window.controller.refresh()
    select_environment(window, "billing")
    when_modal(lambda dialog: dialog.accept())
    qtbot.mouseClick(window.findChild(object, "createBackupButton"), Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert window.banner.kind == "success"
    assert window.banner.text.endswith("Not backed up: 1, named in the Activity Log.")
    assert len(backup_rows(window)) == 1


def test_a_backup_name_typed_in_the_dialog_stops_at_its_limit(qtbot, window, environment):
    window.controller.refresh()
    select_environment(window, "billing")

    def type_a_long_name(dialog: QDialog) -> None:
        field = dialog.findChild(QLineEdit)
        QTest.keyClicks(field, "a" * 120)
        dialog.accept()

    when_modal(type_a_long_name, named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: backup_rows(window) == ["a" * 100], timeout=10_000)


def test_a_backup_named_latest_in_the_dialog_is_refused_with_why(qtbot, window, environment):
    window.controller.refresh()
    select_environment(window, "billing")

    def type_latest(dialog: QDialog) -> None:
        QTest.keyClicks(dialog.findChild(QLineEdit), "latest")
        dialog.accept()

    when_modal(type_latest, named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: window.banner.kind == "error", timeout=10_000)
    assert "'latest' stands for the newest backup of an environment" in window.banner.text
    assert window.banner.text.endswith("give this backup another name.")
    assert backup_rows(window) == []


def test_opening_the_backups_tab_in_a_narrow_window_leaves_the_environments_list_as_it_is(
    qtbot, window, service, environment
):
    service.set_schedule(
        "billing", ScheduleRule(frequency=Frequency.WEEKLY, weekday=2, at=time(2, 30))
    )
    window.resize(800, 560)
    window.controller.refresh()
    select_environment(window, "billing")
    tabs = window.tabs.tabBar()
    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(0).center())
    qtbot.wait(50)
    sizes = window.splitter.sizes()

    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(1).center())
    qtbot.wait(50)

    schedule = window.backups.schedule_line
    assert schedule.isVisible() and schedule.text().startswith("Schedule: Every Wednesday")
    assert window.splitter.sizes() == sizes
    assert schedule.height() >= schedule.heightForWidth(schedule.width())  # no line cut


def test_deleting_a_backup_asks_first_then_removes_the_row(qtbot, window, environment, service):
    service.create_backup("billing", name="keep")
    service.create_backup("billing", name="drop")
    window.controller.refresh()
    select_environment(window, "billing")
    drop = next(b for b in window.controller.backups_model.records() if b.name == "drop")

    when_modal(lambda box: click_button(box, text="Cancel"))
    choose_backup_option(qtbot, window, drop.id, "deleteAction")
    assert sorted(backup_rows(window)) == ["drop", "keep"]

    when_modal(lambda box: click_button(box, text="Delete"))
    choose_backup_option(qtbot, window, drop.id, "deleteAction")
    qtbot.waitUntil(lambda: backup_rows(window) == ["keep"], timeout=10_000)


def test_options_menu_offers_restores_compare_export_delete_pin_and_the_id(
    window, environment, service
):
    backup = service.create_backup("billing")
    window.controller.refresh()
    select_environment(window, "billing")
    menu = window.backups.options_menu(backup)
    assert [a.text().replace("&", "") for a in menu.actions()] == [
        "Restore…",
        "Restore to another environment…",
        "Restore to a folder…",
        "Compare with…",
        "Export…",
        "Delete…",
        "Pin (keep whatever retention says)",
        "",  # a separator
        f"Copy ID ({backup.id})",
    ]


def test_activity_log_filters_by_environment_and_search(
    qtbot, window, environment, service, tmp_path
):
    other = tmp_path / "other"
    other.mkdir()
    service.add_environment("other", other, version="1")
    service.create_backup("billing", name="alpha")
    service.create_backup("other", name="omega")
    window.controller.refresh()
    panel = window.activity
    log_read(qtbot, window)
    all_rows = panel.proxy.rowCount()
    assert all_rows == 4  # two added, two backed up
    panel.environment_combo.setCurrentIndex(panel.environment_combo.findText("other"))
    qtbot.waitUntil(lambda: panel.proxy.rowCount() == 2)
    panel.environment_combo.setCurrentIndex(0)
    panel.search_edit.setText("alpha")
    log_read(qtbot, window)
    assert panel.proxy.rowCount() == 1
    assert "alpha" in panel.proxy.index(0, 5).data()


def test_environment_filter_narrows_the_table(window, environment, service, tmp_path):
    for name in ("web", "warehouse"):
        (tmp_path / name).mkdir()
        service.add_environment(name, tmp_path / name, version="1")
    window.controller.refresh()
    window.environments.filter_edit.setText("WAREHOUSE")
    assert window.environments.proxy.rowCount() == 1
    window.environments.filter_edit.clear()
    assert window.environments.proxy.rowCount() == 3


def test_tables_sort_by_value_not_text(window, environment, service):
    small = service.create_backup("billing", name="b-small")
    with open(os.path.join(service.get_environment("billing").path, "big.bin"), "wb") as f:
        f.write(os.urandom(5 * 1024 * 1024))
    big = service.create_backup("billing", name="a-big")
    window.controller.refresh()
    select_environment(window, "billing")
    table = window.backups.table
    table.sortByColumn(4, Qt.SortOrder.AscendingOrder)  # size: 9 KB < 5 MB though "9" > "5"
    names = [window.backups.proxy.index(r, 0).data() for r in range(2)]
    assert names == [small.name, big.name]


def _shown(table, column: int) -> list[str]:
    return [table.model().index(row, column).data() for row in range(table.model().rowCount())]


def _open_backups_tab(qtbot, window) -> None:
    tabs = window.tabs.tabBar()
    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(1).center())
    assert window.tabs.currentWidget() is window.backups


def test_a_sorted_backups_table_stays_sorted_and_keeps_the_chosen_backup_as_backups_come(
    qtbot, window, environment, service
):
    for name in ("bravo", "delta"):
        service.create_backup("billing", name=name)
    window.controller.refresh()
    select_environment(window, "billing")
    _open_backups_tab(qtbot, window)
    table = window.backups.table
    click_header(qtbot, table, 0)  # by name
    ascending = table.horizontalHeader().sortIndicatorOrder() is Qt.SortOrder.AscendingOrder
    click_cell(qtbot, table, row_index(table, lambda b: b.name == "delta"))

    for name in ("alpha", "charlie", "echo"):
        service.create_backup("billing", name=name)
    service.pin_backup(service.list_backups("billing")[-1].id)  # bravo, the oldest
    window.controller.refresh()
    backups_read(window)

    names = ["alpha", "bravo", "charlie", "delta", "echo"]
    assert _shown(table, 0) == (names if ascending else names[::-1])
    assert table.currentIndex().data(RECORD_ROLE).name == "delta"
    assert [i.data(RECORD_ROLE).name for i in table.selectionModel().selectedRows()] == ["delta"]
    click_header(qtbot, table, 7)  # Kept: pinned ones together, at one end
    assert {_shown(table, 0)[0], _shown(table, 0)[-1]} & {"bravo"}
    assert table.currentIndex().data(RECORD_ROLE).name == "delta"
    click_header(qtbot, table, 0)
    for gone in ("alpha", "charlie"):  # rows apart from each other
        service.delete_backup(next(b.id for b in service.list_backups("billing") if b.name == gone))
    window.controller.refresh()
    backups_read(window)
    assert sorted(_shown(table, 0)) == ["bravo", "delta", "echo"]
    assert table.currentIndex().data(RECORD_ROLE).name == "delta"


def test_backup_names_stay_readable_in_a_narrow_window_and_fill_a_wide_one(
    qtbot, window, environment, service
):
    service.create_backup("billing", name="Before invoices v2")
    window.controller.refresh()
    select_environment(window, "billing")
    _open_backups_tab(qtbot, window)
    table = window.backups.table
    header = table.horizontalHeader()

    for width in (1200, 1000, 1700):
        window.resize(width, 700)
        qtbot.waitUntil(lambda width=width: window.width() == width)
        columns = [header.sectionSize(column) for column in range(header.count())]
        assert columns[0] >= NAME_MIN_WIDTH, width
        # What the others leave goes to the name: no gap at the right, nor a scroll too far.
        assert sum(columns) == max(table.viewport().width(), NAME_MIN_WIDTH + sum(columns[1:]))


def _drag_column_edge(qtbot, header, column: int, by: int) -> None:
    """Drag the right edge of `column` in `header` by `by` pixels, as with the mouse."""
    viewport = header.viewport()
    edge = header.sectionViewportPosition(column) + header.sectionSize(column) - 1
    start, end = QPoint(edge, header.height() // 2), QPoint(edge + by, header.height() // 2)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 5):
        qtbot.mouseMove(viewport, start + (end - start) * step / 4)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def test_dragging_another_columns_edge_gives_the_room_to_the_backup_names(
    qtbot, window, environment, service
):
    service.create_backup("billing", name="Before invoices v2")
    window.controller.refresh()
    select_environment(window, "billing")
    _open_backups_tab(qtbot, window)
    window.resize(1500, 700)
    qtbot.waitUntil(lambda: window.width() == 1500)
    table = window.backups.table
    header = table.horizontalHeader()
    name_before, size_before = header.sectionSize(0), header.sectionSize(3)

    _drag_column_edge(qtbot, header, 3, -40)  # Size narrower: no gap at the right

    assert header.sectionSize(3) == size_before - 40
    assert header.sectionSize(0) == name_before + 40
    assert header.length() == table.viewport().width()

    _drag_column_edge(qtbot, header, 3, 2000)  # far wider: the name keeps its room, scrolls
    assert header.sectionSize(0) == NAME_MIN_WIDTH
    assert header.length() > table.viewport().width()


def test_a_backup_pinned_while_the_table_is_sorted_by_kept_moves_to_its_place(
    qtbot, window, environment, service
):
    for name in ("first", "second", "third"):
        service.create_backup("billing", name=name)
    window.controller.refresh()
    select_environment(window, "billing")
    _open_backups_tab(qtbot, window)
    table = window.backups.table
    click_header(qtbot, table, 7)  # Kept
    if table.horizontalHeader().sortIndicatorOrder() is Qt.SortOrder.DescendingOrder:
        click_header(qtbot, table, 7)  # pinned first
    assert _shown(table, 7) == ["", "", ""]

    first = service.list_backups("billing")[-1]  # the oldest
    choose_backup_option(qtbot, window, first.id, "pinAction")

    qtbot.waitUntil(lambda: _shown(table, 7) == ["Pinned", "", ""])
    assert _shown(table, 0)[0] == "first"


def test_empty_workspace_offers_to_add_an_environment(window):
    assert window.environments.currentIndex() == 1
    button = window.findChild(object, "emptyStateAddButton")
    assert button.isVisible()


def test_the_empty_workspaces_words_are_shown_whole_at_any_width(qtbot, window):
    text = window.findChild(object, "emptyStateText")
    for width in (700, 900, 1280):
        window.resize(width, 600)
        qtbot.waitUntil(lambda width=width: window.width() == width)
        assert text.isVisible()
        # Two lines or more at these widths: each of them whole, none cut off.
        assert text.height() >= text.heightForWidth(text.width()), width


def test_add_environment_dialog_validates_and_adds(qtbot, window, config_dir):
    def fill(dialog: QDialog) -> None:
        assert dialog.objectName() == "addEnvironmentDialog"
        ok = dialog.buttons.buttons()[0]
        assert not ok.isEnabled()
        dialog.name_edit.setText("billing")
        dialog.path_edit.setText(str(config_dir / "nope"))
        dialog.version_edit.setText("4.2.0")
        dialog.accept()
        qtbot.waitUntil(lambda: "not an existing folder" in dialog.error_label.text())
        assert dialog.isVisible()
        dialog.path_edit.setText(str(config_dir))
        dialog.accept()

    when_modal(fill)
    press_shortcut(qtbot, window, "Ctrl+N")
    assert window.controller.selected_environment.name == "billing"
    assert window.environments.currentIndex() == 0


@needs_root_to_mount
def test_adding_a_mounted_share_itself_says_restores_into_it_will_be_refused(
    qtbot, window, tmp_path
):
    with small_disk(tmp_path / "share", "4m") as share:
        (share / "app.yaml").write_text("port: 8443\n")

        def fill(dialog: QDialog) -> None:
            dialog.findChild(QLineEdit, "nameEdit").setText("share")
            dialog.findChild(QLineEdit, "versionEdit").setText("4.2.0")
            dialog.findChild(QLineEdit, "pathEdit").setText(str(share))
            click_button(dialog, text="Add")

        when_modal(fill)
        click_toolbar_button(qtbot, window, "addEnvironmentButton")
        said = window.banner.findChild(QLabel, "notificationText").text()

    assert window.controller.selected_environment.name == "share"
    assert said.startswith(f"Added share. Restores into it will be refused: {share} is a mount")
    assert window.banner.kind == "info"


def test_a_folder_typed_from_home_is_found_and_one_from_nowhere_is_refused(
    qtbot, window, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "billing").mkdir()
    said: list[str] = []

    def fill(dialog: QDialog) -> None:
        dialog.findChild(QLineEdit, "nameEdit").setText("billing")
        dialog.findChild(QLineEdit, "versionEdit").setText("4.2.0")
        dialog.findChild(QLineEdit, "pathEdit").setText("billing")  # relative to what?
        click_button(dialog, text="Add")
        said.append(dialog.findChild(QLabel, "errorLabel").text())
        dialog.findChild(QLineEdit, "pathEdit").setText("~/billing")
        click_button(dialog, text="Add")
        qtbot.waitUntil(lambda: not dialog.isVisible())  # refused again: the test fails

    when_modal(fill)
    press_shortcut(qtbot, window, "Ctrl+N")
    assert said == [
        f"Give the folder's whole path, such as {tmp_path / 'billing'}, or choose it with Browse…"
    ]
    assert window.controller.service.get_environment("billing").path == str(tmp_path / "billing")


def test_update_environment_sets_the_version(qtbot, window, environment):
    window.controller.refresh()
    select_environment(window, "billing")

    def update(dialog: QDialog) -> None:
        assert dialog.objectName() == "updateEnvironmentDialog"
        dialog.version_edit.setText("4.3.0")
        dialog.accept()

    when_modal(update)
    press_shortcut(qtbot, window, "Ctrl+E")
    assert window.controller.selected_environment.version == "4.3.0"
    assert window.overview.values["version"].text() == "4.3.0"


def test_update_environment_sets_and_clears_the_restore_commands(
    qtbot, window, environment, service
):
    window.controller.refresh()
    select_environment(window, "billing")

    def set_commands(dialog: QDialog) -> None:
        dialog.findChild(object, "preRestoreCommandEdit").setText("systemctl stop 'billing web'")
        dialog.findChild(object, "postRestoreCommandEdit").setText("systemctl start billing")
        dialog.accept()

    when_modal(set_commands)
    press_shortcut(qtbot, window, "Ctrl+E")
    env = service.get_environment("billing")
    assert env.pre_restore_command.argv == ["systemctl", "stop", "billing web"]
    assert env.post_restore_command.argv == ["systemctl", "start", "billing"]
    assert "billing web" in window.overview.values["pre-restore command"].text()

    def clear_the_first(dialog: QDialog) -> None:
        dialog.findChild(object, "preRestoreCommandEdit").clear()
        dialog.accept()

    when_modal(clear_the_first)
    press_shortcut(qtbot, window, "Ctrl+E")
    env = service.get_environment("billing")
    assert env.pre_restore_command is None and env.post_restore_command is not None


@pytest.mark.parametrize(
    ("command", "refusal"),
    [
        (
            "systemctl stop 'billing",
            'The pre-restore command "systemctl stop \'billing" cannot be split into words: no '
            "closing quotation.",
        ),
        (
            "systemctl stop billing && sleep 2",
            "The pre-restore command 'systemctl stop billing && sleep 2' holds '&&', which only "
            "a shell reads: the command runs as a program with its arguments, not in a shell. "
            "For a shell to run it, write sh -c 'systemctl stop billing && sleep 2'.",
        ),
    ],
    ids=["unbalanced-quote", "shell-operator"],
)
def test_a_pre_restore_command_that_cannot_run_as_written_is_refused_as_the_pre_restore_one(
    qtbot, window, environment, service, command, refusal
):
    window.controller.refresh()
    select_environment(window, "billing")
    said: list[str] = []

    def set_and_read(dialog: QDialog) -> None:
        dialog.findChild(object, "preRestoreCommandEdit").setText(command)
        click_button(dialog, text="Update")
        said.append(dialog.findChild(QLabel, "errorLabel").text())
        dialog.reject()

    when_modal(set_and_read)
    press_shortcut(qtbot, window, "Ctrl+E")
    assert said == [refusal]
    assert service.get_environment("billing").pre_restore_command is None


def test_removing_an_environment_asks_and_keeps_its_files(
    qtbot, window, environment, config_dir, service, monkeypatch
):
    service.create_backup("billing", name="nightly")
    window.controller.refresh()
    select_environment(window, "billing")
    before = describe_tree(config_dir)
    # Off the window's thread: freeing what its backups alone held took 7.9 s for one
    # backup of 200,000 files.
    removals = threads_calling(monkeypatch, EnvOpsService, "remove_environment")
    shown = progress_lines(window)
    when_modal(lambda box: click_button(box, text="Remove"))
    menu = open_menu_bar_menu(qtbot, window, "Environment")
    click_menu_entry(qtbot, menu, "removeEnvironmentAction")
    qtbot.waitUntil(lambda: window.controller.environments_model.rowCount() == 0)
    qtbot.waitUntil(lambda: not window.controller.runner.running)
    # What it is doing, as it goes: reading every backup's list, then freeing.
    assert "Removing billing: Reading backups" in shown, shown
    assert shown[-1] == "Removing billing: Freeing stored files", shown
    assert window.banner.kind == "success", window.banner.text
    assert window.banner.text == f"Removed billing; its folder {config_dir} is left as it is."
    assert removals and threading.main_thread() not in removals
    assert describe_tree(config_dir) == before
    assert service.list_environments() == []


def test_the_remove_question_counts_every_backup_it_deletes_those_in_deleted_too(
    qtbot, window, environment, service
):
    service.create_backup("billing", name="nightly")
    service.delete_backup(service.create_backup("billing", name="old").id)
    window.controller.refresh()
    select_environment(window, "billing")
    asked: list[str] = []

    def read_and_cancel(box) -> None:
        asked.append(box.text())
        box.reject()

    for show_deleted in (False, True):  # the table shows one or the other
        if show_deleted:
            qtbot.mouseClick(window.backups.show_deleted, Qt.MouseButton.LeftButton)
        when_modal(read_and_cancel)
        menu = open_menu_bar_menu(qtbot, window, "Environment")
        click_menu_entry(qtbot, menu, "removeEnvironmentAction")

    assert [text.split("?")[0] for text in asked] == ["Remove billing and delete its 2 backups"] * 2
    assert len(service.list_backups("billing")) == 1  # nothing was removed


def test_notification_stays_until_dismissed(qtbot, window):
    window.controller.notify.emit("error", "Something failed.")
    assert window.banner.isVisible() and window.banner.text == "Something failed."
    qtbot.wait(50)
    assert window.banner.isVisible()
    qtbot.mouseClick(window.banner.findChild(object, "dismissButton"), Qt.MouseButton.LeftButton)
    assert not window.banner.isVisible()


def test_changes_from_another_process_appear_without_asking(qtbot, window, environment, tmp_path):
    from envops_desktop.service import EnvOpsService

    window.controller.refresh()
    select_environment(window, "billing")
    elsewhere = EnvOpsService(tmp_path / "data")  # as the CLI would, with its own connection
    elsewhere.create_backup("billing", name="from the CLI")
    elsewhere.close()
    qtbot.waitUntil(lambda: backup_rows(window) == ["from the CLI"], timeout=5_000)


def test_models_are_only_touched_on_the_gui_thread(qtbot, window, environment):
    window.controller.refresh()
    select_environment(window, "billing")
    gui = QApplication.instance().thread()
    seen: list[bool] = []
    for model in (
        window.controller.backups_model,
        window.controller.environments_model,
        window.controller.activity_model,
    ):
        for signal in (model.rowsInserted, model.dataChanged, model.rowsRemoved):
            signal.connect(lambda *_: seen.append(QThread.currentThread() is gui))
    progress_threads: list[bool] = []
    running = window.controller.create_backup(window.controller.selected_environment, "x")
    running.progressed.connect(
        lambda _p: progress_threads.append(threading.current_thread() is threading.main_thread())
    )
    qtbot.waitUntil(lambda: backup_rows(window) == ["x"], timeout=10_000)
    assert seen and all(seen)
    assert progress_threads and all(progress_threads)


def test_layout_is_remembered(qtbot, controller, settings, environment):
    controller.start()
    first = MainWindow(controller, settings)
    qtbot.addWidget(first)
    first.resize(700, 500)
    first.splitter.setSizes([300, 700])
    first.environments.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    first.close()
    second = MainWindow(controller, settings)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 500)
    header = second.environments.table.horizontalHeader()
    assert header.sortIndicatorSection() == 2
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder


def _logged(service, environment, count: int, user=lambda _i: "ops") -> None:
    """`count` activity entries of billing, as months of use would leave: "entry 0" first."""
    with service._ctx.db.transaction() as conn:
        conn.executemany(
            "INSERT INTO activity (time, environment_id, environment_name, action, user, outcome,"
            " detail) VALUES ('2026-01-01T00:00:00+00:00', ?, 'billing', ?, ?, 'success', ?)",
            [
                (environment.id, ActivityAction.BACKUP_CREATED.value, user(i), f"entry {i}")
                for i in range(count)
            ],
        )


def test_activity_log_fetches_in_pages(qtbot, service, environment, settings):
    _logged(service, environment, 1200)
    controller = MainController(service)
    controller.start()
    model = controller.activity_model
    qtbot.waitUntil(lambda: not model.reading)
    assert model.rowCount() == PAGE_SIZE
    while model.canFetchMore(model.index(-1, -1)):
        before = model.rowCount()
        model.fetchMore(model.index(-1, -1))
        qtbot.waitUntil(lambda: not model.reading)
        assert model.rowCount() - before <= PAGE_SIZE
    assert model.rowCount() == 1201
    assert model.index(0, 5).data() == "entry 1199"
    controller.shutdown()


def test_activity_log_sorts_and_searches_all_entries_not_just_loaded_ones(
    qtbot, window, service, environment
):
    _logged(service, environment, 1000, user=lambda i: f"user{i:04d}")
    panel = window.activity
    window.controller.refresh()
    panel.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # by user
    log_read(qtbot, window)
    assert panel.proxy.index(0, 3).data() == "user0999"
    panel.search_edit.setText("entry 7")
    log_read(qtbot, window)
    assert panel.proxy.rowCount() == 111  # 7, 70-79, 700-799
    panel.search_edit.setText("100%")
    log_read(qtbot, window)
    assert panel.proxy.rowCount() == 0  # wildcards are taken literally


def test_searching_or_sorting_the_log_reads_it_off_the_windows_thread(
    qtbot, window, service, environment, monkeypatch
):
    read_on = threads_calling(monkeypatch, service._ctx.activity, "page")
    panel = window.activity
    qtbot.keyClicks(panel.search_edit, "billing")
    click_header(qtbot, panel.table, 2)  # by action
    log_read(qtbot, window)

    assert len(read_on) >= len("billing") + 1
    assert threading.main_thread() not in read_on
    assert panel.proxy.rowCount() == 1  # billing was added
    qtbot.keyClicks(panel.search_edit, " was removed")
    log_read(qtbot, window)
    assert panel.proxy.rowCount() == 0
    assert panel.table.empty_hint == "No entry matches."


def test_a_search_typed_past_stops_reading_the_log(
    qtbot, window, service, environment, monkeypatch
):
    # Each key starts a read of the whole log (a scan of every entry for a word none holds:
    # 100 ms or more over 100,000 entries); those of the keys typed past are stopped rather
    # than left to run beside the last one.
    _logged(service, environment, 50_000)
    window.controller.refresh()
    log_read(qtbot, window)
    ended = outcomes_of(monkeypatch, service._ctx.activity, "page")

    qtbot.keyClicks(window.activity.search_edit, "no such entry")
    qtbot.waitUntil(lambda: len(ended) == len("no such entry"), timeout=30_000)
    log_read(qtbot, window)

    assert set(ended) == {"OperationCancelledError", "returned"}
    assert window.activity.proxy.rowCount() == 0
    assert window.activity.table.empty_hint == "No entry matches."


def test_an_entry_written_while_the_log_is_being_read_still_shows(
    qtbot, window, service, environment, monkeypatch
):
    read = service._ctx.activity.page
    answer = threading.Event()

    def slowly_read(*args, **kwargs):  # as on a log of 100,000 entries and a busy disk
        page = read(*args, **kwargs)
        answer.wait(10)
        return page

    monkeypatch.setattr(service._ctx.activity, "page", slowly_read)
    panel = window.activity
    qtbot.keyClicks(panel.search_edit, "billing")
    panel.search_edit.clear()  # all of it again, newest first: a page is being read
    assert window.controller.activity_model.reading

    service.create_backup("billing", name="written meanwhile")
    window.controller.refresh()  # as the window's poll of the database would
    answer.set()
    log_read(qtbot, window)

    assert "written meanwhile" in panel.proxy.index(0, 5).data()


def _log_by_user(qtbot, window, service, environment):
    """1,000 entries by seven users in the Activity Log, its User header clicked until it
    sorts A to Z; the panel, its first page read."""
    _logged(service, environment, 1000, user=lambda i: f"user{i % 7}")
    panel = window.activity
    window.controller.refresh()
    tabs = window.tabs.tabBar()
    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(2).center())
    header = panel.table.horizontalHeader()
    while header.sortIndicatorSection() != 3 or header.sortIndicatorOrder() != (
        Qt.SortOrder.AscendingOrder
    ):
        click_header(qtbot, panel.table, 3)
    log_read(qtbot, window)
    return panel


def _column(panel, number: int) -> list[str]:
    return [panel.proxy.index(row, number).data() for row in range(panel.proxy.rowCount())]


def test_an_entry_written_while_scrolling_a_sorted_log_shows_no_row_twice(
    qtbot, window, service, environment, tmp_path
):
    panel = _log_by_user(qtbot, window, service, environment)
    panel.table.scrollToBottom()  # the second page
    log_read(qtbot, window)
    assert panel.proxy.rowCount() == 2 * PAGE_SIZE

    # The command line, at the same time, logs an entry that sorts into the rows already shown.
    elsewhere = EnvOpsService(service.data_dir)
    (tmp_path / "audit").mkdir()
    elsewhere.add_environment("audit", tmp_path / "audit", version="1")
    elsewhere.close()
    while panel.proxy.canFetchMore(panel.proxy.index(-1, -1)):
        panel.table.scrollToBottom()
        log_read(qtbot, window)

    earlier = [text for text in _column(panel, 5) if text.startswith("entry ")]
    assert sorted(earlier) == sorted(f"entry {i}" for i in range(1000))
    assert _column(panel, 3) == sorted(_column(panel, 3))


def test_an_entry_written_while_reading_deep_in_a_sorted_log_keeps_the_users_place(
    qtbot, window, service, environment, tmp_path
):
    panel = _log_by_user(qtbot, window, service, environment)
    for _ in range(2):
        panel.table.scrollToBottom()  # two more pages
        log_read(qtbot, window)
    assert panel.proxy.rowCount() == 3 * PAGE_SIZE
    reading = panel.proxy.index(2 * PAGE_SIZE, 0)
    click_cell(qtbot, panel.table, reading)
    chosen = reading.siblingAtColumn(5).data()
    scrolled = panel.table.verticalScrollBar().value()
    assert scrolled > 0

    # Another process (the command line, a team sync) logs entries meanwhile, by users
    # sorting before every row, among them and after them; the window's poll finds them.
    elsewhere = EnvOpsService(service.data_dir)
    for user, detail in (("admin", "first"), ("user1a", "among"), ("user6z", "last")):
        elsewhere._ctx.activity.append(
            environment.id, "billing", ActivityAction.BACKUP_CREATED, user, Outcome.SUCCESS, detail
        )
    elsewhere.close()

    qtbot.waitUntil(lambda: {"first", "among"} <= set(_column(panel, 5)), timeout=10_000)
    log_read(qtbot, window)
    assert panel.proxy.rowCount() == 3 * PAGE_SIZE + 2  # placed among them, not read anew
    assert _column(panel, 3) == sorted(_column(panel, 3))
    assert "last" not in _column(panel, 5)  # it comes with the page it sorts into
    # The row the user chose is still the current one, and still about where it was.
    assert panel.table.currentIndex().siblingAtColumn(5).data() == chosen
    assert panel.table.verticalScrollBar().value() >= scrolled
    while panel.proxy.canFetchMore(panel.proxy.index(-1, -1)):
        panel.table.scrollToBottom()
        log_read(qtbot, window)
    assert _column(panel, 5)[-1] == "last"
    assert _column(panel, 3) == sorted(_column(panel, 3))
    assert len(set(_column(panel, 5))) == panel.proxy.rowCount() == 1004  # none twice


def test_ctrl_f_searches_the_activity_log_when_it_is_shown(qtbot, window, environment):
    panel = window.activity
    panel.search_edit.setText("backup")
    tabs = window.tabs.tabBar()
    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(2).center())

    press_shortcut(qtbot, window, "Ctrl+F")
    qtbot.keyClicks(window.focusWidget(), "added")
    log_read(qtbot, window)

    assert window.focusWidget() is panel.search_edit
    assert panel.search_edit.text() == "added"  # what was there, replaced
    assert panel.proxy.rowCount() == 1
    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(0).center())
    press_shortcut(qtbot, window, "Ctrl+F")
    assert window.focusWidget() is window.environments.filter_edit


def test_closing_during_a_backup_asks_then_cancels_cleanly(
    qtbot, window, environment, config_dir, monkeypatch
):
    for index in range(150):
        (config_dir / f"bulk{index}.bin").write_bytes(os.urandom(1 << 20))
    # Held after its first stored batch until Quit cancels it: on a busy machine the rest of
    # it could otherwise end in the moment the question takes, and be kept.
    cancelled = threading.Event()
    real_cancel, real_advance = CancelToken.cancel, ProgressMeter.advance

    def cancel(token: CancelToken) -> None:
        real_cancel(token)
        cancelled.set()

    def advance_then_wait(meter: ProgressMeter, *args, **kwargs) -> None:
        real_advance(meter, *args, **kwargs)
        cancelled.wait(10)

    monkeypatch.setattr(CancelToken, "cancel", cancel)
    monkeypatch.setattr(ProgressMeter, "advance", advance_then_wait)
    window.controller.refresh()
    select_environment(window, "billing")
    running = window.controller.create_backup(window.controller.selected_environment, "big")
    qtbot.waitUntil(lambda: running.last_progress is not None)
    assert quit_insisting(window) == ["confirmQuitBox"]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)  # once it is put back
    assert not window.controller.runner.running
    assert window.controller.service.list_backups("billing") == []
    assert not list((config_dir.parent).glob(".billing.envops-*"))


def test_cancelling_a_backup_says_so_until_it_ends_whatever_it_reported_last(
    qtbot, window, environment, config_dir, monkeypatch
):
    for index in range(150):
        (config_dir / f"bulk{index}.bin").write_bytes(os.urandom(1 << 20))
    # Held at its first report until the cancel, then one report more: what a worker did
    # between the cancel and its next look at its token (a batch that was under way).
    reported, cancelled = threading.Event(), threading.Event()
    real_cancel, real_advance = CancelToken.cancel, ProgressMeter.advance

    def cancel(token: CancelToken) -> None:
        real_cancel(token)
        cancelled.set()

    def advance_then_wait(meter: ProgressMeter, nbytes: int, path: str = "") -> None:
        real_advance(meter, nbytes, path)
        reported.set()
        if cancelled.wait(10) and path != "under way.bin":
            QThread.msleep(100)  # past the meter's rate
            real_advance(meter, 1 << 20, "under way.bin")
            QThread.msleep(300)  # then it goes on to its next look at the token

    monkeypatch.setattr(CancelToken, "cancel", cancel)
    monkeypatch.setattr(ProgressMeter, "advance", advance_then_wait)
    window.controller.refresh()
    select_environment(window, "billing")
    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    progress = window.task_progress
    qtbot.waitUntil(reported.is_set, timeout=10_000)
    qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    seen: list[tuple[str, int]] = []
    while window.controller.runner.running:
        seen.append((progress.label.text(), progress.bar.maximum()))
        qtbot.wait(5)

    assert set(seen) == {("Cancelling — putting everything back…", 0)}  # and busy
    assert window.controller.service.list_backups("billing") == []


def test_an_exception_in_a_slot_shows_something_went_wrong_and_fails_the_test(
    qtbot, window, crash_reporter
):
    def slot_that_breaks() -> None:
        raise RuntimeError("the disk caught fire")

    QTimer.singleShot(0, slot_that_breaks)
    qtbot.waitUntil(lambda: bool(crash_reporter.raised))
    assert window.banner.kind == "error"
    assert window.banner.text.startswith("Something went wrong: the disk caught fire")
    # The fixture would fail this test at teardown for it; here it was raised on purpose.
    crash_reporter.raised.clear()


def test_a_damaged_page_met_by_the_window_is_named_in_a_sentence(
    qtbot, window, environment, service, crash_reporter
):
    database = damage_table(service.data_dir, "activity")
    service.close()  # what the window had read of it is forgotten, as after a restart

    tabs = window.findChild(QTabWidget)
    tabs.tabBar().setCurrentIndex(tabs.indexOf(window.activity))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5_000)

    assert window.banner.text.startswith(f"{database} is damaged (")
    assert "Move it aside and restore it from a copy" in window.banner.text
    assert {type(error) for error in crash_reporter.raised} == {sqlite3.DatabaseError}
    window.controller.stop()  # its refresh would meet the page again
    crash_reporter.raised.clear()  # reached as expected: the database is damaged
