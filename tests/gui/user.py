"""What a user does with the window: keys, toolbar buttons, menu entries, row menus.

Every helper goes through the widget the user touches (a key press on the focused widget, a
mouse click on a button, a menu opened from the menu bar or a table row), never through the
window's method behind it.
"""

import re

from PySide6 import QtGui
from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, QTimer
from PySide6.QtGui import (
    QAccessible,
    QContextMenuEvent,
    QGuiApplication,
    QKeySequence,
    QTextDocument,
)
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QTabBar,
    QTableView,
    QTextEdit,
    QToolButton,
    QWidget,
)

from envops_desktop.controller.record_table_model import RECORD_ROLE


def press(widget, sequence: str | QKeySequence) -> None:
    """Type `sequence` (e.g. "Ctrl+I") into `widget`, as the keyboard would."""
    combination = QKeySequence(sequence)[0]
    QTest.keyClick(widget, combination.key(), combination.keyboardModifiers())


def press_shortcut(qtbot, window, sequence: str | QKeySequence) -> None:
    """Type `sequence` into whichever widget of `window` has the keyboard focus."""
    # A real window manager makes the window active again when a dialog or menu closes, and
    # Qt gives the focus back to the widget that had it; the offscreen platform does not.
    handle = window.windowHandle()
    QApplication.processEvents()
    if QGuiApplication.focusWindow() is not handle:
        handle.requestActivate()
        # Not qWaitForWindowActive: a closed menu's window counts as the window's own.
        qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is handle)
    focused = window.focusWidget() or window
    press(focused, sequence)


# What a user can click, type into or move through with the keyboard.
_CONTROLS = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractSpinBox,
    QAbstractItemView,
    QHeaderView,
    QTabBar,
    QPlainTextEdit,
    QTextEdit,
)


def unnamed_controls(top: QWidget) -> list[str]:
    """The controls shown in `top` that a screen reader would announce without a name: the
    name it is given (its accessible name, else its text or its label's) is empty.

    A spin box's text field is Qt's own part of the spin box, named or not with it.
    """
    found = []
    for widget in [top, *top.findChildren(QWidget)]:
        if not isinstance(widget, _CONTROLS) or not widget.isVisibleTo(top):
            continue
        if widget.objectName() == "qt_spinbox_lineedit":
            continue
        if not QAccessible.queryAccessibleInterface(widget).text(QAccessible.Text.Name).strip():
            parent = widget.parentWidget()
            found.append(
                f"{type(widget).__name__} {widget.objectName()!r}"
                f" in {parent.objectName() if parent else ''!r}"
            )
    return found


def _mnemonic(text: str) -> str | None:
    # Qt's rule: "&x" makes Alt+X, "&&" is a plain "&".
    plain = text.replace("&&", "")
    at = plain.find("&")
    return plain[at + 1].lower() if 0 <= at < len(plain) - 1 else None


def clashing_mnemonics(top: QWidget) -> list[str]:
    """The Alt+letter keys that two controls shown in `top` answer to: pressed, it goes to
    one of them, and only pressed again to the other. Buttons, labels of a field, group
    boxes, tabs and, in a main window, its menu bar's menus."""
    texts: list[str] = []
    if isinstance(top, QMainWindow):
        texts += [action.text() for action in top.menuBar().actions()]
    for widget in [top, *top.findChildren(QWidget)]:
        if not widget.isVisibleTo(top):
            continue
        if (isinstance(widget, QAbstractButton) and widget.isEnabled()) or (
            isinstance(widget, QLabel) and widget.buddy() is not None
        ):
            texts.append(widget.text())
        elif isinstance(widget, QGroupBox) and widget.isCheckable():
            texts.append(widget.title())
        elif isinstance(widget, QTabBar):
            texts += [widget.tabText(i) for i in range(widget.count())]
    keys: dict[str, list[str]] = {}
    for text in texts:
        if (key := _mnemonic(text)) is not None:
            keys.setdefault(key, []).append(text.replace("&&", "&"))
    return [f"Alt+{key.upper()}: {' and '.join(map(repr, both))}" for key, both in keys.items()
            if len(both) > 1]  # fmt: skip


# What a label left to guess (AutoText) goes by: QtGui's, not QtCore's, Qt namespace has it.
looks_like_markup = QtGui.Qt.mightBeRichText


def labels_guessing_markup(top: QWidget) -> list[str]:
    """The labels shown in `top` that take their text for markup without being told to: a
    name in them that looks like a tag (`<b>`, `<br>`) would be read as one and lost. A label
    says which it shows (`ui/label_text.py`)."""
    return [
        f"QLabel {label.objectName()!r} reads {label.text()[:60]!r} as markup"
        for label in top.findChildren(QLabel)
        if label.isVisibleTo(top)
        and label.textFormat() is Qt.TextFormat.AutoText
        and looks_like_markup(label.text())
    ]


def shown(widget: QLabel | QAbstractButton) -> str:
    """The text a label or button shows: its own, what is left of it read as markup, or,
    a button's or a field's label, without the "&" that marks its Alt key ("&&" shows
    one)."""
    text = widget.text()
    if isinstance(widget, QAbstractButton) or widget.buddy() is not None:
        return re.sub("&(.)", r"\1", text)
    if widget.textFormat() is Qt.TextFormat.RichText or (
        widget.textFormat() is Qt.TextFormat.AutoText and looks_like_markup(text)
    ):
        return _left_of_markup(text)
    return text


def tooltip_shown(text: str) -> str:
    """What a tooltip of `text` shows: Qt reads it as markup when it sees a tag in it."""
    return _left_of_markup(text) if looks_like_markup(text) else text


def _left_of_markup(text: str) -> str:
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def texts_shown(top: QWidget) -> list[str]:
    """What each label shown in `top` shows."""
    return [shown(label) for label in top.findChildren(QLabel) if label.isVisibleTo(top)]


def problems_of(top: QWidget) -> list[str]:
    """What keeps a screen reader or the keyboard from `top`'s controls, or a name in it
    from being shown as it is."""
    return unnamed_controls(top) + clashing_mnemonics(top) + labels_guessing_markup(top)


class DialogProblems(QObject):
    """Notes `problems_of` every dialog the application shows, as it opens and as it closes
    (what it shows by then, a result or a choice that came with the user's answers), while
    it is installed on the application."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if (
            event.type() in (QEvent.Type.Show, QEvent.Type.Hide)
            and isinstance(watched, QDialog)
            and not isinstance(watched, QFileDialog)  # Qt's own, its parts named by Qt
        ):
            dialog = watched.objectName() or type(watched).__name__
            self.found.extend(
                line
                for line in (f"{dialog}: {problem}" for problem in problems_of(watched))
                if line not in self.found
            )
        return False


def click_toolbar_button(qtbot, window, object_name: str) -> None:
    button = window.findChild(QToolButton, object_name)
    assert button is not None and button.isVisible(), object_name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_popup() -> QMenu | None:
    popup = QApplication.activePopupWidget()
    return popup if isinstance(popup, QMenu) else None


def click_menu_entry(qtbot, menu: QMenu, object_name: str) -> bool:
    """Click the entry `object_name` of the open `menu`; False (menu closed) if it is disabled."""
    action = next(a for a in menu.actions() if a.objectName() == object_name)
    if not action.isEnabled():
        menu.close()
        return False
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    return True


def open_menu_bar_menu(qtbot, window, title: str) -> QMenu:
    """Click `title` ("File") in the menu bar and return the menu that drops down."""
    bar = window.findChild(QMenuBar)
    menu_action = next(a for a in bar.actions() if a.text().replace("&", "") == title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu_action).center())
    qtbot.waitUntil(lambda: open_popup() is menu_action.menu())
    return menu_action.menu()


def row_index(table: QTableView, predicate, column: int = 0) -> QModelIndex:
    model = table.model()
    for row in range(model.rowCount()):
        index = model.index(row, column)
        if predicate(index.data(RECORD_ROLE)):
            return index
    raise AssertionError("no such row")


def right_click(table: QTableView, index: QModelIndex) -> None:
    """What the platform delivers for a right-click on the row: a mouse context-menu event."""
    where = table.visualRect(index).center()
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, where, table.viewport().mapToGlobal(where)
    )
    QApplication.sendEvent(table.viewport(), event)


def click_header(qtbot, table: QTableView, column: int) -> None:
    """Click a column's header: what sorts the table by it."""
    header = table.horizontalHeader()
    where = QPoint(header.sectionViewportPosition(column) + 10, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=where)


def click_cell(qtbot, table: QTableView, index: QModelIndex, double: bool = False) -> None:
    where: QPoint = table.visualRect(index).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)
    if double:  # a double-click is a click, then a second press the platform marks double
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)


def toggle_tick(qtbot, table: QTableView, index: QModelIndex) -> None:
    """Click the row of `index`, then press Space: what ticks or unticks its box."""
    click_cell(qtbot, table, index)
    assert table.currentIndex().row() == index.row()
    press(table, "Space")


class DialogWatcher:
    """Notes and closes every modal dialog that opens, as a user pressing Cancel would."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._close_modal)
        self._timer.start()

    def _close_modal(self) -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog) and dialog.isVisible():
            self.seen.append(dialog.objectName())
            dialog.reject()

    def stop(self) -> None:
        self._timer.stop()


def choose_backup_option(qtbot, window, backup_id: str, entry: str) -> None:
    """Click the ⋯ cell of the backup's row, then `entry` ("restoreAction") in its menu."""
    from envops_desktop.controller.backups_model import OPTIONS_COLUMN

    table = window.backups.table
    row = row_index(table, lambda b: b.id == backup_id).row()
    click_cell(qtbot, table, table.model().index(row, OPTIONS_COLUMN))
    menu = open_popup()
    assert menu is not None and menu.objectName() == "backupOptionsMenu"
    assert click_menu_entry(qtbot, menu, entry), f"{entry} is disabled"


def pick_in_list(name: str, starting: str, then=None, then_named: str | None = None) -> None:
    """Answer the next list dialog (`name`) by picking the item that starts with `starting`;
    `then` answers the dialog that opens next (named `then_named`, if given)."""
    from tests.gui.conftest import when_modal

    def answer(dialog) -> None:
        assert dialog.objectName() == name
        if then is not None:
            when_modal(then, named=then_named)
        dialog.setTextValue(next(i for i in dialog.comboBoxItems() if i.startswith(starting)))
        dialog.accept()

    when_modal(answer)
