"""The fast engine keeps its promises: helper processes, shared manifests, a trustworthy cache."""

import contextlib
import hashlib
import marshal
import os
import shutil
import sqlite3
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from envops_desktop.domain.changes import ChangeKind
from envops_desktop.domain.errors import (
    InvalidConfigurationFileError,
    OperationCancelledError,
    OperationFailedError,
)
from envops_desktop.domain.models import Backup, RestoreCommand
from envops_desktop.domain.progress import CancelToken, Progress
from envops_desktop.service import EnvOpsService, parallel
from envops_desktop.store.database import DATABASE_NAME
from envops_desktop.store.hash_caches import decode_cache
from envops_desktop.store.manifest_codec import encode_manifest, read_manifest
from envops_desktop.store.migrations import MIGRATIONS
from tests.spies import SlowView, child_commands_after
from tests.store_view import damage_blob, store_files
from tests.trees import (
    describe_tree,
    made_long_ago,
    make_config_tree,
    mess_up,
    posix_acl,
    rsync_differences,
    snapshot,
)


@pytest.fixture
def helper_processes(monkeypatch):
    """Make every operation big enough to run in helper processes."""
    monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 0)


def manifest_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / DATABASE_NAME) as conn:
        return conn.execute("SELECT COUNT(*) FROM manifests").fetchone()[0]


def test_backup_and_restore_in_helper_processes_round_trip(
    helper_processes, service, environment, config_dir
):
    (config_dir / "firmware.bin").write_bytes(os.urandom(5 << 20))  # streamed, not read whole
    before = describe_tree(config_dir)
    backup = service.create_backup("billing")
    mess_up(config_dir)
    service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == before


def pools_used(monkeypatch) -> dict[str, str]:
    """The pool ("helpers" or "threads") each kind of work ("envops-restore") used last, from
    now on."""
    # Imported first, so that a module that takes the pool by name at its import (the
    # preview's) keeps the real one, not this spy, after the test.
    from envops_desktop.service import tree_diff  # noqa: F401

    used: dict[str, str] = {}
    original = parallel.parallel_map

    def noting_the_pool(work, items, name: str, *args, processes: bool = False, **kwargs):
        used[name] = "helpers" if processes else "threads"
        return original(work, items, name, *args, processes=processes, **kwargs)

    monkeypatch.setattr(parallel, "parallel_map", noting_the_pool)
    return used


_STORING_AND_WRITING = ("envops-backup", "envops-export", "envops-upload", "envops-restore")


def test_a_tree_of_many_small_files_is_backed_up_restored_exported_and_imported_by_helpers(
    service, environment, config_dir, monkeypatch, tmp_path
):
    # Config files of under 100 bytes, a few dozen kilobytes in all, yet each file's own cost
    # (open, write, metadata, close) is the work, and under one GIL two cores did the work of
    # one. The smallest such work that helpers take is brought down to 1,000 files (it is
    # about 8,000) to keep this test quick. The configuration of a dozen files stays on
    # threads: helpers cost more to start than they would save.
    monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 1_000 * parallel.FILE_COST_BYTES)
    backup = service.create_backup("billing")
    exported = service.export_backup(backup.id, tmp_path / "small.envops.zip")
    for index in range(1_100):
        folder = config_dir / "generated" / f"module{index % 30:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"setting{index}.conf").write_text(f"key{index} = {index * 7}\n")
    used = pools_used(monkeypatch)

    many = service.create_backup("billing")
    service.export_backup(many.id, tmp_path / "many.envops.zip")
    service.import_configuration_file(
        "billing", service.check_configuration_file(tmp_path / "many.envops.zip")
    )
    as_backed_up = snapshot(config_dir, tmp_path / "as-backed-up")
    mess_up(config_dir)
    service.restore_backup("billing", many.id)
    assert [used.get(work) for work in _STORING_AND_WRITING] == ["helpers"] * 4
    assert rsync_differences(as_backed_up, config_dir, "--delete") == []

    used.clear()
    service.import_configuration_file("billing", service.check_configuration_file(exported))
    service.restore_backup("billing", backup.id)
    assert [used.get(work) for work in ("envops-upload", "envops-restore")] == ["threads"] * 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")
def test_checking_a_file_of_many_small_files_starts_the_helpers_loading_for_its_import(
    service, environment, config_dir, tmp_path
):
    # Its size says little (a few hundred kilobytes); its manifest says 1,100 files, which
    # helpers take once the smallest work they take is 1,000 files (it is about 8,000).
    small = service.export_backup(service.create_backup("billing").id, tmp_path / "s.zip")
    for index in range(1_100):
        (config_dir / f"setting{index}.conf").write_text(f"key{index} = {index}\n")
    many = service.export_backup(service.create_backup("billing").id, tmp_path / "m.zip")
    check = (
        "from pathlib import Path\n"
        "from envops_desktop.service import EnvOpsService, parallel\n"
        "parallel.PROCESSES_FROM_BYTES = 1_000 * parallel.FILE_COST_BYTES\n"
        "EnvOpsService(Path(sys.argv[2])).check_configuration_file(Path(sys.argv[3]))"
    )
    data_dir = str(service.data_dir)
    assert "forkserver" in child_commands_after(check, data_dir, str(many))
    assert "forkserver" not in child_commands_after(check, data_dir, str(small))


def test_damaged_blob_found_by_a_helper_process_names_the_file(
    helper_processes, service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    entry = next(e for e in service.backup_entries(backup.id) if e.path == "app.yaml")
    damage_blob(tmp_path / "data", entry.sha256)
    before = describe_tree(config_dir)
    with pytest.raises(OperationFailedError, match=r"app\.yaml is damaged"):
        service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == before


def test_small_files_are_packed_by_the_hundred_and_their_packs_go_with_the_last_backup(
    helper_processes, service, environment, config_dir, tmp_path
):
    # A helper's batch makes one pack: in batches of 64, a first backup of 200,000 small
    # files made 3,126 packs, and creating them was an eighth of its helpers' time.
    for index in range(1100):
        (config_dir / f"site{index}.conf").write_text(f"server_name site{index}.example;\n")
    before = describe_tree(config_dir)
    backup = service.create_backup("billing")
    assert len(store_files(tmp_path / "data")) <= 5  # a pack per 256 files, not per file
    mess_up(config_dir)
    service.restore_backup("billing", backup.id)
    assert describe_tree(config_dir) == before
    for each in service.list_backups("billing"):  # the restore kept a backup of the mess too
        service.delete_backup(each.id)
        service.empty_bin()  # for good, not only to Deleted
    assert store_files(tmp_path / "data") == {}


def test_deleting_a_backup_gives_back_the_space_of_its_half_dead_packs(
    service, environment, config_dir, tmp_path
):
    for index in range(50):
        (config_dir / f"key{index}.pem").write_bytes(os.urandom(2000))
    first = service.create_backup("billing")
    for index in range(45):  # the next backup shares only five of these
        (config_dir / f"key{index}.pem").write_bytes(os.urandom(2000))
    second = service.create_backup("billing")
    before = describe_tree(config_dir)
    full = sum(path.stat().st_size for path in store_files(tmp_path / "data"))
    service.delete_backup(first.id)
    service.empty_bin()  # for good, not only to Deleted
    after = sum(path.stat().st_size for path in store_files(tmp_path / "data"))
    assert after < full - 40 * 2000  # the 45 freed keys' bytes are gone from the disk
    assert service.check_store().healthy
    mess_up(config_dir)
    service.restore_backup("billing", second.id)
    assert describe_tree(config_dir) == before


def test_backups_of_an_unchanged_tree_share_one_manifest(service, environment, tmp_path):
    first = service.create_backup("billing")
    second = service.create_backup("billing")
    assert manifest_rows(tmp_path / "data") == 1
    assert list(service.backup_entries(first.id)) == list(service.backup_entries(second.id))
    service.delete_backup(first.id)
    service.empty_bin()  # for good, not only to Deleted
    assert manifest_rows(tmp_path / "data") == 1  # the second backup still needs it
    assert service.check_store().healthy


def test_backup_of_a_tree_backed_up_before_needs_not_even_the_hash_cache(
    settled, service, environment, config_dir, tmp_path
):
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    with sqlite3.connect(tmp_path / "data" / DATABASE_NAME) as conn:
        conn.execute("DELETE FROM hash_caches")
    read: list[Progress] = []
    second = service.create_backup("billing", progress=read.append)
    assert read[-1].total == 0  # the scan matched the first backup's: no file was read
    assert list(service.backup_entries(second.id)) == list(service.backup_entries(first.id))
    assert manifest_rows(tmp_path / "data") == 1


def test_damaged_hash_cache_costs_a_full_read_and_nothing_else(
    service, environment, config_dir, tmp_path
):
    made_long_ago(config_dir)
    service.create_backup("billing")
    (config_dir / "app.yaml").write_text("server:\n  port: 9000\n")  # not the same tree
    made_long_ago(config_dir)
    with sqlite3.connect(tmp_path / "data" / DATABASE_NAME) as conn:
        body = conn.execute("SELECT body FROM hash_caches").fetchone()[0]
        damaged = body[:40] + bytes(b ^ 0xFF for b in body[40:80]) + body[80:]
        conn.execute("UPDATE hash_caches SET body = ?", (damaged,))
    read: list[Progress] = []
    second = service.create_backup("billing", progress=read.append)
    assert read[-1].total == sum(p.stat().st_size for p in _files(config_dir))  # all read
    before = describe_tree(config_dir)
    mess_up(config_dir)
    service.restore_backup("billing", second.id)
    assert describe_tree(config_dir) == before


def _by_path(path: str, size: int, mtime_ns: int, inode: int, sha: str) -> dict:
    return {path: (size, mtime_ns, inode, sha)}


def _by_key(path: str, size: int, mtime_ns: int, inode: int, sha: str) -> dict:
    return {(path, size, mtime_ns, inode): sha}


@pytest.mark.parametrize("older_format", [_by_path, _by_key], ids=["by path", "by key"])
def test_hash_cache_of_an_older_format_costs_one_full_read_and_nothing_else(
    settled, service, environment, config_dir, tmp_path, older_format
):
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    # The earlier formats, one dict for the whole cache: by path alone, then by (path, size,
    # mtime_ns, inode); with a wrong hash, so a backup that still trusted it would record
    # content the files do not have.
    older: dict = {}
    for e in service.backup_entries(first.id):
        if e.sha256:
            inode = (config_dir / e.path).stat().st_ino
            older |= older_format(e.path, e.size, e.mtime_ns, inode, "0" * 64)
    body = zstandard.ZstdCompressor(write_checksum=True).compress(marshal.dumps(older, 2))
    (config_dir / "app.yaml").write_text("server:\n  port: 9000\n")  # not the same tree
    made_long_ago(config_dir)
    with sqlite3.connect(tmp_path / "data" / DATABASE_NAME) as conn:
        conn.execute("UPDATE hash_caches SET body = ?", (body,))
    read: list[Progress] = []
    second = service.create_backup("billing", progress=read.append)
    assert read[-1].total == sum(p.stat().st_size for p in _files(config_dir))  # all read
    assert "0" * 64 not in {e.sha256 for e in service.backup_entries(second.id)}
    read.clear()
    service.create_backup("billing", progress=read.append)
    assert read[-1].total == 0  # and the cache is whole again


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_file_rewritten_in_the_same_instant_as_a_backup_is_read_again(
    service, environment, config_dir
):
    # A file changed within the mtime tick of a backup may change again without its size or
    # mtime moving; such a tree must not be taken as the same tree next time.
    conf = config_dir / "app.yaml"
    conf.write_text("port: 8000\n")
    stamp = conf.stat().st_mtime_ns
    service.create_backup("billing")
    conf.write_text("port: 9000\n")  # same size, same inode
    os.utime(conf, ns=(stamp, stamp))
    second = service.create_backup("billing")
    stored = {e.path: e.sha256 for e in service.backup_entries(second.id)}
    assert stored["app.yaml"] == hashlib.sha256(b"port: 9000\n").hexdigest()


def _named_by_digest(data_dir: Path, backup_id: str) -> bool:
    with sqlite3.connect(data_dir / DATABASE_NAME) as conn:
        query = "SELECT tree_digest FROM backups WHERE id = ?"
        return conn.execute(query, (backup_id,)).fetchone()[0] is not None


def test_a_same_size_edit_after_a_backup_that_read_nothing_is_kept(
    settled, service, environment, config_dir, tmp_path
):
    # A backup that trusted every file's cached hash names its tree by a digest of what the
    # scan saw, and the next scan with that digest reuses its manifest. An edit in place that
    # keeps size and inode differs only in mtime: the digest must see that.
    made_long_ago(config_dir)
    service.create_backup("billing")
    second = service.create_backup("billing")  # read nothing: its tree digest is recorded
    assert _named_by_digest(tmp_path / "data", second.id)
    conf = config_dir / "app.yaml"
    with conf.open("r+b") as edited:
        edited.write(bytes(b ^ 1 for b in conf.read_bytes()))
    os.utime(conf, ns=(10**18 + 10**9, 10**18 + 10**9))
    latest = service.create_backup("billing")
    stored = {e.path: e.sha256 for e in service.backup_entries(latest.id)}
    assert stored["app.yaml"] == hashlib.sha256(conf.read_bytes()).hexdigest()


def _set_acl(path: Path) -> None:
    os.setxattr(path, "system.posix_acl_access", posix_acl(6, 4, 4242, 4, 4, 0))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: os.setxattr(p, "user.origin", b"deploy-43"), {"user.origin": "ZGVwbG95LTQz"}),
        (lambda p: os.removexattr(p, "user.origin"), None),
        (_set_acl, {"system.posix_acl_access", "user.origin"}),
    ],
    ids=["xattr set", "xattr removed", "ACL set"],
)
def test_an_xattr_change_after_a_backup_that_read_nothing_is_kept(
    settled, service, environment, config_dir, tmp_path, change, expected
):
    # An unchanged tree's backup reads no file's xattrs. Changing them moves no mtime and
    # no size, only the file's ctime: the digest must see that.
    conf = config_dir / "app.yaml"
    os.setxattr(conf, "user.origin", b"deploy-42")
    made_long_ago(config_dir)
    service.create_backup("billing")
    second = service.create_backup("billing")
    assert _named_by_digest(tmp_path / "data", second.id)

    change(conf)
    latest = service.create_backup("billing")

    meta = {e.path: e.meta for e in service.backup_entries(latest.id)}["app.yaml"] or {}
    xattrs = meta.get("xattrs")
    if isinstance(expected, set):
        assert set(xattrs or {}) == expected
    else:
        assert xattrs == expected


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="gives a file away: root")
def test_an_owner_change_after_a_backup_that_read_nothing_is_kept(
    settled, service, environment, config_dir
):
    made_long_ago(config_dir)
    service.create_backup("billing")
    service.create_backup("billing")
    os.chown(config_dir / "app.yaml", 1234, 4321)
    latest = service.create_backup("billing")
    meta = {e.path: e.meta for e in service.backup_entries(latest.id)}["app.yaml"] or {}
    assert (meta.get("uid"), meta.get("gid")) == (1234, 4321)


def test_a_backup_of_an_unchanged_tree_lists_no_file_s_xattrs(
    settled, service, environment, config_dir, xattrs_listed
):
    made_long_ago(config_dir)
    os.setxattr(config_dir / "app.yaml", "user.origin", b"deploy-42")
    first = service.create_backup("billing")
    service.create_backup("billing")
    xattrs_listed.clear()

    latest = service.create_backup("billing")

    files = {str(config_dir / e.path) for e in service.backup_entries(first.id) if e.sha256}
    assert xattrs_listed and not files & set(xattrs_listed)  # only folders and links
    assert service.backup_entries(latest.id) == service.backup_entries(first.id)


def test_a_first_backup_lists_each_file_s_xattrs_once_on_the_file_it_reads(
    service, environment, config_dir, xattrs_listed
):
    # Listed by path, one file after another before the helpers began, they were 0.4 s of a
    # first backup of 200,000 files; the helper reading a file has it open already.
    os.setxattr(config_dir / "app.yaml", "user.origin", b"deploy-42")

    backup = service.create_backup("billing")

    entries = service.backup_entries(backup.id)
    files = sorted(str(config_dir / e.path) for e in entries if e.sha256)
    assert sorted(path for path in xattrs_listed if path in files) == files
    assert not set(files) & set(xattrs_listed.by_name)
    meta = {e.path: e.meta for e in entries}["app.yaml"] or {}
    assert meta.get("xattrs") == {"user.origin": "ZGVwbG95LTQy"}


def test_a_backup_after_a_few_changes_lists_no_xattrs_of_files_unchanged_since(
    settled, service, environment, config_dir, tmp_path, xattrs_listed
):
    # Once anything had changed, a backup listed the xattrs of every file the hash cache
    # spared reading: 20,000 calls for the 1 GiB tree with 1 % of it changed. A file whose
    # xattrs or ACL changed has a new ctime, and is read whole, on the open file.
    os.setxattr(config_dir / "app.yaml", "user.origin", b"deploy-42")
    os.setxattr(config_dir / "conf.d" / "database.ini", "user.origin", b"deploy-42")
    made_long_ago(config_dir)
    service.create_backup("billing")
    (config_dir / "conf.d" / "new.ini").write_text("[new]\n")  # read whole, on the open file
    os.setxattr(config_dir / "conf.d" / "database.ini", "user.origin", b"deploy-43")
    _set_acl(config_dir / "hooks.sh")
    xattrs_listed.clear()

    latest = service.create_backup("billing")

    entries = service.backup_entries(latest.id)
    listed = {str(config_dir / e.path) for e in entries if e.sha256} & set(xattrs_listed.by_name)
    assert listed == set()
    # What the others' were as the cache knew them is what they are.
    restored = service.restore_to_folder(latest.id, tmp_path / "restored")
    assert rsync_differences(config_dir, restored) == []


def test_a_file_edited_in_place_keeping_its_size_and_mtime_is_backed_up_as_it_is_now(
    settled, service, environment, config_dir, tmp_path
):
    # Its size, mtime and inode are as the hash cache has them, as after `touch -r` or a
    # tool that keeps a file's time: only its ctime moved. borg and restic look at it too.
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    conf = config_dir / "app.yaml"
    was = conf.stat()
    edited = conf.read_bytes().replace(b"8443", b"9443")
    with open(conf, "r+b") as f:  # in place: the same inode
        f.write(edited)
    os.utime(conf, ns=(was.st_atime_ns, was.st_mtime_ns))

    preview = service.preview_restore("billing", first.id)
    latest = service.create_backup("billing")

    assert [(c.path, c.kinds) for c in preview.changes] == [("app.yaml", (ChangeKind.MODIFIED,))]
    restored = service.restore_to_folder(latest.id, tmp_path / "restored")
    assert (restored / "app.yaml").read_bytes() == edited


def test_a_tree_changed_moments_before_its_backup_is_read_whole_next_time(
    service, environment, config_dir, tmp_path, xattrs_listed
):
    # Within the ctime tick of a backup's reading, an xattr may change again without the
    # ctime moving: such a tree is not named by its digest, so the next backup reads every
    # file's xattrs again.
    made_long_ago(config_dir)
    os.setxattr(config_dir / "app.yaml", "user.origin", b"deploy-42")  # its ctime: now
    service.create_backup("billing")
    second = service.create_backup("billing")
    assert not _named_by_digest(tmp_path / "data", second.id)
    xattrs_listed.clear()
    service.create_backup("billing")
    assert str(config_dir / "app.yaml") in xattrs_listed


def test_deleting_a_backup_makes_the_cache_forget_freed_content(service, environment, config_dir):
    # The cache is trusted without looking at the store; deleting the only backup that held
    # a file's content must not leave the next backup pointing at a blob that is gone.
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    service.delete_backup(first.id)
    service.empty_bin()  # for good, not only to Deleted
    second = service.create_backup("billing")
    assert service.check_store().healthy
    before = describe_tree(config_dir)
    mess_up(config_dir)
    service.restore_backup("billing", second.id)
    assert describe_tree(config_dir) == before


def _cache_parts(data_dir: Path) -> tuple[bytes, bytes | None]:
    with sqlite3.connect(data_dir / DATABASE_NAME) as conn:
        return conn.execute("SELECT body, recent FROM hash_caches").fetchone()


def _backup_reading(service: EnvOpsService) -> int:
    """Back up billing; return how many bytes of files it read."""
    read: list[Progress] = []
    service.create_backup("billing", progress=read.append)
    return read[-1].total


def _backed_up_sixty_files(service: EnvOpsService, tmp_path: Path) -> Path:
    """An environment of 67 files, old enough to be cached, backed up once: its hash cache
    is big enough that one changed file goes to the recent part."""
    tree = tmp_path / "env"
    make_config_tree(tree, files=60)
    made_long_ago(tree)
    service.add_environment("billing", tree, version="4.2.0")
    service.create_backup("billing")
    return tree


def test_backup_that_read_a_few_files_adds_them_to_the_cache_without_rewriting_it(
    settled, service, tmp_path
):
    tree = _backed_up_sixty_files(service, tmp_path)
    whole, recent = _cache_parts(tmp_path / "data")
    assert recent is None
    (tree / "app.yaml").write_text("server:\n  port: 9000\n")
    made_long_ago(tree / "app.yaml")  # that file alone: the others' ctimes stay
    service.create_backup("billing")
    after, recent = _cache_parts(tmp_path / "data")
    assert after == whole
    assert [row[0] for row in decode_cache(recent)] == ["app.yaml"]
    # The recent part is read with the whole: another change reads only the file changed.
    (tree / "conf.d" / "cache.ini").write_text("[cache]\nttl=86400\n")  # not the same size
    made_long_ago(tree / "conf.d" / "cache.ini")
    assert _backup_reading(service) == (tree / "conf.d" / "cache.ini").stat().st_size


def test_cache_is_written_whole_again_once_its_recent_part_outgrows_an_eighth_of_it(
    settled, service, tmp_path
):
    tree = _backed_up_sixty_files(service, tmp_path)
    whole, _ = _cache_parts(tmp_path / "data")
    for index in range(12):  # a fifth of the files
        folder = tree / "generated" / f"group{index % 10}"
        (folder / f"file{index}.conf").write_text(f"changed {index}\n")
    made_long_ago(tree)
    service.create_backup("billing")
    after, recent = _cache_parts(tmp_path / "data")
    assert recent is None and after != whole
    assert _backup_reading(service) == 0


def test_deleting_the_backup_that_read_a_file_makes_the_recent_part_forget_it(
    settled, service, tmp_path
):
    tree = _backed_up_sixty_files(service, tmp_path)
    (tree / "app.yaml").write_text("server:\n  port: 9000\n")  # content of its own
    made_long_ago(tree / "app.yaml")
    second = service.create_backup("billing")
    assert _cache_parts(tmp_path / "data")[1] is not None
    service.delete_backup(second.id)
    service.empty_bin()  # for good, not only to Deleted
    assert _backup_reading(service) == (tree / "app.yaml").stat().st_size
    assert service.check_store().healthy


def test_a_backup_right_after_a_restore_reads_no_file_again(service, environment, config_dir):
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    mess_up(config_dir)
    service.restore_backup("billing", first.id)  # every file written anew, new inodes
    assert _backup_reading(service) == 0
    assert service.check_store().healthy


def test_a_file_changed_right_after_a_restore_is_read_again(service, environment, config_dir):
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    service.restore_backup("billing", first.id)
    conf = config_dir / "app.yaml"
    conf.write_bytes(bytes(b ^ 1 for b in conf.read_bytes()))  # same size, new mtime
    assert _backup_reading(service) == conf.stat().st_size
    latest = service.list_backups("billing")[0]
    stored = {e.path: e.sha256 for e in service.backup_entries(latest.id)}
    assert stored["app.yaml"] == hashlib.sha256(conf.read_bytes()).hexdigest()


def test_a_file_a_post_restore_command_rewrote_is_read_again_by_the_next_backup(
    service, config_dir
):
    # The command rewrites app.yaml in place, same size, and dates it like an old file: the
    # restore's settling must not teach the cache the backup's hash for it.
    rewrite = (
        "import os; p = 'app.yaml'; data = open(p, 'rb').read(); "
        "open(p, 'r+b').write(bytes(b ^ 1 for b in data)); os.utime(p, ns=(10**9, 10**9))"
    )
    command = RestoreCommand(argv=[sys.executable, "-c", rewrite], timeout_seconds=30)
    service.add_environment("billing", config_dir, version="4.2.0", post_restore_command=command)
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    service.restore_backup("billing", first.id)
    conf = config_dir / "app.yaml"
    assert conf.stat().st_mtime_ns == 10**9  # the command ran
    latest = service.create_backup("billing")
    stored = {e.path: e.sha256 for e in service.backup_entries(latest.id)}
    assert stored["app.yaml"] == hashlib.sha256(conf.read_bytes()).hexdigest()


def test_a_restored_backup_deleted_before_it_settles_is_not_named_by_the_cache(
    service, environment, config_dir, tmp_path
):
    # The settling process runs on its own; the backup it restored may be deleted first, and
    # then the cache must not name that backup's content, now gone from the store.
    made_long_ago(config_dir)
    first = service.create_backup("billing")
    mess_up(config_dir)
    later = EnvOpsService(tmp_path / "data", settle_later=True)
    later.restore_backup("billing", first.id)
    unsettled = later.unsettled_restores()
    service.delete_backup(first.id)
    service.empty_bin()  # for good, not only to Deleted
    later.settle_restores(unsettled)
    later.close()
    assert _backup_reading(service) == sum(p.stat().st_size for p in _files(config_dir))
    assert service.check_store().healthy


def test_large_mixed_file_is_compressed_past_its_incompressible_start(
    service, environment, config_dir, tmp_path
):
    text = b"listen_address = 10.0.0.1\nworker_threads = 8\n" * 100_000
    (config_dir / "disk.img").write_bytes(os.urandom(2 << 20) + text)
    service.create_backup("billing")
    stored = max((tmp_path / "data" / "objects").glob("??/*"), key=lambda p: p.stat().st_size)
    assert stored.suffix == ".zst"
    assert stored.stat().st_size < (2 << 20) + len(text) // 4


def _backed_up_in_an_older_data_dir(
    tmp_path: Path, tree: Path, rewrite: Callable[[Path], None]
) -> tuple[Path, Backup]:
    """A backup of `tree` (environment billing) in a new data dir, which `rewrite` then
    turns into what an older version kept."""
    data = tmp_path / "data"
    service = EnvOpsService(data)
    service.add_environment("billing", tree, version="1")
    backup = service.create_backup("billing")
    service.close()
    rewrite(data)
    return data, backup


def test_a_data_dir_from_the_first_schema_is_migrated_with_its_backups(settled, tmp_path):
    tree = tmp_path / "env"
    tree.mkdir()
    (tree / "a.conf").write_text("port = 1\n")
    made_long_ago(tree)
    data, backup = _backed_up_in_an_older_data_dir(tmp_path, tree, _downgrade_to_first_schema)

    service = EnvOpsService(data)
    try:
        assert [e.path for e in service.backup_entries(backup.id)] == ["a.conf"]
        read: list[Progress] = []
        service.create_backup("billing", progress=read.append)
        assert read[-1].total == 0  # the hash cache came through: nothing was read again
        (tree / "a.conf").write_text("port = 2\n")
        service.restore_backup("billing", backup.id)
        assert (tree / "a.conf").read_text() == "port = 1\n"
        assert (data / f"{DATABASE_NAME.rsplit('.', 1)[0]}.v1.bak").exists()
    finally:
        service.close()


def test_a_data_dir_with_its_pack_index_by_name_keeps_every_packed_content(tmp_path):
    tree = tmp_path / "env"
    make_config_tree(tree, files=60)
    before = describe_tree(tree)
    data, backup = _backed_up_in_an_older_data_dir(tmp_path, tree, _pack_index_by_name)

    service = EnvOpsService(data)
    try:
        with contextlib.closing(sqlite3.connect(data / DATABASE_NAME)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        # An older version looks packs up by name in `packed_blobs`: finding numbers there,
        # it swept every pack as a leftover. With the table gone, it stops at its first look-up.
        assert "packed_blobs" not in tables
        assert service.check_store().healthy
        packs = set(os.listdir(data / "objects" / "packs"))
        copy = tmp_path / "copy"
        shutil.copytree(tree, copy, symlinks=True)
        service.add_environment("billing-copy", copy, version="1")
        service.create_backup("billing-copy")
        assert set(os.listdir(data / "objects" / "packs")) == packs  # all found already
        mess_up(tree)
        service.restore_backup("billing", backup.id)
        assert describe_tree(tree) == before
        for name in ("billing", "billing-copy"):
            for each in service.list_backups(name):
                service.delete_backup(each.id)
        service.empty_bin()
        assert os.listdir(data / "objects" / "packs") == []  # every content freed
        assert service.check_store().healthy
    finally:
        service.close()


def test_a_data_dir_of_a_newer_version_is_refused_and_left_as_it_is(tmp_path):
    data = tmp_path / "data"
    EnvOpsService(data).close()
    with contextlib.closing(sqlite3.connect(data / DATABASE_NAME)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    before = (data / DATABASE_NAME).read_bytes()

    with pytest.raises(OperationFailedError, match="last used by a newer version"):
        EnvOpsService(data)

    assert (data / DATABASE_NAME).read_bytes() == before


def _pack_index_by_name(data: Path) -> None:
    """Rewrite a current data dir's pack index as schema 21 kept it: each content's sha256
    as text, beside its pack's name."""
    conn = sqlite3.connect(data / DATABASE_NAME, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(
        "CREATE TABLE by_name (sha256 TEXT PRIMARY KEY, pack TEXT NOT NULL, offset INTEGER"
        " NOT NULL, length INTEGER NOT NULL, compressed INTEGER NOT NULL) WITHOUT ROWID"
    )
    conn.execute(
        "INSERT INTO by_name SELECT lower(hex(b.sha256)), f.name, b.offset, b.length,"
        " b.compressed FROM packed_contents b JOIN pack_files f ON f.id = b.pack"
    )
    assert conn.execute("SELECT COUNT(*) FROM by_name").fetchone()[0] > 60
    conn.execute("DROP TABLE packed_contents")
    conn.execute("DROP TABLE pack_files")
    conn.execute("ALTER TABLE by_name RENAME TO packed_blobs")
    conn.execute("CREATE INDEX packed_blobs_by_pack ON packed_blobs(pack)")
    conn.execute("PRAGMA user_version = 21")
    conn.execute("COMMIT")
    conn.close()


def _downgrade_to_first_schema(data: Path) -> None:
    """Rewrite a current data dir as the first schema stored it: a row per entry, every blob
    a file of its own."""
    conn = sqlite3.connect(data / DATABASE_NAME, isolation_level=None)
    conn.execute("BEGIN")
    packed = conn.execute(
        "SELECT hex(b.sha256), f.name, b.offset, b.length, b.compressed"
        " FROM packed_contents b JOIN pack_files f ON f.id = b.pack"
    )
    for sha, pack, offset, length, compressed in packed.fetchall():
        sha = sha.lower()
        with open(data / "objects" / "packs" / pack, "rb") as source:
            source.seek(offset)
            loose = data / "objects" / sha[:2] / (sha + (".zst" if compressed else ""))
            loose.parent.mkdir(exist_ok=True)
            loose.write_bytes(source.read(length))
    shutil.rmtree(data / "objects" / "packs")
    conn.execute("DROP TABLE packed_contents")
    conn.execute("DROP TABLE pack_files")
    conn.execute(
        "CREATE TABLE backup_entries (backup_id TEXT NOT NULL, path TEXT NOT NULL,"
        " kind TEXT NOT NULL, mode INTEGER NOT NULL, size INTEGER NOT NULL,"
        " mtime_ns INTEGER NOT NULL, sha256 TEXT, target TEXT, PRIMARY KEY (backup_id, path))"
    )
    for backup_id, body in conn.execute(
        "SELECT b.id, m.body FROM backups b JOIN manifests m ON m.sha256 = b.manifest"
    ).fetchall():
        conn.executemany(
            "INSERT INTO backup_entries VALUES (?,?,?,?,?,?,?,?)",
            [(backup_id, *row[:7]) for row in read_manifest(body)],
        )
    conn.execute("DROP INDEX backups_by_manifest")
    conn.execute(
        "CREATE TABLE file_cache (environment_id TEXT NOT NULL, path TEXT NOT NULL,"
        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,"
        " sha256 TEXT NOT NULL, PRIMARY KEY (environment_id, path)) WITHOUT ROWID"
    )
    caches = conn.execute("SELECT environment_id, body, recent FROM hash_caches").fetchall()
    for env_id, body, recent in caches:
        rows = [*decode_cache(body), *(decode_cache(recent) if recent else ())]
        conn.executemany(
            "INSERT OR REPLACE INTO file_cache VALUES (?,?,?,?,?,?)",
            [(env_id, *row[:5]) for row in rows],  # no xattrs then
        )
    conn.execute("DROP TABLE hash_caches")
    conn.execute("ALTER TABLE backups DROP COLUMN manifest")
    conn.execute("ALTER TABLE backups DROP COLUMN tree_digest")
    conn.execute("ALTER TABLE journal DROP COLUMN boot_id")
    conn.execute("ALTER TABLE backups DROP COLUMN root_meta")
    conn.execute("ALTER TABLE backups DROP COLUMN changed_while_read")
    conn.execute("ALTER TABLE journal DROP COLUMN post_restore_process")
    conn.execute("ALTER TABLE journal DROP COLUMN subject")
    conn.execute("ALTER TABLE journal DROP COLUMN staged_inode")
    conn.execute("ALTER TABLE journal DROP COLUMN generation")
    conn.execute("ALTER TABLE activity DROP COLUMN made_on")
    conn.execute("ALTER TABLE backups DROP COLUMN made_on")
    conn.execute("ALTER TABLE backups DROP COLUMN pinned")
    conn.execute("ALTER TABLE backups DROP COLUMN deleted_at")
    conn.execute("ALTER TABLE backups DROP COLUMN deleted_why")
    conn.execute("ALTER TABLE environments DROP COLUMN excludes")
    conn.execute("ALTER TABLE environments DROP COLUMN allow_links_out")
    conn.execute("ALTER TABLE environments DROP COLUMN pre_restore_argv")
    conn.execute("ALTER TABLE environments DROP COLUMN pre_restore_timeout")
    for table in (
        "shared_environments",
        "shared_backups",
        "shared_parts",
        "shared_packs",
        "shared_deleted",
        "shared_seen",
        "shared_versions",
        "schedules",
        "retention_rules",
        "service_settings",
        "shared_settings",
        "restore_reports",
    ):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DROP TABLE manifests")
    conn.execute("PRAGMA user_version=1")
    conn.execute("COMMIT")
    conn.close()


def test_manifest_name_depends_only_on_its_entries():
    rows = [("b", "file", 0o644, 1, 5, "ab" * 32, None), ("a", "dir", 0o755, 0, 5, None, None)]
    assert encode_manifest(rows) == encode_manifest(list(reversed(rows)))


def test_export_deflated_in_helper_processes_is_a_sound_zip_that_imports_back(
    helper_processes, service, environment, config_dir, tmp_path
):
    (config_dir / "firmware.bin").write_bytes(os.urandom(1 << 20))
    (config_dir / "big.log").write_bytes(b"level=info msg=started\n" * 300_000)  # streamed
    text = b"listen_address = 10.0.0.1\nworker_threads = 8\n" * 70_000  # 3.2 MB
    random_part = os.urandom(3 << 20)
    disk = random_part[: 2 << 20] + text + random_part[2 << 20 :] + text
    (config_dir / "disk.img").write_bytes(disk)
    before = describe_tree(config_dir)
    backup = service.create_backup("billing")
    exported = service.export_backup(backup.id, tmp_path / "out.zip")
    with zipfile.ZipFile(exported) as archive:
        assert archive.testzip() is None  # every entry's CRC and length as its header says
        methods = {info.filename: info.compress_type for info in archive.infolist()}
        disk_info = archive.getinfo("config/disk.img")
    assert methods["config/big.log"] == zipfile.ZIP_DEFLATED
    # One deflated entry: its random stretches barely grow, its text shrinks.
    assert disk_info.compress_type == zipfile.ZIP_DEFLATED
    assert len(random_part) < disk_info.compress_size < len(random_part) + len(text) // 2
    assert methods["config/firmware.bin"] == zipfile.ZIP_STORED  # random bytes stay as they are
    assert not list((tmp_path / "data" / "staging").iterdir())  # scratch batches cleaned up
    mess_up(config_dir)
    staged = service.stage_configuration_file(exported)
    service.import_configuration("billing", staged)
    assert describe_tree(config_dir) == before


def test_cancelled_export_leaves_no_file_and_no_scratch(
    helper_processes, service, environment, config_dir, tmp_path
):
    for index in range(200):
        (config_dir / f"part{index}.cfg").write_bytes(os.urandom(64 << 10))
    backup = service.create_backup("billing")
    cancel = CancelToken()

    def cancel_midway(progress: Progress) -> None:
        if progress.done > 0:
            cancel.cancel()

    with pytest.raises(OperationCancelledError):
        service.export_backup(backup.id, tmp_path / "out.zip", cancel_midway, cancel)
    assert not (tmp_path / "out.zip").exists()
    assert not (tmp_path / "out.zip.part").exists()
    assert not list((tmp_path / "data" / "staging").iterdir())


class _CancelledOnceWritten(CancelToken):
    """Cancelled as the file at `path` passes `size` bytes: the user's Cancel, pressed while
    the export writes out a large file's body."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__()
        self._path, self._size = path, size

    def raise_if_cancelled(self) -> None:
        if self._path.exists() and self._path.stat().st_size > self._size:
            self.cancel()
        super().raise_if_cancelled()


def test_an_export_cancelled_while_it_writes_a_large_body_stops_there(
    service, environment, config_dir, tmp_path
):
    (config_dir / "zz-image.bin").write_bytes(os.urandom(96 << 20))  # the last, stored as is
    backup = service.create_backup("billing")
    cancel = _CancelledOnceWritten(tmp_path / "out.zip.part", 32 << 20)

    with pytest.raises(OperationCancelledError):
        service.export_backup(backup.id, tmp_path / "out.zip", cancel=cancel)

    assert not (tmp_path / "out.zip").exists()
    assert not (tmp_path / "out.zip.part").exists()


def test_an_export_moves_its_bar_while_it_writes_a_large_body_into_the_zip(
    service, environment, config_dir, tmp_path
):
    size = 96 << 20
    (config_dir / "zz-image.bin").write_bytes(os.urandom(size))  # the last, stored as is
    backup = service.create_backup("billing")
    part = tmp_path / "out.zip.part"
    seen: list[tuple[int, int]] = []  # each report's bytes done, with the zip's size then

    class Watching(SlowView):
        def __call__(self, progress: Progress) -> None:
            if progress.phase == "exporting" and progress.done < progress.total:
                seen.append((progress.done, part.stat().st_size if part.exists() else 0))
            super().__call__(progress)

    service.export_backup(backup.id, tmp_path / "out.zip", progress=Watching())

    # Reports made as the image's body went in (the zip past a third of it): before, none
    # came between its deflating and the end, a second and a half for a 1 GiB image.
    copying = [done for done, zipped in seen if zipped > size // 3]
    assert len(copying) >= 2 and copying == sorted(copying) and copying[0] < copying[-1]


def _replicas_exported_to_a_second_workstation(
    service: EnvOpsService, config_dir: Path, tmp_path: Path
) -> tuple[Path, dict, EnvOpsService, Path]:
    """billing with forty files of one content, exported; and an empty billing elsewhere.

    Returns the file, the tree it holds, the other workstation's service and its folder.
    """
    shared = os.urandom(300 << 10)
    for index in range(40):  # the same content in many files, taken in side by side
        (config_dir / f"replica{index}.bin").write_bytes(shared)
    before = describe_tree(config_dir)
    exported = service.export_backup(service.create_backup("billing").id, tmp_path / "c.zip")
    other_dir = tmp_path / "workstation2" / "billing"
    other_dir.mkdir(parents=True)
    other = EnvOpsService(tmp_path / "data2")
    other.add_environment("billing", other_dir, version="4.2.0")
    return exported, before, other, other_dir


def test_upload_in_helper_processes_keeps_each_new_content_once_and_imports_back(
    helper_processes, service, environment, config_dir, tmp_path
):
    exported, before, other, other_dir = _replicas_exported_to_a_second_workstation(
        service, config_dir, tmp_path
    )
    staged = other.stage_configuration_file(exported)
    contents = {e.sha256 for e in staged.manifest.entries if e.sha256}
    assert sorted(p.name for p in staged.blobs.directory.iterdir()) == sorted(contents)
    other.import_configuration("billing", staged)
    assert describe_tree(other_dir) == before
    other.close()


def test_import_in_one_pass_in_helper_processes_writes_the_tree_and_keeps_each_content_once(
    helper_processes, service, environment, config_dir, tmp_path
):
    exported, before, other, other_dir = _replicas_exported_to_a_second_workstation(
        service, config_dir, tmp_path
    )
    other.import_configuration_file("billing", other.check_configuration_file(exported))
    assert describe_tree(other_dir) == before
    [imported] = other.list_backups("billing")
    contents = {e.sha256 for e in other.backup_entries(imported.id) if e.sha256}
    assert len(store_files(tmp_path / "data2")) == len(contents)  # the 40 replicas: one blob
    assert other.check_store().healthy
    assert not list((tmp_path / "data2" / "staging").iterdir())
    other.close()


def test_damaged_file_found_by_a_helper_process_refuses_the_upload_naming_it(
    helper_processes, service, environment, config_dir, tmp_path
):
    for index in range(30):
        (config_dir / f"part{index}.cfg").write_bytes(os.urandom(64 << 10))
    exported = service.export_backup(service.create_backup("billing").id, tmp_path / "c.zip")
    with zipfile.ZipFile(exported) as archive:
        info = archive.getinfo("config/part17.cfg")
    with open(exported, "r+b") as f:  # one byte of a stored body, past its local header
        f.seek(info.header_offset + 30 + len(info.filename) + len(info.extra) + 1000)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(InvalidConfigurationFileError, match=r"'part17\.cfg' is damaged"):
        service.stage_configuration_file(exported)
    assert list((tmp_path / "data" / "staging").iterdir()) == []
