"""The room a restore or an import needs on its disk is what it writes: a sparse file's holes
and a hardlinked file's other names take none, however much the files read as."""

import os
from pathlib import Path

import pytest

from envops_desktop.domain.errors import OperationFailedError
from tests.disks import needs_root_to_mount, small_disk
from tests.trees import rsync_differences, snapshot

# A disk image that reads as a GiB and holds 12 KiB, on a disk of 64 MiB.
_IMAGE_SIZE = 1 << 30
_DISK = "64m"


def _tree_read_as_far_more_than_its_disk(folder: Path) -> None:
    """1.1 GiB as read, 12 MiB written: a sparse disk image and a file with five names."""
    folder.mkdir()
    with open(folder / "vm.img", "wb") as image:
        image.truncate(_IMAGE_SIZE)
        for offset in (0, _IMAGE_SIZE // 2, _IMAGE_SIZE - 4096):
            image.seek(offset)
            image.write(os.urandom(4096))
    (folder / "data.bin").write_bytes(os.urandom(12 << 20))
    for number in range(4):
        os.link(folder / "data.bin", folder / f"data-{number}.bin")
    (folder / "app.conf").write_text("port = 8080\n")


def _change(folder: Path) -> None:
    (folder / "app.conf").write_text("port = 9090\n")
    with open(folder / "vm.img", "r+b") as image:
        image.seek(_IMAGE_SIZE // 4)
        image.write(b"written since")
    (folder / "data-3.bin").unlink()


def _written_bytes(path: Path) -> int:
    return path.stat().st_blocks * 512


@pytest.fixture
def billing_on_a_small_disk(service, tmp_path):
    """billing on a 64 MiB disk, backed up, then changed; and a copy of it as backed up."""
    with small_disk(tmp_path / "disk", _DISK) as disk:
        folder = disk / "billing"
        _tree_read_as_far_more_than_its_disk(folder)
        service.add_environment("billing", folder, version="4.2.0")
        backup = service.create_backup("billing")
        as_backed_up = snapshot(folder, tmp_path / "as-backed-up")
        _change(folder)
        yield folder, backup, as_backed_up


@needs_root_to_mount
def test_a_backup_read_as_more_than_the_free_space_is_restored_when_what_it_writes_fits(
    service, billing_on_a_small_disk
):
    folder, backup, as_backed_up = billing_on_a_small_disk
    assert backup.total_bytes > 16 * (64 << 20)  # what the check went by

    service.restore_backup("billing", backup.id)

    assert rsync_differences(as_backed_up, folder) == []
    assert _written_bytes(folder / "vm.img") < 1 << 20  # still sparse


@needs_root_to_mount
def test_such_a_backup_is_restored_to_a_new_folder_on_that_disk(service, billing_on_a_small_disk):
    folder, backup, as_backed_up = billing_on_a_small_disk

    copy = service.restore_to_folder(backup.id, folder.parent / "billing-then")

    assert rsync_differences(as_backed_up, copy) == []


@needs_root_to_mount
def test_its_exported_file_is_imported_back_onto_that_disk(
    service, billing_on_a_small_disk, tmp_path
):
    folder, backup, as_backed_up = billing_on_a_small_disk
    exported = service.export_backup(backup.id, tmp_path / "billing.zip")

    checked = service.check_configuration_file(exported)
    service.import_configuration_file("billing", checked)

    assert rsync_differences(as_backed_up, folder) == []
    assert _written_bytes(folder / "vm.img") < 1 << 20


@needs_root_to_mount
def test_a_restore_whose_data_does_not_fit_is_still_refused_before_it_writes(
    service, billing_on_a_small_disk
):
    folder, backup, _ = billing_on_a_small_disk
    (folder / "more.bin").write_bytes(os.urandom(30 << 20))
    before = snapshot(folder, folder.parent.parent / "before")

    with pytest.raises(OperationFailedError, match=r"needs 29 MiB \(13 MiB of files and 16"):
        service.restore_backup("billing", backup.id)

    assert rsync_differences(before, folder) == []
    assert sorted(p.name for p in folder.parent.iterdir()) == ["billing"]
