"""A restore keeps everything `rsync -aHAX` keeps: rsync itself is the judge."""

import os
import shutil

import pytest

from envops_desktop.domain.changes import ChangeKind
from envops_desktop.domain.errors import OperationFailedError
from tests.disks import disk_without_xattrs, ext4_disk, needs_root_to_mount, small_disk
from tests.trees import (
    SPARSE_SIZE,
    changed_by_rsync,
    make_tree_of_every_kind,
    needs_rsync,
    posix_acl,
    rsync_differences,
    snapshot,
)

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def tree_of_every_kind(tmp_path):
    root = tmp_path / "environments" / "mail"
    root.mkdir(parents=True)
    make_tree_of_every_kind(root, as_root=AS_ROOT)
    reference = tmp_path / "reference"
    snapshot(root, reference)
    assert rsync_differences(reference, root) == []
    return root, reference


def _empty(folder):
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@needs_rsync
def test_restore_brings_back_owners_xattrs_acls_hardlinks_holes_and_special_files(
    service, tree_of_every_kind
):
    root, reference = tree_of_every_kind
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    _empty(root)
    os.chmod(root, 0o700)
    if AS_ROOT:
        os.chown(root, 0, 0)

    service.restore_backup("mail", backup.id)

    assert rsync_differences(reference, root) == []
    # Holes too, which rsync does not compare: the 256 MiB files take a few blocks.
    for sparse in ("sparse.img", "all-hole.img"):
        assert (root / sparse).stat().st_blocks * 512 < SPARSE_SIZE // 100, sparse


@needs_rsync
def test_export_and_import_with_privileges_allowed_bring_back_the_same_tree(
    service, tree_of_every_kind, tmp_path
):
    root, reference = tree_of_every_kind
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    exported = service.export_backup(backup.id, tmp_path / "mail.envops")
    copy = tmp_path / "environments" / "mail-copy"
    copy.mkdir()
    service.add_environment("mail-copy", copy, version="1.0")

    checked = service.check_configuration_file(exported, keep_privileges=True)
    service.import_configuration_file("mail-copy", checked)

    assert rsync_differences(reference, copy) == []
    for sparse in ("sparse.img", "all-hole.img"):
        assert (copy / sparse).stat().st_blocks * 512 < SPARSE_SIZE // 100, sparse


def _imported_without_privileges(service, backup, root, tmp_path):
    """What importing `backup` of mail, exported, back into mail without its privileges
    would change, and the changes rsync finds once it has."""
    exported = service.export_backup(backup.id, tmp_path / "mail.envops")
    before = snapshot(root, tmp_path / "before")
    checked = service.check_configuration_file(exported, allow_external_links=True)
    preview = service.preview_import("mail", checked)
    service.import_configuration_file("mail", checked)
    return {change.path: change.kinds for change in preview.changes}, changed_by_rsync(
        before, root, "-c"
    )


@needs_rsync
@pytest.mark.skipif(not AS_ROOT, reason="trusted attributes are root's")
def test_an_import_without_privileges_previews_the_trusted_attribute_a_file_loses(
    service, tmp_path
):
    # The file and the folder hold the attribute the file records; imported without its
    # privileges, the file is written without it, and the one it replaces goes.
    root = tmp_path / "environments" / "mail"
    root.mkdir(parents=True)
    (root / "main.cf").write_text("listen = 25\n")
    os.setxattr(root / "main.cf", "trusted.origin", b"ops")
    os.setxattr(root / "main.cf", "user.note", b"kept")
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")

    previewed, changed = _imported_without_privileges(service, backup, root, tmp_path)

    assert previewed == {"main.cf": (ChangeKind.XATTRS,)}
    assert set(previewed) == changed
    assert os.listxattr(root / "main.cf") == ["user.note"]


@needs_rsync
@pytest.mark.skipif(not AS_ROOT, reason="only root gives a folder away")
@pytest.mark.parametrize("folder_xattr", [False, True], ids=["owner-only", "with-an-xattr"])
def test_an_import_without_privileges_leaves_the_folder_s_owner_as_the_preview_says(
    service, tmp_path, folder_xattr
):
    # The file records the folder's owner, which an import without privileges does not
    # give: the folder keeps the owner it has (a record of an xattr as well made it root's).
    root = tmp_path / "environments" / "mail"
    root.mkdir(parents=True)
    (root / "main.cf").write_text("listen = 25\n")
    os.chown(root, 4242, 4242)
    if folder_xattr:
        os.setxattr(root, "user.note", b"mail's")
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    os.chown(root / "main.cf", 4242, 4242)  # the import gives it back to root

    previewed, changed = _imported_without_privileges(service, backup, root, tmp_path)

    assert previewed == {"main.cf": (ChangeKind.OWNER,)}
    assert set(previewed) == changed
    assert (root.stat().st_uid, root.stat().st_gid) == (4242, 4242)


def _restore_by(how, service, backup, root, tmp_path):
    """Restore `backup` of mail as `how` says; the folder it wrote."""
    if how == "restore":
        service.restore_backup("mail", backup.id)
        return root
    if how == "to a folder":
        return service.restore_to_folder(backup.id, root.parent / "mail-as-it-was")
    exported = service.export_backup(backup.id, tmp_path / "mail.envops")
    copy = root.parent / "mail-copy"
    copy.mkdir()
    service.add_environment("mail-copy", copy, version="1.0")
    service.import_configuration_file(
        "mail-copy", service.check_configuration_file(exported, keep_privileges=True)
    )
    return copy


@needs_rsync
@pytest.mark.parametrize("how", ["restore", "to a folder", "import"])
def test_a_default_acl_on_the_folder_around_gives_nothing_restored_an_acl_of_its_own(
    service, tree_of_every_kind, tmp_path, how
):
    # /srv given a default ACL for a deploy group since the backup: every new file there
    # takes an ACL from it, but rsync -aHAX writes each file with just the ACL it had.
    root, reference = tree_of_every_kind
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    os.setxattr(root.parent, "system.posix_acl_default", posix_acl(7, 7, 4243, 5, 7, 5))

    written = _restore_by(how, service, backup, root, tmp_path)

    assert rsync_differences(reference, written) == []


@needs_rsync
def test_an_excluded_folder_left_alone_takes_no_acl_from_the_folder_restored_around_it(
    service, tree_of_every_kind, tmp_path
):
    root, _reference = tree_of_every_kind
    run = root / "shared" / "team" / "run"  # team has a default ACL
    run.mkdir()
    (run / "daemon.pid").write_text("4242\n")
    for name in ("system.posix_acl_access", "system.posix_acl_default"):
        os.removexattr(run, name)  # made before the team's default ACL was set
    service.add_environment("mail", root, version="1.0")
    service.set_excludes("mail", ["run/"])
    backup = service.create_backup("mail")
    reference = tmp_path / "as-it-was"
    snapshot(root, reference)

    service.restore_backup("mail", backup.id)

    assert rsync_differences(reference, root) == []


@needs_root_to_mount
def test_a_restore_onto_a_disk_that_keeps_no_xattrs_says_which_and_changes_nothing(
    service, tmp_path
):
    # ramfs says it has 0 bytes free, and keeps no extended attribute: the restore was
    # refused for want of space, and once past that said "Could not write 12: Operation
    # not supported", 12 being a descriptor.
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "app.yaml").write_text("port: 8443\n")
    (mail / "tagged.ini").write_text("[tagged]\n")
    os.setxattr(mail / "tagged.ini", "user.origin", b"deploy-42")
    service.add_environment("mail", mail, version="1.0")
    backup = service.create_backup("mail")
    with disk_without_xattrs(tmp_path / "ram") as ram:
        test = ram / "srv" / "test"
        test.mkdir(parents=True)
        (test / "app.yaml").write_text("port: 9000\n")
        service.add_environment("test", test, version="1.0")
        with pytest.raises(OperationFailedError) as into_test:
            service.restore_backup("test", backup.id, from_environment="mail")
        with pytest.raises(OperationFailedError) as to_a_folder:
            service.restore_to_folder(backup.id, ram / "restored")
        left = sorted(os.listdir(ram)), sorted(os.listdir(ram / "srv"))
        kept = (test / "app.yaml").read_text()

    why = (
        "Could not write tagged.ini: its disk cannot keep extended attributes such as "
        "user.origin (Operation not supported)."
    )
    assert str(into_test.value) == f"{why} The configuration of test was not changed."
    assert str(to_a_folder.value) == why
    assert left == (["srv"], ["test"]) and kept == "port: 9000\n"


@needs_root_to_mount
def test_an_xattr_too_big_for_the_disk_restored_to_is_named_not_called_a_full_disk(
    service, tmp_path
):
    # tmpfs keeps a 16 KiB attribute, ext4 one that fits in a block: its "No space left on
    # device" was said as "The disk that holds … is full" of a disk with room to spare.
    with small_disk(tmp_path / "tmpfs", "16m") as tmpfs:
        mail = tmpfs / "mail"
        mail.mkdir()
        (mail / "app.yaml").write_text("port: 8443\n")
        os.setxattr(mail / "app.yaml", "user.signature", os.urandom(16 << 10))
        service.add_environment("mail", mail, version="1.0")
        backup = service.create_backup("mail")
        with ext4_disk(tmp_path / "ext4") as ext4:
            with pytest.raises(OperationFailedError) as refused:
                service.restore_to_folder(backup.id, ext4 / "restored")
            left = sorted(os.listdir(ext4))

    assert str(refused.value) == (
        "Could not write app.yaml: its disk cannot keep an extended attribute of 16,384 "
        "bytes (user.signature), too big for it."
    )
    assert left == ["lost+found"]
