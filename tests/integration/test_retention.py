"""Retention on an injected clock: exactly the backups no rule keeps go, with an entry each;
pinned ones and the newest three never do, and nothing goes after a failed backup."""

from datetime import UTC, datetime, timedelta

import pytest

from envops_desktop.domain.enums import ActivityAction, BackupOrigin
from envops_desktop.domain.retention import RetentionRule
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service import EnvOpsService
from tests.integration.test_schedules import Clock
from tests.trees import make_config_tree

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def service(tmp_path, clock):
    service = EnvOpsService(tmp_path / "data", clock=clock)
    tree = tmp_path / "billing"
    make_config_tree(tree, files=5)
    service.add_environment("billing", tree, version="4.2.0")
    yield service
    service.close()


def _backups_over_days(service, clock, origin, names, tree_file) -> None:
    """One backup a day, of `origin`, named as `names`; each of a changed tree."""
    for name in names:
        tree_file.write_text(f"changed for {name}\n")
        service.create_backup("billing", name=name, origin=origin)
        clock.now += timedelta(days=1)


def _names(service) -> list[str]:
    return sorted(b.name for b in service.list_backups("billing"))


def test_retention_removes_exactly_what_no_rule_keeps_and_never_a_pinned_backup(
    service, clock, tmp_path
):
    tree_file = tmp_path / "billing" / "app.yaml"
    _backups_over_days(service, clock, BackupOrigin.MANUAL, ["manual"], tree_file)
    scheduled = [f"s{day:02d}" for day in range(15)]  # one a day for 15 days
    _backups_over_days(service, clock, BackupOrigin.SCHEDULED, scheduled, tree_file)
    before = [f"b{n}" for n in range(7)]
    _backups_over_days(service, clock, BackupOrigin.PRE_RESTORE, before, tree_file)
    service.pin_backup(service.find_backup("billing", "s00").id)
    service.set_retention("billing", RetentionRule(scheduled_days=10, before_restore_last=5))

    dry = service.apply_retention("billing", dry_run=True)
    report = service.apply_retention("billing")

    # Now is day 23: scheduled ones older than 10 days go (s00 is pinned: it stays), and
    # the 2 oldest before-restore ones; the manual one stays, however old.
    gone = [f"s{day:02d}" for day in range(1, 12)] + ["b0", "b1"]
    assert [r.name for r in dry.removed] == [r.name for r in report.removed] == gone
    assert _names(service) == sorted(set(["manual", *scheduled, *before]) - set(gone))
    assert sorted(b.name for b in service.deleted_backups("billing")) == sorted(gone)
    entries = [e for e in service.activity("billing", 100) if "retention:" in e.detail]
    assert len(entries) == len(gone)
    assert all(e.action is ActivityAction.BACKUP_DELETED for e in entries)


def test_a_clock_that_jumps_forward_never_empties_the_history(service, clock, tmp_path):
    tree_file = tmp_path / "billing" / "app.yaml"
    scheduled = [f"s{day}" for day in range(5)]
    _backups_over_days(service, clock, BackupOrigin.SCHEDULED, scheduled, tree_file)
    service.set_retention("billing", RetentionRule(scheduled_days=10, scheduled_last=1))
    clock.now += timedelta(days=3650)

    report = service.apply_retention("billing")

    assert [r.name for r in report.removed] == ["s0", "s1"]
    assert _names(service) == ["s2", "s3", "s4"]


def test_retention_runs_after_each_scheduled_backup_but_not_after_a_failed_one(
    service, clock, tmp_path
):
    tree_file = tmp_path / "billing" / "app.yaml"
    _backups_over_days(service, clock, BackupOrigin.MANUAL, ["by hand"], tree_file)
    service.set_retention("billing", RetentionRule(scheduled_days=None, scheduled_last=3))
    service.set_schedule("billing", ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=24))
    for day in range(5):
        clock.now += timedelta(days=1)
        tree_file.write_text(f"day {day}\n")
        service.run_due_backups()
    assert len(service.list_backups("billing")) == 4  # the last 3 scheduled, and by hand

    # From now on the backup by hand is past its time, but the next backups fail.
    rule = RetentionRule(scheduled_days=None, scheduled_last=3, manual_days=1)
    service.set_retention("billing", rule)
    (tmp_path / "billing").rename(tmp_path / "gone")
    before = _names(service)
    for _ in range(4):
        clock.now += timedelta(days=1)
        assert [r.outcome for r in service.run_due_backups()] == ["failed"]

    assert _names(service) == before
    assert "by hand" in before
