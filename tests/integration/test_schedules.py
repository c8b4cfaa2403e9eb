"""Scheduled backups on an injected clock: taken at their local time, once per slot, once
for all the slots missed, and once for two processes that find the same slot due."""

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from envops_desktop.domain.enums import ActivityAction, BackupOrigin
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service import EnvOpsService
from envops_desktop.service.context import ServiceContext
from envops_desktop.store.timestamps import utc_now
from tests.trees import make_config_tree

BERLIN = ZoneInfo("Europe/Berlin")  # springs forward 2026-03-29 02:00, falls back 10-25 03:00


def _berlin(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=BERLIN, fold=fold).astimezone(UTC)


class Clock:
    """The time the service reads, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(_berlin(2026, 3, 27, 12))


@pytest.fixture
def service(tmp_path, clock):
    service = EnvOpsService(tmp_path / "data", clock=clock, zone=BERLIN)
    tree = tmp_path / "billing"
    make_config_tree(tree, files=10)
    service.add_environment("billing", tree, version="4.2.0")
    yield service
    service.close()


def _scheduled(service: EnvOpsService) -> list[str]:
    return [b.name for b in service.list_backups("billing") if b.origin is BackupOrigin.SCHEDULED]


DAILY_0230 = ScheduleRule(frequency=Frequency.DAILY, at=time(2, 30))


def test_a_daily_backup_is_taken_at_its_local_time_and_once(service, clock):
    service.set_schedule("billing", DAILY_0230)
    clock.now = _berlin(2026, 3, 28, 2, 29)
    assert service.run_due_backups() == []

    clock.now = _berlin(2026, 3, 28, 2, 30)
    runs = service.run_due_backups()

    assert [(r.environment, r.outcome) for r in runs] == [("billing", "succeeded")]
    assert len(_scheduled(service)) == 1
    assert service.run_due_backups() == []
    # Tomorrow the clocks skip 02:30: it runs at 03:00.
    assert service.schedule("billing").summary(clock.now, BERLIN) == (
        "Every day at 02:30 — next run tomorrow at 03:00"
    )
    clock.now = _berlin(2026, 3, 29, 3, 0)
    assert [r.outcome for r in service.run_due_backups()] == ["succeeded"]


def test_a_time_that_occurs_twice_is_backed_up_at_the_first_only(service, clock):
    service.set_schedule("billing", DAILY_0230)
    clock.now = _berlin(2026, 10, 25, 2, 30, fold=0)
    assert len(service.run_due_backups()) == 1

    clock.now = _berlin(2026, 10, 25, 2, 30, fold=1)  # an hour later, the clock shows it again

    assert service.run_due_backups() == []
    assert len(_scheduled(service)) == 1


def test_backups_missed_while_closed_are_taken_once_at_the_next_start(service, clock):
    service.set_schedule("billing", DAILY_0230)
    clock.now = _berlin(2026, 4, 3, 9, 0)  # six slots passed with the app closed
    assert service.schedule("billing").overdue
    assert service.list_environments()[0].backup_overdue

    assert len(service.run_due_backups()) == 1
    assert service.run_due_backups() == []
    assert len(_scheduled(service)) == 1
    assert not service.schedule("billing").overdue
    [listed] = service.list_environments()  # as `envops env list` and the window show it
    assert (listed.schedule, listed.backup_overdue) == ("Every day at 02:30", False)


def test_a_failed_scheduled_backup_is_recorded_and_marks_the_environment_overdue(
    service, clock, tmp_path
):
    service.set_schedule("billing", DAILY_0230)
    (tmp_path / "billing").rename(tmp_path / "moved")
    clock.now = _berlin(2026, 3, 28, 2, 30)

    [run] = service.run_due_backups()

    assert run.outcome == "failed" and "does not exist" in run.detail
    status = service.schedule("billing")
    assert status.overdue and "does not exist" in status.last_detail
    assert service.activity("billing")[0].action is ActivityAction.BACKUP_FAILED
    (tmp_path / "moved").rename(tmp_path / "billing")
    clock.now = _berlin(2026, 3, 29, 3, 0)
    assert [r.outcome for r in service.run_due_backups()] == ["succeeded"]
    assert not service.schedule("billing").overdue


def test_a_schedule_turned_off_takes_nothing_and_keeps_its_rule(service, clock):
    service.set_schedule("billing", DAILY_0230)
    service.set_schedule("billing", None)
    clock.now = _berlin(2026, 3, 30, 12)

    assert service.run_due_backups() == []
    status = service.schedule("billing")
    assert (status.enabled, status.rule, status.summary(clock.now, BERLIN)) == (
        False,
        DAILY_0230.model_copy(update={"zone": "Europe/Berlin"}),  # as set in Berlin
        "Off",
    )


def test_the_app_and_the_command_started_at_the_same_due_time_make_one_backup(tmp_path):
    # Two real processes on one data folder, the slot due now by the real clock.
    data = tmp_path / "data"
    tree = tmp_path / "billing"
    make_config_tree(tree, files=200)
    (tree / "disk.img").write_bytes(os.urandom(128 << 20))  # long enough for the two to meet
    two_hours_ago = EnvOpsService(data, clock=lambda: utc_now() - timedelta(hours=2, minutes=1))
    two_hours_ago.add_environment("billing", tree, version="1")
    two_hours_ago.set_schedule("billing", ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=2))
    two_hours_ago.close()
    command = [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(data)]

    both = [
        subprocess.Popen([*command, "schedule", "run"], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    said = [process.communicate(timeout=120)[0] for process in both]

    assert [process.returncode for process in both] == [0, 0]
    service = EnvOpsService(data)
    assert len(_scheduled(service)) == 1, said
    service.close()


def test_of_two_processes_that_find_one_slot_due_only_one_claims_it(service, clock, tmp_path):
    # Decided by the database, whichever process asks first, however their runs interleave.
    service.set_schedule("billing", DAILY_0230)
    env_id = service.get_environment("billing").id
    app, command = (ServiceContext.open(tmp_path / "data") for _ in range(2))
    slot = _berlin(2026, 3, 28, 2, 30)

    claims = [app.schedules.claim(env_id, None, slot), command.schedules.claim(env_id, None, slot)]

    assert claims == [True, False]
    assert command.schedules.claim(env_id, slot, _berlin(2026, 3, 29, 3, 0))  # the next one
    app.db.close()
    command.db.close()
