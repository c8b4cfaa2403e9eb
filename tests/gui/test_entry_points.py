"""The installed entry points: the smoke test CI runs on the bundle, and the About dialog."""

import logging
import os
import subprocess
import sys
from pathlib import Path

from envops_desktop import app
from envops_desktop.ui.about_dialog import AboutDialog
from tests.gui.conftest import when_modal

REPO = Path(__file__).parents[2]


def test_smoke_test_backs_up_restores_exports_and_opens_every_dialog(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "envops_desktop", "--smoke-test"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert "smoke test passed" in result.stdout


def test_about_dialog_shows_version_data_and_log_folders(qtbot, tmp_path):
    dialog = AboutDialog(tmp_path / "data", tmp_path / "logs")
    qtbot.addWidget(dialog)
    assert dialog.findChild(object, "aboutVersion").text() == "0.1.0"
    assert dialog.findChild(object, "aboutDataDir").text() == str(tmp_path / "data")
    assert dialog.findChild(object, "aboutLogDir").text() == str(tmp_path / "logs")


def test_the_app_started_with_a_file_where_its_data_folder_goes_says_so_and_ends(
    qtbot, tmp_path, monkeypatch
):
    in_the_way = tmp_path / "data"
    in_the_way.write_text("notes\n")
    monkeypatch.setenv("HOME", str(tmp_path))  # its log goes under the home it is given
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # the app installs its own
    handlers = list(logging.getLogger().handlers)
    said: list[str] = []

    def read_and_close(box) -> None:
        said.append(box.text())
        box.accept()

    when_modal(read_and_close)
    try:
        assert app.main(["--data-dir", str(in_the_way)]) == 1
    finally:
        for handler in set(logging.getLogger().handlers) - set(handlers):
            logging.getLogger().removeHandler(handler)
            handler.close()
    assert said == [
        f"Cannot open the data folder {in_the_way}: {in_the_way} is a file, not a folder. "
        "Choose another folder with --data-dir DIR or the ENVOPS_DATA_DIR variable."
    ]
    assert in_the_way.read_text() == "notes\n"


# The app as an operator starts it, a fault in refreshing once it shows: F5 pressed in its
# window once it is active, the banner read, then Ctrl+Q. The fault's message holds a name
# that is not UTF-8.
_F5_FAILS_OVER_A_NAME_THAT_IS_NOT_UTF8 = """
import os
import sys
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from envops_desktop import app

qapp = QApplication([sys.argv[0]])

def list_that_fails():
    raise RuntimeError("cannot parse " + os.fsdecode(b"/srv/caf\\xe9.conf"))

def press_f5_once_it_shows():
    window = next((w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow"), None)
    if window is None or not window.isActiveWindow():  # its shortcuts work once it is
        if window is not None:
            window.activateWindow()
        QTimer.singleShot(50, press_f5_once_it_shows)
        return
    window.controller.service.list_environments = list_that_fails
    QTest.keyClick(window, Qt.Key.Key_F5)
    QTimer.singleShot(0, lambda: read_the_banner_and_quit(window))

def read_the_banner_and_quit(window):
    print(window.banner.text, flush=True)
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)

QTimer.singleShot(0, press_f5_once_it_shows)
sys.exit(app.main(["--data-dir", sys.argv[1]]))
"""


def test_a_crash_over_a_name_that_is_not_utf8_is_written_to_the_log_it_points_to(tmp_path):
    ended = subprocess.run(
        [sys.executable, "-c", _F5_FAILS_OVER_A_NAME_THAT_IS_NOT_UTF8, str(tmp_path / "data")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
    )

    assert ended.returncode == 0, ended.stderr
    banner = ended.stdout.strip()
    assert banner.startswith("Something went wrong: cannot parse /srv/caf"), ended
    log_path = Path(banner.rsplit("Details were written to ", 1)[1].removesuffix("."))
    assert log_path.is_relative_to(tmp_path)  # under the home it was started with
    logged = log_path.read_text("utf-8")
    assert "Traceback" in logged and ", in refresh\n" in logged  # from F5, in its slot
    assert "RuntimeError: cannot parse /srv/caf\\udce9.conf" in logged
    assert "Logging error" not in ended.stderr


# The app as a file association or a terminal starts it: `envops-desktop FILE`. Once the
# Import dialog has read the file, its words are printed; Escape closes it, then Ctrl+Q.
_STARTED_WITH_A_FILE = """
import sys
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from envops_desktop import app

qapp = QApplication([sys.argv[0]])
waited = []

def read_the_import_dialog_once_it_has_read_the_file():
    dialog = QApplication.activeModalWidget()
    said = dialog and dialog.findChild(object, "uploadedFileLabel")
    refused = dialog and dialog.findChild(object, "uploadErrorLabel")
    if not (said and said.isVisible()) and not (refused and refused.isVisible()):
        waited.append(50)
        if sum(waited) > 20_000:
            print("no Import dialog read the file in 20 s", flush=True)
            qapp.quit()
            return
        QTimer.singleShot(50, read_the_import_dialog_once_it_has_read_the_file)
        return
    window = next(w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow")
    selected = window.controller.selected_environment
    print(selected and selected.name, flush=True)
    print(dialog.objectName(), (said if said.isVisible() else refused).text(), flush=True)
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    QTimer.singleShot(0, quit_once_the_window_is_in_front)

def quit_once_the_window_is_in_front():
    window = next(w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow")
    if QApplication.activeModalWidget() is not None or not window.isActiveWindow():
        window.activateWindow()  # its shortcuts work once it is
        QTimer.singleShot(50, quit_once_the_window_is_in_front)
        return
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)

QTimer.singleShot(0, read_the_import_dialog_once_it_has_read_the_file)
sys.exit(app.main(["--data-dir", *sys.argv[1:]]))
"""


def _start_the_app_with(tmp_path: Path, *argv: str) -> str:
    ended = subprocess.run(
        [sys.executable, "-c", _STARTED_WITH_A_FILE, str(tmp_path / "data"), *argv],
        cwd=tmp_path,  # where a terminal's user stands, naming the file relative to it
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert ended.returncode == 0, ended.stderr
    return ended.stdout.strip()


def test_the_app_started_with_a_configuration_file_opens_it_in_the_import_dialog(tmp_path):
    from envops_desktop.service import EnvOpsService
    from tests.zips import simple_configuration

    service = EnvOpsService(tmp_path / "data")
    for name in ("analytics", "billing"):
        (tmp_path / name).mkdir()
        service.add_environment(name, tmp_path / name, version="4.2.0")
    service.close()
    simple_configuration(tmp_path / "from explorer.envops.zip", exported_from="billing")

    said = _start_the_app_with(tmp_path, str(tmp_path / "from explorer.envops.zip"))
    selected, dialog = said.split("\n")
    assert selected == "billing"  # the environment its manifest names, nothing selected before
    assert dialog.startswith("importConfigurationDialog <b>from explorer.envops.zip</b>")
    assert "Environment billing, version 4.2.0" in dialog
    assert _start_the_app_with(tmp_path, "from explorer.envops.zip") == said
    assert _start_the_app_with(tmp_path, "typo.zip").endswith(
        "\nimportConfigurationDialog typo.zip does not exist; nothing was changed."
    )
    assert not any((tmp_path / "billing").iterdir())  # read, never imported
