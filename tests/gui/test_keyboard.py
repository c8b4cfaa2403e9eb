"""The window driven from the keyboard alone: Tab, arrows, Enter, Delete and mnemonics."""

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QGroupBox,
    QLabel,
    QMenuBar,
    QTabBar,
    QWidget,
)

from tests.gui.conftest import (
    backup_rows,
    click_button,
    select_environment,
    show_backups_of,
    when_modal,
)
from tests.gui.test_import_flow import drag_and_drop, wait_uploaded
from tests.gui.user import choose_backup_option, click_toolbar_button, press, press_shortcut
from tests.trees import describe_tree, mess_up
from tests.zips import simple_configuration


def _focus_after_tab(qtbot, window, start: QWidget, presses: int) -> QWidget:
    start.setFocus()
    for _ in range(presses):
        press(QApplication.focusWidget(), Qt.Key.Key_Tab)
    return QApplication.focusWidget()


def test_tab_moves_from_pane_to_pane_not_from_cell_to_cell(qtbot, window, environment, service):
    service.create_backup("billing", name="nightly")
    show_backups_of(window, "billing")
    press_shortcut(qtbot, window, "Ctrl+F")
    filter_edit = window.environments.filter_edit
    assert QApplication.focusWidget() is filter_edit
    visited = [_focus_after_tab(qtbot, window, filter_edit, n) for n in range(1, 4)]
    assert visited == [window.environments.table, window.tabs.tabBar(), window.backups.table]


def test_arrow_keys_move_the_selection_within_a_table(qtbot, window, config_dir, service):
    for name in ("alpha", "beta"):
        folder = config_dir.parent / name
        folder.mkdir()
        service.add_environment(name, folder, version="1")
    window.controller.refresh()
    select_environment(window, "alpha")
    table = window.environments.table
    table.setFocus()
    press(table, Qt.Key.Key_Down)
    assert window.controller.selected_environment.name == "beta"
    assert QApplication.focusWidget() is table


def test_delete_on_a_backup_row_asks_then_deletes_it(qtbot, window, environment, service):
    service.create_backup("billing", name="keep")
    service.create_backup("billing", name="drop")
    table = show_backups_of(window, "billing")
    table.setFocus()
    row = next(r for r in range(2) if table.model().index(r, 0).data() == "drop")
    table.setCurrentIndex(table.model().index(row, 0))
    asked: list[str] = []
    when_modal(lambda box: (asked.append(box.objectName()), click_button(box, text="Delete")))
    press_shortcut(qtbot, window, Qt.Key.Key_Delete)
    assert asked == ["confirmDeleteBox"]
    qtbot.waitUntil(lambda: backup_rows(window) == ["keep"], timeout=10_000)


def _mnemonics(root: QWidget) -> list[tuple[str, str]]:
    """(letter, where) for every mnemonic a user can press on this screen."""
    found: list[tuple[str, str]] = []

    def letter(text: str) -> str | None:
        match = re.search(r"&([^&\s])", text.replace("&&", ""))
        return match.group(1).lower() if match else None

    texts: list[str] = []
    for bar in root.findChildren(QMenuBar):
        texts += [action.text() for action in bar.actions()]
    for tabs in root.findChildren(QTabBar):
        if tabs.isVisible():
            texts += [tabs.tabText(i) for i in range(tabs.count())]
    for button in root.findChildren(QAbstractButton):
        if button.isVisibleTo(root):
            texts.append(button.text())
    for label in root.findChildren(QLabel):
        if label.buddy() is not None and label.isVisibleTo(root):
            texts.append(label.text())
    for box in root.findChildren(QGroupBox):
        if box.isVisibleTo(root):
            texts.append(box.title())
    for text in texts:
        if (key := letter(text)) is not None:
            found.append((key, text.replace("&", "")))
    return found


def _assert_unique(mnemonics: list[tuple[str, str]]) -> None:
    by_letter: dict[str, list[str]] = {}
    for key, where in mnemonics:
        by_letter.setdefault(key, []).append(where)
    clashes = {key: places for key, places in by_letter.items() if len(places) > 1}
    assert clashes == {}, f"Alt+letter reaches more than one control: {clashes}"


def test_no_two_mnemonics_on_the_main_window_share_a_letter(window, environment):
    window.controller.refresh()
    mnemonics = _mnemonics(window)
    assert ("b", "Backup") in mnemonics  # the Backup menu keeps Alt+B
    _assert_unique(mnemonics)


@pytest.mark.parametrize(
    ("button", "dialog_name"),
    [
        ("addEnvironmentButton", "addEnvironmentDialog"),
        ("updateEnvironmentButton", "updateEnvironmentDialog"),
        ("restoreBackupButton", "restoreBackupDialog"),
        ("importConfigurationButton", "importConfigurationDialog"),
    ],
)
def test_no_two_mnemonics_in_a_dialog_share_a_letter(
    qtbot, window, environment, service, button, dialog_name
):
    service.create_backup("billing", name="nightly")
    window.controller.refresh()
    select_environment(window, "billing")
    window.backups.table.selectRow(0)
    seen: dict[str, list[tuple[str, str]]] = {}

    def inspect(dialog) -> None:
        seen[dialog.objectName()] = _mnemonics(dialog)
        dialog.reject()

    when_modal(inspect)
    click_toolbar_button(qtbot, window, button)
    qtbot.waitUntil(lambda: dialog_name in seen)
    _assert_unique(seen[dialog_name])


def test_each_options_menu_is_gone_once_closed(qtbot, window, environment, service):
    from PySide6.QtWidgets import QMenu

    service.create_backup("billing", name="nightly")
    table = show_backups_of(window, "billing")
    table.setFocus()
    table.setCurrentIndex(table.model().index(0, 0))
    for _ in range(3):
        press(table, Qt.Key.Key_Menu)
        QApplication.activePopupWidget().close()
    qtbot.waitUntil(lambda: not window.backups.findChildren(QMenu, "backupOptionsMenu"))


@pytest.mark.parametrize("dialog_name", ["restoreBackupDialog", "importConfigurationDialog"])
def test_enter_after_unticking_the_backup_first_erases_nothing(
    qtbot, window, environment, service, config_dir, tmp_path, dialog_name
):
    golden = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    before = describe_tree(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def untick_then_enter(dialog) -> None:
        if dialog_name == "importConfigurationDialog":
            source = simple_configuration(tmp_path / "replica.envops.zip")
            drag_and_drop(dialog.findChild(object, "dropZone"), source)
            wait_uploaded(qtbot, dialog)
        box = dialog.findChild(object, "backupFirstCheckBox")
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
        assert QApplication.focusWidget() is box and not box.isChecked()
        press(box, Qt.Key.Key_Return)
        seen["closed"] = not dialog.isVisible()

    when_modal(untick_then_enter, named=dialog_name)
    if dialog_name == "restoreBackupDialog":
        choose_backup_option(qtbot, window, golden.id, "restoreAction")
    else:
        click_toolbar_button(qtbot, window, "importConfigurationButton")
    qtbot.waitUntil(lambda: "closed" in seen, timeout=20_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert seen["closed"]  # Enter answered Cancel
    assert describe_tree(config_dir) == before
    assert [b.name for b in service.list_backups("billing")] == ["golden"]
