"""Pins and retention rules are the team's: events in the bucket, the newest winning."""

import time
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.domain.retention import RetentionRule
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service import EnvOpsService
from envops_desktop.store.timestamps import utc_now
from tests.trees import make_config_tree

PASSPHRASE = "one team, one passphrase"
# Keeps the last scheduled backup, and (always) the newest three and the pinned ones.
ONLY_THE_LAST = RetentionRule(scheduled_days=None, scheduled_last=1)
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


@pytest.fixture
def team(bucket, s3_endpoint, tmp_path):
    """A and B share billing; A has made five scheduled backups, s1 the oldest, and both
    workstations have them all."""
    url = f"s3://{bucket}/team"
    a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
    for side, service in (("a", a), ("b", b)):
        service.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
        tree = tmp_path / f"on-{side}" / "billing"
        make_config_tree(tree)
        service.add_environment("billing", tree, version="4.2.0")
    made = {
        name: a.create_backup("billing", name=name, origin=BackupOrigin.SCHEDULED)
        for name in ("s1", "s2", "s3", "s4", "s5")
    }
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    yield a, b, made
    a.close()
    b.close()


def test_a_backup_pinned_on_b_is_kept_by_the_retention_of_a_that_made_it(team):
    a, b, made = team
    b.pin_backup(made["s1"].id)
    b.sync_shared_store(PASSPHRASE)
    a.sync_shared_store(PASSPHRASE)

    assert a.get_backup(made["s1"].id).pinned
    a.set_retention("billing", ONLY_THE_LAST)
    removed = a.apply_retention("billing")

    assert [r.name for r in removed.removed] == ["s2"]


def test_the_pin_set_last_wins_on_every_workstation(team):
    a, b, made = team
    a.pin_backup(made["s1"].id)
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    assert b.get_backup(made["s1"].id).pinned

    b.pin_backup(made["s1"].id, pinned=False)
    b.sync_shared_store(PASSPHRASE)
    a.sync_shared_store(PASSPHRASE)

    assert not a.get_backup(made["s1"].id).pinned
    assert not b.get_backup(made["s1"].id).pinned


def test_a_retention_rule_set_on_a_is_followed_on_b(team):
    a, b, _made = team
    a.set_retention("billing", ONLY_THE_LAST)
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)

    assert b.retention("billing") == ONLY_THE_LAST


def test_a_backup_pinned_before_another_workstation_took_it_in_arrives_pinned(
    team, tmp_path, s3_endpoint, bucket
):
    a, _b, made = team
    a.pin_backup(made["s3"].id)
    a.sync_shared_store(PASSPHRASE)
    c = EnvOpsService(tmp_path / "c")
    c.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    tree = tmp_path / "on-c" / "billing"
    tree.mkdir(parents=True)
    c.add_environment("billing", tree, version="4.2.0")

    c.sync_shared_store(PASSPHRASE)

    assert c.get_backup(made["s3"].id).pinned and not c.get_backup(made["s2"].id).pinned
    c.close()


def test_a_rule_set_before_a_workstation_had_the_environment_reaches_it_when_added(
    team, tmp_path, s3_endpoint, bucket
):
    a, _b, _made = team
    a.set_retention("billing", ONLY_THE_LAST)
    a.set_schedule("billing", ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=8))
    a.sync_shared_store(PASSPHRASE)

    c = _adding_billing_after_a_first_sync(tmp_path, s3_endpoint, bucket)

    assert c.retention("billing") == ONLY_THE_LAST
    assert c.schedule("billing").rule.hours == 8
    c.close()


def test_a_version_the_team_moved_to_before_a_workstation_had_the_environment_reaches_it(
    team, tmp_path, s3_endpoint, bucket
):
    a, _b, _made = team
    a.update_environment_version("billing", "4.3.0")
    a.sync_shared_store(PASSPHRASE)

    c = _adding_billing_after_a_first_sync(tmp_path, s3_endpoint, bucket)

    assert c.get_environment("billing").version == "4.3.0"
    c.close()


def _adding_billing_after_a_first_sync(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> EnvOpsService:
    """C, a new workstation of the team: it syncs before it has billing (reading the
    team's events), then its operator adds billing as version 4.2.0, as they remembered
    it, and it syncs again."""
    c = EnvOpsService(tmp_path / "c")
    c.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    c.sync_shared_store(PASSPHRASE)
    tree = tmp_path / "on-c" / "billing"
    tree.mkdir(parents=True)
    c.add_environment("billing", tree, version="4.2.0")
    c.sync_shared_store(PASSPHRASE)
    return c


class _Clock:
    """The time a workstation's service reads, moved by the test."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def team_and_clock(bucket, s3_endpoint, tmp_path):
    """A has shared billing with the team, backed up every two hours, and reads `clock`."""
    clock = _Clock()
    a = EnvOpsService(tmp_path / "a", clock=clock)
    a.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    tree = tmp_path / "on-a" / "billing"
    make_config_tree(tree)
    a.add_environment("billing", tree, version="4.2.0")
    a.create_backup("billing")
    a.set_schedule("billing", ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=2))
    a.sync_shared_store(PASSPHRASE)
    yield a, clock
    a.close()


def _sharing_billing(
    bucket: str, s3_endpoint: str, tmp_path: Path, clock: _Clock, zones: tuple[ZoneInfo, ZoneInfo]
) -> tuple[EnvOpsService, EnvOpsService]:
    """A and B, in these time zones and reading `clock`, both with billing, which A has
    shared with the team."""
    a = EnvOpsService(tmp_path / "a", clock=clock, zone=zones[0])
    b = EnvOpsService(tmp_path / "b", clock=clock, zone=zones[1])
    for side, service in (("a", a), ("b", b)):
        # Locks (and a collection's wait for the backups running) lapse in two seconds.
        url = f"s3://{bucket}/team"
        service.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint, lease_seconds=2)
        tree = tmp_path / f"on-{side}" / "billing"
        make_config_tree(tree)
        service.add_environment("billing", tree, version="4.2.0")
    a.create_backup("billing")  # shares billing with the team
    return a, b


def test_a_schedule_set_on_a_is_the_teams_and_each_slot_is_backed_up_once(
    bucket, s3_endpoint, tmp_path
):
    clock = _Clock()
    a, b = _sharing_billing(bucket, s3_endpoint, tmp_path, clock, (BERLIN, BERLIN))
    every_two_hours = ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=2)
    a.set_schedule("billing", every_two_hours)
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    assert b.schedule("billing").rule == every_two_hours
    # Both count from the store's time of the schedule, the one that set it too.
    assert a.schedule("billing").next_run == b.schedule("billing").next_run

    clock.now += timedelta(hours=2, minutes=1)
    runs = a.run_due_backups() + b.run_due_backups()

    assert [run.outcome for run in runs] == ["succeeded", "elsewhere"]
    assert runs[1].detail.startswith("backed up by ") and "@" in runs[1].detail
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    for service in (a, b):
        scheduled = [
            x for x in service.list_backups("billing") if x.origin is BackupOrigin.SCHEDULED
        ]
        assert len(scheduled) == 1
        assert not service.schedule("billing").overdue
    # The slot's claim stays for the bin's days, then a collection removes it.
    assert a.prune_shared_store(PASSPHRASE).slots == 0
    time.sleep(1.1)  # the server's times are whole seconds
    assert a.prune_shared_store(PASSPHRASE, bin_days=0).slots == 1
    a.close()
    b.close()


def test_a_daily_time_set_in_berlin_is_one_moment_for_the_whole_team_in_new_york_too(
    bucket, s3_endpoint, tmp_path
):
    clock = _Clock()
    a, b = _sharing_billing(bucket, s3_endpoint, tmp_path, clock, (BERLIN, NEW_YORK))
    a.set_schedule("billing", ScheduleRule(frequency=Frequency.DAILY, at=dt_time(2, 0)))
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)

    # Berlin's 02:00 on both, not each workstation's own 02:00 (two backups a day, six
    # hours apart, each claiming a slot of its own).
    slot = a.schedule("billing").next_run
    assert b.schedule("billing").next_run == slot
    assert slot.astimezone(BERLIN).time() == dt_time(2, 0)
    summary = b.schedule("billing").summary(clock.now, NEW_YORK)
    assert summary.startswith("Every day at 02:00 (Europe/Berlin time) — next run ")
    assert f"{slot.astimezone(NEW_YORK):%H:%M}" in summary
    assert "(Europe/Berlin time)" not in a.schedule("billing").summary(clock.now, BERLIN)

    clock.now = slot + timedelta(minutes=1)
    runs = b.run_due_backups() + a.run_due_backups()

    assert [run.outcome for run in runs] == ["succeeded", "elsewhere"]
    a.close()
    b.close()


def test_a_slot_due_while_the_teams_store_is_locked_is_backed_up_and_says_it_was_not_claimed(
    team_and_clock, tmp_path
):
    a, clock = team_and_clock
    a.close()
    locked = EnvOpsService(tmp_path / "a", clock=clock)  # a new process: nothing unlocked

    clock.now += timedelta(hours=2, minutes=1)
    [run] = locked.run_due_backups()

    assert run.outcome == "succeeded"
    assert "another workstation may back this slot up too" in run.detail
    locked.close()
