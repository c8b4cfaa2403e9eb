"""A restore killed at each step between its journaled phases is put right at the next start."""

import os
import signal
import sqlite3
import time

import pytest

from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus
from envops_desktop.service import EnvOpsService, recovery
from tests.disks import folders_can_be_exchanged
from tests.reliability.scenario import build_scenario

pytestmark = pytest.mark.reliability

# crash point -> what the next start must leave (with no post-restore command)
EXPECTED = {
    "staging": "original",
    "staged": "original",
    "swapping": "original",
    "between-renames": "original",
    "swapped": "original",
    "applied": "messed",  # complete and verifiable: rolled forward
    "post-restore": "messed",
    "flushing": "messed",  # recorded, not yet settled: the same boot only needs a sync
}


def _recover(scenario) -> tuple[EnvOpsService, list]:
    service = EnvOpsService(scenario.data_dir)
    return service, service.recover_interrupted_operations()


@pytest.mark.parametrize("crash_at", list(EXPECTED))
def test_restore_killed_at_each_step_is_rolled_back_or_forward(crash_at, tmp_path):
    scenario = build_scenario(tmp_path)
    process = scenario.restore_process(scenario.messed, crash_at=crash_at)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    service, reports = _recover(scenario)
    assert scenario.state() == EXPECTED[crash_at]
    env = service.get_environment("billing")
    assert env.status is not EnvironmentStatus.UPDATING
    latest = service.activity("billing")[0]
    if crash_at == "flushing":
        assert reports == []
        assert latest.action is ActivityAction.BACKUP_RESTORED
    else:
        assert [r.rolled_forward for r in reports] == [EXPECTED[crash_at] == "messed"]
        assert latest.action is ActivityAction.RECOVERED
        assert "interrupted" in latest.detail
    assert [p.name for p in scenario.target.parent.iterdir()] == ["billing"]
    # After recovery the environment works as before: the other restore goes through.
    service.restore_backup("billing", scenario.original)
    assert scenario.state() == "original"
    service.close()


@pytest.mark.parametrize("crash_at", list(EXPECTED))
def test_import_in_one_pass_killed_at_each_step_is_rolled_back_or_forward(crash_at, tmp_path):
    scenario = build_scenario(tmp_path)
    service = EnvOpsService(scenario.data_dir)
    exported = service.export_backup(scenario.messed, tmp_path / "messed.zip")
    service.close()
    process = scenario.cli_process(["import", "billing", str(exported), "--yes"], crash_at)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    service, reports = _recover(scenario)
    assert scenario.state() == EXPECTED[crash_at]
    assert service.get_environment("billing").status is not EnvironmentStatus.UPDATING
    # Named by its file: the backup it becomes is recorded only once all of it has passed.
    if crash_at != "flushing":  # recorded as done, with nothing to recover
        assert len(reports) == 1
        for said in (reports[0].detail, service.activity("billing")[0].detail):
            assert said.startswith("the import of 'messed.zip' ")
    assert [p.name for p in scenario.target.parent.iterdir()] == ["billing"]
    service.restore_backup("billing", scenario.original)
    assert scenario.state() == "original"
    service.close()


@pytest.mark.parametrize("crash_at", ["applied", "post-restore"])
def test_kill_while_post_restore_command_runs_rolls_back(crash_at, tmp_path):
    """With a post-restore command nobody knows whether it passed, so the old state returns."""
    scenario = build_scenario(tmp_path, post_restore_seconds=0.01)
    process = scenario.restore_process(scenario.messed, crash_at=crash_at)
    process.communicate(timeout=60)
    service, reports = _recover(scenario)
    assert scenario.state() == "original"
    assert [r.rolled_forward for r in reports] == [False]
    assert service.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED
    service.close()


def test_kill_in_the_middle_of_a_rollback_is_finished_at_next_start(tmp_path):
    scenario = build_scenario(tmp_path, post_restore_seconds=0.01)
    # Make the post-restore command fail so that the restore rolls back, and kill it there.
    with sqlite3.connect(scenario.data_dir / "envops.sqlite3") as db:
        db.execute("UPDATE environments SET post_restore_argv = '[\"false\"]'")
    process = scenario.restore_process(scenario.messed, crash_at="rollback-between-renames")
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    if folders_can_be_exchanged(tmp_path):  # the old tree back, the new one beside it
        assert scenario.state() == "original"
        assert len(list(scenario.target.parent.iterdir())) == 2
    else:  # killed with the environment moved aside
        assert not scenario.target.exists()

    service, reports = _recover(scenario)
    assert scenario.state() == "original"
    assert [r.rolled_forward for r in reports] == [False]
    service.close()


def test_recovery_leaves_a_restore_running_in_another_process_alone(tmp_path):
    scenario = build_scenario(tmp_path, post_restore_seconds=3)
    process = scenario.restore_process(scenario.messed)
    try:
        service = EnvOpsService(scenario.data_dir)
        deadline = time.monotonic() + 30
        while service.get_environment("billing").status is not EnvironmentStatus.UPDATING:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert service.recover_interrupted_operations() == []
        assert service.get_environment("billing").status is EnvironmentStatus.UPDATING
    finally:
        process.communicate(timeout=60)
    assert process.returncode == 0
    assert scenario.state() == "messed"
    service.close()


def test_next_start_clears_half_written_blobs_and_abandoned_uploads(tmp_path):
    service = EnvOpsService(tmp_path / "data")
    partial = tmp_path / "data" / "objects" / "tmp" / "abc.123.456.part"
    partial.write_bytes(b"half a blob")
    unrecorded_pack = tmp_path / "data" / "objects" / "packs" / "0123abcd.pack"
    unrecorded_pack.write_bytes(b"blobs of a backup that never finished")
    abandoned = tmp_path / "data" / "staging" / "upload-old"
    fresh = tmp_path / "data" / "staging" / "upload-new"
    abandoned.mkdir()
    fresh.mkdir()
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(abandoned, (two_days_ago, two_days_ago))
    service.recover_interrupted_operations()
    assert not partial.exists()
    assert not unrecorded_pack.exists()
    assert not abandoned.exists()
    assert fresh.exists()  # perhaps another window's upload, waiting for Import
    service.close()


# What the kernel had not written back: a file's length may reach the disk without its
# blocks, so it comes back empty, or zero-filled to its full size, which only its hash shows.
@pytest.mark.parametrize("lost_on_power_cut", [None, "emptied", "zero-filled"])
@pytest.mark.parametrize(
    "recorded_boot", ["a boot before the power cut", None], ids=["other-boot", "boot-unknown"]
)
def test_restore_not_yet_on_disk_when_the_machine_restarted_is_verified_then_kept_or_undone(
    lost_on_power_cut, recorded_boot, tmp_path, monkeypatch
):
    scenario = build_scenario(tmp_path)
    process = scenario.restore_process(scenario.messed, crash_at="flushing")
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    # As the next start after a power cut sees it: another boot (or none known, as where the
    # system does not say), and maybe a file the kernel had not written back yet.
    with sqlite3.connect(scenario.data_dir / "envops.sqlite3") as db:
        db.execute("UPDATE journal SET boot_id = ?", (recorded_boot,))
    if recorded_boot is None:  # a system that does not say which boot this is
        monkeypatch.setattr(recovery, "current_boot_id", lambda: None)
    conf = scenario.target / "app.yaml"
    if lost_on_power_cut == "emptied":
        conf.write_bytes(b"")
    elif lost_on_power_cut == "zero-filled":
        conf.write_bytes(bytes(conf.stat().st_size))

    service, reports = _recover(scenario)
    assert scenario.state() == ("original" if lost_on_power_cut else "messed")
    assert [r.rolled_forward for r in reports] == [not lost_on_power_cut]
    status = EnvironmentStatus.UPDATE_FAILED if lost_on_power_cut else EnvironmentStatus.READY
    assert service.get_environment("billing").status is status
    assert service.activity("billing")[0].action is ActivityAction.RECOVERED
    assert [p.name for p in scenario.target.parent.iterdir()] == ["billing"]
    service.close()


def test_the_next_envops_command_puts_a_restore_killed_between_its_renames_right(tmp_path):
    # An operator's next command, not the window, is often the next start: it must recover
    # before it does anything else, not report a folder that is missing.
    scenario = build_scenario(tmp_path)
    process = scenario.restore_process(scenario.messed, crash_at="between-renames")
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    if folders_can_be_exchanged(tmp_path):
        # Exchanged in one step: never missing, the old tree not yet named as previous.
        assert scenario.state() == "messed"
    else:  # moved aside, the new one not yet in place
        assert not scenario.target.exists()

    shown = scenario.cli_process(["env", "show", "billing"])
    out, err = shown.communicate(timeout=60)
    assert shown.returncode == 0
    assert scenario.state() == "original"
    assert "status: Updating" not in out
    assert "envops: recovered billing:" in err and "rolled back" in err
