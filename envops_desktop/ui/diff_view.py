"""The pane of Show changes… that shows a file's two versions side by side."""

from PySide6.QtCore import QTimer, QUrl, Slot
from PySide6.QtGui import QFontDatabase, QTextBlockFormat, QTextCursor
from PySide6.QtWidgets import QTextBrowser, QWidget

from envops_desktop.ui.file_diff import MORE, MOST_ROWS_SHOWN, ROWS_A_TURN, Diff, next_rows


class DiffView(QTextBrowser):
    """A `Diff` laid out a part at a time: Qt lays a table out on the window's thread, some
    0.2 ms a row, so the rows shown at once, and at each "Show the next", go in a turn of
    the event loop at a time, the window answering between them.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diffView")
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setAccessibleName(self.tr("The selected file before and after"))
        self.setPlaceholderText(self.tr("Select a file to see what changes in it."))
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._show_more)
        self._held_back: tuple[str, ...] = ()  # rows of the diff not shown yet
        self._due = 0  # of those, how many go in without a click, a turn at a time
        self._next_turn = QTimer(self)
        self._next_turn.setSingleShot(True)
        self._next_turn.setInterval(0)
        self._next_turn.timeout.connect(self._lay_out_a_turn)

    @property
    def laying_out(self) -> bool:
        """Rows are still going in, a turn at a time."""
        return self._next_turn.isActive()

    def show_diff(self, diff: Diff) -> None:
        """Show `diff`: its first rows now, the rest of the first `MOST_ROWS_SHOWN` next."""
        self._stop()
        self.setHtml(diff.html)
        self._held_back = diff.held_back
        self._lay_out_soon(MOST_ROWS_SHOWN - ROWS_A_TURN)

    def show_text(self, text: str) -> None:
        """Show a sentence in place of a diff."""
        self._stop()
        self.setPlainText(text)

    def _stop(self) -> None:
        self._next_turn.stop()
        self._held_back, self._due = (), 0

    @Slot(QUrl)
    def _show_more(self, link: QUrl) -> None:
        # Between two turns the link says what is held back before the next one: wait.
        if link.toString() == MORE and not self.laying_out:
            self._lay_out_soon(MOST_ROWS_SHOWN)

    def _lay_out_soon(self, rows: int) -> None:
        self._due = min(rows, len(self._held_back))
        if self._due:
            self._next_turn.start()

    @Slot()
    def _lay_out_a_turn(self) -> None:
        """Put the next rows held back in place of the paragraph that links to them: added
        to the end, they are all Qt lays out, where the whole diff again would stall."""
        count = min(self._due, ROWS_A_TURN)
        more, self._held_back = next_rows(self._held_back, count)
        self._due -= count
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        # A paragraph must stay between two tables: of no height, the rows go on unbroken.
        seam = QTextBlockFormat()
        seam.setLineHeight(0, QTextBlockFormat.LineHeightTypes.FixedHeight.value)
        cursor.setBlockFormat(seam)
        cursor.insertHtml(more)
        if self._due:
            self._next_turn.start()
