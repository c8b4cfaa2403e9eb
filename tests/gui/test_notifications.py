"""Desktop notifications: said when long work ends with the window in the background, and
for a failed scheduled backup always; a click brings the window up on that environment.
Offscreen Qt has no tray: the notifier's `shown` signal is what the tray would show."""

import pytest
from PySide6.QtWidgets import QWidget

from tests.gui.conftest import select_environment, when_modal
from tests.gui.user import press_shortcut


@pytest.fixture
def elsewhere(qtbot):
    """Another application window in front of ours, as when the user went on with other work."""
    other = QWidget()
    other.setWindowTitle("another application")
    qtbot.addWidget(other)
    return other


def _in_front(qtbot, widget) -> None:
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(lambda: widget.isActiveWindow())


def _back_up_billing_and_look_away(qtbot, window, elsewhere) -> list[tuple[str, str, str]]:
    """Ctrl+B on billing, then another window to the front before the backup ends; what
    the notifier says from then on."""
    window.controller.refresh()
    select_environment(window, "billing")
    window.notifier.long_seconds = 0  # a real backup of this tree is quicker than a person
    shown: list[tuple[str, str, str]] = []
    window.notifier.shown.connect(lambda *said: shown.append(said))

    def back_up_then_look_away(dialog) -> None:
        dialog.accept()
        _in_front(qtbot, elsewhere)

    when_modal(back_up_then_look_away, named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    return shown


def test_a_backup_ending_in_the_background_is_notified_and_its_click_shows_the_environment(
    qtbot, window, environment, service, tmp_path, elsewhere
):
    other = tmp_path / "other"
    other.mkdir()
    service.add_environment("other", other, version="1")

    shown = _back_up_billing_and_look_away(qtbot, window, elsewhere)

    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    select_environment(window, "other")

    ((title, text, environment_id),) = shown
    assert title == "Done" and text.startswith("Backed up billing as ")
    assert environment_id == environment.id
    if window.notifier.tray is not None:  # a desktop with a tray: the platform's click
        window.notifier.tray.messageClicked.emit()
    else:  # offscreen: the slot that click reaches
        window.notifier.message_clicked()
    assert window.controller.selected_environment.name == "billing"


def test_a_failed_scheduled_backup_is_notified_even_with_the_window_in_front(
    qtbot,
    folder_gone,
    window,
):
    shown = []
    window.notifier.shown.connect(lambda *said: shown.append(said))

    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)

    ((title, text, environment_id),) = shown
    assert title == "Scheduled backup failed"
    assert text.startswith("The scheduled backup of billing failed")
    assert environment_id == folder_gone.id


def test_notifications_turned_off_in_preferences_say_nothing(
    qtbot, window, environment, service, elsewhere
):
    def turn_off(dialog) -> None:
        dialog.findChild(object, "notificationsCheckBox").click()
        dialog.reject()

    when_modal(turn_off, named="preferencesDialog")
    press_shortcut(qtbot, window, "Ctrl+,")

    shown = _back_up_billing_and_look_away(qtbot, window, elsewhere)

    qtbot.waitUntil(lambda: len(service.list_backups("billing")) == 1, timeout=30_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running)

    assert shown == []
