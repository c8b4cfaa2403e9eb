"""One restore per shared environment across workstations, through its lock in the bucket."""

import signal
import sys
import threading
import time

import pytest

from envops_desktop.cli import main
from envops_desktop.domain.enums import EnvironmentStatus
from envops_desktop.domain.errors import (
    EnvironmentBusyError,
    InvalidInputError,
    OperationFailedError,
)
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService
from envops_desktop.store.leases import LeaseLostError
from tests.reliability.scenario import envops_process
from tests.trees import describe_tree, make_config_tree, mess_up, rsync_differences, snapshot

PASSPHRASE = "one team, one passphrase"


@pytest.fixture
def shared_billing(bucket, s3_endpoint, tmp_path):
    """billing on A and on B, shared through one bucket, with one backup each side has; B's
    restores run a post-restore command that takes two seconds."""
    url = f"s3://{bucket}/team"
    a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
    for service, side in ((a, "a"), (b, "b")):
        service.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
        make_config_tree(tmp_path / f"on-{side}")
    a.add_environment("billing", tmp_path / "on-a", version="4.2.0")
    slow = RestoreCommand(argv=[sys.executable, "-c", "import time; time.sleep(2)"])
    b.add_environment("billing", tmp_path / "on-b", version="4.2.0", post_restore_command=slow)
    backup = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    yield a, b, backup
    a.close()
    b.close()


def test_a_second_workstation_is_refused_with_exit_4_naming_who_restores(
    shared_billing, tmp_path, capsys, monkeypatch
):
    a, b, backup = shared_billing
    a.close()  # A is the command line below
    restoring = threading.Thread(target=b.restore_backup, args=("billing", backup.id))
    restoring.start()
    try:
        deadline = time.monotonic() + 30
        while b.get_environment("billing").status is not EnvironmentStatus.UPDATING:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        before = describe_tree(tmp_path / "on-a")
        monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
        code = main(["--data-dir", str(tmp_path / "a"), "restore", "billing", "nightly", "--yes"])
        err = capsys.readouterr().err
    finally:
        restoring.join(60)
    assert code == 4
    assert err.startswith("envops: billing is being restored by ")
    assert "@" in err and " since " in err
    assert describe_tree(tmp_path / "on-a") == before
    # Once B is done, A goes ahead.
    code = main(["--data-dir", str(tmp_path / "a"), "restore", "billing", "nightly", "--yes"])
    assert code == 0, capsys.readouterr().err


def test_a_workstation_that_lost_its_lock_does_not_swap(shared_billing, tmp_path):
    a, _, backup = shared_billing
    tree = tmp_path / "on-a"
    mess_up(tree)
    before = describe_tree(tree)
    objects = a._opened_store.objects

    def another_takes_the_lock_over(progress) -> None:
        if progress.phase == "restoring" and progress.total:
            for name in objects.keys("locks/"):
                current = objects.head(name)
                objects.put(name, b"taken over", if_match=current.etag)

    with pytest.raises(OperationFailedError, match="took the lock on billing over") as lost:
        a.restore_backup("billing", backup.id, progress=another_takes_the_lock_over)
    assert isinstance(lost.value.__cause__, LeaseLostError)
    assert "billing was not changed" in str(lost.value)
    assert describe_tree(tree) == before


def test_a_shared_environment_is_not_restored_without_the_stores_passphrase(
    shared_billing, tmp_path
):
    _, _, backup = shared_billing
    fresh = EnvOpsService(tmp_path / "a")  # as a new process: nothing unlocked
    with pytest.raises(InvalidInputError, match="needs its passphrase"):
        fresh.restore_backup("billing", backup.id)
    fresh.close()


def test_an_environment_never_shared_needs_no_passphrase(bucket, s3_endpoint, tmp_path):
    service = EnvOpsService(tmp_path / "a")
    service.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    make_config_tree(tmp_path / "mine")
    service.add_environment("mine", tmp_path / "mine", version="1")
    backup = service.create_backup("mine")
    service.close()
    fresh = EnvOpsService(tmp_path / "a")
    fresh.restore_backup("mine", backup.id)
    fresh.close()


def test_a_killed_lock_holder_is_taken_over_and_its_recovery_keeps_the_newer_restore(
    bucket, s3_endpoint, tmp_path, monkeypatch
):
    url = f"s3://{bucket}/team"
    share = tmp_path / "share"  # one folder both workstations reach
    make_config_tree(share)
    a = EnvOpsService(tmp_path / "a")
    a.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint, lease_seconds=2)
    a.add_environment("billing", share, version="4.2.0")
    first = a.create_backup("billing", name="first")
    (share / "added.conf").write_text("second = yes\n")
    second = a.create_backup("billing", name="second")
    second_tree = snapshot(share, tmp_path / "second-tree")
    a.sync_shared_store(PASSPHRASE)
    a.close()
    b = EnvOpsService(tmp_path / "b")
    b.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    b.add_environment("billing", share, version="4.2.0")
    b.sync_shared_store(PASSPHRASE)
    mess_up(share)  # what both restores replace

    # A restores `first` and is killed right after its swap, holding the lock.
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    killed = envops_process(
        tmp_path / "a", ["restore", "billing", first.id, "--yes"], crash_at="swapped"
    )
    assert killed.wait(60) == -signal.SIGKILL
    # B is refused while A's lease runs, and restores `second` once it lapsed.
    deadline = time.monotonic() + 30
    while True:
        try:
            b.restore_backup("billing", second.id)
            break
        except EnvironmentBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.25)
    assert rsync_differences(second_tree, share) == []
    b.close()

    # A comes back while the store cannot be reached: not knowing, it changes nothing.
    settings_file = tmp_path / "a" / "shared-store.json"
    reachable = settings_file.read_text()
    settings_file.write_text(reachable.replace(s3_endpoint, "http://127.0.0.1:9"))
    unreachable = envops_process(tmp_path / "a", ["activity", "billing"])
    out, err = unreachable.communicate(timeout=120)
    assert "waits for the shared store, which could not be reached" in err, err
    assert rsync_differences(second_tree, share) == []
    settings_file.write_text(reachable)
    # With the store back, its recovery leaves B's newer restore alone.
    came_back = envops_process(tmp_path / "a", ["activity", "billing"])
    out, err = came_back.communicate(timeout=60)
    assert came_back.returncode == 0, err
    assert "left alone: another workstation took the lock over and restored billing" in err + out
    assert rsync_differences(second_tree, share) == []
    assert sorted(p.name for p in share.parent.iterdir() if "envops" in p.name) == []
    a = EnvOpsService(tmp_path / "a")
    assert a.get_environment("billing").status is EnvironmentStatus.READY
    a.close()
