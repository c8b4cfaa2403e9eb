"""The shared store from the window: Preferences → Storage tests and connects, File → Sync
with team shares the backups, asking for the passphrase when nothing else has it."""

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from envops_desktop.service import EnvOpsService
from tests.gui.conftest import click_button, select_environment, when_modal
from tests.gui.user import choose_backup_option, press_shortcut
from tests.s3_server import bucket, s3_credentials, s3_endpoint
from tests.shared_store.proxies import header_dropping_proxy
from tests.trees import describe_tree, mess_up

__all__ = ["bucket", "s3_credentials", "s3_endpoint"]  # fixtures, used by name

PASSPHRASE = "one team, one passphrase"


@pytest.fixture
def no_passphrase_anywhere(monkeypatch):
    monkeypatch.delenv("ENVOPS_PASSPHRASE", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    yield
    keyring.set_keyring(previous)


def _in_preferences(qtbot, window, work) -> None:
    """Press Ctrl+, and do `work(dialog)` in the Preferences dialog, then close it."""
    done = []

    def handle(dialog) -> None:
        assert dialog.objectName() == "preferencesDialog"
        try:
            work(dialog)
        finally:
            done.append(True)
            dialog.reject()

    when_modal(handle)
    press_shortcut(qtbot, window, "Ctrl+,")
    assert done


def _fill(qtbot, dialog, url: str, endpoint: str) -> None:
    for name, text in (("storeUrlEdit", url), ("storeEndpointEdit", endpoint)):
        edit = dialog.findChild(QLineEdit, name)
        edit.clear()
        qtbot.keyClicks(edit, text)


def _click_and_wait(qtbot, dialog, button: str, window) -> str:
    qtbot.mouseClick(dialog.findChild(object, button), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=60_000)
    return dialog.findChild(object, "storeStatusLabel").text()


def test_preferences_test_the_server_then_connect_and_sync_shares_the_backups(
    qtbot, window, environment, bucket, s3_endpoint, no_passphrase_anywhere
):
    window.controller.service.create_backup("billing", name="nightly")
    said = []

    def connect(dialog) -> None:
        _fill(qtbot, dialog, f"s3://{bucket}/team", s3_endpoint)
        said.append(_click_and_wait(qtbot, dialog, "testConnectionButton", window))
        said.append(_click_and_wait(qtbot, dialog, "connectStoreButton", window))
        qtbot.keyClicks(dialog.findChild(QLineEdit, "storePassphraseEdit"), PASSPHRASE)
        said.append(_click_and_wait(qtbot, dialog, "connectStoreButton", window))

    _in_preferences(qtbot, window, connect)
    assert "enforces conditional writes" in said[0]
    assert said[1] == "Give the store's passphrase first."
    assert said[2] == f"Made the store in s3://{bucket}/team and connected to it."

    def type_the_passphrase(ask) -> None:
        assert ask.objectName() == "passphraseDialog"
        ask.findChild(QLineEdit).setText(PASSPHRASE)
        ask.accept()

    when_modal(type_the_passphrase)
    press_shortcut(qtbot, window, "Ctrl+Shift+Y")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=60_000)
    assert window.banner.kind == "success", window.banner.text
    assert window.banner.text == "Shared 1 backup; took in 0 backups."


def test_a_server_that_ignores_conditional_writes_is_refused_by_test_connection(
    qtbot, window, bucket, s3_endpoint
):
    said = []

    def test_through_a_proxy(dialog) -> None:
        with header_dropping_proxy(s3_endpoint) as proxy:
            _fill(qtbot, dialog, f"s3://{bucket}/team", proxy)
            said.append(_click_and_wait(qtbot, dialog, "testConnectionButton", window))

    _in_preferences(qtbot, window, test_through_a_proxy)
    assert "ignores If-None-Match on writes" in said[0]
    assert window.controller.store_work.shared_store() is None


def test_restoring_a_shared_environment_asks_for_the_passphrase_then_restores(
    qtbot, window, tmp_path, config_dir, bucket, s3_endpoint, no_passphrase_anywhere
):
    # As another command left it: billing shared with the team; this window's service has
    # not unlocked the store, as after a start with no passphrase in the keyring.
    other = EnvOpsService(tmp_path / "data")
    other.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    other.add_environment("billing", config_dir, version="4.2.0")
    backup = other.create_backup("billing", name="golden")
    other.sync_shared_store(PASSPHRASE)
    other.close()
    wanted = describe_tree(config_dir)
    mess_up(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    asked = []

    def type_the_passphrase(ask) -> None:
        asked.append(ask.objectName())
        if ask.objectName() != "passphraseDialog":  # not asked: the test fails below
            ask.reject()
            return
        ask.findChild(QLineEdit).setText(PASSPHRASE)
        when_modal(lambda dialog: click_button(dialog, "restoreButton"), timeout_ms=60_000)
        ask.accept()

    when_modal(type_the_passphrase)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: bool(asked) and not window.controller.runner.running, timeout=60_000)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    assert asked == ["passphraseDialog"]
    assert window.banner.kind == "success", window.banner.text
    assert window.banner.text == "billing was restored to golden (4.2.0)."
    assert describe_tree(config_dir) == wanted


def test_a_sync_that_refuses_a_teammate_s_backup_says_so_in_an_error_banner(
    qtbot, window, environment, tmp_path, bucket, s3_endpoint, monkeypatch
):
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    url = f"s3://{bucket}/team"
    window.controller.service.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    teammate = EnvOpsService(tmp_path / "teammate")
    teammate.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    theirs = tmp_path / "theirs"
    (theirs / "conf.d").mkdir(parents=True)
    (theirs / "escape").symlink_to("../../../etc")
    teammate.add_environment("billing", theirs, version="4.2.0")
    teammate.create_backup("billing", name="leads out")
    teammate.sync_shared_store(PASSPHRASE)
    teammate.close()

    press_shortcut(qtbot, window, "Ctrl+Shift+Y")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=60_000)

    assert window.banner.kind == "error", window.banner.text
    assert "Not taken in: the backup leads out from" in window.banner.text
    assert "points outside the environment" in window.banner.text
