"""The window's colours: the desktop's (where Qt reports its colour scheme), light or dark."""

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEME = "appearance/theme"
SYSTEM, LIGHT, DARK = "system", "light", "dark"

# The style the platform gave, before a chosen theme asked for Fusion: only Fusion draws
# every control from the palette, so a chosen light or dark theme looks the same everywhere.
_platform_style: str | None = None


def chosen_theme(settings: QSettings) -> str:
    value = str(settings.value(THEME, SYSTEM))
    return value if value in (SYSTEM, LIGHT, DARK) else SYSTEM


def apply_theme(app: QApplication, theme: str) -> None:
    """Colour the application as `theme` says. System leaves it to the platform, which
    follows the desktop's light or dark scheme where Qt reports one."""
    global _platform_style
    if _platform_style is None:
        _platform_style = app.style().name()
    if theme == SYSTEM:
        app.setStyle(_platform_style)
        app.setPalette(QPalette())  # nothing set: the platform's own, light or dark
        return
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if theme == DARK else app.style().standardPalette())


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, "#2b2d31"),
        (roles.WindowText, "#e8e8e8"),
        (roles.Base, "#1e1f22"),
        (roles.AlternateBase, "#26282c"),
        (roles.ToolTipBase, "#2b2d31"),
        (roles.ToolTipText, "#e8e8e8"),
        (roles.Text, "#e8e8e8"),
        (roles.Button, "#34363b"),
        (roles.ButtonText, "#e8e8e8"),
        (roles.BrightText, "#ff6b6b"),
        (roles.Link, "#6ea8fe"),
        (roles.Highlight, "#2f6fba"),
        (roles.HighlightedText, "#ffffff"),
        (roles.PlaceholderText, "#8b8e94"),
    ):
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#75787e"))
    return palette
