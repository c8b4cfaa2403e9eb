"""Garbage collection in the shared store: deleted backups wait in the bin, and a collection
on A never frees what a backup running on B relies on."""

import hashlib
import os
import threading
import time

import pytest

from envops_desktop.cli import main
from envops_desktop.service import EnvOpsService
from tests.trees import make_config_tree, rsync_differences, snapshot

PASSPHRASE = "one team, one passphrase"
LEASE = 2.0  # the store's lease (and so the collection's grace period), short for tests


@pytest.fixture
def team(bucket, s3_endpoint, tmp_path):
    """A and B share billing through one store; A shared `nightly`, and `extra`, which alone
    held `report.bin`; B took both in."""
    url = f"s3://{bucket}/team"
    a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
    a.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint, lease_seconds=LEASE)
    b.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    on_a, on_b = tmp_path / "on-a", tmp_path / "on-b"
    make_config_tree(on_a, files=30)
    on_b.mkdir()
    a.add_environment("billing", on_a, version="4.2.0")
    b.add_environment("billing", on_b, version="4.2.0")
    a.create_backup("billing", name="nightly")
    # The folder as nightly has it, to compare restores with.
    snapshot(on_a, tmp_path / "nightly")
    a.sync_shared_store(PASSPHRASE)
    report = os.urandom(3 << 20)
    (on_a / "report.bin").write_bytes(report)
    extra = a.create_backup("billing", name="extra")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    yield a, b, extra, report
    a.close()
    b.close()


def _objects(service: EnvOpsService, under: str) -> set[str]:
    return set(service._opened_store.objects.keys(under))


def _restores_on_a_new_workstation(tmp_path, bucket, s3_endpoint, backup_name: str, like):
    """A third workstation rebuilt from the bucket alone restores `backup_name` as `like`."""
    c = EnvOpsService(tmp_path / "c")
    c.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    there = tmp_path / "on-c"
    there.mkdir()
    c.add_environment("billing", there, version="4.2.0")
    c.sync_shared_store(PASSPHRASE)
    c.restore_backup("billing", c.find_backup("billing", backup_name).id)
    assert rsync_differences(like, there) == []
    assert c.check_store().healthy
    c.close()


def test_a_deleted_backup_waits_in_the_bin_and_prune_then_frees_it(
    team, tmp_path, bucket, s3_endpoint, capsys, monkeypatch
):
    a, b, extra, _ = team
    a.delete_backup(extra.id)
    packs_before = _objects(a, "data/")
    a.sync_shared_store(PASSPHRASE)
    # B follows the team's deletion at its next sync, and never takes it in again.
    assert b.sync_shared_store(PASSPHRASE).deleted == ["extra"]
    assert [backup.name for backup in b.list_backups("billing")] == ["nightly"]
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)

    # Within the bin's seven days, nothing of it is freed.
    assert main(["--data-dir", str(tmp_path / "a"), "store", "prune"]) == 0
    assert capsys.readouterr().out.startswith("Freed 0 packs")
    assert _objects(a, "data/") == packs_before
    assert f"backups/{extra.id}" in _objects(a, "backups/")

    assert main(["--data-dir", str(tmp_path / "a"), "store", "prune", "--bin-days", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Freed 1 packs (3.0 MiB) and 1 deleted backups: extra.")
    assert f"backups/{extra.id}" not in _objects(a, "backups/")
    assert len(_objects(a, "data/")) == len(packs_before) - 1
    assert _objects(a, "prune/") == set() and _objects(a, "locks/") == set()
    # What is left is whole: a workstation rebuilt from the bucket restores nightly.
    _restores_on_a_new_workstation(tmp_path, bucket, s3_endpoint, "nightly", tmp_path / "nightly")
    assert b.sync_shared_store(PASSPHRASE).pulled == []


def _prune_in_background(a: EnvOpsService) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = a.prune_shared_store(PASSPHRASE, bin_days=0)
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _deleted_on_a_followed_by_b_who_backs_up_its_content(a, b, extra, tmp_path, report):
    """A deletes `extra` and B follows; then B backs up the very content `extra` alone held,
    which B's cache says is in the pack garbage collection is about to free."""
    a.delete_backup(extra.id)
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    _b_backs_up_report_bin_again(b, tmp_path, report)


def _b_backs_up_report_bin_again(b: EnvOpsService, tmp_path, report: bytes):
    """B's folder gets the very content `extra` alone held: B's cache says the store has it,
    in the pack garbage collection is about to free."""
    on_b = tmp_path / "on-b"
    make_config_tree(on_b, files=5)
    (on_b / "report.bin").write_bytes(report)
    return b.create_backup("billing", name="from b")


def test_a_collection_waits_for_a_backup_that_registered_before_it_marked(
    team, tmp_path, bucket, s3_endpoint
):
    a, b, extra, report = team
    _deleted_on_a_followed_by_b_who_backs_up_its_content(a, b, extra, tmp_path, report)
    pruning: list = []

    def hold_until_marked_and_past_the_grace(progress) -> None:
        # B has confirmed what it relies on, before A marked; it records only after A would
        # have freed the marked packs, had A not waited for it.
        if progress.phase == "sharing" and not pruning:
            pruning.append(_prune_in_background(a))
            _until(lambda: _objects(b, "prune/"))
            time.sleep(LEASE + 1.5)

    assert b.sync_shared_store(PASSPHRASE, hold_until_marked_and_past_the_grace).pushed == [
        "from b"
    ]
    thread, outcome = pruning[0]
    thread.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].waited_for  # B's backup, running when A marked
    assert outcome["report"].backups == ["extra"]
    _restores_on_a_new_workstation(tmp_path, bucket, s3_endpoint, "from b", tmp_path / "on-b")
    assert b.check_store().healthy


def _third_workstation_backing_up(tmp_path, bucket, s3_endpoint):
    """D's sync, paused right before it records its backup until the event is set: a
    backup running on a third workstation, which a collection that marks now waits for."""
    d = EnvOpsService(tmp_path / "d")
    d.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    make_config_tree(tmp_path / "on-d", files=3)
    d.add_environment("billing", tmp_path / "on-d", version="4.2.0")
    d.create_backup("billing", name="from d")
    recording, go_on = threading.Event(), threading.Event()

    def pause(progress) -> None:
        if progress.phase == "sharing":
            recording.set()
            go_on.wait(60)

    thread = threading.Thread(target=d.sync_shared_store, args=(PASSPHRASE, pause))
    thread.start()
    recording.wait(30)
    return d, thread, go_on


def test_a_backup_that_starts_after_a_collection_marked_sends_again_what_it_would_lose(
    team, tmp_path, bucket, s3_endpoint
):
    a, b, extra, report = team
    _deleted_on_a_followed_by_b_who_backs_up_its_content(a, b, extra, tmp_path, report)
    d, d_syncing, d_go_on = _third_workstation_backing_up(tmp_path, bucket, s3_endpoint)
    pruning, outcome = _prune_in_background(a)  # waits for D, with extra's pack marked
    _until(lambda: _objects(b, "prune/"))
    # B registers after the marking, by more than the second of a server's clock (the
    # marking's second may have all but ended when it was seen).
    time.sleep(2.5)
    uploaded: list[str] = []

    def record_only_once_the_collection_is_done(progress) -> None:
        if progress.phase == "uploading" and progress.path:
            uploaded.append(progress.path)
        if progress.phase == "sharing" and progress.path == "from b":
            d_go_on.set()
            pruning.join(60)

    b.sync_shared_store(PASSPHRASE, record_only_once_the_collection_is_done)
    d_syncing.join(60)
    d.close()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].waited_for  # D's
    assert outcome["report"].packs == 1  # extra's pack went; B had sent report.bin again
    assert hashlib.sha256(report).hexdigest() in uploaded
    _restores_on_a_new_workstation(tmp_path, bucket, s3_endpoint, "from b", tmp_path / "on-b")


def test_a_backup_whose_cache_names_a_freed_pack_sends_the_content_again(
    team, tmp_path, bucket, s3_endpoint
):
    a, b, extra, report = team
    a.delete_backup(extra.id)
    a.sync_shared_store(PASSPHRASE)
    a.prune_shared_store(PASSPHRASE, bin_days=0)
    # B has not synced since: its cache still says report.bin is in the freed pack.
    _b_backs_up_report_bin_again(b, tmp_path, report)
    assert b.sync_shared_store(PASSPHRASE).pushed == ["from b"]
    _restores_on_a_new_workstation(tmp_path, bucket, s3_endpoint, "from b", tmp_path / "on-b")


def test_a_second_collection_is_refused_naming_the_first(team, tmp_path):
    a, b, _, _ = team
    from envops_desktop.domain.errors import EnvironmentBusyError
    from envops_desktop.service.store_prune import STORE_LOCK
    from envops_desktop.store import leases

    opened = a.unlock_shared_store(PASSPHRASE)
    holder = leases.Holder("alice", "ops-laptop", 1, "pruned")
    held = leases.acquire(opened.objects, opened.key, STORE_LOCK, "the shared store", holder)
    try:
        with pytest.raises(EnvironmentBusyError, match="the shared store is being pruned by alice"):
            b.prune_shared_store(PASSPHRASE)
    finally:
        leases.release(opened.objects, held)
