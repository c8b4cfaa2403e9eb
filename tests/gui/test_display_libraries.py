"""A missing system library for Qt's X11 plugin: the exact install command, not Qt's abort."""

import shutil
import subprocess
import sys
from pathlib import Path

from envops_desktop.display_libraries import INSTALL_COMMAND, why_xcb_cannot_load, xcb_plugin

REPO = Path(__file__).parents[2]


def _plugin_without_its_libraries(tmp_path: Path) -> Path:
    """The real xcb plugin, copied where the Qt libraries it links against cannot be found."""
    real = xcb_plugin()
    assert real is not None, "PySide6 ships the xcb platform plugin"
    copy = tmp_path / "plugins" / "platforms" / "libqxcb.so"
    copy.parent.mkdir(parents=True)
    shutil.copy(real, copy)
    return copy


def test_a_plugin_that_cannot_load_says_which_library_is_missing(tmp_path):
    reason = why_xcb_cannot_load(_plugin_without_its_libraries(tmp_path))
    assert reason is not None and "libQt6XcbQpa.so.6" in reason


def test_the_app_prints_the_install_command_instead_of_aborting(tmp_path):
    plugins = _plugin_without_its_libraries(tmp_path).parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "envops_desktop", "--data-dir", str(tmp_path / "data")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "QT_QPA_PLATFORM": "xcb",
            "QT_PLUGIN_PATH": str(plugins),
        },
    )
    assert result.returncode == 1
    assert INSTALL_COMMAND in result.stderr
    assert "libQt6XcbQpa.so.6" in result.stderr
    assert "Aborted" not in result.stderr and "could not" not in result.stderr.lower()


def test_the_readme_gives_the_same_install_command():
    assert INSTALL_COMMAND in (REPO / "README.md").read_text()
