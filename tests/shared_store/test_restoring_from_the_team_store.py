"""A backup made on another workstation: its list comes with a sync, its files with the restore."""

import os
import shutil
import time

import boto3
import pytest

from envops_desktop.cli import main
from envops_desktop.domain.errors import InvalidInputError, OperationFailedError
from envops_desktop.service import EnvOpsService, parallel
from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.packs import PackWriter
from tests.trees import make_config_tree, rsync_differences

PASSPHRASE = "one team, one passphrase"


@pytest.fixture(params=["threads", "helper processes"])
def helpers(request, monkeypatch):
    """Restores of small trees write on threads; of big ones, in helper processes that fetch
    the packs themselves: both ways, on the same small tree."""
    if request.param == "helper processes":
        monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 0)
    return request.param


@pytest.fixture
def team(bucket, s3_endpoint, tmp_path):
    """A and B connected to one store; A has billing (small files, one of several parts, a
    hardlink, twins, an empty file, an attribute), B an empty folder for it."""
    url = f"s3://{bucket}/team"
    a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
    a.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    b.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    tree = tmp_path / "on-a" / "billing"
    make_config_tree(tree, files=60)
    (tree / "big.bin").write_bytes(os.urandom((40 << 20) + 777))  # three parts
    os.link(tree / "app.yaml", tree / "app-link.yaml")
    (tree / "twin-1.conf").write_bytes(b"same content twice\n" * 100)
    (tree / "twin-2.conf").write_bytes(b"same content twice\n" * 100)
    (tree / "empty.conf").write_bytes(b"")
    os.setxattr(tree / "conf.d" / "cache.ini", "user.owner-team", b"payments")
    an_hour_ago = time.time() - 3600  # old enough for the hash cache to trust
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (an_hour_ago, an_hour_ago), follow_symlinks=False)
    a.add_environment("billing", tree, version="4.2.0")
    there = tmp_path / "on-b" / "billing"
    there.mkdir(parents=True)
    b.add_environment("billing", there, version="4.2.0")
    yield a, b, tree, there
    a.close()
    b.close()


def test_a_sync_takes_in_the_list_and_the_restore_writes_the_files_from_the_bucket(team, helpers):
    a, b, tree, there = team
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)

    assert b.sync_shared_store(PASSPHRASE).pulled == ["nightly"]
    held = b.check_store()
    assert held.healthy and held.checked == 0 and held.in_team_store > 0  # nothing fetched yet

    b.restore_backup("billing", made.id)

    assert rsync_differences(tree, there) == []
    assert b.check_store().healthy


def test_the_next_backup_after_a_restore_from_the_bucket_keeps_its_files_here(team):
    # The hash cache learns what a restore wrote; a content only the bucket holds must not
    # be taken as stored here, or this backup would name files this store lacks.
    a, b, _tree, there = team
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    b.restore_backup("billing", made.id)

    own = b.create_backup("billing", name="on b")
    b.delete_backup(made.id)
    b.empty_bin()

    held = b.check_store()
    assert held.healthy and held.in_team_store == 0 and held.checked > 0
    shutil.rmtree(there)
    there.mkdir()
    b.restore_backup("billing", own.id)
    assert rsync_differences(_tree, there) == []


def test_a_large_content_starting_in_a_pack_fetched_whole_is_written_from_it(team, monkeypatch):
    # A large content's first part may share a pack with small contents: the helper that
    # fetches that pack whole writes the large one too, rather than fetching its part again.
    a, b, tree, there = team
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    objects = b._opened_store.objects  # the client the restore's threads use
    wholes: list[str] = []
    ranges: list[tuple[str, int]] = []
    get, get_range = objects.get, objects.get_range

    def whole(key):
        wholes.append(key.removeprefix("data/"))
        return get(key)

    def ranged(key, offset, length):
        ranges.append((key.removeprefix("data/"), offset))
        return get_range(key, offset, length)

    monkeypatch.setattr(objects, "get", whole)
    monkeypatch.setattr(objects, "get_range", ranged)

    b.restore_backup("billing", made.id)

    assert rsync_differences(tree, there) == []
    shas = {e.sha256 for e in b._ctx.backups.entries(made.id) if e.sha256}
    firsts = {(p[0][2], p[0][3]) for p in b._ctx.shared.parts_of_many(shas).values() if len(p) > 1}
    assert any(pack in wholes for pack, _at in firsts)  # the case this test is about
    assert len(set(wholes)) == len(wholes)
    assert not [r for r in ranges if r in firsts and r[0] in wholes]


def test_a_restore_needing_a_few_files_of_a_pack_fetches_them_alone_and_is_exact(team, helpers):
    # B backed up most of the same files itself: of A's pack, it lacks only a few contents,
    # which are fetched part by part rather than the whole pack.
    a, b, tree, there = team
    shutil.copytree(tree, there, symlinks=True, dirs_exist_ok=True)
    for name in ("app.yaml", "twin-1.conf", "twin-2.conf"):
        (there / name).unlink()
    b.create_backup("billing", name="B's own")
    (tree / "new.conf").write_text("only on A\n")
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)

    b.restore_backup("billing", made.id, backup_first=False)

    assert rsync_differences(tree, there) == []
    assert b.check_store().healthy


def test_a_restore_from_the_bucket_writes_its_largest_pack_first(team, helpers):
    # Packs come in the order they were written, and the last one may be the largest: a
    # helper writing it alone at the end keeps the other idle. Longest first instead.
    a, b, tree, there = team
    for path in list(tree.iterdir()):
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for number in range(3):  # one pack of 18 MiB, in path order first
        (tree / f"1-first-{number}.bin").write_bytes(os.urandom(6 << 20))
    for number in range(17):  # one of 17 MiB
        (tree / f"2-then-{number}.bin").write_bytes(os.urandom(1 << 20))
    (tree / "3-last.bin").write_bytes(os.urandom(24 << 20))  # 24 MiB from its first pack
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    written: list[str] = []

    def progress(report):
        if report.done and report.path:
            written.append(report.path)

    b.restore_backup("billing", made.id, backup_first=False, progress=progress)

    assert rsync_differences(tree, there) == []
    assert written[0] == "3-last.bin"


def test_helpers_sign_with_the_credentials_the_restoring_process_found(team, monkeypatch):
    # Helpers fork from a fork server whose environment is the one it started with: here,
    # one started before this process had its credentials. They must not look for their own.
    from multiprocessing import forkserver

    a, b, tree, there = team
    made = a.create_backup("billing", name="nightly")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 0)
    forkserver._forkserver._stop()  # private, but only a new fork server takes this environment
    with monkeypatch.context() as before_the_credentials:
        before_the_credentials.delenv("AWS_ACCESS_KEY_ID", raising=False)
        before_the_credentials.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
        parallel.start_helpers_early(parallel.PROCESSES_FROM_BYTES, from_bucket=True)

    b.restore_backup("billing", made.id)

    assert rsync_differences(tree, there) == []


def test_a_damaged_pack_fails_the_restore_and_changes_nothing(team, bucket, s3_endpoint, helpers):
    a, b, _tree, there = team
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    (there / "kept.conf").write_text("what B had\n")
    before = there.parent / "before"
    shutil.copytree(there, before, symlinks=True)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    for item in client.list_objects_v2(Bucket=bucket, Prefix="team/data/")["Contents"]:
        data = bytearray(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        data[len(data) // 2] ^= 1  # a bit flipped in the middle of every pack
        client.put_object(Bucket=bucket, Key=item["Key"], Body=bytes(data))

    with pytest.raises(OperationFailedError, match="is damaged"):
        b.restore_backup("billing", made.id)

    assert rsync_differences(before, there) == []
    assert sorted(p.name for p in there.parent.iterdir()) == ["before", "billing"]
    assert b.check_store().healthy


def test_a_restore_from_the_bucket_without_its_passphrase_says_so_and_changes_nothing(
    team, tmp_path
):
    a, b, _tree, there = team
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    b.close()
    later = EnvOpsService(tmp_path / "b")  # B started again, its store not unlocked

    with pytest.raises(InvalidInputError, match="team's shared store, which needs its passphrase"):
        later.restore_backup("billing", made.id)

    assert list(there.iterdir()) == []
    later.close()


def test_an_export_of_a_backup_from_elsewhere_fetches_its_files_first(team, tmp_path):
    a, b, tree, _there = team
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)

    exported = b.export_backup(made.id, tmp_path / "billing.envops")

    c = EnvOpsService(tmp_path / "c")
    (tmp_path / "on-c").mkdir()
    c.add_environment("billing", tmp_path / "on-c", version="4.2.0")
    c.import_configuration_file("billing", c.check_configuration_file(exported))
    assert rsync_differences(tree, tmp_path / "on-c", "--no-xattrs") == []
    assert b.check_store().in_team_store == 0
    c.close()


def test_restore_latest_on_the_command_line_takes_in_the_teams_latest_first(
    team, capsys, monkeypatch
):
    a, b, tree, there = team
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    b_folder = str(b.data_dir)
    b.close()
    a.create_backup("billing", name="monday")
    a.sync_shared_store(PASSPHRASE)
    (tree / "app.yaml").write_text("server:\n  port: 9443\n")
    a.create_backup("billing", name="tuesday")
    a.sync_shared_store(PASSPHRASE)

    code = main(["--data-dir", b_folder, "restore", "billing", "latest", "--yes"])

    assert code == 0, capsys.readouterr().err
    assert "restored to tuesday" in capsys.readouterr().out
    assert (there / "app.yaml").read_text() == "server:\n  port: 9443\n"


def test_a_copy_into_another_bucket_fetches_the_files_kept_in_the_team_store_first(
    team, bucket, s3_endpoint, tmp_path
):
    a, b, tree, _there = team
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)

    report = b.copy_store(f"s3://{bucket}/elsewhere", PASSPHRASE, s3_endpoint)

    assert report.copied == [made.name] and report.verified_files > 0
    c = EnvOpsService(tmp_path / "c")
    (tmp_path / "on-c").mkdir()
    c.add_environment("billing", tmp_path / "on-c", version="4.2.0")
    c.copy_store(f"s3://{bucket}/elsewhere", PASSPHRASE, s3_endpoint, back=True)
    c.restore_backup("billing", made.id)
    assert rsync_differences(tree, tmp_path / "on-c") == []
    c.close()


@pytest.mark.parametrize("taken_in_by", ["an export", "a copy into a folder of its own"])
def test_contents_taken_in_from_the_team_store_are_on_the_disk_before_they_are_recorded(
    taken_in_by, team, bucket, s3_endpoint, tmp_path, monkeypatch
):
    # After a power cut, a pack row or a content's file with no bytes behind it reads as
    # damaged, and is never fetched again while the store here claims to hold it.
    a, b, _tree, _there = team
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    b.sync_shared_store(PASSPHRASE)
    a.copy_store(f"s3://{bucket}/elsewhere", PASSPHRASE, s3_endpoint)
    events: list[str] = []
    sync, flush, adopt = os.sync, PackWriter.flush, BlobStore.adopt
    monkeypatch.setattr(os, "sync", lambda: events.append("synced") or sync())
    monkeypatch.setattr(PackWriter, "flush", lambda *a: events.append("written") or flush(*a))
    monkeypatch.setattr(
        BlobStore, "adopt", lambda *a, **k: events.append("written") or adopt(*a, **k)
    )
    record = BlobStore.record_packed
    monkeypatch.setattr(
        BlobStore, "record_packed", lambda *a: events.append("recorded") or record(*a)
    )

    if taken_in_by == "an export":
        b.export_backup(made.id, tmp_path / "billing.envops")
    else:
        c = EnvOpsService(tmp_path / "c")
        (tmp_path / "on-c").mkdir()
        c.add_environment("billing", tmp_path / "on-c", version="4.2.0")
        c.copy_store(f"s3://{bucket}/elsewhere", PASSPHRASE, s3_endpoint, back=True)
        c.close()

    recorded = events.index("recorded")
    last_written = max(i for i, event in enumerate(events[:recorded]) if event == "written")
    assert "synced" in events[last_written:recorded], events
