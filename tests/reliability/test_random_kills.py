"""SIGKILL a restore at random moments, many times: never half-restored (rule 5)."""

import random
import signal
import sqlite3
import time

import pytest

from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus
from envops_desktop.service import EnvOpsService
from tests.reliability.scenario import Scenario, build_scenario

pytestmark = pytest.mark.reliability

KILLS_PER_VARIANT = 25  # two variants below: 50 kills in all


def _journal_started(scenario: Scenario) -> bool:
    # A finished restore may still be settling (in the journal as `flushing` or `done`).
    with sqlite3.connect(scenario.data_dir / "envops.sqlite3", timeout=30) as db:
        query = "SELECT COUNT(*) FROM journal WHERE phase NOT IN ('flushing', 'done')"
        return db.execute(query).fetchone()[0] > 0


def _run_to_completion(scenario: Scenario, backup_id: str) -> float:
    started = time.monotonic()
    process = scenario.restore_process(backup_id)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return time.monotonic() - started


@pytest.mark.parametrize("post_restore_seconds", [None, 0.2], ids=["plain", "with-command"])
def test_restore_killed_at_random_moments_is_always_whole(post_restore_seconds, tmp_path):
    scenario = build_scenario(tmp_path, files=600, post_restore_seconds=post_restore_seconds)
    # How long one restore takes from its journal's first row, to spread the kills across it.
    duration = _run_to_completion(scenario, scenario.messed)
    _run_to_completion(scenario, scenario.original)
    rng = random.Random(2026)
    outcomes: dict[str, int] = {}
    for _ in range(KILLS_PER_VARIANT):
        current = scenario.state()
        target = scenario.messed if current == "original" else scenario.original
        process = scenario.restore_process(target)
        while process.poll() is None and not _journal_started(scenario):
            time.sleep(0.002)
        time.sleep(rng.uniform(0, duration))
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
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert [p.name for p in scenario.target.parent.iterdir()] == ["billing"]
        service.close()
    print(f"{KILLS_PER_VARIANT} kills: {outcomes}")
    # Both ways really happened: kills landed before the swap (rolled back) and after it
    # (kept, whether recovery rolled it forward or it had completed), not only one of them.
    assert outcomes.get("rolled back", 0) > 0, outcomes
    assert outcomes.get("rolled forward", 0) + outcomes.get("completed", 0) > 0, outcomes
