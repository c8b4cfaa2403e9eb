"""`envops schedule` and `envops retention`: backups on a schedule, and which are kept."""

import argparse
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from envops_desktop.cli.output import jsonable, long_operation, print_result
from envops_desktop.cli.prompts import UsageError
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.service import EnvOpsService

if TYPE_CHECKING:
    from envops_desktop.domain.schedules import ScheduleRule, ScheduleStatus


def run_schedule(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops schedule set|show|run`."""
    if args.schedule_command == "set":
        status = service.set_schedule(args.environment, None if args.off else _rule(args))
        print(f"{status.environment}: {status.summary(service.now(), service.zone)}")
        return
    if args.schedule_command == "show":
        names = [args.environment] if args.environment else None
        envs = names or [e.name for e in service.list_environments()]
        statuses = [service.schedule(name) for name in envs]
        now = service.now()
        print_result(
            [_with_summary(s, now, service.zone) for s in statuses],
            args.json,
            lambda: "\n".join(_schedule_line(s, now, service.zone) for s in statuses),
        )
        return
    with long_operation() as (bar, cancel):
        runs = service.run_due_backups(bar, cancel)
    print_result(
        runs,
        args.json,
        lambda: (
            "\n".join(f"{r.environment}: {r.outcome} ({r.detail})" for r in runs)
            or "No scheduled backup is due."
        ),
    )
    failed = [r.environment for r in runs if r.outcome == "failed"]
    if failed:
        raise OperationFailedError(f"The scheduled backup of {', '.join(failed)} failed.")


def run_retention(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops retention set|show|apply`."""
    if args.retention_command == "set":
        from pydantic import ValidationError

        changes = {
            name: None if value == "off" else _count(value, name)
            for name in ("scheduled_days", "scheduled_last", "manual_days")
            if (value := getattr(args, name)) is not None
        }
        if args.before_restore_last is not None:
            changes["before_restore_last"] = args.before_restore_last
        current = service.retention(args.environment)
        try:
            rule = current.model_validate({**current.model_dump(), **changes})
        except ValidationError as error:
            problem = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
            raise UsageError(f"{problem}.") from None
        service.set_retention(args.environment, rule)
        print(rule.describe())
        return
    dry_run = args.retention_command == "show" or args.dry_run
    report = service.apply_retention(args.environment, dry_run=dry_run)
    print_result(report, args.json, lambda: f"{report.rule.describe()}\n{report.summary()}")


def _count(value: str, name: str) -> int:
    if not value.isdigit():
        raise UsageError(f"--{name.replace('_', '-')} takes a number or off.")
    return int(value)


def _time_of_day(text: str) -> str:
    """`text` if it is a time on a clock, HH:MM; else a usage error that says so (pydantic's
    own words were "at: Input should be in a valid time format, hour value is outside
    expected range of 0-23")."""
    hours, colon, minutes = text.partition(":")
    if not (
        colon
        and hours.isdigit()
        and len(hours) <= 2
        and int(hours) < 24
        and minutes.isdigit()
        and len(minutes) == 2
        and int(minutes) < 60
    ):
        shown = text or '""'
        raise UsageError(f"{shown} is not a time of day: give HH:MM, from 00:00 to 23:59.")
    return f"{int(hours):02d}:{minutes}"


def _rule(args: argparse.Namespace) -> "ScheduleRule":
    """The rule `envops schedule set` was given."""
    from pydantic import ValidationError

    from envops_desktop.domain.schedules import WEEKDAYS, ScheduleRule

    if args.every_hours is not None:
        given: dict[str, object] = {"frequency": "every-hours", "hours": args.every_hours}
    elif args.daily is not None:
        given = {"frequency": "daily", "at": args.daily}
    elif args.weekly is not None:
        day, at = args.weekly
        names = [name.casefold() for name in WEEKDAYS]
        matches = [i for i, name in enumerate(names) if name.startswith(day.casefold()[:3])]
        if len(day) < 3 or len(matches) != 1 or not names[matches[0]].startswith(day.casefold()):
            raise UsageError(f"{day} is not a day of the week (Monday to Sunday).")
        given = {"frequency": "weekly", "weekday": matches[0], "at": at}
    else:
        day, at = args.monthly
        if not day.isdigit():
            raise UsageError(f"{day} is not a day of the month (1 to 31).")
        given = {"frequency": "monthly", "day": int(day), "at": at}
    if "at" in given:
        given["at"] = _time_of_day(str(given["at"]))
    if args.time_zone is not None:
        given["zone"] = args.time_zone
    try:
        return ScheduleRule.model_validate(given)
    except ValidationError as error:
        problem = error.errors()[0]
        where = " ".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        raise UsageError(f"{where + ': ' if where else ''}{message}.") from None


def _with_summary(status: "ScheduleStatus", now: datetime, zone: tzinfo | None) -> object:
    shown = jsonable(status)
    assert isinstance(shown, dict)
    return {**shown, "summary": status.summary(now, zone)}


def _schedule_line(status: "ScheduleStatus", now: datetime, zone: tzinfo | None) -> str:
    line = f"{status.environment}: {status.summary(now, zone)}"
    if status.overdue:
        why = status.last_detail if status.last_outcome == "failed" else "a backup was missed"
        line += f" (overdue: {why})"
    return line
