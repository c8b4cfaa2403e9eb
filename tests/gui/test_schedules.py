"""Scheduling backups from the window, and the app taking them when they come due."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QTime

from envops_desktop.controller.environments_model import SCHEDULE_COLUMN
from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from tests.gui.conftest import click_button, select_environment, when_modal
from tests.gui.user import press_shortcut


def _next_friday_at_two_as_said() -> str:
    # Worked out here from the calendar: on a Thursday the next run is "tomorrow".
    now = datetime.now().astimezone()
    run = (now + timedelta(days=(4 - now.weekday()) % 7)).replace(
        hour=2, minute=0, second=0, microsecond=0
    )
    if run <= now:
        run += timedelta(days=7)
    if run.date() == now.date():
        return "today at 02:00"
    if run.date() == (now + timedelta(days=1)).date():
        return "tomorrow at 02:00"
    return f"on Friday {run.day} {run:%B} at 02:00"


def test_scheduling_backups_shows_the_rule_and_its_next_run_as_it_is_chosen(
    qtbot, window, environment
):
    window.controller.refresh()
    select_environment(window, "billing")
    assert window.backups.schedule_line.text() == "Schedule: Off"

    seen = {}

    def weekly_on_friday(dialog) -> None:
        frequency = dialog.findChild(object, "frequencyCombo")
        frequency.setCurrentIndex(frequency.findData(Frequency.WEEKLY))
        dialog.findChild(object, "weekdayCombo").setCurrentIndex(4)
        seen["summary"] = dialog.findChild(object, "scheduleSummaryLabel").text()
        seen["hours shown"] = dialog.findChild(object, "hoursCombo").isVisible()
        click_button(dialog, "saveScheduleButton")

    when_modal(weekly_on_friday, named="scheduleDialog")
    press_shortcut(qtbot, window, "Ctrl+Shift+B")

    assert seen["summary"] == f"Every Friday at 02:00 — next run {_next_friday_at_two_as_said()}"
    assert not seen["hours shown"]
    status = window.controller.service.schedule("billing")
    assert status.enabled and status.rule.describe() == "Every Friday at 02:00"
    assert window.backups.schedule_line.text() == f"Schedule: {seen['summary']}"


def test_a_schedule_opens_as_set_and_can_be_turned_off(qtbot, window, environment):
    service = window.controller.service
    service.set_schedule("billing", ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=8))
    window.controller.refresh()
    select_environment(window, "billing")

    seen = {}

    def turn_off(dialog) -> None:
        seen["hours"] = dialog.findChild(object, "hoursCombo").currentData()
        frequency = dialog.findChild(object, "frequencyCombo")
        frequency.setCurrentIndex(frequency.findData(None))
        seen["summary"] = dialog.findChild(object, "scheduleSummaryLabel").text()
        click_button(dialog, "saveScheduleButton")

    when_modal(turn_off, named="scheduleDialog")
    press_shortcut(qtbot, window, "Ctrl+Shift+B")

    assert seen == {"hours": 8, "summary": "Off"}
    assert not service.schedule("billing").enabled
    assert window.backups.schedule_line.text() == "Schedule: Off"


def test_a_teammates_schedule_in_another_time_zone_says_so_and_keeps_its_zone_when_changed(
    qtbot, window, environment
):
    service = window.controller.service
    chatham = ScheduleRule(frequency=Frequency.DAILY, at=time(6, 0), zone="Pacific/Chatham")
    service.set_schedule("billing", chatham)
    window.controller.refresh()
    select_environment(window, "billing")
    assert "(Pacific/Chatham time)" in window.backups.schedule_line.text()

    seen = {}

    def an_hour_later(dialog) -> None:
        seen["time shown"] = dialog.findChild(object, "timeEdit").time().toString("HH:mm")
        dialog.findChild(object, "timeEdit").setTime(QTime(7, 0))
        seen["summary"] = dialog.findChild(object, "scheduleSummaryLabel").text()
        click_button(dialog, "saveScheduleButton")

    when_modal(an_hour_later, named="scheduleDialog")
    press_shortcut(qtbot, window, "Ctrl+Shift+B")

    assert seen["time shown"] == "06:00"
    assert seen["summary"].startswith("Every day at 07:00 (Pacific/Chatham time) — next run ")
    rule = service.schedule("billing").rule
    assert (rule.at, rule.zone) == (time(7, 0), "Pacific/Chatham")
    assert service.schedule("billing").next_run.astimezone(ZoneInfo("Pacific/Chatham")).hour == 7


def test_the_app_takes_a_backup_that_came_due_while_it_was_closed(qtbot, due_two_hours_ago, window):
    service = window.controller.service

    def taken() -> bool:  # as soon as the window shows, on a worker
        return [b.origin for b in service.list_backups("billing")] == [BackupOrigin.SCHEDULED]

    qtbot.waitUntil(taken, timeout=30_000)
    banner = window.banner.findChild(object, "notificationText")
    qtbot.waitUntil(lambda: "on schedule" in banner.text())
    assert not window.controller.take_due_backups()  # nothing more is due


def test_an_environment_whose_scheduled_backup_failed_shows_overdue(qtbot, folder_gone, window):
    model = window.controller.environments_model

    def shown() -> str:
        return model.index(model.row_of(folder_gone.id), SCHEDULE_COLUMN).data()

    qtbot.waitUntil(lambda: shown() == "Overdue", timeout=30_000)
    banner = window.banner.findChild(object, "notificationText")
    assert banner.text().startswith("The scheduled backup of billing failed")
