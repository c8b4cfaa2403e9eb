"""The installed entry points: the smoke test CI runs on the bundle, and the About dialog."""

import logging
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
