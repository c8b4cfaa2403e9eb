"""The dark theme, chosen in Preferences, colours the whole window at once and is kept."""

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from envops_desktop.ui.theme import SYSTEM, THEME, apply_theme
from tests.gui.conftest import choose_theme


@pytest.fixture
def back_to_system_colours(qtbot):
    yield
    apply_theme(QApplication.instance(), SYSTEM)  # the other tests' application is shared


def test_choosing_the_dark_theme_darkens_the_window_and_is_remembered(
    qtbot, window, settings, back_to_system_colours
):
    choose_theme(qtbot, window, "dark")

    def lightness(role: QPalette.ColorRole) -> int:
        return window.backups.table.palette().color(role).lightness()

    qtbot.waitUntil(lambda: lightness(QPalette.ColorRole.Base) < 80)  # the tables too
    assert lightness(QPalette.ColorRole.Text) > 180
    assert settings.value(THEME) == "dark"


def test_going_back_to_the_desktops_theme_undoes_the_dark_one(
    qtbot, window, settings, back_to_system_colours
):
    light = window.palette().color(QPalette.ColorRole.Window).lightness()
    for theme in ("dark", "system"):
        choose_theme(qtbot, window, theme)

    qtbot.waitUntil(lambda: window.palette().color(QPalette.ColorRole.Window).lightness() == light)


def test_switching_between_fusion_themes_keeps_the_one_style(qtbot, window, back_to_system_colours):
    # Each switch made a new style, and QApplication deleted the one it replaced while
    # widgets could still hold it.
    import shiboken6

    styles = []
    for theme in ("dark", "light", "dark"):
        choose_theme(qtbot, window, theme)
        styles.append(QApplication.instance().style())

    assert all(shiboken6.isValid(style) for style in styles)
    assert styles[0] is styles[1] is styles[2]
