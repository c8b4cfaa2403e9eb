"""Schedules and retention as the Schedule and Retention dialogs and the backups panel's
schedule line ask for them: read, previewed, set, and retention applied on a worker."""

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from envops_desktop.controller.notifications import Notification
from envops_desktop.controller.operation_runner import Announce, RunningOperation
from envops_desktop.domain.errors import NotFoundError
from envops_desktop.domain.models import Environment
from envops_desktop.service import EnvOpsService

if TYPE_CHECKING:
    from envops_desktop.domain.retention import RetentionRule
    from envops_desktop.domain.schedules import ScheduleRule, ScheduleStatus
    from envops_desktop.service.retention import Removal


class ScheduleWork(QObject):
    """An environment's schedule and retention rule, for the window's dialogs."""

    notify = Signal(str, str)  # kind (Notification), text
    changed = Signal()  # a schedule was set: what the window shows is read again

    def __init__(
        self, service: EnvOpsService, announce: Announce, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.service = service
        self._announce = announce

    def schedule_of(self, environment: Environment) -> "ScheduleStatus":
        return self.service.schedule(environment.id)

    def schedule_text(self, environment: Environment) -> str | None:
        """The environment's schedule in a line: its rule and its next run, or Off. None for
        one removed by another process since the last refresh, which will drop its row."""
        try:
            schedule = self.service.schedule(environment.id)
        except NotFoundError:
            return None
        return schedule.summary(self.service.now(), self.service.zone)

    def preview_schedule(self, rule: "ScheduleRule | None") -> str:
        return self.service.preview_schedule(rule)

    def set_schedule(self, environment: Environment, rule: "ScheduleRule | None") -> None:
        status = self.service.set_schedule(environment.id, rule)
        self.changed.emit()
        summary = status.summary(self.service.now(), self.service.zone)
        self.notify.emit(
            Notification.SUCCESS,
            self.tr("{env} is backed up: {summary}.").format(env=environment.name, summary=summary)
            if rule
            else self.tr("{env} is no longer backed up on a schedule.").format(
                env=environment.name
            ),
        )

    def retention_of(self, environment: Environment) -> "RetentionRule":
        return self.service.retention(environment.id)

    def preview_retention(self, environment: Environment, rule: "RetentionRule") -> "list[Removal]":
        return self.service.preview_retention(environment.id, rule)

    def apply_retention(self, environment: Environment, rule: "RetentionRule") -> RunningOperation:
        """Keep `rule` as the environment's and remove what it does not keep, on a worker."""
        return self._announce(
            self.tr("Applying retention to {env}").format(env=environment.name),
            environment,
            lambda _progress, _cancel: self.service.set_and_apply_retention(environment.id, rule),
            lambda report: report.summary(),
        )
