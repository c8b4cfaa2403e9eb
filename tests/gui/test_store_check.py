"""Verify store, from the File menu or its shortcut: a whole store says so, a damaged one
lists what a backup needs and cannot get, and Repair lets the next backup mend it."""

from PySide6.QtWidgets import QApplication, QPlainTextEdit

from tests.gui.conftest import backup_rows, click_button, select_environment, when_modal
from tests.gui.user import click_menu_entry, open_menu_bar_menu, press_shortcut
from tests.store_view import damage_blob, flipped_bit, tamper_with_manifest


def _verify_from_the_file_menu(qtbot, window) -> None:
    click_menu_entry(qtbot, open_menu_bar_menu(qtbot, window, "File"), "verifyStoreAction")


def _banner_says(qtbot, window, words: str) -> None:
    qtbot.waitUntil(
        lambda: window.banner.isVisible() and words in window.banner.text, timeout=20_000
    )


def test_verifying_a_whole_store_from_the_file_menu_says_so_and_asks_nothing(
    qtbot, window, service, environment
):
    service.create_backup("billing", name="nightly")
    _verify_from_the_file_menu(qtbot, window)
    _banner_says(qtbot, window, "The store is whole")
    assert window.banner.kind == "success"
    assert "none missing or damaged" in window.banner.text
    qtbot.wait(50)
    assert QApplication.activeModalWidget() is None


def test_a_configuration_of_one_file_is_counted_in_the_singular(qtbot, window, service, tmp_path):
    root = tmp_path / "motd"
    root.mkdir()
    (root / "motd").write_bytes(b"!")
    service.add_environment("motd", root, version="1")
    window.controller.refresh()
    select_environment(window, "motd")

    answered = when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(answered)
    _banner_says(qtbot, window, "Backed up motd as ")
    assert window.banner.text.endswith(" (1 file).")
    _verify_from_the_file_menu(qtbot, window)
    _banner_says(qtbot, window, "The store is whole: 1 stored file read back, none missing")


def test_a_damaged_store_lists_the_file_and_backup_that_need_it_and_repair_mends_it(
    qtbot, window, service, environment, tmp_path
):
    backup = service.create_backup("billing", name="nightly")
    app = next(e.sha256 for e in service.backup_entries(backup.id) if e.path == "app.yaml")
    damage_blob(tmp_path / "data", app)
    seen: dict[str, str] = {}

    def repair(dialog) -> None:
        seen["summary"] = dialog.findChild(object, "storeCheckSummary").text()
        seen["problems"] = dialog.findChild(QPlainTextEdit, "storeProblemsList").toPlainText()
        click_button(dialog, "repairStoreButton")

    answered = when_modal(repair, named="storeCheckDialog", timeout_ms=20_000)
    press_shortcut(qtbot, window, "Ctrl+Shift+V")
    qtbot.waitUntil(answered, timeout=20_000)
    assert "0 missing and 1 damaged" in seen["summary"]
    assert seen["problems"] == f"app.yaml in nightly of billing: damaged ({app[:12]})"

    _banner_says(qtbot, window, "Forgot 1 stored file that could not be trusted")
    assert app in service.check_store().missing  # forgotten, until a backup stores it again
    service.create_backup("billing", name="after the repair")
    _verify_from_the_file_menu(qtbot, window)
    _banner_says(qtbot, window, "The store is whole")


def test_a_damaged_list_of_files_is_named_and_repair_deletes_its_backups(
    qtbot, service, environment, config_dir, tmp_path, window
):
    service.create_backup("billing", name="golden")
    (config_dir / "only-in-nightly.ini").write_text("[nightly]\n")
    nightly = service.create_backup("billing", name="nightly")
    tamper_with_manifest(tmp_path / "data", flipped_bit, of_backup=nightly.id)
    select_environment(window, "billing")
    assert backup_rows(window) == ["nightly", "golden"]
    seen: dict[str, str] = {}

    def repair(dialog) -> None:
        seen["problems"] = dialog.findChild(QPlainTextEdit, "storeProblemsList").toPlainText()
        seen["advice"] = dialog.findChild(object, "storeRepairAdvice").text()
        click_button(dialog, "repairStoreButton")

    answered = when_modal(repair, named="storeCheckDialog", timeout_ms=20_000)
    _verify_from_the_file_menu(qtbot, window)
    qtbot.waitUntil(answered, timeout=20_000)
    assert seen["problems"].startswith("nightly of billing: list of files damaged (")
    assert "Repair deletes it for good" in seen["advice"]

    _banner_says(qtbot, window, "Deleted the backups whose list of files was damaged")
    assert "(nightly of billing)" in window.banner.text
    assert backup_rows(window) == ["golden"]
    _verify_from_the_file_menu(qtbot, window)
    _banner_says(qtbot, window, "The store is whole")
