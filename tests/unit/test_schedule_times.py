"""A schedule's due times, on an injected clock and time zone, across daylight-saving changes."""

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service.schedule_times import due_slot, slot_after

BERLIN = ZoneInfo("Europe/Berlin")  # springs forward 2026-03-29 02:00, falls back 10-25 03:00
NEW_YORK = ZoneInfo("America/New_York")  # 2026-03-08 02:00 and 11-01 02:00


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)


def daily(hour: int, minute: int = 0) -> ScheduleRule:
    return ScheduleRule(frequency=Frequency.DAILY, at=time(hour, minute))


SINCE = _utc(2026, 1, 1)


def _slots(rule: ScheduleRule, after: datetime, count: int, zone: ZoneInfo) -> list[datetime]:
    found = []
    for _ in range(count):
        after = slot_after(rule, SINCE, after, zone)
        found.append(after)
    return found


def test_a_daily_backup_runs_at_its_local_time_in_winter_and_in_summer():
    rule = daily(2)
    assert slot_after(rule, SINCE, _utc(2026, 1, 10, 12), BERLIN) == _utc(2026, 1, 11, 1)
    assert slot_after(rule, SINCE, _utc(2026, 7, 10, 12), BERLIN) == _utc(2026, 7, 11, 0)


@pytest.mark.parametrize(
    ("zone", "before", "spring_day_slot"),
    [
        # 02:30 does not exist on the day the clocks jump from 02:00 to 03:00: 03:00 it is.
        (BERLIN, _utc(2026, 3, 27, 12), _local(BERLIN, 2026, 3, 29, 3, 0)),
        (NEW_YORK, _utc(2026, 3, 6, 18), _local(NEW_YORK, 2026, 3, 8, 3, 0)),
    ],
)
def test_a_time_the_clocks_skip_runs_at_the_first_minute_after_the_gap(
    zone, before, spring_day_slot
):
    day_before, spring_day, day_after = _slots(daily(2, 30), before, 3, zone)
    assert spring_day == spring_day_slot
    assert spring_day - day_before == timedelta(hours=23, minutes=30)
    assert day_after.astimezone(zone).time() == time(2, 30)


@pytest.mark.parametrize(
    ("zone", "before"), [(BERLIN, _utc(2026, 10, 24, 12)), (NEW_YORK, _utc(2026, 10, 31, 12))]
)
def test_a_time_that_occurs_twice_in_autumn_runs_once_at_its_first_occurrence(zone, before):
    autumn_day, day_after = _slots(
        daily(1, 30) if zone is NEW_YORK else daily(2, 30), before, 2, zone
    )
    first = autumn_day.astimezone(zone)
    assert first.fold == 0 and first.dst() != timedelta(0)  # still summer time
    assert day_after - autumn_day == timedelta(hours=25)  # not an hour later, the second time


def test_every_n_hours_counts_elapsed_time_across_both_changes():
    rule = ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=4)
    since = _local(BERLIN, 2026, 3, 28, 22, 0)
    spring = [slot_after(rule, since, since + timedelta(hours=4 * n), BERLIN) for n in range(4)]
    assert [b - a for a, b in itertools.pairwise(spring)] == [timedelta(hours=4)] * 3
    # On the clock the runs move by the hour the clocks moved.
    assert [s.astimezone(BERLIN).hour for s in spring] == [3, 7, 11, 15]  # 22:00 + 4 h is 03:00


def test_day_31_runs_on_the_last_day_of_shorter_months():
    rule = ScheduleRule(frequency=Frequency.MONTHLY, day=31, at=time(23, 0))
    slots = _slots(rule, _utc(2026, 1, 15), 4, BERLIN)
    assert [s.astimezone(BERLIN).date().isoformat() for s in slots] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]


def test_a_weekly_backup_runs_on_its_day():
    rule = ScheduleRule(frequency=Frequency.WEEKLY, weekday=0, at=time(6, 15))
    slot = slot_after(rule, SINCE, _utc(2026, 12, 1, 12), BERLIN)  # a Tuesday
    assert slot.astimezone(BERLIN).isoformat() == "2026-12-07T06:15:00+01:00"


def test_runs_missed_while_closed_are_taken_once_not_once_per_missed_slot():
    rule = daily(2)
    set_at = _local(BERLIN, 2026, 5, 1, 12)
    back_on_friday = _local(BERLIN, 2026, 5, 8, 9)  # seven slots missed

    slot = due_slot(rule, set_at, None, back_on_friday, BERLIN)

    assert slot == _local(BERLIN, 2026, 5, 8, 2)  # the latest, once
    assert due_slot(rule, set_at, slot, back_on_friday, BERLIN) is None
    assert due_slot(rule, set_at, slot, _local(BERLIN, 2026, 5, 9, 2), BERLIN) == _local(
        BERLIN, 2026, 5, 9, 2
    )


def test_nothing_is_due_before_the_first_slot_after_the_schedule_was_set():
    rule = daily(2)
    set_at = _local(BERLIN, 2026, 5, 1, 3)  # just after today's 02:00
    assert due_slot(rule, set_at, None, _local(BERLIN, 2026, 5, 2, 1, 59), BERLIN) is None


@pytest.mark.parametrize(
    "given",
    [
        {"frequency": "every-hours", "hours": 3},
        {"frequency": "daily"},
        {"frequency": "weekly", "at": "02:00", "weekday": 7},
        {"frequency": "monthly", "at": "02:00", "day": 32},
        {"frequency": "daily", "at": "02:00", "day": 3},
    ],
)
def test_a_rule_that_makes_no_sense_is_refused(given):
    with pytest.raises(ValidationError):
        ScheduleRule.model_validate(given)


def test_each_rule_says_itself_in_plain_words():
    assert daily(2).describe() == "Every day at 02:00"
    weekly = ScheduleRule(frequency=Frequency.WEEKLY, weekday=4, at=time(18, 30))
    assert weekly.describe() == "Every Friday at 18:30"
    monthly = ScheduleRule(frequency=Frequency.MONTHLY, day=31, at=time(1, 0))
    assert monthly.describe() == "Every month on day 31 at 01:00 (the last day in shorter months)"
    hours = ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=8)
    assert hours.describe() == "Every 8 hours"
