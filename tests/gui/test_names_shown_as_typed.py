"""Names are shown as the operator typed them, whatever characters they hold.

Markup drops what it does not know and "&" marks an Alt key, so a folder named
`/srv/<tenant>` lost a part of its path in the warning of what a restore erases, and a
configuration file could add lines of its own choosing to the Import dialog.
"""

import itertools
from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton

from envops_desktop.service import EnvOpsService
from envops_desktop.store.timestamps import utc_now
from tests.gui.conftest import click_button, select_environment, when_modal
from tests.gui.test_import_flow import drag_and_drop, open_import_dialog, wait_uploaded
from tests.gui.test_restore_preview import through_the_changes
from tests.gui.user import (
    choose_backup_option,
    press,
    press_shortcut,
    row_index,
    shown,
    texts_shown,
    tooltip_shown,
)
from tests.zips import simple_configuration

# A tag Qt knows, an "&", a run of two spaces.
ENVIRONMENT = "R&D <b>eu</b>"
BACKUP = "<i>before</i> the  upgrade & fix"


def _environment(service, tmp_path):
    folder = tmp_path / "conf <tenant> & co"
    folder.mkdir()
    (folder / "app.yaml").write_text("port: 80\n")
    service.add_environment(ENVIRONMENT, folder, version="1.0")
    backup = service.create_backup(ENVIRONMENT, name=BACKUP)
    (folder / "app.yaml").write_text("port: 8080\n")
    return folder, backup


def test_names_that_look_like_markup_are_shown_as_typed_from_overview_to_notification(
    qtbot, window, service, tmp_path
):
    folder, backup = _environment(service, tmp_path)
    window.controller.refresh()
    select_environment(window, ENVIRONMENT)
    assert shown(window.overview.values["name"]) == ENVIRONMENT
    assert shown(window.overview.values["path"]) == str(folder)
    name_cell = row_index(window.environments.table, lambda env: env.name == ENVIRONMENT)
    assert tooltip_shown(name_cell.data(Qt.ItemDataRole.ToolTipRole)) == ENVIRONMENT
    seen: dict[str, list[str]] = {}

    def read_and_cancel(dialog) -> None:
        seen[dialog.objectName()] = texts_shown(dialog)
        dialog.reject()

    when_modal(read_and_cancel)
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: "createBackupDialog" in seen)
    assert f"Name for the backup of {ENVIRONMENT} (optional):" in seen["createBackupDialog"]

    when_modal(read_and_cancel)
    press_shortcut(qtbot, window, "Ctrl+Shift+B")
    qtbot.waitUntil(lambda: "scheduleDialog" in seen)
    assert any(f"While EnvOps Desktop runs, {ENVIRONMENT} is backed up" in text
               for text in seen["scheduleDialog"])  # fmt: skip

    when_modal(read_and_cancel)
    choose_backup_option(qtbot, window, backup.id, "exportAction")
    qtbot.waitUntil(lambda: "exportDialog" in seen)
    assert any(text.startswith(f"Export {BACKUP} of {ENVIRONMENT} as a configuration file")
               for text in seen["exportDialog"])  # fmt: skip

    when_modal(read_and_cancel)
    press_shortcut(qtbot, window, "Ctrl+Shift+Del")
    qtbot.waitUntil(lambda: "confirmRemoveBox" in seen)
    assert (
        f"Remove {ENVIRONMENT} and delete its backup? The folder {folder} and its files are "
        "not touched."
    ) in seen["confirmRemoveBox"]

    def read_both(changes) -> None:
        seen["restore"] = texts_shown(changes.parentWidget())
        seen["save"] = [shown(changes.findChild(QPushButton, "saveFileButton"))]
        changes.reject()

    through_the_changes(qtbot, window, backup, read_both, restore=True)
    assert seen["save"] == [f"Save {BACKUP}'s version…"]
    assert (
        f"Restoring a previous backup will erase the current configuration of {ENVIRONMENT}.\n"
        f"Everything in {folder} is replaced by the backup below."
    ) in seen["restore"]
    assert BACKUP in seen["restore"]
    assert window.banner.kind == "success"
    assert shown(window.banner.findChild(QLabel, "notificationText")) == (
        f"{ENVIRONMENT} was restored to {BACKUP} (1.0)."
    )
    assert (folder / "app.yaml").read_text() == "port: 80\n"


def test_a_configuration_file_cannot_add_lines_of_its_own_to_the_import_dialog(
    qtbot, window, service, environment, tmp_path
):
    claimed = "billing<br>Signed by your team: <b>yes</b>"
    source = simple_configuration(tmp_path / "R&D <b>eu.envops.zip", exported_from=claimed)
    dialog = open_import_dialog(qtbot, window, "billing")
    drag_and_drop(dialog.findChild(object, "dropZone"), source)
    wait_uploaded(qtbot, dialog)

    uploaded = shown(dialog.findChild(QLabel, "uploadedFileLabel")).splitlines()
    assert uploaded[:2] == [source.name, f"Environment {claimed}, version 4.2.0"]
    assert shown(dialog.findChild(QLabel, "importWarning")).startswith(
        f"This file was exported from {claimed}. Importing it replaces billing's configuration."
    )
    dialog.reject()


def test_of_two_backups_of_one_name_made_in_one_minute_the_one_picked_is_compared(
    qtbot, window, service, environment, config_dir
):
    # All three within one minute, as the list shows it: a clock a millisecond on at
    # each reading, from the start of this minute.
    ticks = itertools.count()
    minute = utc_now().replace(second=0, microsecond=0)
    within_a_minute = EnvOpsService(
        service.data_dir, clock=lambda: minute + timedelta(milliseconds=next(ticks))
    )
    golden = within_a_minute.create_backup("billing", name="golden")
    (config_dir / "older.ini").write_text("[older]\n")
    within_a_minute.create_backup("billing", name="nightly")
    (config_dir / "older.ini").unlink()
    (config_dir / "newer.ini").write_text("[newer]\n")
    within_a_minute.create_backup("billing", name="nightly")
    within_a_minute.close()
    assert len({b.created_at.strftime("%H:%M") for b in service.list_backups("billing")}) == 1
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def pick_the_older_nightly(dialog) -> None:
        assert dialog.objectName() == "compareWithDialog"
        choices = dialog.findChild(QComboBox)
        # The folder now, the newer nightly, the older one: two keys down, as a user goes.
        press(choices, "Down")
        press(choices, "Down")
        when_modal(show_changes, named="changesDialog")
        click_button(dialog, text="OK")

    def show_changes(changes) -> None:
        seen["title"] = changes.windowTitle()
        table = changes.findChild(object, "changesTable")
        seen["paths"] = {table.model().index(r, 0).data() for r in range(table.model().rowCount())}
        changes.accept()

    when_modal(pick_the_older_nightly)
    choose_backup_option(qtbot, window, golden.id, "compareAction")
    qtbot.waitUntil(lambda: "paths" in seen, timeout=10_000)
    assert seen["title"] == "Changes: golden → nightly"
    assert "older.ini" in seen["paths"] and "newer.ini" not in seen["paths"]
