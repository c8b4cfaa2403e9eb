"""When a schedule's backups are due: its slots in real (UTC) time, from its local rule.

The rules at the edges, which a wall clock gets wrong:
- "every N hours" counts elapsed time from when the schedule was set: a daylight-saving
  change moves the hour it runs at on the clock, not the interval between runs;
- a local time that does not exist (spring forward) runs at the first minute after the gap;
- a local time that occurs twice (autumn) runs once, at its first occurrence;
- day 31 of a shorter month runs on that month's last day.

A rule's times are in the time zone it names (the one it was set in); `zone` is the local
time zone, for a rule that names none; None is the system's, as the C library knows it.
Tests pass a `ZoneInfo` so that their results do not depend on the machine.
"""

import calendar
from datetime import UTC, date, datetime, timedelta, tzinfo

from envops_desktop.domain.schedules import Frequency, ScheduleRule

# No time zone moves its clocks by more than this at once.
_LONGEST_GAP = timedelta(hours=24)


def _to_utc(wall: datetime, zone: tzinfo | None, fold: int = 0) -> datetime:
    if zone is None:  # a naive time is the system's local time, fold and all (PEP 495)
        return wall.replace(fold=fold).astimezone(UTC)
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _to_wall(moment: datetime, zone: tzinfo | None) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def wall_time_to_utc(wall: datetime, zone: tzinfo | None) -> datetime:
    """When the local clock first shows `wall` (naive), or, if it never does (a gap when the
    clocks spring forward), the first minute after the gap."""
    candidate = wall
    while _to_wall(_to_utc(candidate, zone), zone) != candidate:
        candidate += timedelta(minutes=1)
        if candidate - wall > _LONGEST_GAP:
            raise ValueError(f"{wall} does not exist in this time zone")
    return _to_utc(candidate, zone)


def _slot_on(rule: ScheduleRule, day: date, zone: tzinfo | None) -> datetime | None:
    """The rule's slot on the local date `day`, if it has one there."""
    assert rule.at is not None
    if rule.frequency is Frequency.WEEKLY and day.weekday() != rule.weekday:
        return None
    if rule.frequency is Frequency.MONTHLY:
        last = calendar.monthrange(day.year, day.month)[1]
        if day.day != min(rule.day or 1, last):
            return None
    return wall_time_to_utc(datetime.combine(day, rule.at), zone)


def slot_after(
    rule: ScheduleRule, since: datetime, after: datetime, zone: tzinfo | None
) -> datetime:
    """The rule's first slot strictly after `after` (UTC), for a schedule set at `since`."""
    zone = rule.in_zone(zone)
    if rule.frequency is Frequency.EVERY_HOURS:
        step = timedelta(hours=rule.hours or 24)
        if after < since:
            return since + step
        return since + step * ((after - since) // step + 1)
    day = _to_wall(after, zone).date() - timedelta(days=1)  # a slot may lie before midnight
    while True:
        slot = _slot_on(rule, day, zone)
        if slot is not None and slot > after:
            return slot
        day += timedelta(days=1)


def due_slot(
    rule: ScheduleRule,
    since: datetime,
    last: datetime | None,
    now: datetime,
    zone: tzinfo | None,
) -> datetime | None:
    """The slot a backup is due for at `now`: the latest slot at or before `now` and after
    the last one taken (or after `since`); None if none is due. However many slots were
    missed, this is one: they are taken once."""
    slot = slot_after(rule, since, max(last or since, since), zone)
    if slot > now:
        return None
    while (following := slot_after(rule, since, slot, zone)) <= now:
        slot = following
    return slot
