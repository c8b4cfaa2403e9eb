"""Two workstations, one bucket: a backup made on A restores on B, as an untrusted one."""

import hashlib
import io
import os
import shutil
import stat
import time
from pathlib import Path

import boto3
import pytest
import zstandard

from envops_desktop.cli import main
from envops_desktop.domain.enums import ActivityAction
from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.service import EnvOpsService, shared_layout
from envops_desktop.service.sharing import SyncReport
from tests.spies import SlowView
from tests.store_view import flipped_bit, tamper_with_manifest
from tests.trees import describe_tree, make_config_tree, mess_up

PASSPHRASE = "one team, one passphrase"
SECRET = b"db_password = s3cr3t-hunter2\n"


@pytest.fixture
def workstations(bucket, s3_endpoint, tmp_path):
    """Data folders A and B connected to one store; A has billing with a backup."""
    url = f"s3://{bucket}/team"
    a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
    a.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    b.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    tree = tmp_path / "on-a" / "billing"
    make_config_tree(tree, files=40)
    (tree / "conf.d" / "secret.ini").write_bytes(SECRET)
    (tree / "big.bin").write_bytes(os.urandom((16 << 20) + 12345))  # more than one part
    a.add_environment("billing", tree, version="4.2.0")
    yield a, b, tree
    a.close()
    b.close()


def test_a_backup_made_on_a_restores_on_b_byte_for_byte(workstations, tmp_path):
    a, b, tree = workstations
    made = a.create_backup("billing", name="before upgrade")
    assert a.sync_shared_store(PASSPHRASE).pushed == ["before upgrade"]
    there = tmp_path / "on-b" / "billing"
    make_config_tree(there)
    b.add_environment("billing", there, version="4.2.0")

    report = b.sync_shared_store(PASSPHRASE)

    assert report.pulled == ["before upgrade"]
    pulled = b.get_backup(made.id)
    assert pulled.made_on is not None and pulled.made_on.endswith("@" + os.uname().nodename)
    b.restore_backup("billing", made.id, backup_first=True)
    assert describe_tree(there) == describe_tree(tree)
    # B's backup taken before the restore is the team's too; nothing moves twice.
    again = b.sync_shared_store(PASSPHRASE)
    assert (again.pushed, again.pulled) == (["Before restoring 'before upgrade'"], [])
    assert a.sync_shared_store(PASSPHRASE).pulled == ["Before restoring 'before upgrade'"]
    assert b.sync_shared_store(PASSPHRASE) == SyncReport()
    assert b.check_store().healthy


def test_a_symlink_and_a_fifo_of_two_names_come_back_linked_on_b(workstations, tmp_path):
    # B checks what A's list holds before taking it in: a second name of anything but a
    # file was refused there as a hardlink to no earlier file.
    a, b, tree = workstations
    os.link(tree / "db.ini", tree / "conf.d" / "db.ini", follow_symlinks=False)
    os.mkfifo(tree / "control.fifo")
    os.link(tree / "control.fifo", tree / "conf.d" / "control.fifo")
    made = a.create_backup("billing", name="linked")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")

    assert b.sync_shared_store(PASSPHRASE).pulled == ["linked"]
    b.restore_backup("billing", made.id)

    assert describe_tree(there) == describe_tree(tree)
    for name in ("db.ini", "control.fifo"):
        assert os.path.samestat(os.lstat(there / name), os.lstat(there / "conf.d" / name))


def test_a_backup_made_here_and_one_pulled_share_the_store_in_both_directions(
    workstations, tmp_path
):
    a, b, tree = workstations
    a.create_backup("billing", name="from a")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    b.restore_backup("billing", b.list_backups("billing")[0].id)
    (there / "app.yaml").write_text("changed on b\n")
    b.create_backup("billing", name="from b")
    assert b.sync_shared_store(PASSPHRASE).pushed == ["from b"]
    assert a.sync_shared_store(PASSPHRASE).pulled == ["from b"]
    mess_up(tree)
    a.restore_backup("billing", a.list_backups("billing")[0].id)
    assert (tree / "app.yaml").read_text() == "changed on b\n"


def test_a_damaged_list_of_a_shared_backup_is_repaired_from_the_team_s_copy(workstations, tmp_path):
    a, b, tree = workstations
    made = a.create_backup("billing", name="before upgrade")
    a.sync_shared_store(PASSPHRASE)
    as_backed_up = describe_tree(tree)
    tamper_with_manifest(tmp_path / "a", flipped_bit)

    repair = a.repair_store(a.check_store())

    assert [d.name for d in repair.deleted] == ["before upgrade"]
    assert repair.from_team_store == [made.id]
    # Gone from A only: the team is not told to delete it, and B still takes it in.
    assert a.sync_shared_store(PASSPHRASE).pulled == ["before upgrade"]
    assert a.check_store().healthy
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    assert b.sync_shared_store(PASSPHRASE).pulled == ["before upgrade"]
    mess_up(tree)
    a.restore_backup("billing", made.id)  # its files fetched from the team's store
    b.restore_backup("billing", made.id)
    assert describe_tree(tree) == describe_tree(there) == as_backed_up


def test_a_shared_backup_deleted_here_can_be_recovered_until_the_team_is_told(
    workstations, tmp_path
):
    a, b, _tree = workstations
    made = a.create_backup("billing", name="before upgrade")
    a.sync_shared_store(PASSPHRASE)
    _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)

    a.delete_backup(made.id)
    a.recover_backup(made.id)  # before a sync: the team never hears of it
    assert a.sync_shared_store(PASSPHRASE).deleted == []
    assert b.sync_shared_store(PASSPHRASE).deleted == []
    assert b.get_backup(made.id).deleted_at is None

    a.delete_backup(made.id)
    a.sync_shared_store(PASSPHRASE)  # now the team's deletion
    with pytest.raises(InvalidInputError, match="deleted for the whole team"):
        a.recover_backup(made.id)
    assert b.sync_shared_store(PASSPHRASE).deleted == ["before upgrade"]
    assert b.get_backup(made.id, deleted_too=True).deleted_at is not None


def test_an_environment_that_is_not_here_is_named_not_pulled(workstations):
    a, b, _ = workstations
    a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    report = b.sync_shared_store(PASSPHRASE)
    assert report.pulled == [] and report.unmapped == ["billing"]


def test_the_bucket_holds_no_plaintext_of_the_configuration(workstations, bucket, s3_endpoint):
    a, _, _ = workstations
    a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    names = [b"secret.ini", b"app.yaml", b"billing", b"4.2.0"]
    for item in client.list_objects_v2(Bucket=bucket)["Contents"]:
        data = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        assert b"s3cr3t-hunter2" not in data, item["Key"]
        for name in names:
            assert name not in data, (item["Key"], name)
        assert b"secret" not in item["Key"].encode() and b"billing" not in item["Key"].encode()


def test_a_backup_from_elsewhere_brings_no_setuid_bit_and_no_owners(
    workstations, tmp_path, monkeypatch
):
    a, b, tree = workstations
    helper = tree / "hooks.sh"
    helper.chmod(0o4755)
    if os.geteuid() == 0:
        os.chown(helper, 4242, 4242)
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    b.restore_backup("billing", made.id)
    st = (there / "hooks.sh").stat()
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())


def test_a_list_of_files_from_elsewhere_that_leads_out_is_refused(workstations, tmp_path):
    # A workstation with the key, or a damaged client, shares a backup whose link leads out
    # of the environment: B refuses it as it would refuse such a configuration file.
    a, b, tree = workstations
    (tree / "escape").symlink_to("../../../etc")
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    _billing_on(b, tmp_path / "on-b" / "billing")
    report = b.sync_shared_store(PASSPHRASE)
    assert [refused.name for refused in report.refused] == [made.name]
    assert "points outside the environment" in report.summary()
    assert b.list_backups("billing") == []
    assert b.sync_shared_store(PASSPHRASE).refused == report.refused  # looked at again


def test_a_refused_backup_of_the_team_holds_neither_the_others_nor_the_log(workstations, tmp_path):
    # A sync stopped at the first backup refused: none after it was taken in, nor the
    # activity told after them, and each later sync stopped there again.
    a, b, tree = workstations
    a.create_backup("billing", name="monday")
    (tree / "escape").symlink_to("../../../etc")
    a.create_backup("billing", name="tuesday")
    (tree / "escape").unlink()
    a.create_backup("billing", name="wednesday")
    a.sync_shared_store(PASSPHRASE)
    _billing_on(b, tmp_path / "on-b" / "billing")

    report = b.sync_shared_store(PASSPHRASE)

    assert sorted(report.pulled) == ["monday", "wednesday"]
    assert [refused.name for refused in report.refused] == ["tuesday"]
    assert {"monday", "wednesday"} <= {e.detail.split(" ")[0] for e in b.activity("billing")}


def test_links_leading_out_come_in_where_the_environment_allows_them(
    workstations, tmp_path, capsys
):
    # A copy of /etc links to ../usr/lib/os-release: refused from a teammate by default,
    # taken in and restored as it was once B's environment allows it.
    a, b, tree = workstations
    (tree / "os-release").symlink_to("../../../usr/lib/os-release")
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    assert [refused.name for refused in b.sync_shared_store(PASSPHRASE).refused] == [made.name]

    b_folder = str(b.data_dir)
    b.close()
    assert main(["--data-dir", b_folder, "env", "update", "billing", "--allow-links-out"]) == 0
    assert "takes in teammates' backups with links" in capsys.readouterr().out
    b = EnvOpsService(b_folder)
    assert b.sync_shared_store(PASSPHRASE).pulled == [made.name]
    b.restore_backup("billing", made.id)
    assert os.readlink(there / "os-release") == "../../../usr/lib/os-release"
    b.close()


def test_a_refused_backup_of_the_team_does_not_stop_a_restore_of_another(
    workstations, tmp_path, capsys, monkeypatch
):
    a, b, tree = workstations
    monday = a.create_backup("billing", name="monday")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    (tree / "escape").symlink_to("../../../etc")
    a.create_backup("billing", name="tuesday")
    a.sync_shared_store(PASSPHRASE)
    b_folder = str(b.data_dir)
    b.close()
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)

    restore = ["--data-dir", b_folder, "restore", "billing"]
    assert main([*restore, "latest", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "points outside the environment" in err
    assert "The team's latest backup of billing, tuesday, was refused" in err
    assert list(there.iterdir()) == []

    assert main([*restore, "monday", "--yes"]) == 0
    assert "points outside the environment" in capsys.readouterr().err  # said again
    assert (there / "conf.d" / "secret.ini").read_bytes() == SECRET
    later = EnvOpsService(b_folder)
    assert later.get_backup(monday.id).made_on is not None
    later.close()


def test_a_data_folder_lost_with_its_workstation_is_rebuilt_from_the_bucket_alone(
    workstations, bucket, s3_endpoint, tmp_path
):
    a, _, tree = workstations
    made = [a.create_backup("billing", name=name) for name in ("monday", "tuesday")]
    a.sync_shared_store(PASSPHRASE)
    a.close()
    shutil.rmtree(tmp_path / "a")

    rebuilt = EnvOpsService(tmp_path / "a")
    rebuilt.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    rebuilt.add_environment("billing", tree, version="4.2.0")
    report = rebuilt.sync_shared_store(PASSPHRASE)

    assert sorted(report.pulled) == ["monday", "tuesday"]
    assert [b.id for b in rebuilt.list_backups("billing")] == [b.id for b in reversed(made)]
    wanted = describe_tree(tree)
    mess_up(tree)
    rebuilt.restore_backup("billing", made[1].id)
    assert describe_tree(tree) == wanted
    rebuilt.close()


def _billing_on(service: EnvOpsService, there: Path) -> Path:
    """billing on another workstation: an empty folder of its own, at the same version."""
    there.mkdir(parents=True)
    service.add_environment("billing", there, version="4.2.0")
    return there


def test_each_workstations_log_says_who_did_what_on_the_others(workstations, tmp_path):
    a, b, _ = workstations
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    b.restore_backup("billing", made.id)
    b.sync_shared_store(PASSPHRASE)
    a.sync_shared_store(PASSPHRASE)

    on_a = a.activity("billing")
    from_b = [e for e in on_a if e.user == b._ctx.user_at_host]
    assert any(
        "nightly" in e.detail and e.action is ActivityAction.BACKUP_RESTORED for e in from_b
    ), on_a
    restored_on_b = next(
        e for e in b.activity("billing") if e.action is ActivityAction.BACKUP_RESTORED
    )
    assert restored_on_b.time in {e.time for e in from_b}  # its own time, not when taken in
    # Nothing comes back to where it was written, and nothing is taken in twice.
    count_a, count_b = len(a.activity("billing", 500)), len(b.activity("billing", 500))
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    assert len(a.activity("billing", 500)) == count_a
    assert len(b.activity("billing", 500)) == count_b
    assert there.exists()


def test_a_large_file_stored_whole_by_an_earlier_version_is_shared_and_restores_on_b(
    workstations, tmp_path
):
    # Earlier versions compressed a large file as one frame of unstated size, which cannot
    # be sent as parts as it is: the push compresses it again, part by part.
    a, b, tree = workstations
    (tree / "big.bin").write_bytes(b"max_connections = 512\n" * (1 << 20))  # 22 MiB of text
    made = a.create_backup("billing", name="kept whole")
    sha = hashlib.sha256((tree / "big.bin").read_bytes()).hexdigest()
    loose = a.data_dir / "objects" / sha[:2] / f"{sha}.zst"
    whole = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(whole, closefd=False) as writer:
        writer.write((tree / "big.bin").read_bytes())
    loose.write_bytes(whole.getvalue())
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")

    b.sync_shared_store(PASSPHRASE)
    b.restore_backup("billing", made.id)

    assert describe_tree(there) == describe_tree(tree)
    assert b.check_store().healthy


def test_a_version_changed_on_a_is_followed_on_b_and_its_backups_restore_there(
    workstations, tmp_path
):
    a, b, tree = workstations
    a.create_backup("billing", name="4.2.0")
    a.sync_shared_store(PASSPHRASE)
    there = _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    a.update_environment_version("billing", "4.3.0")
    (tree / "app.yaml").write_text("upgraded: true\n")
    upgraded = a.create_backup("billing", name="4.3.0")
    a.sync_shared_store(PASSPHRASE)

    b.sync_shared_store(PASSPHRASE)

    assert b.get_environment("billing").version == "4.3.0"
    b.restore_backup("billing", upgraded.id)
    assert (there / "app.yaml").read_text() == "upgraded: true\n"
    # A's entry, once: B adds none of its own.
    updates = [e for e in b.activity("billing") if e.action is ActivityAction.ENVIRONMENT_UPDATED]
    assert [e.detail for e in updates] == ["version 4.2.0 → 4.3.0"]


def test_the_version_told_last_wins_even_from_a_workstation_whose_clock_is_behind(
    workstations, tmp_path, monkeypatch
):
    # Events are named from their writer's clock; which came last is the server's to say.
    a, b, _ = workstations
    a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    b.update_environment_version("billing", "5.1.0")
    b.sync_shared_store(PASSPHRASE)
    time.sleep(1.1)  # the server's times are whole seconds
    a.update_environment_version("billing", "5.0.0")
    behind = iter(f"000000000{n:03d}" for n in range(1000))  # sorts before anything B wrote
    monkeypatch.setattr(shared_layout, "new_id", lambda: next(behind))
    a.sync_shared_store(PASSPHRASE)
    monkeypatch.undo()

    b.sync_shared_store(PASSPHRASE)

    assert a.get_environment("billing").version == b.get_environment("billing").version == "5.0.0"


def test_an_environment_that_reads_its_version_from_a_file_keeps_what_its_folder_says(
    workstations, tmp_path
):
    a, b, _ = workstations
    a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    there = tmp_path / "on-b" / "billing"
    there.mkdir(parents=True)
    (there / "VERSION").write_text("4.2.0\n")
    b.add_environment("billing", there, version_file="VERSION")
    b.sync_shared_store(PASSPHRASE)
    a.update_environment_version("billing", "4.3.0")
    a.sync_shared_store(PASSPHRASE)

    b.sync_shared_store(PASSPHRASE)

    assert b.get_environment("billing").version == "4.2.0"


def test_a_large_file_fetched_from_the_team_s_store_shows_its_progress_as_its_parts_come(
    workstations, tmp_path
):
    a, b, tree = workstations
    big = os.urandom(64 << 20)  # four parts of 16 MiB, a request each
    (tree / "big.bin").write_bytes(big)
    made = a.create_backup("billing", name="with an image")
    a.sync_shared_store(PASSPHRASE)
    _billing_on(b, tmp_path / "on-b" / "billing")
    b.sync_shared_store(PASSPHRASE)
    reports = SlowView()

    # An export needs every content here: B fetches the image from the team's store.
    b.export_backup(made.id, tmp_path / "billing.envops.zip", progress=reports)

    sha = hashlib.sha256(big).hexdigest()
    fetching = [p.done for p in reports if p.phase == "downloading" and p.path == sha]
    assert len(fetching) >= 2  # before: once, when all four parts were in
    assert fetching == sorted(fetching)
