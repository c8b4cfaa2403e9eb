"""When an environment is backed up on its own: the rule, as the user sets it."""

import functools
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    """A schedule's rule: every N hours (elapsed time), or daily, weekly (`weekday`, 0 is
    Monday) or monthly (`day`, 1-31; a day a month lacks is its last day) at `at`, in the
    time zone `zone`.

    `zone` (an IANA name) is the one of the workstation that set the rule, so that every
    workstation of a team counts the same slots: a "daily at 02:00" set in Berlin is one
    backup a day at Berlin's 02:00, not one at each teammate's own 02:00. None: the local
    time zone (every-N-hours rules, and a system whose zone has no name).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    frequency: Frequency
    hours: int | None = None
    at: time | None = None
    weekday: int | None = None
    day: int | None = None
    zone: str | None = None

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
        if self.zone is not None:
            if self.frequency is Frequency.EVERY_HOURS:
                raise ValueError("every few hours counts elapsed time, in no time zone")
            if _zone_named(self.zone) is None:
                named = self.zone or '""'
                raise ValueError(f"{named} is not a time zone this computer knows")
        return self

    def in_zone(self, local: tzinfo | None) -> tzinfo | None:
        """The time zone the rule's times are in; `local` (None: the system's) when it names
        none."""
        return _zone_named(self.zone) if self.zone else local

    def stamped(self, local: tzinfo | None) -> "ScheduleRule":
        """The rule as set on a workstation whose time zone is `local`: a time of day is in
        that zone from now on, wherever the rule is followed."""
        name = zone_name(local)
        if self.zone is not None or self.frequency is Frequency.EVERY_HOURS or name is None:
            return self
        return self.model_copy(update={"zone": name})

    def describe(self, local: tzinfo | None = None) -> str:
        """The rule in plain words: "Every day at 02:00", and "(Europe/Berlin time)" after it
        where that is not the time zone `local` (None: the system's)."""
        words = self._words()
        if self.zone is not None and self.zone != zone_name(local):
            words += f" ({self.zone} time)"
        return words

    def _words(self) -> str:
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
            return f"{self.rule.describe(zone)} — due now"
        return f"{self.rule.describe(zone)} — next run {when(self.next_run, now, zone)}"


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


def zone_name(zone: tzinfo | None) -> str | None:
    """The IANA name of a time zone (None: the system's), if it has one."""
    if zone is None:
        return _system_zone_name()
    key = getattr(zone, "key", None)  # a ZoneInfo's
    return key if isinstance(key, str) else None


@functools.cache
def _system_zone_name() -> str | None:
    import tzlocal  # here: it reads the system's settings, which few commands need

    try:
        name = tzlocal.get_localzone_name()
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name if name and _zone_named(name) is not None else None


@functools.cache
def _zone_named(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
