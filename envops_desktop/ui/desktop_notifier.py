"""Desktop notifications: how a long operation ended, said while the window is not in front."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMainWindow, QSystemTrayIcon

from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.notifications import Notification
from envops_desktop.ui.icons import icon

if TYPE_CHECKING:
    from envops_desktop.service.schedules import ScheduledRun

NOTIFICATIONS_ON = "notifications/enabled"
# An operation shorter than this ended while the user watched it, or nearly.
LONG_OPERATION_SECONDS = 3.0


def notifications_on(settings: QSettings) -> bool:
    return settings.value(NOTIFICATIONS_ON, True, type=bool)


class DesktopNotifier(QObject):
    """Shows a system tray message when a backup, restore, import or sync that took more than
    a few seconds ends while the window is not the active one, and when a scheduled backup
    fails, window in front or not (unless notifications are off in Preferences). Clicking the
    message brings the window up on that environment.

    `shown` says every message, tray or none: offscreen, and on desktops without a tray,
    there is nothing to click, and the tests listen here.
    """

    shown = Signal(str, str, str)  # title, text, environment id ("" if none)

    def __init__(
        self,
        controller: MainController,
        window: QMainWindow,
        settings: QSettings,
        show_environment: Callable[[str], None],
    ) -> None:
        super().__init__(window)
        self._controller, self._window, self._settings = controller, window, settings
        self._show_environment = show_environment
        self.long_seconds = LONG_OPERATION_SECONDS
        self._last_environment = ""
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon("app"), self)
            self.tray.setToolTip(self.tr("EnvOps Desktop"))
            self.tray.messageClicked.connect(self.message_clicked)
            self.tray.show()
        controller.operation_ended.connect(self._operation_ended)
        controller.scheduled_backups_done.connect(self._scheduled_backups_done)

    def _operation_ended(self, kind: str, text: str, environment_id: str, seconds: float) -> None:
        # Not in front: another application's window is (or, offscreen, no window is).
        if seconds >= self.long_seconds and not self._window.isActiveWindow():
            title = {
                Notification.SUCCESS: self.tr("Done"),
                Notification.ERROR: self.tr("Failed"),
            }.get(kind, self.tr("Stopped"))
            self._show(title, text, environment_id, kind == Notification.ERROR)

    def _scheduled_backups_done(self, runs: "list[ScheduledRun]") -> None:
        for run in runs:
            if run.outcome == "failed":
                self._show(
                    self.tr("Scheduled backup failed"),
                    self.tr("The scheduled backup of {env} failed: {why}").format(
                        env=run.environment, why=run.detail
                    ),
                    run.environment_id,
                    error=True,
                )

    def _show(self, title: str, text: str, environment_id: str, error: bool = False) -> None:
        if not notifications_on(self._settings):
            return
        self._last_environment = environment_id
        if self.tray is not None:
            icons = QSystemTrayIcon.MessageIcon
            self.tray.showMessage(
                title, text, icons.Critical if error else icons.Information, 10_000
            )
        self.shown.emit(title, text, environment_id)

    def message_clicked(self) -> None:
        """The user clicked the last message: the window comes up on its environment."""
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()
        if self._last_environment:
            self._show_environment(self._last_environment)
