"""A backup of one large file moves its progress bar as the file is read, and its Cancel
stops it then, not once the file has been read through."""

import time

from PySide6.QtCore import Qt

from tests.gui.conftest import select_environment, when_modal
from tests.gui.user import press_shortcut

# All hole: nothing written to the test's disk, yet some forty seconds of hashing to read.
_HUGE_IMAGE = 64 << 30


def test_a_backup_of_a_large_file_moves_its_bar_and_cancel_stops_it_inside_the_file(
    qtbot, window, environment, config_dir
):
    with open(config_dir / "disk.img", "wb") as image:
        image.truncate(_HUGE_IMAGE)
    window.controller.refresh()
    select_environment(window, "billing")
    progress = window.task_progress

    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(
        lambda: (
            progress.bar.maximum() == 100
            and 0 < progress.bar.value() < 100
            and "disk.img" in progress.label.text()
        ),
        timeout=20_000,
    )
    assert progress.label.text() == "Backing up billing — disk.img"  # the verb said once
    shown = progress.bar.value()
    qtbot.waitUntil(lambda: progress.bar.value() > shown, timeout=20_000)  # and on it goes
    qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    asked = time.monotonic()
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)

    assert time.monotonic() - asked < 10  # reading on to the file's end would take 40 s
    assert window.banner.kind == "info" and "cancelled" in window.banner.text
    assert window.controller.service.list_backups("billing") == []
