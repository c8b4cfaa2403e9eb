"""The disk that holds EnvOps's data fills up, of bytes or of files (inodes), between two
operations: whatever needs a new file there first says so in a sentence that names the disk
and what to do, and works again once room is made."""

import contextlib
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from envops_desktop.cli import main
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.service import EnvOpsService
from envops_desktop.store.database import DATABASE_NAME
from tests.disks import needs_root_to_mount, small_disk
from tests.trees import make_config_tree

pytestmark = needs_root_to_mount
FULL = "has no room for more files: every one of its 200 inodes is in use"
WHAT_TO_DO = "see df -i). Free some room there and try again."


def _fill_with_files(folder: Path) -> None:
    """Files in `folder` until its disk has no inode left for another."""
    folder.mkdir()
    with contextlib.suppress(OSError):
        for number in itertools.count():
            (folder / str(number)).touch()


def test_a_data_disk_with_no_file_left_says_so_in_a_sentence_and_works_once_freed(tmp_path, capsys):
    # What needs a new file on its first use (a lock file, SQLite's journal) raised a bare
    # OSError, a traceback out of the command and the window, or said "unable to open
    # database file" of a database that was there all along.
    folder = tmp_path / "billing"
    make_config_tree(folder)
    with small_disk(tmp_path / "disk", "8m", files=200) as disk:
        data = disk / "data"
        service = EnvOpsService(data)  # as the window holds it open, its journal made
        try:
            service.add_environment("billing", folder, version="1")
            _fill_with_files(disk / "filler")
            with pytest.raises(OperationFailedError) as in_the_window:
                service.create_backup("billing")
        finally:
            service.close()
        _fill_with_files(disk / "more")  # what the database's journal took, let go of
        code = main(["--data-dir", str(data), "backup", "create", "billing"])
        from_the_command_line = capsys.readouterr().err
        shutil.rmtree(disk / "filler")
        shutil.rmtree(disk / "more")
        freed = main(["--data-dir", str(data), "backup", "create", "billing"])

    assert str(in_the_window.value).startswith(f"Cannot make the lock file {data / 'locks'}/")
    assert FULL in str(in_the_window.value)
    assert code == 1
    assert from_the_command_line.startswith(f"envops: Cannot use {data / DATABASE_NAME}: ")
    assert FULL in from_the_command_line
    for said in (str(in_the_window.value), from_the_command_line.rstrip("\n")):
        assert said.endswith(WHAT_TO_DO)
    assert freed == 0


@pytest.fixture
def billing_on_a_full_data_disk(tmp_path):
    """Billing's folder and backup, its data on a disk whose files ran out since; the
    service as the window holds it open."""
    folder = tmp_path / "billing"
    make_config_tree(folder)
    with small_disk(tmp_path / "disk", "8m", files=200) as disk:
        service = EnvOpsService(disk / "data")
        try:
            service.add_environment("billing", folder, version="4.2.0")
            backup = service.create_backup("billing")
            yield service, backup, disk
        finally:
            service.close()
            shutil.rmtree(disk / "filler", ignore_errors=True)


# Each readies what its user has at hand (a tar, a sealed file), then returns the step
# that needs scratch files in the data folder.


def _export(service, backup, tmp_path):
    return lambda: service.export_backup(backup.id, tmp_path / "billing.envops.zip")


def _take_in_a_tar(service, backup, tmp_path):
    archive = tmp_path / "billing.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(tmp_path / "billing"), "."], check=True)
    return lambda: service.check_configuration_file(archive)


def _open_a_sealed_file(service, backup, tmp_path):
    sealed = service.export_backup(backup.id, tmp_path / "sealed.zip", passphrase="horse 42")
    return lambda: service.check_configuration_file(sealed, passphrase="horse 42")


def _restore_to_a_folder(service, backup, tmp_path):
    return lambda: service.restore_to_folder(backup.id, tmp_path / "restored")


@pytest.mark.parametrize(
    "operation", [_export, _take_in_a_tar, _open_a_sealed_file, _restore_to_a_folder]
)
def test_what_needs_scratch_files_on_a_full_data_disk_says_so_and_leaves_nothing(
    billing_on_a_full_data_disk, tmp_path, operation
):
    # Each made its scratch folder's owner file first: a bare OSError out of the command
    # or the window; an export said "Could not write billing.envops.zip: No space left on
    # device" of a file on another disk, with room to spare.
    service, backup, disk = billing_on_a_full_data_disk
    step = operation(service, backup, tmp_path)
    _fill_with_files(disk / "filler")
    scratch = sorted((disk / "data" / "staging").iterdir())

    with pytest.raises(OperationFailedError) as refused:
        step()

    said = str(refused.value)
    assert said.startswith(f"Cannot make the scratch files it needs: the disk that holds {disk}")
    assert FULL in said and said.endswith(WHAT_TO_DO)
    assert sorted((disk / "data" / "staging").iterdir()) == scratch
    assert not (tmp_path / "restored").exists()
    shutil.rmtree(disk / "filler")
    step()  # once there is room again


def test_a_tar_gz_that_expands_past_the_room_left_says_so_and_leaves_no_scratch(tmp_path):
    # Its size passed the check first; its copy then filled the disk, and closing that copy
    # failed the same way, so a bare OSError came out instead of the sentence.
    folder = tmp_path / "billing"
    make_config_tree(folder)
    (folder / "disk.img").write_bytes(bytes(8 << 20))  # 8 MiB of zeros: 8 KiB in a tar.gz
    archive = tmp_path / "billing.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(folder), "."], check=True)
    with small_disk(tmp_path / "disk", "4m") as disk:
        service = EnvOpsService(disk / "data")
        try:
            with pytest.raises(OperationFailedError) as refused:
                service.check_configuration_file(archive)
            left = sorted((disk / "data" / "staging").iterdir())
        finally:
            service.close()

    assert str(refused.value) == (
        f"Cannot take in billing.tar.gz: the disk that holds {disk / 'data' / 'staging'} is "
        "full. Free some room there and try again."
    )
    assert left == []
