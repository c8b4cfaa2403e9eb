"""Files written or removed while they are backed up, and owners a restore may not set."""

import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from envops_desktop.domain.enums import ActivityAction
from envops_desktop.service import scanning
from envops_desktop.service.scanning import REMOVED_NOTE
from tests.meanwhile import after_the_backup_scan, once_listed
from tests.privileges import as_an_ordinary_user
from tests.trees import folder_times, mess_up, rsync_differences, set_folder_times, snapshot

BIG = 30 << 20


def _keep_rewriting(path, stop: threading.Event) -> None:
    """Rewrite `path` in place, all 'a' then all 'b', block by block, until told to stop."""
    blocks = [bytes([letter]) * (1 << 20) for letter in b"ab"]
    turn = 0
    with open(path, "r+b", buffering=0) as out:
        while not stop.is_set():
            out.seek(0)
            for _ in range(BIG >> 20):
                out.write(blocks[turn % 2])
            turn += 1


def backed_up_while(change, service, config_dir: Path, monkeypatch, tmp_path: Path) -> tuple:
    """billing backed up with `change()` run once its scan is done, as another program would;
    the backup, and `as_listed` the folder as it is then."""
    after_the_backup_scan(monkeypatch, change)
    listed = folder_times(config_dir)
    backup = service.create_backup("billing")
    return backup, as_listed(config_dir, tmp_path, listed)


def restored_over_a_mess(service, config_dir: Path, backup, gone: tuple[Path, ...] = ()) -> None:
    """billing messed up, the files `gone` removed, then `backup` restored over it."""
    mess_up(config_dir)
    for path in gone:
        path.unlink()
    service.restore_backup("billing", backup.id)


def as_listed(config_dir: Path, tmp_path: Path, listed: dict[Path, int]) -> Path:
    """A copy of `config_dir` as it is now, each folder at the time `listed` (read before a
    backup that meanwhile saw entries go). The backup keeps a folder's time as it listed the
    folder, as rsync does: what the folder lost afterwards came after that time."""
    copy = snapshot(config_dir, tmp_path / "as-it-is-now")
    set_folder_times(copy, listed)
    return copy


def test_a_file_rewritten_during_a_backup_is_never_stored_torn_without_saying_so(
    service, environment, config_dir
):
    big = config_dir / "big.bin"
    big.write_bytes(b"a" * BIG)
    stop = threading.Event()
    writer = threading.Thread(target=_keep_rewriting, args=(big, stop))
    writer.start()
    try:
        backup = service.create_backup("billing")
    finally:
        stop.set()
        writer.join()

    service.restore_backup("billing", backup.id)

    # A state that existed on disk, or a backup that says it may not be one.
    assert big.read_bytes() in (b"a" * BIG, b"b" * BIG) or backup.changed_while_read == ["big.bin"]
    if backup.changed_while_read:
        details = [e.detail for e in service.activity("billing")]
        assert any("changed while they were read: big.bin" in d for d in details)
        assert any("big.bin kept changing" in c for c in service.restore_caveats(backup.id))


def test_a_backup_that_reads_a_changing_file_names_it_and_its_restore_says_so(
    service, environment, config_dir, monkeypatch
):
    # A file whose every read sees it change (as a log written continuously would be).
    from envops_desktop.store import blobs

    real_identity = blobs._identity
    reads = iter(range(10**6))

    def identity(st: os.stat_result) -> tuple:
        return (*real_identity(st), next(reads) if st.st_size == 31 else 0)

    monkeypatch.setattr(blobs, "_identity", identity)
    (config_dir / "live.log").write_bytes(b"x" * 31)
    backup = service.create_backup("billing")

    assert backup.changed_while_read == ["live.log"]
    assert service.get_backup(backup.id).changed_while_read == ["live.log"]
    caveats = service.restore_caveats(backup.id)
    assert "live.log kept changing while" in caveats[0]


@pytest.mark.parametrize("change", ["grows", "shrinks"])
def test_a_large_file_whose_size_changes_while_read_is_read_again_and_kept_whole(
    service, environment, config_dir, monkeypatch, change
):
    # Appended to or cut short while it is read: it is read again, and what is stored is
    # the file as the second read saw it.
    from envops_desktop.store.blob_bodies import HashingReader

    log = config_dir / "growing.log"
    log.write_bytes(b"a" * (6 << 20))
    real_chunks = HashingReader.chunks
    reads = []

    def chunks(self, first):
        reads.append(log)
        for chunk in real_chunks(self, first):
            if len(reads) == 1 and self.size == len(chunk):  # once, after the first chunk
                if change == "grows":
                    with open(log, "ab") as more:
                        more.write(b"b" * 1000)
                else:
                    os.truncate(log, 5 << 20)
            yield chunk

    monkeypatch.setattr(HashingReader, "chunks", chunks)
    backup = service.create_backup("billing")
    reads_by_the_backup = len(reads)
    wanted = log.read_bytes()
    log.write_bytes(b"overwritten")

    service.restore_backup("billing", backup.id)

    assert reads_by_the_backup == 2 and backup.changed_while_read == []
    assert log.read_bytes() == wanted and len(wanted) in ((6 << 20) + 1000, 5 << 20)


def test_a_restore_that_may_not_set_owners_says_which_files_before_and_after(
    service, environment, config_dir, monkeypatch
):
    if os.geteuid() == 0:
        os.chown(config_dir / "app.yaml", 4242, 4242)
    backup = service.create_backup("billing")
    as_an_ordinary_user(monkeypatch)

    caveats = service.restore_caveats(backup.id)
    service.restore_backup("billing", backup.id)

    assert len(caveats) == 1
    assert "will belong to you instead of their recorded owners" in caveats[0]
    assert "app.yaml" in caveats[0]
    restored = next(e for e in service.activity("billing") if "restored in" in e.detail)
    assert "will belong to you" in restored.detail


@pytest.mark.skipif(os.geteuid() != 0, reason="setting owners needs root (CI runs as root)")
def test_a_restore_as_root_gives_files_back_to_their_owners(service, environment, config_dir):
    os.chown(config_dir / "app.yaml", 4242, 4243)
    os.chown(config_dir, 1, 1)
    backup = service.create_backup("billing")
    os.chown(config_dir / "app.yaml", 0, 0)
    os.chown(config_dir, 0, 0)

    service.restore_backup("billing", backup.id)

    st = (config_dir / "app.yaml").stat()
    assert (st.st_uid, st.st_gid) == (4242, 4243)
    assert (config_dir.stat().st_uid, config_dir.stat().st_gid) == (1, 1)
    assert service.restore_caveats(backup.id) == []


def test_files_removed_while_a_backup_reads_them_are_left_out_and_named(
    service, environment, config_dir, monkeypatch, tmp_path
):
    # A deployment removes a file, and an editor's scratch file goes, as the backup runs.
    scratch = config_dir / "conf.d" / ".cache.ini.swp"
    scratch.write_text("an editor's")
    removals = [(config_dir / "app.yaml").unlink, scratch.unlink]
    backup, as_it_is_now = backed_up_while(
        lambda: [remove() for remove in removals], service, config_dir, monkeypatch, tmp_path
    )

    paths = {e.path for e in service.backup_entries(backup.id)}
    assert "app.yaml" not in paths and "conf.d/.cache.ini.swp" not in paths
    assert {"VERSION", "conf.d/cache.ini", "certs/server.key"} <= paths
    assert backup.file_count == 6  # of the tree's 8 files
    assert backup.skipped == [
        "app.yaml" + REMOVED_NOTE,
        "conf.d/.cache.ini.swp" + REMOVED_NOTE,
    ]
    assert service.list_backups("billing") == [backup]
    created = service.activity("billing")[0]
    assert created.action is ActivityAction.BACKUP_CREATED
    assert "not backed up: app.yaml (removed while it was being backed up" in created.detail

    restored_over_a_mess(service, config_dir, backup)
    assert rsync_differences(as_it_is_now, config_dir, "--delete") == []
    assert service.check_store().healthy


@pytest.mark.skipif(not scanning._BY_DESCRIPTOR, reason="statuses here come with the listing")
def test_a_folder_removed_while_a_backup_lists_it_is_left_out_and_named(
    service, environment, config_dir, monkeypatch, tmp_path
):
    # certs was listed as a folder; now it is gone
    once_listed(monkeypatch, config_dir, lambda: shutil.rmtree(config_dir / "certs"))
    listed = folder_times(config_dir)
    backup = service.create_backup("billing")
    monkeypatch.undo()

    paths = {e.path for e in service.backup_entries(backup.id)}
    assert not any(path.startswith("certs") for path in paths)
    assert backup.skipped == ["certs" + REMOVED_NOTE]
    as_it_is_now = as_listed(config_dir, tmp_path, listed)
    restored_over_a_mess(service, config_dir, backup)
    assert rsync_differences(as_it_is_now, config_dir, "--delete") == []


@pytest.mark.skipif(not scanning._BY_DESCRIPTOR, reason="statuses here come with the listing")
def test_a_link_made_a_folder_while_a_backup_lists_it_is_left_out_and_named(
    service, environment, config_dir, monkeypatch
):
    def a_deployment_makes_the_link_a_folder() -> None:  # db.ini was listed as a link
        (config_dir / "db.ini").unlink()
        (config_dir / "db.ini").mkdir()

    once_listed(monkeypatch, config_dir, a_deployment_makes_the_link_a_folder)
    backup = service.create_backup("billing")

    assert backup.skipped == ["db.ini" + REMOVED_NOTE]
    assert "db.ini" not in {e.path for e in service.backup_entries(backup.id)}


@pytest.mark.parametrize("also_chmod", [False, True], ids=["file added", "file added, mode set"])
def test_a_folder_changed_after_its_parent_was_listed_comes_back_as_the_backup_read_it(
    service, environment, config_dir, monkeypatch, tmp_path, also_chmod
):
    # A deployment drops a file into conf.d after the backup has listed billing's top folder
    # but before it lists conf.d. The backup holds the file, so conf.d comes back with the
    # time (and mode) it had once the file was in it, not the older ones its parent listed.
    def a_deployment_adds_to_conf_d() -> None:
        (config_dir / "conf.d" / "tls.ini").write_text("[tls]\nmin=1.3\n")
        if also_chmod:
            os.chmod(config_dir / "conf.d", 0o750)

    once_listed(monkeypatch, config_dir, a_deployment_adds_to_conf_d)
    backup = service.create_backup("billing")
    monkeypatch.undo()
    as_it_was = snapshot(config_dir, tmp_path / "as-it-was")

    assert "conf.d/tls.ini" in {e.path for e in service.backup_entries(backup.id)}
    restored_over_a_mess(service, config_dir, backup)
    assert rsync_differences(as_it_was, config_dir, "--delete") == []


def test_a_link_swapped_after_its_folder_was_listed_comes_back_with_its_new_time(
    service, environment, config_dir, monkeypatch, tmp_path
):
    # A deployment points db.ini somewhere else the way `ln -sfn` does, by renaming a new
    # link over it, once the backup has listed the folder. The backup reads the new target,
    # so it must keep the new link's time with it, not the listed link's.
    def a_deployment_swaps_the_link() -> None:
        os.symlink("conf.d/cache.ini", config_dir / ".db.ini.new")
        os.utime(
            config_dir / ".db.ini.new", ns=(1_700_000_000_123_456_789,) * 2, follow_symlinks=False
        )
        os.rename(config_dir / ".db.ini.new", config_dir / "db.ini")

    once_listed(monkeypatch, config_dir, a_deployment_swaps_the_link)
    listed = folder_times(config_dir)
    backup = service.create_backup("billing")
    monkeypatch.undo()
    as_it_is_now = as_listed(config_dir, tmp_path, listed)  # the folder's time as listed

    restored_over_a_mess(service, config_dir, backup)
    assert os.readlink(config_dir / "db.ini") == "conf.d/cache.ini"
    assert rsync_differences(as_it_is_now, config_dir, "--delete") == []


@pytest.mark.skipif(not scanning._BY_DESCRIPTOR, reason="listed through its descriptor")
def test_a_file_added_as_its_folder_is_listed_is_backed_up_with_the_folder_time_after_it(
    service, environment, config_dir, monkeypatch, tmp_path
):
    # The listing of conf.d misses a file made just as it is read; conf.d's time moved with
    # it, so the backup lists the folder again rather than keep a time its names do not match.
    list_names = os.listdir

    def a_file_lands_as_conf_d_is_listed(fd: int) -> list[str]:
        names = list_names(fd)
        if "cache.ini" in names and not (config_dir / "conf.d" / "tls.ini").exists():
            (config_dir / "conf.d" / "tls.ini").write_text("[tls]\nmin=1.3\n")
        return names

    monkeypatch.setattr(scanning.os, "listdir", a_file_lands_as_conf_d_is_listed)
    backup = service.create_backup("billing")
    monkeypatch.undo()
    as_it_was = snapshot(config_dir, tmp_path / "as-it-was")

    restored_over_a_mess(service, config_dir, backup)
    assert rsync_differences(as_it_was, config_dir, "--delete") == []


def _one_file_under_three_names(config_dir: Path, content: bytes) -> list[Path]:
    names = [config_dir / folder / "shared.conf" for folder in ("a", "b", "c")]
    for name in names:
        name.parent.mkdir()
    names[0].write_bytes(content)
    for name in names[1:]:
        os.link(names[0], name)
    return names


def _write_and_rename(path: Path, content: bytes) -> None:
    # How editors and package managers write: a new file, renamed over the old name, which
    # leaves the file's other names holding what they held.
    scratch = path.with_name(path.name + ".new")
    scratch.write_bytes(content)
    os.replace(scratch, path)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_hardlinked_file_given_a_new_file_during_a_backup_keeps_each_name_s_content(
    service, environment, config_dir, monkeypatch, tmp_path, which
):
    names = _one_file_under_three_names(config_dir, b"listen 8443\n")
    backup, as_it_is_now = backed_up_while(
        lambda: _write_and_rename(names[which], b"listen 9443\n"),
        service,
        config_dir,
        monkeypatch,
        tmp_path,
    )

    restored_over_a_mess(service, config_dir, backup, tuple(names))

    # Each name as it was read, and the two still one file: rsync -H judges the links.
    assert rsync_differences(as_it_is_now, config_dir, "--delete", "-c") == []
    assert names[which].read_bytes() == b"listen 9443\n"
    others = [name for name in names if name != names[which]]
    assert [name.read_bytes() for name in others] == [b"listen 8443\n"] * 2
    assert os.path.samefile(*others)


def test_the_other_names_of_a_hardlinked_file_whose_first_name_is_removed_stay_one_file(
    service, environment, config_dir, monkeypatch, tmp_path
):
    names = _one_file_under_three_names(config_dir, b"listen 8443\n")
    backup, as_it_is_now = backed_up_while(
        names[0].unlink, service, config_dir, monkeypatch, tmp_path
    )

    assert backup.skipped == ["a/shared.conf" + REMOVED_NOTE]
    restored_over_a_mess(service, config_dir, backup, tuple(names[1:]))

    assert rsync_differences(as_it_is_now, config_dir, "--delete", "-c") == []
    assert os.path.samefile(names[1], names[2])


def _same_content_tightened(path: Path) -> None:
    # A configuration tool writes the same content again, with the mode it enforces.
    scratch = path.with_name(path.name + ".new")
    scratch.write_bytes(path.read_bytes())
    os.chmod(scratch, 0o600)
    os.replace(scratch, path)


def test_a_hardlinked_name_given_the_same_content_anew_keeps_its_own_mode_and_the_others_theirs(
    service, environment, config_dir, monkeypatch, tmp_path
):
    names = _one_file_under_three_names(config_dir, b"listen 8443\n")
    backup, as_it_is_now = backed_up_while(
        lambda: _same_content_tightened(names[0]), service, config_dir, monkeypatch, tmp_path
    )

    restored_over_a_mess(service, config_dir, backup, tuple(names))

    assert rsync_differences(as_it_is_now, config_dir, "--delete", "-c") == []
    assert stat.S_IMODE(names[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(names[1].stat().st_mode) == 0o644 and os.path.samefile(*names[1:])


def _replace_with_secret(path: Path) -> None:
    # An operator's tool writes a secret beside the file, tightens it and renames it over
    # the old one: the content read is the new file's, and so must be its mode and owner.
    scratch = path.with_name(path.name + ".new")
    scratch.write_bytes(b"password: hunter2\n")
    os.chmod(scratch, 0o600)
    if os.geteuid() == 0:
        os.chown(scratch, 65534, 65534)
    os.utime(scratch, ns=(1_650_000_000_123_456_789,) * 2)
    os.replace(scratch, path)


@pytest.mark.parametrize("racy", [True, False], ids=["changed-within-a-tick", "long-settled"])
def test_a_file_replaced_after_the_scan_comes_back_with_the_mode_owner_and_time_of_what_was_read(
    service, environment, config_dir, monkeypatch, tmp_path, racy
):
    if not racy:  # the scan then trusts a ctime to tell it the file read is another
        monkeypatch.setattr(scanning, "RACY_NS", 0)
    secret = config_dir / "conf.d" / "cache.ini"
    os.chmod(secret, 0o644)
    backup, as_it_is_now = backed_up_while(
        lambda: _replace_with_secret(secret), service, config_dir, monkeypatch, tmp_path
    )

    restored_over_a_mess(service, config_dir, backup)

    assert rsync_differences(as_it_is_now, config_dir, "--delete", "-c") == []
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def _fill_in(path: Path) -> None:
    # A database writes into what was a hole, in place: the same file, with more data.
    with open(path, "r+b") as out:
        out.write(b"x" * (256 << 10))


def _replace_with_other_holes(path: Path) -> None:
    scratch = path.with_name(path.name + ".new")
    with open(scratch, "wb") as out:
        out.write(b"head" * 1024)
        out.truncate(path.stat().st_size)
    os.replace(scratch, path)


@pytest.mark.parametrize("change", [_fill_in, _replace_with_other_holes])
def test_a_sparse_file_that_changes_after_the_scan_comes_back_with_the_content_read(
    service, environment, config_dir, monkeypatch, tmp_path, change
):
    sparse = config_dir / "data.img"
    with open(sparse, "wb") as out:
        out.seek(1 << 20)
        out.write(b"tail")
    backup, as_it_is_now = backed_up_while(
        lambda: change(sparse), service, config_dir, monkeypatch, tmp_path
    )

    restored_over_a_mess(service, config_dir, backup, (sparse,))

    assert rsync_differences(as_it_is_now, config_dir, "--delete", "-c") == []
    assert sparse.read_bytes() == (as_it_is_now / "data.img").read_bytes()
    assert sparse.stat().st_blocks <= (as_it_is_now / "data.img").stat().st_blocks
