"""A real main window on a real service in tmp_path, offscreen."""

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from envops_desktop.controller.main_controller import MainController
from envops_desktop.service import EnvOpsService
from envops_desktop.ui.main_window import MainWindow


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def controller(qtbot, service: EnvOpsService):
    controller = MainController(service)
    yield controller
    controller.shutdown()


@pytest.fixture
def window(qtbot, controller: MainController, settings: QSettings):
    window = MainWindow(controller, settings)
    qtbot.addWidget(window)
    controller.start()
    window.show()
    qtbot.waitExposed(window)
    yield window
    controller.runner.cancel_all_and_wait()


def select_environment(window: MainWindow, name: str) -> None:
    env = window.controller.service.get_environment(name)
    window.environments.select(env.id)
    assert window.controller.selected_environment.name == name


def backup_rows(window: MainWindow) -> list[str]:
    return [b.name for b in window.controller.backups_model.records()]


def when_modal(handler, timeout_ms: int = 10_000) -> None:
    """Run `handler(dialog)` on the next modal dialog, as a user would answer it."""
    from PySide6.QtCore import QDeadlineTimer, QTimer
    from PySide6.QtWidgets import QApplication

    deadline = QDeadlineTimer(timeout_ms)

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            if not deadline.hasExpired():
                QTimer.singleShot(20, poll)
            return
        handler(dialog)

    QTimer.singleShot(0, poll)


def click_button(dialog, object_name: str | None = None, text: str | None = None) -> None:
    from PySide6.QtWidgets import QAbstractButton

    for button in dialog.findChildren(QAbstractButton):
        if (object_name and button.objectName() == object_name) or (
            text and button.text().replace("&", "") == text
        ):
            button.click()
            return
    raise AssertionError(f"no button {object_name or text} in {dialog.objectName()}")


def quit_insisting(window) -> list[str]:
    """Close the window, answering its question with "Cancel it and quit"; return what asked."""
    asked: list[str] = []

    def insist(box) -> None:
        asked.append(box.objectName())
        click_button(box, text="Cancel it and quit")

    when_modal(insist)
    window.close()
    return asked
