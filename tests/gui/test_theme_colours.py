"""Light or dark, what has a colour of its own reads against what is behind it: a refused
file's sentence, the drop zone, a diff's marks, a failed entry in the Activity Log and an
unticked box in Show changes….

Each was drawn in colours made for a light window: in the dark theme the drop zone was a
pale box with pale text on it, and a diff's marked characters white on pale yellow. A
failed entry was meant to be red, but the colour never reached the table in either theme.
"""

from collections import Counter

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPalette, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyleOptionViewItem,
    QTabBar,
    QTextBrowser,
    QWidget,
)

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.ui.theme import SYSTEM, apply_theme
from tests.gui.conftest import choose_theme, diff_of_selected_file, select_environment
from tests.gui.test_import_flow import drag_and_drop, open_import_dialog, wait_uploaded
from tests.gui.test_restore_preview import _row_of, through_the_changes
from tests.gui.user import toggle_tick
from tests.integration.test_configuration_files import HOSTILE
from tests.trees import mess_up

# WCAG's least contrast for text of a normal size.
LEGIBLE = 4.5


def contrast(first: QColor, second: QColor) -> float:
    """WCAG's contrast ratio of two colours: 1 (the same) to 21 (black on white)."""

    def luminance(colour: QColor) -> float:
        channels = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (colour.redF(), colour.greenF(), colour.blueF())
        ]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def ink_and_ground(image: QImage) -> tuple[QColor, QColor]:
    """The colour of the text in `image` and of what is behind it: behind, the image's most
    common colour; the text's, the colour furthest from that (the middle of a letter's
    stroke; its edges are blended)."""
    counts = Counter(image.pixel(x, y) for x in range(image.width()) for y in range(image.height()))
    ground = QColor.fromRgb(counts.most_common(1)[0][0])
    ink = max((QColor.fromRgb(pixel) for pixel in counts), key=lambda c: contrast(ground, c))
    return ink, ground


def text_contrast(image: QImage) -> float:
    """How well the text in `image` stands out from what is behind it."""
    return contrast(*ink_and_ground(image))


def as_seen(widget: QWidget) -> QImage:
    """`widget` as it appears in its window, with whatever is drawn behind it."""
    window = widget.window()
    return window.grab(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())).toImage()


def least_contrast_in(browser: QTextBrowser) -> float:
    """The least contrast of any text in a text view's document with what is behind it: its
    own background, else its table cell's, else the view's."""
    palette = browser.palette()
    worst = 21.0
    block = browser.document().begin()
    while block.isValid():
        behind = palette.color(QPalette.ColorRole.Base)
        table = QTextCursor(block).currentTable()
        if table is not None:
            cell = table.cellAt(block.position()).format().background()
            if cell.style() != Qt.BrushStyle.NoBrush:
                behind = cell.color()
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.text().strip(" \xa0"):
                style = fragment.charFormat()
                ground = style.background()
                ink = style.foreground()
                worst = min(
                    worst,
                    contrast(
                        ink.color()
                        if ink.style() != Qt.BrushStyle.NoBrush
                        else palette.color(QPalette.ColorRole.Text),
                        ground.color() if ground.style() != Qt.BrushStyle.NoBrush else behind,
                    ),
                )
            fragments += 1
        block = block.next()
    return worst


def _backed_up_then_changed(window, service, config_dir):
    """billing backed up as "golden", then changed, and selected in the window."""
    golden = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    return golden


@pytest.fixture(params=[SYSTEM, "light", "dark"])
def theme(request, qtbot, window):
    """The desktop's theme, as the app starts with it, or the one the user chose in
    Preferences (Ctrl+,)."""
    if request.param == SYSTEM:
        apply_theme(QApplication.instance(), SYSTEM)  # as the app's start does
    else:
        choose_theme(qtbot, window, request.param)
    dark = request.param == "dark"
    qtbot.waitUntil(
        lambda: (window.palette().color(QPalette.ColorRole.Window).lightness() < 128) == dark
    )
    yield request.param
    apply_theme(QApplication.instance(), SYSTEM)  # the other tests' application is shared


def test_the_drop_zone_and_a_refused_files_sentence_read_in_either_theme(
    qtbot, window, environment, theme, tmp_path
):
    build, reason = HOSTILE["dot-dot entry"]
    hostile = build(tmp_path)
    dialog = open_import_dialog(qtbot, window, "billing")
    zone = dialog.findChild(object, "dropZone")
    drop_zone = text_contrast(as_seen(zone.message))

    assert drag_and_drop(zone, hostile) == (True, True)
    wait_uploaded(qtbot, dialog)
    error = dialog.findChild(object, "uploadErrorLabel")
    qtbot.waitUntil(error.isVisible)
    qtbot.wait(50)
    refusal = text_contrast(as_seen(error))
    dialog.reject()

    assert drop_zone >= LEGIBLE, theme
    assert reason in error.text()
    assert refusal >= LEGIBLE, theme


def test_a_diffs_marked_lines_and_characters_read_in_either_theme(
    qtbot, window, service, environment, config_dir, theme
):
    seen = {}

    def look_at_app_yaml(changes) -> None:
        table = changes.findChild(object, "changesTable")
        table.selectRow(_row_of(table, "app.yaml").row())
        seen["diff"], seen["html"] = diff_of_selected_file(qtbot, changes)
        seen["contrast"] = least_contrast_in(changes.findChild(object, "diffView"))
        changes.reject()

    golden = _backed_up_then_changed(window, service, config_dir)
    through_the_changes(qtbot, window, golden, look_at_app_yaml, restore=False)
    qtbot.waitUntil(lambda: "contrast" in seen, timeout=10_000)

    assert "port: 8443" in seen["diff"]
    assert "bgcolor" in seen["html"] or "background-color" in seen["html"]  # marked at all
    assert seen["contrast"] >= LEGIBLE, theme


def test_a_failed_entry_in_the_activity_log_reads_in_either_theme(
    qtbot, window, service, environment, theme
):
    service.set_restore_command(
        "billing", "post", RestoreCommand(argv=["false"], timeout_seconds=30)
    )
    backup = service.create_backup("billing", name="nightly")
    with pytest.raises(OperationFailedError):
        service.restore_backup("billing", backup.id)
    window.controller.refresh()
    tabs = window.tabs.findChild(QTabBar)
    at = next(i for i in range(tabs.count()) if tabs.tabText(i).replace("&", "") == "Activity Log")
    qtbot.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=tabs.tabRect(at).center())
    table = window.activity.table
    model = table.model()
    qtbot.waitUntil(lambda: model.rowCount() > 0)
    failed = next(
        row
        for row in range(model.rowCount())
        if model.index(row, 4).data() == "failure"  # the Outcome column
    )
    table.clearSelection()  # a selected row is drawn in the highlight's colours
    qtbot.wait(50)
    row_area = QRect(
        table.visualRect(model.index(failed, 0)).topLeft(),
        table.visualRect(model.index(failed, 4)).bottomRight(),
    )
    ink, ground = ink_and_ground(table.viewport().grab(row_area).toImage())

    assert contrast(ink, ground) >= LEGIBLE, theme
    assert ink.red() > max(ink.green(), ink.blue()) + 60, ink.name()  # and marked in red


def test_an_unticked_paths_box_in_show_changes_shows_in_either_theme(
    qtbot, window, service, environment, config_dir, theme
):
    seen = {}

    def untick_app_yaml(changes) -> None:
        table = changes.findChild(object, "changesTable")
        row = _row_of(table, "app.yaml")
        toggle_tick(qtbot, table, row)
        table.clearSelection()  # a selected row is drawn in the highlight's colours
        qtbot.wait(50)
        option = QStyleOptionViewItem()
        table.itemDelegate().initStyleOption(option, row)
        option.rect = table.visualRect(row)
        box = (
            table.style()
            .subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, table)
            .adjusted(-2, -2, 2, 2)
        )  # the box and the row around it
        seen["tick"] = row.data(Qt.ItemDataRole.CheckStateRole)
        seen["contrast"] = text_contrast(table.viewport().grab(box).toImage())
        changes.reject()

    golden = _backed_up_then_changed(window, service, config_dir)
    through_the_changes(qtbot, window, golden, untick_app_yaml, restore=False)
    qtbot.waitUntil(lambda: "contrast" in seen, timeout=10_000)

    assert seen["tick"] == Qt.CheckState.Unchecked
    assert seen["contrast"] >= 3, theme  # WCAG's least for the parts of a control
