"""The window tells the user what to do next: after a version mismatch, when a table is empty,
when quitting while working, and where files were last chosen."""

import sys
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from envops_desktop.app import open_main_window
from envops_desktop.domain.models import RestoreCommand
from tests.gui.conftest import click_button, modal_dialog, select_environment, when_modal
from tests.gui.test_import_flow import drag_and_drop
from tests.gui.user import (
    choose_backup_option,
    click_menu_entry,
    click_toolbar_button,
    open_menu_bar_menu,
    press_shortcut,
)
from tests.trees import make_config_tree, mess_up
from tests.zips import simple_configuration


class OpenedUrls(QObject):
    """Stands in for the file manager: what the app asked the desktop to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_a_version_file_environment_is_offered_its_folder_not_an_update_dialog(
    qtbot, window, service, tmp_path
):
    folder = tmp_path / "environments" / "versioned"
    make_config_tree(folder)
    (folder / "VERSION").write_text("7.1\n")
    service.add_environment("versioned", folder, version_file="VERSION")
    backup = service.create_backup("versioned", name="on 7.1")
    (folder / "VERSION").write_text("7.2\n")
    window.controller.refresh()
    select_environment(window, "versioned")
    opened = OpenedUrls()
    QDesktopServices.setUrlHandler("file", opened, "open")
    seen: dict[str, object] = {}

    def answer(box) -> None:
        seen["text"] = box.informativeText()
        seen["update offered"] = box.findChild(QObject, "updateEnvironmentButton") is not None
        click_button(box, "openFolderButton")

    try:
        when_modal(answer)
        choose_backup_option(qtbot, window, backup.id, "restoreAction")
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert "change VERSION in the environment's folder" in str(seen["text"])
    assert seen["update offered"] is False
    assert [Path(url.toLocalFile()) for url in opened.urls] == [folder.resolve()]
    # Update environment… still opens, for its excludes, with the version read-only
    # (test_retention.py); it is the mismatch box that does not offer it.
    assert window.actions.update_env.isEnabled()


def test_after_a_mismatch_the_update_dialog_offers_the_backups_version(
    qtbot, window, service, environment
):
    backup = service.create_backup("billing", name="on 4.2.0")
    service.update_environment_version("billing", "4.3.0")
    window.controller.refresh()
    select_environment(window, "billing")
    offered: list[str] = []

    def update(box) -> None:
        when_modal(lambda dialog: (offered.append(dialog.version_edit.text()), dialog.reject()))
        click_button(box, "updateEnvironmentButton")

    when_modal(update)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    assert offered == ["4.2.0"]


def test_updating_from_the_import_dialog_keeps_the_file_and_goes_on(
    qtbot, window, service, environment, tmp_path
):
    window.controller.refresh()
    select_environment(window, "billing")
    click_toolbar_button(qtbot, window, "importConfigurationButton")
    dialog = modal_dialog(qtbot, "importConfigurationDialog")

    def update_to_the_files_version(box) -> None:
        def accept_offered(update_dialog) -> None:
            assert update_dialog.version_edit.text() == "5.0"
            update_dialog.accept()

        when_modal(accept_offered)
        click_button(box, "updateEnvironmentButton")

    when_modal(update_to_the_files_version)
    drag_and_drop(dialog.drop_zone, simple_configuration(tmp_path / "v5.zip", version="5.0"))
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=20_000)
    assert dialog.isVisible()
    assert "v5.zip" in dialog.uploaded_label.text()
    assert service.get_environment("billing").version == "5.0"
    dialog.reject()


def test_the_quit_question_follows_an_operation_that_finishes_meanwhile(
    qtbot, window, service, config_dir
):
    slow = RestoreCommand(
        argv=[sys.executable, "-c", "import time; time.sleep(1.5)"], timeout_seconds=30
    )
    service.add_environment("billing", config_dir, version="4.2.0", post_restore_command=slow)
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    when_modal(lambda dialog: click_button(dialog, "restoreButton"))
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    assert window.controller.runner.running
    texts: list[str] = []

    def wait_then_quit(box) -> None:
        texts.append(box.text())
        qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
        texts.append(box.text())
        click_button(box, text="Quit")

    when_modal(wait_then_quit)
    press_shortcut(qtbot, window, "Ctrl+Q")
    assert "is still running" in texts[0]
    assert texts[1] == "Restoring billing has finished. Quit now?"
    assert not window.isVisible()
    assert service.list_backups("billing")[0].origin.value == "pre-restore"  # not cancelled


def test_the_last_selected_environment_is_selected_at_the_next_start(
    qtbot, service, environment, settings, crash_reporter, tmp_path
):
    other = tmp_path / "environments" / "another"
    make_config_tree(other)
    service.add_environment("another", other, version="1")
    first = open_main_window(service, settings, crash_reporter)
    qtbot.addWidget(first)
    assert first.controller.selected_environment.name == "another"  # first start: the first
    select_environment(first, "billing")
    first.close()
    second = open_main_window(service, settings, crash_reporter)
    qtbot.addWidget(second)
    assert second.controller.selected_environment.name == "billing"
    for window in (first, second):
        window.controller.shutdown()


def test_empty_tables_say_what_to_do_next(window, environment, service):
    window.controller.refresh()
    assert window.backups.table.empty_hint == "Select an environment to see its backups."
    select_environment(window, "billing")
    assert window.backups.table.empty_hint == "No backups of billing yet — Create backup (Ctrl+B)."
    assert window.activity.table.empty_hint


def test_a_version_file_is_version_by_default_and_add_is_enabled(qtbot, window, config_dir):
    checked: dict[str, object] = {}

    def fill(dialog) -> None:
        dialog.name_edit.setText("billing")
        dialog.path_edit.setText(str(config_dir))
        dialog.version_file_radio.setChecked(True)
        checked["file"] = dialog.version_file_edit.text()
        checked["add enabled"] = dialog.buttons.buttons()[0].isEnabled()
        dialog.reject()

    when_modal(fill)
    press_shortcut(qtbot, window, "Ctrl+N")
    assert checked == {"file": "VERSION", "add enabled": True}


def test_export_suggests_the_environments_name_and_file_dialogs_reopen_there(
    qtbot, window, service, environment, tmp_path
):
    backup = service.create_backup("billing", name="nightly")
    window.controller.refresh()
    select_environment(window, "billing")
    exports = tmp_path / "exports"
    exports.mkdir()
    suggested: list[str] = []

    def save_into_exports(dialog: QFileDialog) -> None:
        suggested.append(Path(dialog.selectedFiles()[0]).name)
        dialog.selectFile(str(exports / "billing.envops.zip"))
        dialog.accept()

    def plain_file(options) -> None:
        assert options.objectName() == "exportDialog"
        when_modal(save_into_exports)
        click_button(options, "exportSaveButton")

    window.backups.table.selectRow(0)
    when_modal(plain_file)
    click_menu_entry(qtbot, open_menu_bar_menu(qtbot, window, "File"), "exportBackupAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert suggested == ["billing nightly.envops.zip"]
    assert (exports / "billing.envops.zip").exists()
    assert backup.name == "nightly"

    opened_in: list[Path] = []
    click_toolbar_button(qtbot, window, "importConfigurationButton")
    dialog = modal_dialog(qtbot, "importConfigurationDialog")
    when_modal(
        lambda chooser: (opened_in.append(Path(chooser.directory().path())), chooser.reject())
    )
    qtbot.mouseClick(dialog.drop_zone.choose_button, Qt.MouseButton.LeftButton)
    dialog.reject()
    assert opened_in == [exports]
