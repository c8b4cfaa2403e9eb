"""Restoring a backup into a folder of its own: the environment stays as it is."""

import os
import subprocess

import pytest

from envops_desktop.domain.enums import ActivityAction
from envops_desktop.domain.errors import (
    InvalidInputError,
    NotFoundError,
    OperationCancelledError,
    OperationFailedError,
)
from envops_desktop.domain.progress import CancelToken
from tests.disks import needs_root_to_mount, small_disk
from tests.trees import (
    describe_tree,
    make_tree_of_every_kind,
    mess_up,
    needs_rsync,
    rsync_differences,
    snapshot,
)

AS_ROOT = os.geteuid() == 0


@needs_rsync
def test_a_backup_restored_to_a_new_folder_is_whole_and_leaves_the_environment_alone(
    service, tmp_path
):
    root = tmp_path / "environments" / "mail"
    root.mkdir(parents=True)
    make_tree_of_every_kind(root, as_root=AS_ROOT)
    reference = tmp_path / "reference"
    snapshot(root, reference)
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    mess_up(root)
    messed = tmp_path / "messed"
    snapshot(root, messed)

    folder = service.restore_to_folder(backup.id, tmp_path / "old-mail")

    assert folder == tmp_path / "old-mail"
    assert rsync_differences(reference, folder) == []
    assert rsync_differences(messed, root, "--delete") == []
    entry = service.activity("mail")[0]
    assert entry.action is ActivityAction.RESTORED_TO_FOLDER and str(folder) in entry.detail
    assert service.get_environment("mail").last_restored_backup_id is None


def test_a_folder_that_is_not_empty_or_inside_the_environment_is_refused(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine\n")
    before = describe_tree(config_dir)

    with pytest.raises(InvalidInputError, match="is not empty"):
        service.restore_to_folder(backup.id, busy)
    with pytest.raises(InvalidInputError, match="inside billing's folder"):
        service.restore_to_folder(backup.id, config_dir / "copy")
    with pytest.raises(InvalidInputError, match=r"keep\.txt is a file, not a folder"):
        service.restore_to_folder(backup.id, busy / "keep.txt" / "copy")
    with pytest.raises(NotFoundError, match="missing does not exist"):
        service.restore_to_folder(backup.id, tmp_path / "missing" / "copy")
    with pytest.raises(InvalidInputError, match=r"keep\.txt is not a folder"):
        service.restore_to_folder(backup.id, busy / "keep.txt")
    (tmp_path / "empty-elsewhere").mkdir()
    os.symlink(tmp_path / "empty-elsewhere", tmp_path / "link")
    with pytest.raises(InvalidInputError, match="link is a link, not a folder; choose the folder"):
        service.restore_to_folder(backup.id, tmp_path / "link")
    assert list((tmp_path / "empty-elsewhere").iterdir()) == []

    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    assert describe_tree(config_dir) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert service.restore_to_folder(backup.id, empty) == empty
    assert describe_tree(empty)["app.yaml"] == before["app.yaml"]


def test_a_folder_of_another_environment_is_refused_even_when_empty(service, environment, tmp_path):
    # Written there, a backup of billing would change staging (of another version even)
    # behind its lock, its status and its activity log: that is a restore with --from.
    backup = service.create_backup("billing")
    staging = tmp_path / "staging-env"
    staging.mkdir()
    service.add_environment("staging", staging, version="9.9")
    (tmp_path / "web").mkdir()
    service.add_environment("web", tmp_path / "web", version="4.2.0")
    (tmp_path / "web" / "index.html").write_text("<h1>web</h1>\n")

    for inside, name in ((staging, "staging"), (tmp_path / "web" / "copy", "web")):
        for attempt in (service.check_restore_to_folder, service.restore_to_folder):
            with pytest.raises(InvalidInputError, match=f"inside {name}'s folder"):
                attempt(backup.id, inside)
    assert list(staging.iterdir()) == []
    assert [p.name for p in (tmp_path / "web").iterdir()] == ["index.html"]


def test_a_folder_inside_the_data_folder_is_refused_as_its_scratch_is_cleared(
    service, environment, config_dir
):
    # Its staging folder is emptied at every start: a copy written there would be lost.
    backup = service.create_backup("billing")
    data = service.data_dir

    for inside in (data / "staging" / "copy", data / "copy"):
        with pytest.raises(InvalidInputError, match="inside EnvOps's data folder"):
            service.restore_to_folder(backup.id, inside)
        assert not inside.exists()


def test_a_cancelled_restore_to_a_folder_leaves_nothing_behind(service, environment, tmp_path):
    backup = service.create_backup("billing")
    cancel = CancelToken()
    cancel.cancel()

    with pytest.raises(OperationCancelledError):
        service.restore_to_folder(backup.id, tmp_path / "never", cancel=cancel)

    assert not (tmp_path / "never").exists()
    assert not [p for p in tmp_path.iterdir() if "envops-staging" in p.name]


@needs_root_to_mount
@pytest.mark.parametrize("size", ["32m", "4m"], ids=["room-enough", "too-small-too"])
def test_a_restore_to_a_folder_on_a_read_only_disk_says_so_in_a_sentence(
    service, environment, tmp_path, size
):
    # A read-only disk with little room was said to have too little free space.
    backup = service.create_backup("billing")
    with small_disk(tmp_path / "mounted", size) as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(
            OperationFailedError, match=r"^Cannot write in .*mounted \(Read-only file system\)"
        ):
            service.restore_to_folder(backup.id, disk / "old-billing")
        assert list(disk.iterdir()) == []


@needs_root_to_mount
def test_a_restore_to_a_folder_on_a_disk_too_small_is_refused_before_writing(
    service, environment, tmp_path
):
    backup = service.create_backup("billing")
    with small_disk(tmp_path / "mounted", "4m") as disk:
        with pytest.raises(OperationFailedError, match=r"^Not enough free disk space beside "):
            service.restore_to_folder(backup.id, disk / "old-billing")
        assert list(disk.iterdir()) == []


@needs_root_to_mount
def test_a_restore_to_an_empty_mounted_disk_is_refused_before_writing(
    service, environment, tmp_path
):
    # The tree was written beside the mount point, on the disk holding it, and then the
    # empty mount point could not be removed for it: an OSError nobody explained.
    backup = service.create_backup("billing")
    beside = set(tmp_path.iterdir())
    with small_disk(tmp_path / "usb", "32m") as disk:
        with pytest.raises(InvalidInputError, match=r"is a mount point.*new folder inside it"):
            service.restore_to_folder(backup.id, disk)
        assert list(disk.iterdir()) == []
        service.restore_to_folder(backup.id, disk / "billing")  # as the sentence says
        assert (disk / "billing" / "app.yaml").is_file()
    assert set(tmp_path.iterdir()) == beside | {tmp_path / "usb"}
