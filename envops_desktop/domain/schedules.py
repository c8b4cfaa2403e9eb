"""When an environment is backed up on its own: the rule, as the user sets it."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

EVERY_HOURS_CHOICES = (2, 4, 8, 12, 24)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Frequency(StrEnum):
    """How often a scheduled backup comes."""

    EVERY_HOURS = "every-hours"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class ScheduleRule(BaseModel):
    """A schedule's rule, in the local time zone: every N hours (elapsed time), or daily,
    weekly (`weekday`, 0 is Monday) or monthly (`day`, 1-31; a day a month lacks is its last
    day) at `at`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frequency: Frequency
    hours: int | None = None
    at: time | None = None
    weekday: int | None = None
    day: int | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        wanted = {
            Frequency.EVERY_HOURS: {"hours"},
            Frequency.DAILY: {"at"},
            Frequency.WEEKLY: {"at", "weekday"},
            Frequency.MONTHLY: {"at", "day"},
        }[self.frequency]
        given = {
            name for name in ("hours", "at", "weekday", "day") if getattr(self, name) is not None
        }
        if given != wanted:
            raise ValueError(f"a {self.frequency.value} schedule takes {', '.join(sorted(wanted))}")
        if self.hours is not None and self.hours not in EVERY_HOURS_CHOICES:
            raise ValueError(
                "a backup can come every " + ", ".join(map(str, EVERY_HOURS_CHOICES)) + " hours"
            )
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError("the day of the week is Monday to Sunday")
        if self.day is not None and not 1 <= self.day <= 31:
            raise ValueError("the day of the month is 1 to 31")
        if self.at is not None and (self.at.second or self.at.microsecond or self.at.tzinfo):
            raise ValueError("a schedule's time is hours and minutes")
        return self

    def describe(self) -> str:
        """The rule in plain words: "Every day at 02:00"."""
        at = self.at.strftime("%H:%M") if self.at else ""
        if self.frequency is Frequency.EVERY_HOURS:
            return "Every 24 hours" if self.hours == 24 else f"Every {self.hours} hours"
        if self.frequency is Frequency.DAILY:
            return f"Every day at {at}"
        if self.frequency is Frequency.WEEKLY:
            return f"Every {WEEKDAYS[self.weekday or 0]} at {at}"
        last = " (the last day in shorter months)" if (self.day or 0) > 28 else ""
        return f"Every month on day {self.day} at {at}{last}"


@dataclass(frozen=True)
class ScheduleStatus:
    """An environment's schedule as the user sees it."""

    environment: str
    rule: ScheduleRule | None  # None: never set
    enabled: bool
    next_run: datetime | None  # UTC; None when off
    due: bool  # a slot has come and not been taken yet
    overdue: bool  # its last backup failed, or a slot went untaken (missed)
    last_outcome: str | None
    last_detail: str

    def summary(self, now: datetime, zone: tzinfo | None = None) -> str:
        """ "Every day at 02:00 — next run tomorrow at 02:00", or "Off"."""
        if self.rule is None or not self.enabled or self.next_run is None:
            return "Off"
        if self.due:
            return f"{self.rule.describe()} — due now"
        return f"{self.rule.describe()} — next run {when(self.next_run, now, zone)}"


def when(moment: datetime, now: datetime, zone: tzinfo | None = None) -> str:
    """A moment soon after `now`, as people say it: "today at 14:00", "tomorrow at 02:00",
    "on Monday 7 December at 02:00"."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    at = local.strftime("%H:%M")
    if local.date() == today:
        return f"today at {at}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {at}"
    return f"on {local.strftime('%A')} {local.day} {local.strftime('%B')} at {at}"
