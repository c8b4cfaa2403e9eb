"""Remembering a window's geometry, splitter and table columns (widths and sort) in QSettings:
the main window's, and the changes view's, which users make large to read a diff."""

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSplitter, QTableView, QWidget


class WindowLayoutMemory:
    """Restores what the user arranged last time and saves it when the window closes,
    under `name` ("window": the main window's keys)."""

    def __init__(
        self,
        settings: QSettings,
        window: QWidget,
        splitter: QSplitter,
        tables: dict[str, QTableView],
        name: str = "window",
    ) -> None:
        self._settings = settings
        self._window = window
        self._splitter = splitter
        self._tables = tables
        self._name = name

    def restore(self) -> None:
        s = self._settings
        if s.value(f"{self._name}/geometry") is not None:
            self._window.restoreGeometry(s.value(f"{self._name}/geometry"))
        if s.value(f"{self._name}/splitter") is not None:
            self._splitter.restoreState(s.value(f"{self._name}/splitter"))
        for key, table in self._tables.items():
            state = s.value(f"tables/{key}")
            if state is not None:
                table.horizontalHeader().restoreState(state)

    def save(self) -> None:
        s = self._settings
        s.setValue(f"{self._name}/geometry", self._window.saveGeometry())
        s.setValue(f"{self._name}/splitter", self._splitter.saveState())
        for key, table in self._tables.items():
            s.setValue(f"tables/{key}", table.horizontalHeader().saveState())
        s.sync()
