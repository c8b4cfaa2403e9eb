"""Copying from the window what an operator pastes elsewhere: a backup's id into a terminal,
an error's whole sentence or a folder's path into a ticket."""

import shutil

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.gui.conftest import (
    backup_rows,
    log_read,
    select_environment,
    show_backups_of,
    when_modal,
)
from tests.gui.user import choose_backup_option, click_cell, press, press_shortcut, row_index


def test_copy_id_in_a_backups_options_menu_gives_the_id_the_command_line_takes(
    qtbot, window, environment, service
):
    first = service.create_backup("billing", name="nightly")
    second = service.create_backup("billing", name="nightly")  # the table reads them alike
    show_backups_of(window, "billing")
    assert backup_rows(window) == ["nightly", "nightly"]

    choose_backup_option(qtbot, window, second.id, "copyIdAction")

    copied = QGuiApplication.clipboard().text()
    assert copied == second.id != first.id
    assert service.find_backup("billing", copied).id == second.id  # as `envops restore` reads it


def test_ctrl_c_on_a_backup_row_copies_the_row_as_shown(qtbot, window, environment, service):
    service.create_backup("billing", name="before upgrade")
    table = show_backups_of(window, "billing")
    click_cell(qtbot, table, row_index(table, lambda b: b.name == "before upgrade"))

    press(table, "Ctrl+C")

    cells = QGuiApplication.clipboard().text().split("\t")
    assert cells[0] == "before upgrade" and "4.2.0" in cells  # its name, then its version…
    assert "⋯" not in cells  # …but not the cell the Options menu opens from


def test_ctrl_c_in_the_activity_log_copies_a_failures_whole_sentence(
    qtbot, window, environment, service, config_dir, tmp_path
):
    shutil.move(config_dir, tmp_path / "moved away")  # the next backup fails, in a sentence
    window.controller.refresh()
    select_environment(window, "billing")
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(2).center())
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.activity)
    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    failed = None

    def logged() -> bool:
        nonlocal failed
        failed = next((e for e in service.activity("billing") if e.outcome == "failure"), None)
        return failed is not None

    qtbot.waitUntil(logged, timeout=10_000)
    log_read(qtbot, window)
    table = window.activity.table
    model = table.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 2).data() == "backup failed")
    click_cell(qtbot, table, model.index(row, 0))

    press(table, "Ctrl+C")

    assert failed.detail in QGuiApplication.clipboard().text().split("\t")
    assert "does not exist" in failed.detail  # the sentence, not a cell's elided start
