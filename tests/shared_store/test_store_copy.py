"""`envops store copy --to`: a data folder's store copied into a bucket, resumably, verified."""

import hashlib
import os
import sys

import pytest

from envops_desktop.cli import main
from envops_desktop.domain.errors import OperationCancelledError
from envops_desktop.domain.progress import CancelToken
from envops_desktop.service import EnvOpsService
from tests.spies import SlowView
from tests.trees import make_config_tree, rsync_differences, snapshot

PASSPHRASE = "one team, one passphrase"


@pytest.fixture
def alone(tmp_path):
    """A workstation that never shared anything: billing with two backups, one with a
    file of two parts; and the tree as each has it."""
    service = EnvOpsService(tmp_path / "alone")
    tree = tmp_path / "billing"
    make_config_tree(tree, files=20)
    service.add_environment("billing", tree, version="4.2.0")
    monday = service.create_backup("billing", name="monday")
    snapshot(tree, tmp_path / "monday")
    (tree / "big.bin").write_bytes(os.urandom((16 << 20) + 4321))
    tuesday = service.create_backup("billing", name="tuesday")
    snapshot(tree, tmp_path / "tuesday")
    yield service, monday, tuesday
    service.close()


def _restore_on_a_new_workstation(tmp_path, url, endpoint, name, like) -> None:
    b = EnvOpsService(tmp_path / "b")
    b.use_shared_store(url, PASSPHRASE, endpoint=endpoint)
    there = tmp_path / "on-b"
    there.mkdir(exist_ok=True)
    if not b.list_environments():
        b.add_environment("billing", there, version="4.2.0")
    b.sync_shared_store(PASSPHRASE)
    b.restore_backup("billing", b.find_backup("billing", name).id)
    assert rsync_differences(like, there) == []
    b.close()


def test_a_store_copied_into_a_bucket_restores_on_another_workstation(
    alone, bucket, s3_endpoint, tmp_path, capsys, monkeypatch
):
    service, _, _ = alone
    service.close()
    url = f"s3://{bucket}/copied"
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    args = ["--data-dir", str(tmp_path / "alone"), "store", "copy", "--to", url]
    assert main([*args, "--endpoint", s3_endpoint]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Copied 2 backups to s3://{bucket}/copied/ at {s3_endpoint} (0 were")
    assert "read back and verified" in out
    # The data folder is not connected to the bucket by a copy.
    assert EnvOpsService(tmp_path / "alone").shared_store() is None
    _restore_on_a_new_workstation(tmp_path, url, s3_endpoint, "tuesday", tmp_path / "tuesday")
    _restore_on_a_new_workstation(tmp_path, url, s3_endpoint, "monday", tmp_path / "monday")


def test_the_verification_of_a_copy_shows_its_progress_through_a_large_file(
    alone, bucket, s3_endpoint, tmp_path
):
    service, _, _ = alone
    big = os.urandom(64 << 20)  # four parts, read back a request each
    (tmp_path / "billing" / "image.bin").write_bytes(big)
    service.create_backup("billing", name="wednesday")
    reports = SlowView()

    service.copy_store(f"s3://{bucket}/copied", PASSPHRASE, s3_endpoint, progress=reports)

    sha = hashlib.sha256(big).hexdigest()
    checking = [p.done for p in reports if p.phase == "verifying" and p.path == sha]
    assert len(checking) >= 2  # before: once, when all four parts were read back
    assert checking == sorted(checking)


def test_a_copy_cut_off_sends_only_what_is_missing_when_run_again(
    alone, bucket, s3_endpoint, tmp_path
):
    service, monday, tuesday = alone
    url = f"s3://{bucket}/copied"
    first: list[str] = []
    token = CancelToken()

    def cut_off_after_monday(progress) -> None:
        if progress.phase == "uploading" and progress.path:
            first.append(progress.path)
        if progress.phase == "sharing" and progress.path == "tuesday":
            token.cancel()  # before tuesday is recorded, after its contents went up

    with pytest.raises(OperationCancelledError):
        service.copy_store(url, PASSPHRASE, s3_endpoint, None, cut_off_after_monday, token)
    again: list[str] = []
    report = service.copy_store(
        url,
        PASSPHRASE,
        s3_endpoint,
        progress=lambda p: again.append(p.path) if p.phase == "uploading" and p.path else None,
    )
    assert report.already == ["monday"] and report.copied == ["tuesday"]
    assert not set(again) & set(first)  # nothing sent twice
    assert report.verified_files == len(
        {e.sha256 for b in (monday, tuesday) for e in service.backup_entries(b.id) if e.sha256}
    )
    _restore_on_a_new_workstation(tmp_path, url, s3_endpoint, "tuesday", tmp_path / "tuesday")


def test_a_copy_damaged_in_the_bucket_fails_its_verification(alone, bucket, s3_endpoint, tmp_path):
    import boto3

    service, _, _ = alone
    url = f"s3://{bucket}/copied"
    service.copy_store(url, PASSPHRASE, s3_endpoint)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    packs = client.list_objects_v2(Bucket=bucket, Prefix="copied/data/")["Contents"]
    name = max(packs, key=lambda item: item["Size"])["Key"]
    body = bytearray(client.get_object(Bucket=bucket, Key=name)["Body"].read())
    body[len(body) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=name, Body=bytes(body))
    from envops_desktop.domain.errors import OperationFailedError

    with pytest.raises(OperationFailedError, match="is damaged in the copy in"):
        service.copy_store(url, PASSPHRASE, s3_endpoint)


def test_a_store_copied_back_from_a_bucket_restores_here_without_connecting(
    alone, bucket, s3_endpoint, tmp_path, capsys, monkeypatch
):
    service, _, _ = alone
    url = f"s3://{bucket}/copied"
    make_config_tree(tmp_path / "payroll-tree", files=3)
    service.add_environment("payroll", tmp_path / "payroll-tree", version="1")
    service.create_backup("payroll")
    service.copy_store(url, PASSPHRASE, s3_endpoint)
    service.close()
    back = EnvOpsService(tmp_path / "back")
    there = tmp_path / "billing-here"
    there.mkdir()
    back.add_environment("billing", there, version="4.2.0")
    back.close()
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    args = ["--data-dir", str(tmp_path / "back"), "store", "copy", "--from", url]

    assert main([*args, "--endpoint", s3_endpoint]) == 0

    out = capsys.readouterr().out
    assert out.startswith(f"Copied 2 backups from s3://{bucket}/copied/ at {s3_endpoint} (0 were")
    assert "In the store but not here: payroll" in out
    back = EnvOpsService(tmp_path / "back")
    assert back.shared_store() is None
    back.restore_backup("billing", back.find_backup("billing", "tuesday").id)
    assert rsync_differences(tmp_path / "tuesday", there) == []
    assert back.check_store().healthy
    back.close()


def test_a_copy_back_cut_off_takes_in_the_rest_when_run_again_and_not_what_the_team_deleted(
    alone, bucket, s3_endpoint, tmp_path
):
    service, monday, tuesday = alone
    url = f"s3://{bucket}/copied"
    service.copy_store(url, PASSPHRASE, s3_endpoint)
    service.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    service.sync_shared_store(PASSPHRASE)
    wednesday = service.create_backup("billing", name="wednesday")
    service.sync_shared_store(PASSPHRASE)
    service.delete_backup(monday.id)
    service.sync_shared_store(PASSPHRASE)  # the team is told monday is gone
    back = EnvOpsService(tmp_path / "back")
    (tmp_path / "billing-here").mkdir()
    back.add_environment("billing", tmp_path / "billing-here", version="4.2.0")
    token = CancelToken()

    def cut_off_after_the_first(progress) -> None:
        if back.list_backups("billing"):
            token.cancel()

    with pytest.raises(OperationCancelledError):
        back.copy_store(
            url, PASSPHRASE, s3_endpoint, None, cut_off_after_the_first, token, back=True
        )
    report = back.copy_store(url, PASSPHRASE, s3_endpoint, back=True)

    assert report.already == 1 and len(report.copied) == 1
    assert {b.id for b in back.list_backups("billing")} == {tuesday.id, wednesday.id}
    back.close()
