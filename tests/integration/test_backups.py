"""Creating, listing, deduplicating and deleting backups against a real data dir."""

import os
import shutil
import stat
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EntryKind
from envops_desktop.domain.errors import (
    NotFoundError,
    OperationCancelledError,
    OperationFailedError,
)
from envops_desktop.domain.progress import CancelToken, Progress
from envops_desktop.service import EnvOpsService
from tests.disks import needs_root_to_mount, small_disk
from tests.store_view import (
    damage_blob,
    leave_unreferenced_content,
    open_store,
    store_files,
    stored_blobs,
    stored_content,
    stored_size,
)
from tests.trees import describe_tree, make_config_tree, mess_up


def test_backup_records_every_entry_with_its_metadata(service, environment, config_dir):
    backup = service.create_backup("billing", name="before upgrade")
    entries = {e.path: e for e in service.backup_entries(backup.id)}
    assert backup.name == "before upgrade"
    assert backup.version == "4.2.0"
    assert backup.origin is BackupOrigin.MANUAL
    assert backup.created_by == service.user
    assert entries["db.ini"].kind is EntryKind.SYMLINK
    assert entries["db.ini"].target == "conf.d/database.ini"
    assert entries["empty"].kind is EntryKind.DIR
    assert entries["certs/server.key"].mode == 0o600
    assert entries["hooks.sh"].mode == 0o755
    assert backup.file_count == sum(1 for e in entries.values() if e.kind is EntryKind.FILE)


def test_backup_survives_its_source_being_deleted(service, environment, config_dir, tmp_path):
    before = describe_tree(config_dir)
    backup = service.create_backup("billing")
    shutil.rmtree(config_dir)
    config_dir.mkdir()
    os.utime(config_dir, ns=(0, 0))
    service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == before


def test_second_backup_of_unchanged_tree_writes_no_new_blobs(service, environment, tmp_path):
    service.create_backup("billing")
    after_first = store_files(tmp_path / "data")
    service.create_backup("billing")
    assert store_files(tmp_path / "data") == after_first  # same files, none rewritten


def test_unchanged_files_are_not_read_again(settled, service, environment, config_dir):
    # Make every file old enough that its hash may be cached (a freshly written file may not;
    # a ctime cannot be set back, so `settled` makes it count as old).
    for path in config_dir.rglob("*"):
        if not path.is_symlink():
            os.utime(path, ns=(10**18, 10**18))
    service.create_backup("billing")
    read_back: list[Progress] = []
    service.create_backup("billing", progress=read_back.append)
    assert read_back[-1].total == 0  # nothing needed hashing


def test_changed_file_is_hashed_and_stored_again(service, environment, config_dir, tmp_path):
    first = service.create_backup("billing")
    (config_dir / "app.yaml").write_text("server:\n  port: 9000\n")
    second = service.create_backup("billing")
    old = {e.path: e.sha256 for e in service.backup_entries(first.id)}
    new = {e.path: e.sha256 for e in service.backup_entries(second.id)}
    assert old["app.yaml"] != new["app.yaml"]
    assert old["conf.d/database.ini"] == new["conf.d/database.ini"]


def test_identical_content_is_stored_once(service, environment, config_dir, tmp_path):
    payload = os.urandom(50_000)
    for index in range(5):
        (config_dir / f"copy{index}.bin").write_bytes(payload)
    service.create_backup("billing")
    assert stored_content(tmp_path / "data").count(payload) == 1  # random: stored as it is


def test_compressible_files_are_stored_compressed(service, environment, config_dir, tmp_path):
    (config_dir / "big.log").write_text("the same line again\n" * 100_000)
    backup = service.create_backup("billing")
    sha = next(e.sha256 for e in service.backup_entries(backup.id) if e.path == "big.log")
    assert open_store(tmp_path / "data").is_compressed(sha), "text should be kept compressed"
    assert stored_size(tmp_path / "data", sha) < 2_000_000 // 10


def test_large_file_streams_through_and_restores(service, environment, config_dir):
    big = config_dir / "firmware.bin"
    big.write_bytes(os.urandom(9 << 20))  # above the whole-file read threshold
    before = describe_tree(config_dir)
    backup = service.create_backup("billing")
    big.write_bytes(b"truncated")
    service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == before


def test_stored_contents_are_data_not_programs(service, environment, config_dir):
    # Packs were made with the default mode, 0o777 less the umask: executable by anyone.
    (config_dir / "large.bin").write_bytes(os.urandom(9 << 20))  # a content stored alone
    service.create_backup("billing")

    stored = [path for path in (service.data_dir / "objects").rglob("*") if path.is_file()]
    assert any(path.suffix == ".pack" for path in stored)
    assert any(path.suffix != ".pack" for path in stored)
    assert {stat.S_IMODE(path.stat().st_mode) for path in stored} == {0o644}


def test_backups_are_listed_newest_first(service, environment):
    first = service.create_backup("billing", name="one")
    second = service.create_backup("billing", name="two")
    assert [b.id for b in service.list_backups("billing")] == [second.id, first.id]


def test_the_versions_backed_up_are_offered_newest_first_each_once_without_deleted_ones(
    service, environment
):
    # What an archive with no manifest is offered to belong to, beside the version now.
    for version in ("4.1.0", "4.2.0", "4.1.0", "5.0.0"):
        service.update_environment_version("billing", version)
        newest = service.create_backup("billing")
    service.delete_backup(newest.id)  # the only 5.0.0

    assert service.backup_versions("billing") == ["4.1.0", "4.2.0"]


def test_a_deleted_backup_waits_in_deleted_then_frees_only_blobs_no_other_backup_uses(
    service, environment, config_dir, tmp_path
):
    first = service.create_backup("billing")
    (config_dir / "only-in-second.txt").write_text("unique content 42")
    second = service.create_backup("billing")
    shared = set(stored_blobs(tmp_path / "data"))
    service.delete_backup(second.id)
    assert set(stored_blobs(tmp_path / "data")) == shared  # recoverable: nothing freed yet
    assert [b.id for b in service.deleted_backups("billing")] == [second.id]
    assert [b.id for b in service.empty_bin()] == [second.id]
    remaining = set(stored_blobs(tmp_path / "data"))
    assert len(remaining) == len(shared) - 1
    assert service.check_store().healthy
    service.restore_backup("billing", first.id)  # the first backup is still whole
    with pytest.raises(NotFoundError):
        service.get_backup(second.id)


def _waiting_for_the_blobs_lock(data_dir) -> bool:
    """Whether some open file of this machine waits in line for the store's blobs lock."""
    inode = (data_dir / "locks" / "blobs.lock").stat().st_ino
    with open("/proc/locks") as locks:
        return any("->" in line and line.split()[-3].endswith(f":{inode}") for line in locks)


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux's /proc/locks")
def test_a_delete_waits_for_a_backup_that_relies_on_the_content_it_would_free(
    service, environment, config_dir, tmp_path
):
    # The running backup trusts its hash cache: the unchanged files' content is in the store,
    # held only by the backup being deleted. Freeing it before the new backup is recorded
    # would leave that backup naming content that is gone.
    for path in [config_dir, *config_dir.rglob("*")]:
        if not path.is_symlink():
            os.utime(path, ns=(10**18, 10**18))
    old = service.create_backup("billing")
    (config_dir / "app.yaml").write_text("server:\n  port: 9000\n")
    reading, go_on = threading.Event(), threading.Event()

    def pause_while_reading(progress: Progress) -> None:
        if progress.total and not reading.is_set():
            reading.set()
            go_on.wait(30)

    made: list = []
    backing_up = threading.Thread(
        target=lambda: made.append(service.create_backup("billing", progress=pause_while_reading))
    )
    backing_up.start()
    assert reading.wait(30)
    other = EnvOpsService(tmp_path / "data")
    deleting = threading.Thread(target=other.delete_backup, args=(old.id,))
    deleting.start()
    deadline = time.monotonic() + 30
    while deleting.is_alive() and not _waiting_for_the_blobs_lock(tmp_path / "data"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go_on.set()
    backing_up.join(30)
    deleting.join(30)
    other.close()
    assert service.check_store().healthy
    wanted = describe_tree(config_dir)
    mess_up(config_dir)
    service.restore_backup("billing", made[0].id)
    assert describe_tree(config_dir) == wanted


def test_another_process_starting_up_leaves_a_running_backups_new_content_alone(service, tmp_path):
    # A start-up sweeps away blobs and packs no backup has recorded: a crashed backup's. A
    # backup still running in another process has not recorded its own yet either.
    tree = tmp_path / "env"
    make_config_tree(tree, files=60)
    service.add_environment("billing", tree, version="4.2.0")
    read_everything, go_on = threading.Event(), threading.Event()

    def pause_when_all_is_read(progress: Progress) -> None:
        if progress.total and progress.done == progress.total:
            read_everything.set()
            go_on.wait(30)

    made: list = []
    backing_up = threading.Thread(
        target=lambda: made.append(
            service.create_backup("billing", progress=pause_when_all_is_read)
        )
    )
    backing_up.start()
    try:
        assert read_everything.wait(30)
        assert list((tmp_path / "data" / "objects" / "packs").iterdir())  # written, unrecorded
        starting = EnvOpsService(tmp_path / "data")
        starting.recover_interrupted_operations()
        starting.close()
    finally:
        go_on.set()
        backing_up.join(30)
    assert service.check_store().healthy
    wanted = describe_tree(tree)
    mess_up(tree)
    service.restore_backup("billing", made[0].id)
    assert describe_tree(tree) == wanted


def test_collecting_garbage_cancelled_while_it_reads_the_backups_frees_nothing(
    service, environment, tmp_path
):
    for index in range(3):
        service.create_backup("billing", name=f"b{index}")
    left = leave_unreferenced_content(tmp_path / "data", tmp_path)
    cancel, seen = CancelToken(), []

    def cancel_once_reading(progress: Progress) -> None:
        seen.append(progress)
        if progress.phase == "reading backups":
            cancel.cancel()

    with pytest.raises(OperationCancelledError, match="nothing was changed"):
        service.collect_garbage(progress=cancel_once_reading, cancel=cancel)

    assert service.check_store().unreferenced == left
    assert seen[0] == Progress("reading backups", 0, seen[0].total) and seen[0].total > 0
    assert service.collect_garbage().blobs and service.check_store().unreferenced == 0


def test_fifos_and_sockets_are_kept_and_come_back(service, environment, config_dir):
    os.mkfifo(config_dir / "control.fifo")
    os.chmod(config_dir / "control.fifo", 0o620)
    os.mknod(config_dir / "app.sock", 0o600 | stat.S_IFSOCK)
    backup = service.create_backup("billing")
    (config_dir / "control.fifo").unlink()
    (config_dir / "app.sock").unlink()

    service.restore_backup("billing", backup.id)

    assert backup.skipped == []
    assert stat.S_ISFIFO((config_dir / "control.fifo").lstat().st_mode)
    assert stat.S_IMODE((config_dir / "control.fifo").lstat().st_mode) == 0o620
    assert stat.S_ISSOCK((config_dir / "app.sock").lstat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device file needs root (CI runs as root)")
def test_a_device_file_is_named_at_backup_and_left_alone_by_a_restore(
    service, environment, config_dir
):
    os.mknod(config_dir / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(config_dir / "conf.d" / "disk", 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    before = {p: os.lstat(config_dir / p) for p in ("null", "conf.d/disk")}
    backup = service.create_backup("billing")
    (config_dir / "app.yaml").write_text("changed\n")

    service.restore_backup("billing", backup.id)

    assert [note.split(" (")[0] for note in backup.skipped] == ["conf.d/disk", "null"]
    assert "a device file" in backup.skipped[0]
    activity = service.activity("billing")
    created = next(e for e in activity if e.action is ActivityAction.BACKUP_CREATED)
    assert "conf.d/disk" in created.detail and "null" in created.detail
    for path, st in before.items():
        now = os.lstat(config_dir / path)
        assert (now.st_ino, now.st_rdev, now.st_mode) == (st.st_ino, st.st_rdev, st.st_mode)
    assert (config_dir / "app.yaml").read_text().startswith("server:")


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device file needs root (CI runs as root)")
def test_a_device_file_whose_name_is_not_utf8_is_still_named_when_backups_are_listed(
    service, environment, config_dir
):
    name = os.fsdecode(b"tape-\xff")
    os.mknod(config_dir / name, 0o660 | stat.S_IFCHR, os.makedev(1, 3))

    service.create_backup("billing")

    assert [note.split(" (")[0] for note in service.list_backups("billing")[0].skipped] == [name]


def test_links_are_stored_as_links_never_followed(service, environment, config_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the environment")
    os.symlink(outside, config_dir / "external")
    backup = service.create_backup("billing")
    entries = {e.path: e for e in service.backup_entries(backup.id)}
    assert entries["external"].kind is EntryKind.SYMLINK
    assert entries["external"].target == str(outside)
    assert not any(path.startswith("external/") for path in entries)


def test_backup_of_a_vanished_directory_is_refused(service, environment, config_dir):
    shutil.rmtree(config_dir)
    with pytest.raises(NotFoundError, match="does not exist"):
        service.create_backup("billing")
    assert service.list_backups("billing") == []


def test_cancelled_backup_records_nothing(service, environment, config_dir):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelledError):
        service.create_backup("billing", cancel=cancel)
    assert service.list_backups("billing") == []


def test_backup_ids_resolve_from_a_unique_prefix(service, environment):
    backup = service.create_backup("billing")
    assert service.get_backup(backup.id[:-2]).id == backup.id


def test_store_check_finds_a_damaged_blob(service, environment, tmp_path):
    backup = service.create_backup("billing")
    victim = next(e.sha256 for e in service.backup_entries(backup.id) if e.path == "app.yaml")
    damage_blob(tmp_path / "data", victim)
    report = service.check_store()
    assert not report.healthy
    assert report.damaged == [victim]


@needs_root_to_mount
def test_a_full_data_disk_during_a_backup_is_a_sentence(tmp_path, config_dir):
    from envops_desktop.domain.errors import OperationFailedError
    from envops_desktop.service import EnvOpsService

    with small_disk(tmp_path / "small", "4m") as disk:
        (config_dir / "big.bin").write_bytes(os.urandom(6 << 20))
        service = EnvOpsService(disk / "data")
        service.add_environment("billing", config_dir, version="4.2.0")
        with pytest.raises(OperationFailedError, match="The disk that holds EnvOps's data is full"):
            service.create_backup("billing")
        assert service.list_backups("billing") == []
        service.close()


def test_names_that_are_not_utf8_are_backed_up_and_restored_byte_for_byte(
    service, environment, config_dir
):
    # Linux allows any bytes in a name but "/" and NUL; Python reads them escaped.
    raw = os.fsencode(config_dir)
    with open(raw + b"/caf\xe9.conf", "wb") as out:
        out.write(b"latin-1 named\n")
    os.link(raw + b"/caf\xe9.conf", raw + b"/z-link.conf")  # its first name is not UTF-8
    os.mkdir(raw + b"/d\xff")
    with open(raw + b"/d\xff/inner", "wb") as out:
        out.write(b"inside\n")
    before = describe_tree(config_dir)
    backup = service.create_backup("billing")
    shutil.rmtree(raw + b"/d\xff")
    os.unlink(raw + b"/caf\xe9.conf")

    service.restore_backup("billing", backup.id)

    assert describe_tree(config_dir) == before
    assert os.path.samefile(raw + b"/caf\xe9.conf", raw + b"/z-link.conf")
    assert sorted(n for n in os.listdir(raw) if not n.isascii()) == [b"caf\xe9.conf", b"d\xff"]


def test_a_path_longer_than_the_system_opens_fails_the_backup_with_a_sentence(
    service, environment, config_dir
):
    # 45 folders of 100 letters: 4,500 bytes, past Linux's 4,096 (tar reaches it by folder).
    fd = os.open(config_dir, os.O_RDONLY)
    try:
        for _ in range(45):
            os.mkdir("d" * 100, dir_fd=fd)
            inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("deep.conf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)

    with pytest.raises(OperationFailedError, match=r"longer than this system lets a program open"):
        service.create_backup("billing")
    assert service.list_backups("billing") == []
    assert service.activity("billing")[0].action is ActivityAction.BACKUP_FAILED


def test_a_backup_s_record_reads_back_every_field_as_written(service, tmp_path):
    # Read by place, not by column name: each field must come from its own column.
    root = tmp_path / "env"
    root.mkdir()
    (root / "a.conf").write_text("a\n")
    env = service.add_environment("env", root, version="1.0")
    made = service.create_backup("env")
    records = service._ctx.backups
    manifest = (
        service._ctx.db.connection()
        .execute("SELECT manifest FROM backups WHERE id = ?", (made.id,))
        .fetchone()[0]
    )
    written = replace(
        made,
        id="by-hand",
        name="by hand",
        created_at=made.created_at + timedelta(seconds=1),
        version="2.0",
        created_by="ops",
        origin=BackupOrigin.IMPORTED,
        file_count=7,
        total_bytes=9,
        skipped=["unreadable.key", os.fsdecode(b"caf\xe9.conf")],
        root_mode=0o750,
        root_mtime_ns=123,
        root_meta={"uid": 1, "gid": 2, "user": "daemon", "group": "bin"},
        changed_while_read=["app.log"],
        made_on="ops@elsewhere",
    )
    records.insert(written, manifest=manifest)
    records.set_pinned("by-hand", True)
    moment = made.created_at + timedelta(minutes=1)
    records.move_to_bin("by-hand", moment, "retention")

    wanted = replace(written, pinned=True, deleted_at=moment, deleted_why="retention")
    assert records.by_id("by-hand") == wanted
    assert records.for_environment(env.id, deleted=True) == [wanted]
    assert records.deleted_before(moment) == [wanted]
    assert records.for_environment(env.id) == [made]
