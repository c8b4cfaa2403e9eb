"""Remembering the window's geometry, splitter and table columns (widths and sort) in QSettings."""

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter, QTableView


class WindowLayoutMemory:
    """Restores what the user arranged last time and saves it when the window closes."""

    def __init__(
        self,
        settings: QSettings,
        window: QMainWindow,
        splitter: QSplitter,
        tables: dict[str, QTableView],
    ) -> None:
        self._settings = settings
        self._window = window
        self._splitter = splitter
        self._tables = tables

    def restore(self) -> None:
        s = self._settings
        if s.value("window/geometry") is not None:
            self._window.restoreGeometry(s.value("window/geometry"))
        if s.value("window/splitter") is not None:
            self._splitter.restoreState(s.value("window/splitter"))
        for key, table in self._tables.items():
            state = s.value(f"tables/{key}")
            if state is not None:
                table.horizontalHeader().restoreState(state)

    def save(self) -> None:
        s = self._settings
        s.setValue("window/geometry", self._window.saveGeometry())
        s.setValue("window/splitter", self._splitter.saveState())
        for key, table in self._tables.items():
            s.setValue(f"tables/{key}", table.horizontalHeader().saveState())
        s.sync()
