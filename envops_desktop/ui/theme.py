"""The window's colours: the desktop's (where Qt reports its colour scheme), light or dark."""

from PySide6.QtCore import QRectF, QSettings, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

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
    if theme == SYSTEM and _platform_style.lower() != "fusion":
        app.setStyle(_platform_style)
    elif not isinstance(app.style(), _OutlinedBoxes):
        # Fusion, for a chosen theme and where the platform's style is Fusion itself (most
        # Linux desktops), with its boxes outlined. Set once and kept across switches: each
        # style QApplication replaces it deletes, while widgets may still hold it.
        app.setStyle(_OutlinedBoxes("Fusion"))
    if theme == SYSTEM:
        app.setPalette(QPalette())  # nothing set: the platform's own, light or dark
    else:
        app.setPalette(dark_palette() if theme == DARK else app.style().standardPalette())


class _OutlinedBoxes(QProxyStyle):
    """Fusion, with the outline of a tick box and a radio button drawn in a colour that
    shows on a table's rows: Fusion draws it a shade darker than the window, which left an
    unticked box in Show changes… all but invisible on the dark rows (1.1:1) and faint on
    the light ones (1.9:1)."""

    def drawPrimitive(  # noqa: N802
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        shapes = {
            QStyle.PrimitiveElement.PE_IndicatorCheckBox: painter.drawRect,
            QStyle.PrimitiveElement.PE_IndicatorRadioButton: painter.drawEllipse,
        }
        if element in shapes:
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
            shapes[element](QRectF(option.rect).adjusted(0.5, 0.5, -1.5, -1.5))
            painter.restore()


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
