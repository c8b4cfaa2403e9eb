"""Pinning backups from their row's menu, and retention's dry run before it removes any."""

import sqlite3

from PySide6.QtCore import Qt

from envops_desktop.controller.backups_model import OPTIONS_COLUMN
from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.store.database import DATABASE_NAME
from tests.gui.conftest import (
    backups_read,
    click_button,
    progress_lines,
    select_environment,
    when_modal,
)
from tests.gui.user import click_cell, click_menu_entry, open_popup, press_shortcut

KEPT_COLUMN = OPTIONS_COLUMN - 1


def _pin_from_the_row_menu(qtbot, window, row: int) -> None:
    table = window.backups.table
    click_cell(qtbot, table, table.model().index(row, OPTIONS_COLUMN))
    menu = open_popup()
    assert menu is not None and menu.objectName() == "backupOptionsMenu"
    click_menu_entry(qtbot, menu, "pinAction")
    backups_read(window)


def test_a_backup_is_pinned_and_unpinned_from_its_options_menu(qtbot, window, environment, service):
    service.create_backup("billing", name="golden")
    window.controller.refresh()
    select_environment(window, "billing")
    kept = window.backups.table.model().index(0, KEPT_COLUMN)

    _pin_from_the_row_menu(qtbot, window, 0)

    assert service.find_backup("billing", "golden").pinned
    assert kept.data() == "Pinned"
    _pin_from_the_row_menu(qtbot, window, 0)
    assert not service.find_backup("billing", "golden").pinned
    assert kept.data() == ""


def test_retention_shows_what_it_would_remove_before_it_removes_anything(
    qtbot, window, environment, service, config_dir
):
    for n in range(7):  # seven "before restore" backups, each of a different tree
        (config_dir / "app.yaml").write_text(f"before restore {n}\n")
        service.create_backup("billing", name=f"before {n}", origin=BackupOrigin.PRE_RESTORE)
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def keep_the_last_three(dialog) -> None:
        seen["first"] = dialog.findChild(object, "retentionDryRunLabel").text()
        dialog.findChild(object, "beforeRestoreLastSpinBox").setValue(3)
        seen["then"] = dialog.findChild(object, "retentionDryRunLabel").text()
        listed = dialog.findChild(object, "retentionRemovalsList")
        seen["listed"] = [listed.item(i).text().split(" (")[0] for i in range(listed.count())]
        seen["kept meanwhile"] = len(service.list_backups("billing"))
        click_button(dialog, "applyRetentionButton")

    when_modal(keep_the_last_three, named="retentionDialog")
    press_shortcut(qtbot, window, "Ctrl+Shift+K")

    assert seen["first"] == "These 2 backups would be removed:"  # the default keeps 5
    assert seen["then"] == "These 4 backups would be removed:"
    assert seen["listed"] == ["before 0", "before 1", "before 2", "before 3"]
    assert seen["kept meanwhile"] == 7  # the dry run changed nothing
    qtbot.waitUntil(lambda: len(service.list_backups("billing")) == 3, timeout=30_000)
    assert service.retention("billing").before_restore_last == 3


def test_a_rule_an_older_version_kept_with_a_count_past_9999_opens_in_the_dialog(
    qtbot, window, environment, service
):
    # Its box could not take 99999999999999999999: the dialog failed to open.
    with sqlite3.connect(service.data_dir / DATABASE_NAME) as db:  # as an older version kept it
        db.execute(
            "INSERT INTO retention_rules VALUES (?, ?)",
            (environment.id, '{"scheduled_days": 30, "scheduled_last": 99999999999999999999}'),
        )
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def read_it(dialog) -> None:
        seen["last"] = dialog.findChild(object, "scheduledLastSpinBox").value()
        dialog.reject()

    answered = when_modal(read_it, named="retentionDialog")
    press_shortcut(qtbot, window, "Ctrl+Shift+K")
    qtbot.waitUntil(answered, timeout=10_000)

    assert seen["last"] == 9999


def test_a_pinned_backup_is_not_among_those_retention_would_remove(
    qtbot, window, environment, service, config_dir
):
    for n in range(8):
        (config_dir / "app.yaml").write_text(f"before restore {n}\n")
        service.create_backup("billing", name=f"before {n}", origin=BackupOrigin.PRE_RESTORE)
    service.pin_backup(service.find_backup("billing", "before 0").id)
    window.controller.refresh()
    select_environment(window, "billing")
    listed = []

    def look(dialog) -> None:
        items = dialog.findChild(object, "retentionRemovalsList")
        listed.extend(items.item(i).text().split(" (")[0] for i in range(items.count()))
        dialog.reject()

    when_modal(look, named="retentionDialog")
    press_shortcut(qtbot, window, "Ctrl+Shift+K")

    assert listed == ["before 1", "before 2"]


def test_a_deleted_backup_is_recovered_from_the_deleted_filter(qtbot, window, environment, service):
    doomed = service.create_backup("billing", name="doomed")
    service.delete_backup(doomed.id)
    window.controller.refresh()
    select_environment(window, "billing")
    press_shortcut(qtbot, window, "Alt+K")  # the Backups tab
    assert window.tabs.currentWidget() is window.backups
    assert window.backups.table.model().rowCount() == 0

    qtbot.mouseClick(window.backups.show_deleted, Qt.MouseButton.LeftButton)
    backups_read(window)
    assert window.backups.table.model().index(0, 0).data() == "doomed"
    assert window.backups.empty_bin.isVisible()
    table = window.backups.table
    click_cell(qtbot, table, table.model().index(0, OPTIONS_COLUMN))
    menu = open_popup()
    # Recover, and the id that `envops backup recover` takes.
    assert [a.objectName() for a in menu.actions()] == ["recoverAction", "", "copyIdAction"]
    click_menu_entry(qtbot, menu, "recoverAction")

    backups_read(window)
    assert table.model().rowCount() == 0
    qtbot.mouseClick(window.backups.show_deleted, Qt.MouseButton.LeftButton)
    backups_read(window)
    assert [b.name for b in service.list_backups("billing")] == ["doomed"]
    assert table.model().index(0, 0).data() == "doomed"


def test_emptying_deleted_asks_first(qtbot, window, environment, service):
    service.delete_backup(service.create_backup("billing", name="doomed").id)
    window.controller.refresh()
    select_environment(window, "billing")
    press_shortcut(qtbot, window, "Alt+K")
    qtbot.mouseClick(window.backups.show_deleted, Qt.MouseButton.LeftButton)
    asked = []

    def say_no(box) -> None:
        asked.append(box.objectName())
        box.reject()

    when_modal(say_no)
    qtbot.mouseClick(window.backups.empty_bin, Qt.MouseButton.LeftButton)
    assert asked == ["confirmEmptyBinBox"]
    assert [b.name for b in service.deleted_backups("billing")] == ["doomed"]

    def say_yes(box) -> None:
        click_button(box, text="Empty")

    shown = progress_lines(window)
    when_modal(say_yes)
    qtbot.mouseClick(window.backups.empty_bin, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: service.deleted_backups("billing") == [], timeout=30_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running)
    # What it is doing, as it goes: reading every backup's list, then freeing.
    assert "Emptying Deleted: Reading backups" in shown, shown
    assert shown[-1] == "Emptying Deleted: Freeing stored files", shown


def test_preferences_set_how_long_deleted_keeps_backups_and_the_default_retention(
    qtbot, window, environment, service
):
    def keep_fewer(dialog) -> None:
        dialog.findChild(object, "binDaysSpinBox").setValue(3)
        combo = dialog.findChild(object, "defaultRetentionCombo")
        combo.setCurrentIndex(combo.findData(10))
        dialog.reject()

    when_modal(keep_fewer, named="preferencesDialog")
    press_shortcut(qtbot, window, "Ctrl+,")

    assert service.bin_days() == 3
    # billing has no rule of its own: the data folder's default is its rule.
    assert service.retention("billing").scheduled_days == 10


def test_excludes_are_set_in_the_environments_dialog_and_left_out_of_its_backups(
    qtbot, window, environment, service, config_dir
):
    (config_dir / "logs").mkdir()
    (config_dir / "logs" / "app.log").write_text("noise\n")
    window.controller.refresh()
    select_environment(window, "billing")

    def exclude_logs(dialog) -> None:
        dialog.findChild(object, "excludesEdit").setPlainText("logs/\n*.tmp\n")
        click_button(dialog, text="Update")

    when_modal(exclude_logs, named="updateEnvironmentDialog")
    press_shortcut(qtbot, window, "Ctrl+E")

    assert service.get_environment("billing").excludes == ("logs/", "*.tmp")
    made = service.create_backup("billing")
    assert not [e.path for e in service.backup_entries(made.id) if e.path.startswith("logs")]


def test_links_leading_out_are_allowed_in_the_environments_dialog(
    qtbot, window, environment, service
):
    window.controller.refresh()
    select_environment(window, "billing")

    def allow_links_out(dialog) -> None:
        dialog.findChild(object, "allowLinksOutBox").setChecked(True)
        click_button(dialog, text="Update")

    when_modal(allow_links_out, named="updateEnvironmentDialog")
    press_shortcut(qtbot, window, "Ctrl+E")

    assert service.get_environment("billing").allow_links_out
    assert service.get_environment("billing").excludes == ()  # nothing else changed


def test_an_environment_reading_its_version_from_a_file_sets_excludes_in_its_dialog(
    qtbot, window, service, tmp_path
):
    folder = tmp_path / "reporting"
    folder.mkdir()
    (folder / "VERSION").write_text("1.0.0\n")
    service.add_environment("reporting", folder, version_file="VERSION")
    window.controller.refresh()
    select_environment(window, "reporting")
    seen = {}

    def exclude_cache(dialog) -> None:
        seen["version read-only"] = dialog.findChild(object, "versionEdit").isReadOnly()
        dialog.findChild(object, "excludesEdit").setPlainText("cache/**")
        click_button(dialog, text="Update")

    when_modal(exclude_cache, named="updateEnvironmentDialog")
    press_shortcut(qtbot, window, "Ctrl+E")

    assert seen == {"version read-only": True}
    assert service.get_environment("reporting").excludes == ("cache/**",)
