"""A large file shows its progress as it is read or written, and Cancel stops it at once,
not at its end: its helper process tells the operation how far it has come, chunk by
chunk, and stops when the operation says so."""

import time
from pathlib import Path

import pytest

from envops_desktop.domain.errors import OperationCancelledError
from envops_desktop.domain.progress import CancelToken, Progress
from envops_desktop.service.parallel import workload, worth_processes
from envops_desktop.service.tree_diff import READING
from tests.trees import rsync_differences, snapshot

# A disk image of this much, all of it hole: nothing to write to the test's disk, and every
# byte still hashed (SHA-256 at some 1.7 GB/s here, so a second or so), in a helper process.
_IMAGE = 1 << 30
assert worth_processes(workload(_IMAGE, 1))
# One whose every byte would take some forty seconds to hash: a cancel that waited for its
# end would take them all.
_HUGE_IMAGE = 64 << 30
# What a cancel may take, with room for a slow machine: the file's end is far beyond it.
_PROMPTLY_SECONDS = 10


def _disk_image(folder: Path, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "disk.img"
    with open(image, "wb") as f:
        f.truncate(size)
    return image


class _Reports(list[Progress]):
    """The progress reports of an operation, as its callback."""

    def __call__(self, progress: Progress) -> None:
        self.append(progress)

    def within_the_file(self, phase: str) -> list[Progress]:
        """The reports of `phase` while the image, the folder's one file, was under way."""
        return [p for p in self if p.phase == phase and 0 < p.done < p.total]

    def done_of(self, phase: str) -> list[int]:
        return [p.done for p in self if p.phase == phase]


def _cancelled_within_the_file(phase: str) -> tuple[CancelToken, _Reports, list[float]]:
    """A cancel token, and a progress callback that cancels it at the first report of
    `phase` from inside the image, noting when."""
    cancel, asked = CancelToken(), []

    class Cancelling(_Reports):
        def __call__(self, progress: Progress) -> None:
            super().__call__(progress)
            if not asked and self.within_the_file(phase):
                asked.append(time.monotonic())
                cancel.cancel()

    return cancel, Cancelling(), asked


def _edited_in_place(image: Path) -> None:
    """Its start written over: the same size, so a preview must read it to know it changed."""
    with open(image, "r+b") as f:
        f.write(b"edited since")


def test_one_large_file_shows_its_progress_in_every_operation_that_reads_or_writes_it(
    service, tmp_path
):
    folder = tmp_path / "vm"
    image = _disk_image(folder, _IMAGE)
    service.add_environment("vm", folder, version="1.0")
    reports = _Reports()

    backup = service.create_backup("vm", progress=reports)
    _edited_in_place(image)
    service.preview_restore("vm", backup.id, progress=reports)
    service.restore_backup("vm", backup.id, progress=reports)
    service.check_store(progress=reports)
    exported = service.export_backup(backup.id, tmp_path / "vm.envops.zip", progress=reports)
    service.stage_configuration_file(exported, progress=reports)

    for phase, named in (
        ("backing up", "disk.img"),
        (READING, "disk.img"),  # the live image, by the preview
        ("restoring", "disk.img"),
        ("verifying", ""),  # a content, which many files may share
        ("exporting", "disk.img"),
        ("uploading", "disk.img"),
    ):
        # Before: 0 %, then 100 %.
        assert {p.path for p in reports.within_the_file(phase)} == {named}, phase
        done = reports.done_of(phase)
        assert done == sorted(done) and done[-1] == _IMAGE, phase  # never back, to the end


def test_a_backup_cancelled_inside_a_large_file_stops_at_once_and_keeps_nothing(service, tmp_path):
    folder = tmp_path / "vm"
    _disk_image(folder, _HUGE_IMAGE)
    service.add_environment("vm", folder, version="1.0")
    cancel, reports, asked = _cancelled_within_the_file("backing up")

    with pytest.raises(OperationCancelledError):
        service.create_backup("vm", progress=reports, cancel=cancel)

    assert time.monotonic() - asked[0] < _PROMPTLY_SECONDS
    assert service.list_backups("vm") == []
    # Not a byte of it kept: the helper's scratch copy went with it.
    assert [p for p in (tmp_path / "data" / "objects").rglob("*") if p.is_file()] == []


def test_a_restore_cancelled_inside_a_large_file_stops_at_once_and_changes_nothing(
    service, tmp_path
):
    folder = tmp_path / "vm"
    image = _disk_image(folder, 2 * _IMAGE)
    service.add_environment("vm", folder, version="1.0")
    started = time.monotonic()
    backup = service.create_backup("vm")
    # What reading the image through takes here; writing it back takes about as long.
    whole_file_seconds = time.monotonic() - started
    _edited_in_place(image)
    before = snapshot(folder, tmp_path / "before")
    cancel, reports, asked = _cancelled_within_the_file("restoring")

    with pytest.raises(OperationCancelledError):
        service.restore_backup("vm", backup.id, progress=reports, cancel=cancel)

    assert time.monotonic() - asked[0] < whole_file_seconds / 3
    assert rsync_differences(before, folder) == []


def test_a_preview_cancelled_inside_a_large_file_stops_at_once(service, tmp_path):
    folder = tmp_path / "vm"
    image = _disk_image(folder, 2 * _IMAGE)
    service.add_environment("vm", folder, version="1.0")
    started = time.monotonic()
    backup = service.create_backup("vm")
    whole_file_seconds = time.monotonic() - started  # reading it through, as the preview would
    _edited_in_place(image)
    cancel, reports, asked = _cancelled_within_the_file(READING)

    with pytest.raises(OperationCancelledError):
        service.preview_restore("vm", backup.id, cancel=cancel, progress=reports)

    assert time.monotonic() - asked[0] < whole_file_seconds / 3
