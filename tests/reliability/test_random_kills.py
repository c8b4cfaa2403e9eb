"""SIGKILL a restore at random moments, many times: never half-restored (rule 5)."""

import random
import signal
import sqlite3
import subprocess
import time

import pytest

from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus
from envops_desktop.service import EnvOpsService
from tests.reliability.scenario import Scenario, build_scenario

pytestmark = pytest.mark.reliability

KILLS_PER_VARIANT = 25  # two variants below: 50 kills in all


def _journal_rows(scenario: Scenario, phases: str) -> int:
    with sqlite3.connect(scenario.data_dir / "envops.sqlite3", timeout=30) as db:
        query = f"SELECT COUNT(*) FROM journal WHERE phase {phases} ('flushing', 'done')"
        return db.execute(query).fetchone()[0]


def _wait_for(process: subprocess.Popen, condition) -> None:
    while process.poll() is None and not condition():
        time.sleep(0.002)


def _journal_started(scenario: Scenario) -> bool:
    # A finished restore may still be settling (in the journal as `flushing` or `done`);
    # a new one settles those before its own row is written.
    return _journal_rows(scenario, "NOT IN") > 0


def _recorded(scenario: Scenario) -> bool:
    """Whether the running restore is recorded as done (only its disk sync may be left)."""
    return _journal_rows(scenario, "IN") > 0 and _journal_rows(scenario, "NOT IN") == 0


def _journal_to_exit(scenario: Scenario, backup_id: str) -> float:
    """How long a whole restore takes from its journal's first row to its process's end."""
    process = scenario.restore_process(backup_id)
    _wait_for(process, lambda: _journal_started(scenario))
    started = time.monotonic()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return time.monotonic() - started


@pytest.mark.parametrize("post_restore_seconds", [None, 0.2], ids=["plain", "with-command"])
def test_restore_killed_at_random_moments_is_always_whole(post_restore_seconds, tmp_path):
    scenario = build_scenario(tmp_path, files=600, post_restore_seconds=post_restore_seconds)
    # The kills are spread over a little more than the longest of two restores, so that on
    # a machine whose disk is slower at some moments than others they still land anywhere
    # from the journal's first row to after the end.
    window = 1.25 * max(
        _journal_to_exit(scenario, scenario.messed), _journal_to_exit(scenario, scenario.original)
    )
    rng = random.Random(2026)
    # Besides the random moments, one kill at the journal's first row and one once the
    # restore is recorded, which must be undone and kept, whatever the disk's speed.
    moments: list[str] = ["first row", "recorded"] + ["random"] * (KILLS_PER_VARIANT - 2)
    rng.shuffle(moments)
    outcomes: dict[str, int] = {}
    for moment in moments:
        current = scenario.state()
        target = scenario.messed if current == "original" else scenario.original
        process = scenario.restore_process(target)
        _wait_for(process, lambda: _journal_started(scenario))
        if moment == "random":
            time.sleep(rng.uniform(0, window))
        elif moment == "recorded":
            _wait_for(process, lambda: _recorded(scenario))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)

        service = EnvOpsService(scenario.data_dir)
        reports = service.recover_interrupted_operations()
        state = scenario.state()
        assert state in ("original", "messed"), "the environment was left half-restored"
        env = service.get_environment("billing")
        assert env.status is not EnvironmentStatus.UPDATING
        latest = service.activity("billing")[0]
        if reports:
            assert latest.action is ActivityAction.RECOVERED
            outcome = "rolled forward" if reports[0].rolled_forward else "rolled back"
        else:
            assert latest.action is ActivityAction.BACKUP_RESTORED
            outcome = "completed"
        assert (state != current) == (outcome != "rolled back")
        if moment == "first row":
            assert outcome == "rolled back", "a restore killed before it wrote anything was kept"
        if moment == "recorded":
            assert outcome != "rolled back", "a restore killed once recorded was undone"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert [p.name for p in scenario.target.parent.iterdir()] == ["billing"]
        service.close()
    print(f"{KILLS_PER_VARIANT} kills: {outcomes}")
