"""The installed entry points: the smoke test CI runs on the bundle, and the About dialog."""

import subprocess
import sys
from pathlib import Path

from envops_desktop.ui.about_dialog import AboutDialog

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
