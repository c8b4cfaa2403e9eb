"""Every action of the main window, in every state that matters, reached as a user reaches it.

Each action is tried through each of its controls: its shortcut, its toolbar button, its menu
bar entry, the environments table's right-click menu and, for a backup, the row's Options (⋯)
menu opened by click, right-click, the Menu key and Shift+F10, plus Enter and double-click.
Each must open its dialog, or be disabled with a tooltip saying why and open nothing.
"""

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView, QTabWidget, QToolButton

from envops_desktop.controller.backups_model import OPTIONS_COLUMN
from envops_desktop.domain.enums import EnvironmentStatus
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import RestoreCommand
from tests.gui.conftest import select_environment, when_modal
from tests.gui.user import (
    DialogWatcher,
    clashing_mnemonics,
    click_cell,
    click_menu_entry,
    click_toolbar_button,
    open_menu_bar_menu,
    open_popup,
    press,
    press_shortcut,
    right_click,
    unnamed_controls,
)
from tests.trees import make_config_tree


@dataclass(frozen=True)
class WindowAction:
    name: str  # the QAction's objectName
    opens: str  # the dialog's objectName, or what else happens: "refreshed", "find", "quit"
    shortcut: str | None
    toolbar: str | None  # the toolbar button's objectName
    menu: str  # the menu bar menu that holds it
    in_environment_menu: bool


ACTIONS = [
    WindowAction(
        "addEnvironmentAction", "addEnvironmentDialog", "Ctrl+N", "addEnvironmentButton",
        "Environment", False,
    ),
    WindowAction(
        "updateEnvironmentAction", "updateEnvironmentDialog", "Ctrl+E",
        "updateEnvironmentButton", "Environment", True,
    ),
    WindowAction(
        "removeEnvironmentAction", "confirmRemoveBox", "Ctrl+Shift+Del", None, "Environment",
        True,
    ),
    WindowAction(
        "createBackupAction", "createBackupDialog", "Ctrl+B", "createBackupButton", "Backup",
        True,
    ),
    WindowAction(
        "restoreBackupAction", "restoreBackupDialog", "Ctrl+R", "restoreBackupButton",
        "Backup", False,
    ),
    WindowAction(
        "importConfigurationAction", "importConfigurationDialog", "Ctrl+I",
        "importConfigurationButton", "File", True,
    ),
    WindowAction(
        "exportBackupAction", "exportDialog", "Ctrl+Shift+E", None, "Backup", False
    ),
    WindowAction("deleteBackupAction", "confirmDeleteBox", "Del", None, "Backup", False),
    WindowAction(
        "scheduleBackupsAction", "scheduleDialog", "Ctrl+Shift+B", None, "Backup", True
    ),
    WindowAction("retentionAction", "retentionDialog", "Ctrl+Shift+K", None, "Backup", False),
    WindowAction("refreshAction", "refreshed", "F5", "refreshButton", "Environment", False),
    WindowAction("findAction", "find", "Ctrl+F", None, "Environment", False),
    WindowAction("aboutAction", "aboutDialog", None, None, "Help", False),
    WindowAction("preferencesAction", "preferencesDialog", "Ctrl+,", None, "File", False),
    # With no shared store connected, it says where to connect one.
    WindowAction("syncStoreAction", "connect first", "Ctrl+Shift+Y", None, "File", False),
    WindowAction("verifyStoreAction", "verifying", "Ctrl+Shift+V", None, "File", False),
    WindowAction("quitAction", "quit", "Ctrl+Q", None, "File", False),
]  # fmt: skip

# The backup row's Options menu: entry, the dialog it opens, and the window action it mirrors.
OPTIONS = [
    ("restoreAction", "restoreBackupDialog", "restoreBackupAction"),
    ("exportAction", "exportDialog", "exportBackupAction"),
    ("deleteAction", "confirmDeleteBox", "deleteBackupAction"),
]

NO_ENVIRONMENT = "Select an environment first"
NO_BACKUP = "Select a backup first"
BUSY = "is being updated"

# State -> {action: the reason it is disabled}; every action not named here is enabled.
DISABLED = {
    "nothing selected": {
        "updateEnvironmentAction": NO_ENVIRONMENT,
        "removeEnvironmentAction": NO_ENVIRONMENT,
        "createBackupAction": NO_ENVIRONMENT,
        "restoreBackupAction": NO_ENVIRONMENT,
        "importConfigurationAction": NO_ENVIRONMENT,
        "exportBackupAction": NO_BACKUP,
        "deleteBackupAction": NO_ENVIRONMENT,
        "scheduleBackupsAction": NO_ENVIRONMENT,
        "retentionAction": NO_ENVIRONMENT,
    },
    "environment selected": {
        "restoreBackupAction": NO_BACKUP,
        "exportBackupAction": NO_BACKUP,
        "deleteBackupAction": NO_BACKUP,
    },
    "backup selected": {},
    "environment updating": {
        "updateEnvironmentAction": BUSY,
        "removeEnvironmentAction": BUSY,
        "createBackupAction": BUSY,
        "restoreBackupAction": BUSY,
        "importConfigurationAction": BUSY,
        "deleteBackupAction": BUSY,
    },
    "environment update failed": {},
    # It opens, to set excludes; the version shows read-only.
    "version from a file": {},
}

ENVIRONMENT_FOR = {
    "nothing selected": None,
    "environment selected": "billing",
    "backup selected": "billing",
    "environment updating": "busy",
    "environment update failed": "fragile",
    "version from a file": "versioned",
}


class Walk:
    """Tries each control and records what it did, so one failure does not hide the rest."""

    def __init__(self, qtbot, window, state: str) -> None:
        self.qtbot = qtbot
        self.window = window
        self.state = state
        self.watcher = DialogWatcher()
        self.problems: list[str] = []

    def action(self, name: str):
        return self.window.findChild(type(self.window.actions.add), name)

    def expect(self, route: str, name: str, opens: str, disabled_because: str | None, go) -> None:
        window = self.window
        action = self.action(name)
        where = f"{self.state}: {name} by {route}"
        if disabled_because is not None:
            if action.isEnabled():
                self.problems.append(f"{where}: enabled, expected disabled ({disabled_because})")
            elif disabled_because not in action.toolTip():
                self.problems.append(f"{where}: tooltip {action.toolTip()!r} does not say why")
        self.watcher.seen.clear()
        refreshed: list[bool] = []

        def note_refresh() -> None:
            refreshed.append(True)

        started: list[str] = []

        def note_operations() -> None:
            started.extend(operation.label for operation in window.controller.runner.running)

        window.controller.selection_changed.connect(note_refresh)
        window.controller.runner.changed.connect(note_operations)
        window.environments.filter_edit.clearFocus()
        window.banner.hide()  # so that only this route's message counts
        go()
        # A dialog opened with exec() was closed inside go(); one opened with open() shows now.
        self.qtbot.wait(30)
        window.controller.selection_changed.disconnect(note_refresh)
        window.controller.runner.changed.disconnect(note_operations)
        if disabled_because is not None:
            if self.watcher.seen:
                self.problems.append(f"{where}: disabled yet opened {self.watcher.seen}")
            return
        happened = {
            "refreshed": bool(refreshed),
            "find": window.focusWidget() is window.environments.filter_edit,
            "quit": not window.isVisible(),
            "verifying": "Verifying the store" in started and not self.watcher.seen,
            "connect first": window.banner.isVisible()
            and "Preferences → Storage" in window.banner.text
            and not self.watcher.seen,
        }.get(opens, self.watcher.seen == [opens])
        if not happened:
            self.problems.append(f"{where}: expected {opens}, saw {self.watcher.seen}")
        if opens == "quit" and not window.isVisible():
            window.show()
            self.qtbot.waitExposed(window)

    def close_menus(self) -> None:
        while (popup := open_popup()) is not None:
            popup.close()


def _start_a_restore_that_waits(service, window, qtbot, tmp_path: Path):
    """A restore of `busy` really running (in this process, as another window's would)."""
    flag = tmp_path / "release"
    busy_dir = tmp_path / "environments" / "busy"
    make_config_tree(busy_dir)
    wait = f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.02)"
    service.add_environment(
        "busy",
        busy_dir,
        version="2.0",
        post_restore_command=RestoreCommand(argv=[sys.executable, "-c", wait], timeout_seconds=60),
    )
    backup = service.create_backup("busy", name="before the flag")
    thread = threading.Thread(target=service.restore_backup, args=("busy", backup.id))
    thread.start()
    qtbot.waitUntil(
        lambda: service.get_environment("busy").status is EnvironmentStatus.UPDATING,
        timeout=20_000,
    )
    window.controller.refresh()

    def release() -> None:
        flag.touch()
        thread.join(60)

    return release


def _set_up(state: str, qtbot, window, service, tmp_path: Path):
    """Three environments with backups, then the selection and status that `state` names."""
    service.create_backup("billing", name="nightly")
    service.create_backup("billing", name="weekly")
    fragile_dir = tmp_path / "environments" / "fragile"
    make_config_tree(fragile_dir)
    service.add_environment(
        "fragile",
        fragile_dir,
        version="1.0",
        post_restore_command=RestoreCommand(argv=["false"], timeout_seconds=30),
    )
    fragile_backup = service.create_backup("fragile", name="known good")
    with pytest.raises(OperationFailedError):
        service.restore_backup("fragile", fragile_backup.id)
    versioned_dir = tmp_path / "environments" / "versioned"
    make_config_tree(versioned_dir)
    (versioned_dir / "VERSION").write_text("7.1\n")
    service.add_environment("versioned", versioned_dir, version_file="VERSION")
    service.create_backup("versioned", name="from file")
    release = None
    if state == "environment updating":
        release = _start_a_restore_that_waits(service, window, qtbot, tmp_path)
    window.controller.refresh()
    name = ENVIRONMENT_FOR[state]
    if name is not None:
        select_environment(window, name)
        if state != "environment selected":
            window.backups.table.selectRow(0)
    if state == "environment update failed":
        assert window.controller.selected_environment.status is EnvironmentStatus.UPDATE_FAILED
    window.tabs.setCurrentWidget(window.backups)
    return release


@pytest.mark.parametrize("state", list(DISABLED))
def test_every_action_opens_its_dialog_or_says_why_not(
    qtbot, window, service, environment, tmp_path, state
):
    release = _set_up(state, qtbot, window, service, tmp_path)
    walk = Walk(qtbot, window, state)
    disabled = DISABLED[state]
    try:
        for action in [a for a in ACTIONS if a.name != "quitAction"]:
            reason = disabled.get(action.name)
            if action.shortcut:
                walk.expect(
                    f"shortcut {action.shortcut}", action.name, action.opens, reason,
                    lambda a=action: press_shortcut(qtbot, window, a.shortcut),
                )  # fmt: skip
            if action.toolbar:
                walk.expect(
                    "toolbar", action.name, action.opens, reason,
                    lambda a=action: click_toolbar_button(qtbot, window, a.toolbar),
                )  # fmt: skip

            def from_menu_bar(a: WindowAction = action) -> None:
                click_menu_entry(qtbot, open_menu_bar_menu(qtbot, window, a.menu), a.name)

            walk.expect(f"{action.menu} menu", action.name, action.opens, reason, from_menu_bar)
            walk.close_menus()
            if action.in_environment_menu and ENVIRONMENT_FOR[state] is not None:

                def from_row_menu(a: WindowAction = action) -> None:
                    table = window.environments.table
                    right_click(table, table.selectionModel().selectedRows()[0])
                    click_menu_entry(qtbot, open_popup(), a.name)

                walk.expect("environment menu", action.name, action.opens, reason, from_row_menu)
                walk.close_menus()
        if ENVIRONMENT_FOR[state] is not None:
            _walk_backup_rows(walk, qtbot, window, disabled)
        for route, go in (
            ("shortcut Ctrl+Q", lambda: press_shortcut(qtbot, window, "Ctrl+Q")),
            (
                "File menu",
                lambda: click_menu_entry(
                    qtbot, open_menu_bar_menu(qtbot, window, "File"), "quitAction"
                ),
            ),
        ):
            walk.expect(route, "quitAction", "quit", None, go)
    finally:
        walk.watcher.stop()
        if release is not None:
            release()
    assert not walk.problems, "\n".join(walk.problems)


def _walk_backup_rows(walk: Walk, qtbot, window, disabled: dict[str, str]) -> None:
    table: QTableView = window.backups.table
    options = table.model().index(0, OPTIONS_COLUMN)
    name_cell = table.model().index(0, 0)

    def focus_row() -> None:
        table.setFocus()
        table.setCurrentIndex(name_cell)

    openers = {
        "⋯ cell": lambda: click_cell(qtbot, table, options),
        "right-click": lambda: right_click(table, name_cell),
        "Menu key": lambda: (focus_row(), press(table, Qt.Key.Key_Menu)),
        "Shift+F10": lambda: (focus_row(), press(table, "Shift+F10")),
    }
    for opener, open_menu in openers.items():
        for entry, opens, mirrors in OPTIONS:
            # The row menu acts on its own row, so only a busy environment disables it.
            reason = disabled.get(mirrors) if disabled.get(mirrors) == BUSY else None

            def choose(open_menu=open_menu, entry=entry) -> None:
                open_menu()
                menu = open_popup()
                assert menu is not None and menu.objectName() == "backupOptionsMenu"
                click_menu_entry(qtbot, menu, entry)

            walk.expect(opener, mirrors, opens, reason, choose)
            walk.close_menus()
    busy = disabled.get("restoreBackupAction") == BUSY
    for route, go in (
        ("Enter", lambda: (focus_row(), press(table, Qt.Key.Key_Return))),
        ("double-click", lambda: click_cell(qtbot, table, name_cell, double=True)),
    ):
        walk.expect(route, "restoreBackupAction", "restoreBackupDialog", BUSY if busy else None,
                    go)  # fmt: skip


def _click_tab(qtbot, window, index: int) -> None:
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())


def _in_each_tab(qtbot, window, problems) -> list[str]:
    """`problems(window)` with each tab of the window clicked in turn, each named by it."""
    found = []
    for tab in range(window.tabs.count()):
        _click_tab(qtbot, window, tab)
        assert window.tabs.currentIndex() == tab
        found += [f"{window.tabs.tabText(tab)} tab: {p}" for p in problems(window)]
    return found


def test_every_control_of_the_window_and_the_dialogs_its_menus_open_has_a_spoken_name(
    qtbot, window, service, environment, tmp_path
):
    _set_up("backup selected", qtbot, window, service, tmp_path)
    unnamed = _in_each_tab(qtbot, window, unnamed_controls)
    size = window.size()
    window.resize(window.minimumSizeHint().width(), size.height())
    more = window.findChild(QToolButton, "qt_toolbar_ext_button")
    qtbot.waitUntil(lambda: more.isVisibleTo(window))  # with what does not fit under it
    unnamed += [f"narrow: {c}" for c in unnamed_controls(window)]
    window.resize(size)
    assert not unnamed, "\n".join(unnamed)
    # Each dialog the menus open, met by `every_dialog_is_usable_by_keyboard_and_screen_reader`
    # as it opens.
    walk = Walk(qtbot, window, "backup selected")
    try:
        for action in ACTIONS:
            if action.opens.endswith(("Dialog", "Box")):

                def from_menu_bar(a: WindowAction = action) -> None:
                    click_menu_entry(qtbot, open_menu_bar_menu(qtbot, window, a.menu), a.name)

                walk.expect(f"{action.menu} menu", action.name, action.opens, None, from_menu_bar)
                walk.close_menus()
    finally:
        walk.watcher.stop()
    assert not walk.problems, "\n".join(walk.problems)


def test_each_alt_letter_of_the_window_and_preferences_goes_to_one_control(
    qtbot, window, service, environment, tmp_path
):
    _set_up("backup selected", qtbot, window, service, tmp_path)
    clashes = _in_each_tab(qtbot, window, clashing_mnemonics)
    _click_tab(qtbot, window, window.tabs.indexOf(window.backups))
    qtbot.mouseClick(window.backups.show_deleted, Qt.MouseButton.LeftButton)
    assert window.backups.empty_bin.isVisible()
    clashes += [f"Deleted shown: {c}" for c in clashing_mnemonics(window)]

    def each_page(dialog) -> None:
        pages = dialog.findChild(QTabWidget).tabBar()
        for page in range(pages.count()):
            qtbot.mouseClick(pages, Qt.MouseButton.LeftButton, pos=pages.tabRect(page).center())
            clashes.extend(f"{pages.tabText(page)}: {c}" for c in clashing_mnemonics(dialog))
        dialog.reject()

    answered = when_modal(each_page, named="preferencesDialog")
    press_shortcut(qtbot, window, "Ctrl+,")
    qtbot.waitUntil(answered)
    assert not clashes, "\n".join(clashes)
