"""Restoring an environment from a saved backup: all or nothing, with the product's rules."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EnvironmentStatus, Outcome
from envops_desktop.domain.errors import (
    EnvironmentBusyError,
    InvalidInputError,
    NotFoundError,
    OperationCancelledError,
    OperationFailedError,
    VersionMismatchError,
)
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.domain.progress import CancelToken, Progress
from envops_desktop.service import EnvOpsService
from envops_desktop.service.flushing import current_boot_id
from envops_desktop.service.restore_commands import command_output
from envops_desktop.store.database import DATABASE_NAME
from tests.disks import folders_can_be_exchanged, needs_root_to_mount, small_disk
from tests.store_view import damage_blob, flipped_bit, tamper_with_manifest
from tests.trees import describe_tree, make_config_tree, mess_up


def add_billing_with_command(
    service, config_dir: Path, argv: list[str], timeout_seconds: float = 30
) -> None:
    command = RestoreCommand(argv=argv, timeout_seconds=timeout_seconds)
    service.add_environment("billing", config_dir, version="4.2.0", post_restore_command=command)


def test_restore_brings_back_contents_modes_links_and_times(service, environment, config_dir):
    original = describe_tree(config_dir)
    backup = service.create_backup("billing")
    mess_up(config_dir)
    env = service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == original
    assert env.status is EnvironmentStatus.READY
    assert env.last_restored_backup_id == backup.id


def test_a_program_listing_the_environment_during_a_restore_sees_all_old_or_all_new(
    service, tmp_path
):
    # A service rereading its configuration folder while a restore runs must never find a
    # mix of the two configurations, which a swap by copying would show it.
    target = tmp_path / "env"
    target.mkdir()
    for index in range(1500):
        (target / f"old-{index:04}.conf").write_text("old\n")
    service.add_environment("billing", target, version="4.2.0")
    old_names = frozenset(os.listdir(target))
    for path in list(target.iterdir()):
        path.rename(target / path.name.replace("old-", "new-"))
    new_names = frozenset(os.listdir(target))
    new = service.create_backup("billing", name="new")
    for path in list(target.iterdir()):
        path.rename(target / path.name.replace("new-", "old-"))

    seen: dict[str, int] = {"old": 0, "new": 0, "missing": 0, "mixed": 0}
    restoring = True

    def keep_listing() -> None:
        while restoring:
            try:
                names = frozenset(os.listdir(target))
            except FileNotFoundError:  # between two renames, where there is no exchange
                seen["missing"] += 1
                continue
            kind = {old_names: "old", new_names: "new"}.get(names, "mixed")
            seen[kind] += 1

    lister = threading.Thread(target=keep_listing)
    lister.start()
    try:
        service.restore_backup("billing", new.id)
    finally:
        restoring = False
        lister.join()
    assert frozenset(os.listdir(target)) == new_names
    assert seen["old"] > 0 and seen["mixed"] == 0, seen
    if folders_can_be_exchanged(tmp_path):
        assert seen["missing"] == 0, seen


def test_restore_leaves_nothing_beside_the_environment(service, environment, config_dir):
    backup = service.create_backup("billing")
    siblings_before = sorted(os.listdir(config_dir.parent))
    service.restore_backup("billing", backup.id)
    assert sorted(os.listdir(config_dir.parent)) == siblings_before


def test_successful_restore_writes_an_activity_entry_with_user(service, environment):
    backup = service.create_backup("billing", name="nightly")
    service.restore_backup("billing", backup.id)
    entry = service.activity("billing")[0]
    assert entry.action is ActivityAction.BACKUP_RESTORED
    assert entry.outcome is Outcome.SUCCESS
    assert entry.user == service.user
    assert "nightly" in entry.detail


def test_restore_with_mismatched_version_changes_nothing(service, environment, config_dir):
    backup = service.create_backup("billing")
    service.update_environment_version("billing", "5.0.0")
    mess_up(config_dir)
    before = describe_tree(config_dir)
    activity_before = len(service.activity("billing"))
    with pytest.raises(VersionMismatchError) as refused:
        service.restore_backup("billing", backup.id)
    assert str(refused.value).startswith(
        "The backup is version 4.2.0 but billing runs version 5.0.0"
    )
    assert "update the environment" in str(refused.value)
    assert refused.value.exit_code == 3
    assert describe_tree(config_dir) == before
    assert service.get_environment("billing").status is EnvironmentStatus.READY
    assert len(service.activity("billing")) == activity_before


def test_version_file_is_reread_before_restoring(service, config_dir):
    service.add_environment("billing", config_dir, version_file="VERSION")
    backup = service.create_backup("billing")
    (config_dir / "VERSION").write_text("4.3.0\n")
    # Recorded as 4.2.0 still: the restore reads the file itself.
    assert service.get_environment("billing").version == "4.2.0"
    with pytest.raises(VersionMismatchError):
        service.restore_backup("billing", backup.id)


def test_failing_post_restore_command_rolls_back_and_retry_succeeds(service, config_dir, tmp_path):
    flag = tmp_path / "healthy"
    check = [
        sys.executable,
        "-c",
        f"import os,sys; sys.exit(0 if os.path.exists({str(flag)!r}) else 7)",
    ]
    service.add_environment(
        "billing",
        config_dir,
        version="4.2.0",
        post_restore_command=RestoreCommand(argv=check, timeout_seconds=30),
    )
    wanted = describe_tree(config_dir)
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)

    with pytest.raises(OperationFailedError, match="exit code 7") as failed:
        service.restore_backup("billing", backup.id)
    assert "back in place" in str(failed.value)
    # Run again on the configuration put back, it failed there too, said once.
    assert str(failed.value).endswith(
        "back in place; its post-restore command was run again on it, and failed with exit code 7."
    )
    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED
    entry = service.activity("billing")[0]
    assert entry.action is ActivityAction.RESTORE_FAILED
    assert "exit code 7" in entry.detail

    flag.touch()
    env = service.restore_backup("billing", backup.id)
    assert env.status is EnvironmentStatus.READY
    assert describe_tree(config_dir) == wanted


def _service_commands(log: Path) -> tuple[RestoreCommand, RestoreCommand]:
    """A service that stops, and starts on the configuration's `mode` unless it is broken;
    each says what it did in `log`, outside the environment."""
    stop = RestoreCommand(argv=["sh", "-c", f"echo stopped >> '{log}'"])
    start = RestoreCommand(
        argv=[
            "sh",
            "-c",
            f'test "$(cat mode)" != broken && echo "started on $(cat mode)" >> \'{log}\'',
        ],
    )
    return stop, start


def test_a_service_that_fails_on_the_restored_configuration_is_started_again_on_the_old(
    service, config_dir, tmp_path
):
    log = tmp_path / "service.log"
    _, start = _service_commands(log)
    service.add_environment("billing", config_dir, version="4.2.0", post_restore_command=start)
    (config_dir / "mode").write_text("broken\n")
    broken = service.create_backup("billing", name="broken")
    (config_dir / "mode").write_text("good\n")
    good = describe_tree(config_dir)

    with pytest.raises(OperationFailedError) as failed:
        service.restore_backup("billing", broken.id)

    assert describe_tree(config_dir) == good
    assert log.read_text() == "started on good\n"  # after the swap back, on the old one
    said = "back in place; its post-restore command was run again on it"
    assert said in str(failed.value)
    assert service.activity("billing")[0].detail.endswith(said)
    assert service.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED
    # The failure's own output stays to be read.
    assert "exit code 1" in str(failed.value)
    env_id = service.get_environment("billing").id
    assert command_output(service.data_dir, env_id, "post-restore").exists()


@pytest.mark.parametrize("with_post_restore_command", [True, False])
def test_a_restore_cancelled_after_its_pre_restore_command_starts_the_service_again(
    service, config_dir, tmp_path, with_post_restore_command
):
    log = tmp_path / "service.log"
    stop, start = _service_commands(log)
    service.add_environment(
        "billing",
        config_dir,
        version="4.2.0",
        pre_restore_command=stop,
        post_restore_command=start if with_post_restore_command else None,
    )
    (config_dir / "mode").write_text("golden\n")
    golden = service.create_backup("billing", name="golden")
    (config_dir / "mode").write_text("edited\n")
    edited = describe_tree(config_dir)
    cancel = CancelToken()

    def cancel_once_backed_up(said: Progress) -> None:  # after the pre-restore command
        if said.phase == "backing up" and said.done == said.total:
            cancel.cancel()

    with pytest.raises(OperationCancelledError) as cancelled:
        service.restore_backup(
            "billing", golden.id, backup_first=True, progress=cancel_once_backed_up, cancel=cancel
        )

    assert describe_tree(config_dir) == edited
    if with_post_restore_command:
        assert log.read_text() == "stopped\nstarted on edited\n"
        said = (
            "its post-restore command was run to start again what the pre-restore command stopped"
        )
    else:
        assert log.read_text() == "stopped\n"
        said = (
            "what the pre-restore command stopped was not started again: "
            "there is no post-restore command"
        )
    assert (
        str(cancelled.value) == f"The restore was cancelled; billing is exactly as it was; {said}."
    )
    assert service.activity("billing")[1].detail.endswith(said)  # before the backup's deletion


def test_post_restore_command_that_hangs_times_out_and_rolls_back(service, config_dir):
    add_billing_with_command(
        service,
        config_dir,
        [sys.executable, "-c", "import time; time.sleep(60)"],
        timeout_seconds=0.5,
    )
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    with pytest.raises(OperationFailedError, match=r"did not finish within 0\.5 seconds"):
        service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED


def test_post_restore_command_runs_inside_the_restored_configuration(service, config_dir):
    add_billing_with_command(
        service,
        config_dir,
        [
            sys.executable,
            "-c",
            "import pathlib; pathlib.Path('app.yaml').read_text()"
            "; open('../ran', 'w').write(open('app.yaml').read())",
        ],
    )
    backup = service.create_backup("billing")
    original_yaml = (config_dir / "app.yaml").read_text()
    mess_up(config_dir)
    service.restore_backup("billing", backup.id)
    assert (config_dir.parent / "ran").read_text() == original_yaml


def test_a_post_restore_command_that_leaves_a_service_running_is_done_when_it_exits(
    service, config_dir, tmp_path
):
    # A restart that starts a daemon, which keeps the output it inherited open: the command
    # is over when its own process ends, and the daemon is left running, as started.
    pid_file = tmp_path / "daemon.pid"
    restart = f"sleep 60 & echo $! > {pid_file}; echo service restarted"
    add_billing_with_command(service, config_dir, ["sh", "-c", restart], timeout_seconds=10)
    backup = service.create_backup("billing")
    original = describe_tree(config_dir)
    mess_up(config_dir)

    began = time.monotonic()
    env = service.restore_backup("billing", backup.id)
    daemon = int(pid_file.read_text())
    try:
        assert time.monotonic() - began < 5  # not held until the 10 s timeout
        assert env.status is EnvironmentStatus.READY
        assert describe_tree(config_dir) == original
        os.kill(daemon, 0)  # still running: not killed with the command's group
        printed = command_output(service.data_dir, env.id, "post-restore").read_text()
        assert printed == "service restarted\n"
    finally:
        os.kill(daemon, signal.SIGKILL)


def test_a_failing_post_restore_commands_last_line_is_its_reason(service, config_dir):
    noisy = "seq 1 100000; echo the health check failed; exit 4"
    add_billing_with_command(service, config_dir, ["sh", "-c", noisy])
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)

    with pytest.raises(OperationFailedError) as failed:
        service.restore_backup("billing", backup.id)

    assert str(failed.value).startswith(
        "The post-restore command failed with exit code 4: the health check failed. "
    )
    assert describe_tree(config_dir) == messed


def test_cancelled_restore_leaves_the_old_configuration(service, environment, config_dir):
    for index in range(40):
        (config_dir / f"bulk{index}.bin").write_bytes(os.urandom(200_000))
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    cancel = CancelToken()

    def cancel_midway(progress: Progress) -> None:
        if progress.phase == "restoring" and progress.done > 0:
            cancel.cancel()

    with pytest.raises(OperationCancelledError, match="exactly as it was"):
        service.restore_backup("billing", backup.id, progress=cancel_midway, cancel=cancel)
    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.READY
    assert service.activity("billing")[0].outcome is Outcome.CANCELLED


def test_backup_first_keeps_the_current_configuration(service, environment, config_dir):
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    service.restore_backup("billing", backup.id, backup_first=True)
    pre_restore = service.list_backups("billing")[0]
    assert pre_restore.origin.value == "pre-restore"
    service.restore_backup("billing", pre_restore.id)
    assert describe_tree(config_dir) == messed


def test_restore_reports_progress_in_bytes(service, environment):
    backup = service.create_backup("billing")
    seen: list[Progress] = []
    service.restore_backup("billing", backup.id, progress=seen.append)
    restoring = [p for p in seen if p.phase == "restoring"]
    assert restoring[0].done == 0
    assert restoring[-1].done == restoring[-1].total == backup.total_bytes


def test_status_is_updating_while_the_restore_runs(service, environment, config_dir):
    backup = service.create_backup("billing")
    statuses = []

    def look(progress: Progress) -> None:
        statuses.append(service.get_environment("billing").status)

    service.restore_backup("billing", backup.id, progress=look)
    assert set(statuses) == {EnvironmentStatus.UPDATING}
    assert service.get_environment("billing").status is EnvironmentStatus.READY


def test_second_operation_on_a_busy_environment_is_refused(service, environment, config_dir):
    backup = service.create_backup("billing")
    started, release = threading.Event(), threading.Event()

    def hold(progress: Progress) -> None:
        started.set()
        release.wait(10)

    worker = threading.Thread(
        target=service.restore_backup, args=("billing", backup.id), kwargs={"progress": hold}
    )
    worker.start()
    try:
        assert started.wait(10)
        with pytest.raises(EnvironmentBusyError, match="busy"):
            service.restore_backup("billing", backup.id)
        with pytest.raises(EnvironmentBusyError):
            service.create_backup("billing")
    finally:
        release.set()
        worker.join()


def test_lock_holds_across_processes(service, environment, tmp_path):
    backup = service.create_backup("billing")
    lock_file = tmp_path / "data" / "locks" / f"env-{environment.id}.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f, fcntl.LOCK_EX);"
            "print('held', flush=True); time.sleep(30)",
            str(lock_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(EnvironmentBusyError):
            service.restore_backup("billing", backup.id)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # Once the other process lets go, the same restore goes ahead.
    assert service.restore_backup("billing", backup.id).status is EnvironmentStatus.READY


def test_restore_into_a_vanished_directory_is_refused(service, environment, config_dir):
    backup = service.create_backup("billing")
    shutil.rmtree(config_dir)
    with pytest.raises(NotFoundError, match="does not exist"):
        service.restore_backup("billing", backup.id)
    assert not config_dir.exists()
    assert service.get_environment("billing").status is EnvironmentStatus.READY


def test_damaged_stored_file_fails_the_restore_and_changes_nothing(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    for entry in service.backup_entries(backup.id):
        if entry.sha256:
            damage_blob(tmp_path / "data", entry.sha256, b"bit rot")
    with pytest.raises(OperationFailedError, match="damaged") as failed:
        service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED
    # Found before the folder was touched: nothing was "put back", and no one is told it was.
    assert "The configuration of billing was not changed." in str(failed.value)
    assert "back in place" not in str(failed.value)
    assert service.activity("billing")[0].detail.endswith("the configuration was not changed")


def _pack_lost(pack: Path) -> None:
    pack.unlink()  # a cleanup script, a failing disk


def _pack_made_a_folder(pack: Path) -> None:
    pack.unlink()  # a damaged disk, a bad fsck
    pack.mkdir()


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_pack_lost, "is missing from the backup store"),
        # Said to be the file written: "Could not write …pack: Is a directory".
        (_pack_made_a_folder, "is damaged (blob "),
    ],
    ids=["lost", "made-a-folder"],
)
def test_a_restore_from_a_damaged_store_names_the_file_and_changes_nothing(
    service, environment, config_dir, tmp_path, damage, said
):
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    for pack in (tmp_path / "data" / "objects" / "packs").iterdir():
        damage(pack)
    with pytest.raises(OperationFailedError) as failed:
        service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == messed
    assert str(failed.value).startswith("The stored copy of ")
    assert said in str(failed.value)
    assert "None" not in str(failed.value)
    # An export said of the file it writes that it could not be written, "Is a directory".
    with pytest.raises(OperationFailedError, match=r"^The stored copy of .*, so billing"):
        service.export_backup(backup.id, tmp_path / "billing.envops")
    assert not (tmp_path / "billing.envops").exists()


def test_a_failing_pre_restore_command_changes_nothing(service, config_dir):
    stop = RestoreCommand(argv=["sh", "-c", "echo service will not stop; exit 3"])
    service.add_environment("billing", config_dir, version="4.2.0", pre_restore_command=stop)
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)

    with pytest.raises(OperationFailedError, match="pre-restore command failed with exit code 3"):
        service.restore_backup("billing", backup.id)

    assert describe_tree(config_dir) == messed
    assert service.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED
    entry = service.activity("billing")[0]
    assert "service will not stop" in entry.detail
    assert entry.detail.endswith("the configuration was not changed")
    assert not any(p.name.startswith(".") for p in config_dir.parent.iterdir())  # no staging


def test_a_pre_restore_command_whose_program_is_not_there_is_named_and_changes_nothing(
    service, config_dir
):
    stop = RestoreCommand(argv=["billing-stop-service", "--now"])
    service.add_environment("billing", config_dir, version="4.2.0", pre_restore_command=stop)
    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)

    with pytest.raises(OperationFailedError) as failed:
        service.restore_backup("billing", backup.id)

    assert describe_tree(config_dir) == messed
    assert str(failed.value).startswith(
        "The pre-restore command could not start 'billing-stop-service': No such file or directory."
    )


def test_the_pre_restore_command_runs_in_the_old_configuration_once_the_new_is_written(
    service, config_dir, tmp_path
):
    seen = tmp_path / "seen-by-the-command"
    stop = RestoreCommand(argv=["sh", "-c", f"cat app.yaml > {seen}"])
    service.add_environment("billing", config_dir, version="4.2.0")
    service.set_restore_command("billing", "pre", stop)
    backup = service.create_backup("billing")
    wanted = describe_tree(config_dir)
    (config_dir / "app.yaml").write_text("the old configuration\n")

    service.restore_backup("billing", backup.id)

    assert seen.read_text() == "the old configuration\n"
    assert describe_tree(config_dir) == wanted
    assert service.get_environment("billing").pre_restore_command == stop


def _restored(service, backup, path: Path) -> None:
    service.restore_backup("billing", backup.id, backup_first=True)


def _imported_in_one_pass(service, backup, path: Path) -> None:
    exported = service.export_backup(backup.id, path)
    service.import_configuration_file(
        "billing", service.check_configuration_file(exported), backup_first=True
    )


def _imported_once_uploaded(service, backup, path: Path) -> None:
    exported = service.export_backup(backup.id, path)
    service.import_configuration(
        "billing", service.stage_configuration_file(exported), backup_first=True
    )


@pytest.mark.parametrize("put_back", [_restored, _imported_in_one_pass, _imported_once_uploaded])
def test_the_backup_first_holds_what_the_pre_restore_command_wrote_on_its_way_down(
    service, config_dir, tmp_path, put_back
):
    # A service that saves its state into its folder as it stops, as many do.
    stop = RestoreCommand(argv=["sh", "-c", "echo 'sessions: 42' > state.saved-on-stop"])
    service.add_environment("billing", config_dir, version="4.2.0", pre_restore_command=stop)
    golden = service.create_backup("billing", name="golden")
    wanted = describe_tree(config_dir)
    (config_dir / "app.yaml").write_text("edited since golden\n")
    replaced = describe_tree(config_dir)

    put_back(service, golden, tmp_path / "golden.envops.zip")

    assert describe_tree(config_dir) == wanted  # the restore put golden in place, as asked
    first = next(b for b in service.list_backups("billing") if b.origin.value == "pre-restore")
    assert first == service.list_backups("billing")[0]  # taken last, just before the swap
    service.restore_backup("billing", first.id)  # and it gives back what was replaced, whole
    assert (config_dir / "state.saved-on-stop").read_text() == "sessions: 42\n"
    # The folder's own time moved as the command added its file.
    now = describe_tree(config_dir)
    assert {p: e for p, e in now.items() if p not in (".", "state.saved-on-stop")} == {
        p: e for p, e in replaced.items() if p != "."
    }


def test_a_restore_cancelled_as_its_backup_first_ends_changes_nothing_and_keeps_no_backup(
    service, environment, config_dir
):
    golden = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    cancel = CancelToken()

    def cancel_once_backed_up(said: Progress) -> None:
        if said.phase == "backing up" and said.done == said.total:
            cancel.cancel()

    with pytest.raises(OperationCancelledError):
        service.restore_backup(
            "billing", golden.id, backup_first=True, progress=cancel_once_backed_up, cancel=cancel
        )

    assert describe_tree(config_dir) == messed
    assert [b.name for b in service.list_backups("billing")] == ["golden"]
    cancelled, deleted = (e.action for e in service.activity("billing")[1::-1])
    assert (cancelled, deleted) == (ActivityAction.RESTORE_CANCELLED, ActivityAction.BACKUP_DELETED)


def test_restore_refuses_a_backup_of_another_environment(service, environment, tmp_path):
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    service.add_environment("other", other_dir, version="4.2.0")
    backup = service.create_backup("billing")
    with pytest.raises(NotFoundError, match=r"it is a backup of billing.*--from billing"):
        service.restore_backup("other", backup.id)
    assert list(other_dir.iterdir()) == []


def _test_keeping_its_version_in_a_file(service, tmp_path) -> Path:
    """Environment test, at 4.2.0 as its own VERSION says, to restore billing's backups into."""
    test_dir = tmp_path / "test"
    make_config_tree(test_dir)
    service.add_environment("test", test_dir, version_file="VERSION")
    return test_dir


def _refused_as_another_version(service, backup) -> None:
    """billing's `backup` brings 5.0.0 into test: refused by a dry run's check and a restore."""
    with pytest.raises(VersionMismatchError, match=r"version 5\.0\.0 but test runs version 4\.2"):
        service.check_restore("test", backup.id, "billing")  # as a dry run checks
    with pytest.raises(VersionMismatchError, match=r"version 5\.0\.0 but test runs"):
        service.restore_backup("test", backup.id, from_environment="billing")


def test_a_backup_from_another_environment_brings_the_version_its_version_file_says(
    service, environment, config_dir, tmp_path
):
    # production keeps no version file; its backups hold a VERSION of their own anyway.
    (config_dir / "VERSION").write_text("5.0.0\n")
    newer = service.create_backup("billing")
    (config_dir / "VERSION").unlink()
    without = service.create_backup("billing")
    test_dir = _test_keeping_its_version_in_a_file(service, tmp_path)
    before = describe_tree(test_dir)

    _refused_as_another_version(service, newer)
    with pytest.raises(InvalidInputError, match="holds no VERSION, the file test keeps its"):
        service.restore_backup("test", without.id, from_environment="billing")
    assert describe_tree(test_dir) == before
    # Restoring only other paths leaves the folder's own VERSION, so that is allowed.
    service.restore_backup("test", newer.id, from_environment="billing", only=["app.yaml"])
    assert service.get_environment("test").version == "4.2.0"


def test_a_backup_from_another_environment_is_checked_through_its_version_files_links(
    service, environment, config_dir, tmp_path
):
    # production (no version file of its own) is laid out by a deploy tool.
    (config_dir / "VERSION").unlink()
    (config_dir / "releases" / "5.0.0").mkdir(parents=True)
    (config_dir / "releases" / "5.0.0" / "VERSION").write_text("5.0.0\n")
    os.symlink("releases/5.0.0", config_dir / "current")
    os.symlink("current/VERSION", config_dir / "VERSION")
    through_folders = service.create_backup("billing")
    outside = tmp_path / "opt" / "VERSION"  # the package manager's, outside either folder
    outside.parent.mkdir()
    outside.write_text("5.0.0\n")
    (config_dir / "VERSION").unlink()
    os.symlink(outside, config_dir / "VERSION")
    out_of_the_tree = service.create_backup("billing")
    (config_dir / "VERSION").unlink()
    os.symlink("VERSION", config_dir / "VERSION")
    in_a_loop = service.create_backup("billing")
    test_dir = _test_keeping_its_version_in_a_file(service, tmp_path)
    before = describe_tree(test_dir)

    for backup in (through_folders, out_of_the_tree):
        _refused_as_another_version(service, backup)
    with pytest.raises(InvalidInputError, match="as a link to VERSION, which leads to no file"):
        service.restore_backup("test", in_a_loop.id, from_environment="billing")
    assert describe_tree(test_dir) == before
    assert service.get_environment("test").version == "4.2.0"


@pytest.fixture
def read_only_folder():
    """Make a folder unwritable even for root (immutable) or, for other users, by its mode."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() == 0:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if result.returncode != 0:
                pytest.skip(f"this filesystem cannot make {path} immutable: {result.stderr!r}")
        else:
            os.chmod(path, 0o555)
        made.append(path)

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            os.chmod(path, 0o755)


def test_no_write_permission_on_the_parent_is_refused_before_anything_changes(
    service, environment, config_dir, read_only_folder
):
    backup = service.create_backup("billing")
    mess_up(config_dir)
    before = describe_tree(config_dir)
    activity_before = service.activity("billing")
    read_only_folder(config_dir.parent)
    refused = r"Cannot write in .* \((Operation not permitted|Permission denied)\)"
    with pytest.raises(OperationFailedError, match=refused):
        service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == before
    assert service.get_environment("billing").status is EnvironmentStatus.READY
    assert service.activity("billing") == activity_before


def test_round_trip_of_a_real_system_tree_is_identical(service, tmp_path):
    """Back up a copy of /usr/share/doc, damage it, restore: identical, links and modes too."""
    source = Path("/usr/share/doc")
    if not source.is_dir():
        pytest.skip("this machine has no /usr/share/doc to copy")
    tree = tmp_path / "doc"
    shutil.copytree(source, tree, symlinks=True)
    original = describe_tree(tree)
    service.add_environment("docs", tree, version="1")
    backup = service.create_backup("docs")
    victims = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())[:50]
    for index, path in enumerate(victims):
        if index % 2:
            path.unlink()
        else:
            path.write_text("changed")
            os.chmod(path, 0o600)
    os.symlink("/etc/passwd", tree / "planted-link")
    service.restore_backup("docs", backup.id)
    assert describe_tree(tree) == original
    diff = subprocess.run(["diff", "-r", "--no-dereference", str(source), str(tree)])
    assert diff.returncode == 0


def _journal(data_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        return db.execute("SELECT id, phase FROM journal ORDER BY started_at").fetchall()


def _beside(config_dir: Path) -> list[str]:
    return sorted(p.name for p in config_dir.parent.iterdir() if p != config_dir)


@pytest.mark.skipif(
    current_boot_id() is None, reason="restores settle later only where the boot is known"
)
def test_a_restore_settles_an_earlier_one_still_waiting_for_the_disk(
    service, environment, config_dir, tmp_path
):
    first = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    second = service.create_backup("billing")
    later = EnvOpsService(tmp_path / "data", settle_later=True)
    later.restore_backup("billing", first.id)
    [first_restore] = later.unsettled_restores()
    assert _journal(tmp_path / "data") == [(first_restore, "flushing")]
    assert len(_beside(config_dir)) == 1  # the previous configuration, kept until settled
    later.restore_backup("billing", second.id)
    [_, second_restore] = later.unsettled_restores()
    # Two unsettled restores of one environment could not both be undone: the first went.
    assert _journal(tmp_path / "data") == [(second_restore, "flushing")]
    assert len(_beside(config_dir)) == 1
    later.settle_restores([second_restore])
    assert _journal(tmp_path / "data") == []
    assert _beside(config_dir) == []
    assert describe_tree(config_dir) == messed
    later.close()


def test_a_cancelled_restore_is_logged_as_cancelled(service, environment, config_dir):
    from envops_desktop.domain.enums import ActivityAction, Outcome
    from envops_desktop.domain.errors import OperationCancelledError
    from envops_desktop.domain.progress import CancelToken

    backup = service.create_backup("billing")
    cancel = CancelToken()

    def cancel_midway(_progress) -> None:
        cancel.cancel()

    with pytest.raises(OperationCancelledError):
        service.restore_backup("billing", backup.id, False, cancel_midway, cancel)
    entry = service.activity("billing")[0]
    assert entry.action is ActivityAction.RESTORE_CANCELLED
    assert entry.outcome is Outcome.CANCELLED


def test_the_backup_taken_first_is_named_for_the_restore_it_precedes(
    service, environment, config_dir
):
    golden = service.create_backup("billing", name="Nightly")
    mess_up(config_dir)
    service.restore_backup("billing", golden.id, backup_first=True)
    first = service.list_backups("billing")[0]
    assert first.origin is BackupOrigin.PRE_RESTORE
    assert first.name == "Before restoring 'Nightly'"


def test_a_tree_already_backed_up_is_not_backed_up_again_before_a_restore(
    service, environment, config_dir
):
    golden = service.create_backup("billing", name="Nightly")
    mess_up(config_dir)
    service.restore_backup("billing", golden.id, backup_first=True)
    # Restoring again, nothing changed: the tree is exactly Nightly's.
    service.restore_backup("billing", golden.id, backup_first=True)
    service.restore_backup("billing", golden.id, backup_first=True)
    names = [b.name for b in service.list_backups("billing")]
    assert names == ["Before restoring 'Nightly'", "Nightly"]
    said = service.activity("billing", limit=20)
    assert any("exactly as backed up in Nightly" in e.detail for e in said)


def test_a_cancelled_restore_leaves_no_backup_taken_for_it(service, environment, config_dir):
    from envops_desktop.domain.errors import OperationCancelledError
    from envops_desktop.domain.progress import CancelToken

    golden = service.create_backup("billing", name="Nightly")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    cancel = CancelToken()

    def cancel_once_restoring(progress) -> None:
        if progress.phase == "restoring":
            cancel.cancel()

    with pytest.raises(OperationCancelledError):
        service.restore_backup("billing", golden.id, True, cancel_once_restoring, cancel)
    assert [b.name for b in service.list_backups("billing")] == ["Nightly"]
    assert describe_tree(config_dir) == messed


def _other_mtimes(text: bytes, _body: bytes) -> bytes:
    import zstandard

    changed = text.replace(b"1", b"2", 3)  # still decodes: only its checksum tells
    return zstandard.ZstdCompressor().compress(changed)


@pytest.mark.parametrize("damage", [_other_mtimes, flipped_bit])
def test_a_damaged_stored_manifest_is_found_by_verify_and_refused_by_restore(
    service, environment, config_dir, tmp_path, damage
):
    from envops_desktop.domain.errors import OperationFailedError

    backup = service.create_backup("billing")
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    tamper_with_manifest(tmp_path / "data", damage)
    report = service.check_store()
    assert not report.healthy and len(report.damaged_manifests) == 1
    with pytest.raises(OperationFailedError, match="is damaged"):
        service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == messed
    with pytest.raises(OperationFailedError, match="is damaged"):
        service.export_backup(backup.id, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


@needs_root_to_mount
def test_a_disk_out_of_inodes_is_named_as_such_and_the_restore_changes_nothing(service, tmp_path):
    with small_disk(tmp_path / "small", "64m", files=70) as disk:
        folder = disk / "billing"
        make_config_tree(folder, files=40)  # with its folders, most of the 70
        service.add_environment("billing", folder, version="4.2.0")
        backup = service.create_backup("billing")
        before = describe_tree(folder)
        with pytest.raises(OperationFailedError) as refused:
            service.restore_backup("billing", backup.id)
        assert describe_tree(folder) == before
        assert [p.name for p in disk.iterdir()] == ["billing"]  # no staging left
    message = str(refused.value)
    assert "has no room for more files: every one of its" in message
    assert "inodes is in use" in message and "see df -i" in message


@needs_root_to_mount
def test_too_little_space_says_what_the_restore_needs_margin_included(service, tmp_path):
    with small_disk(tmp_path / "small", "8m") as disk:
        folder = disk / "billing"
        folder.mkdir()
        (folder / "big.bin").write_bytes(os.urandom(1 << 20))
        service.add_environment("billing", folder, version="4.2.0")
        backup = service.create_backup("billing")
        with pytest.raises(OperationFailedError) as refused:
            service.restore_backup("billing", backup.id)
    message = str(refused.value)
    assert "needs 17 MiB (1 MiB of files and 16 MiB to spare) and" in message


def test_environments_nested_in_each_other_are_never_restored_at_once(service, tmp_path):
    # /etc and /etc/nginx, say: a restore of the one replaces the other's files, and a
    # restore of the inner one under way would be lost in the old outer folder.
    outer, inner = tmp_path / "etc", tmp_path / "etc" / "nginx"
    make_config_tree(outer)
    make_config_tree(inner)
    started, go = tmp_path / "started", tmp_path / "go"
    waiting = RestoreCommand(
        argv=["sh", "-c", f"touch '{started}'; until [ -e '{go}' ]; do sleep 0.05; done"]
    )
    service.add_environment("etc", outer, version="1", pre_restore_command=waiting)
    service.add_environment("nginx", inner, version="1")
    outer_backup = service.create_backup("etc")
    inner_backup = service.create_backup("nginx")
    mess_up(inner)
    messed = describe_tree(inner)
    restoring = threading.Thread(target=service.restore_backup, args=("etc", outer_backup.id))
    restoring.start()
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline and restoring.is_alive()
            time.sleep(0.05)

        with pytest.raises(EnvironmentBusyError, match="etc, whose folder holds nginx's, is busy"):
            service.restore_backup("nginx", inner_backup.id)
        assert describe_tree(inner) == messed
    finally:
        go.touch()
        restoring.join(timeout=60)
    assert service.get_environment("etc").status is EnvironmentStatus.READY
    assert service.restore_backup("nginx", inner_backup.id).status is EnvironmentStatus.READY
