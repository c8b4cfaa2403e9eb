"""Large files that are mostly nothing: a sparse disk image is backed up without reading its
holes, and a file of zeros (which compresses to almost nothing) is restored a chunk at a
time, never held whole. Both come back exactly."""

import hashlib
import os
import tracemalloc

import pytest

from envops_desktop.service.parallel import workload, worth_processes
from tests.trees import rsync_differences, snapshot

# Under what helper processes take, so that the work runs in this process, where it is seen.
_SIZE = 48 << 20
assert not worth_processes(workload(_SIZE, 2))


def _image_with_data_at_odd_places(path):
    """A sparse file of 48 MiB: data at its start, in its middle across a MiB's edge, at an
    offset no block starts at, and a hole to its end."""
    with open(path, "wb") as image:
        image.truncate(_SIZE)
        for offset, length in ((0, 100), ((5 << 20) - 3000, 9000), ((20 << 20) + 123, 5000)):
            image.seek(offset)
            image.write(os.urandom(length))


def _database_with_a_hole_in_every_page(path):
    """A database file of 48 MiB whose 16 KiB pages each hold 4 KiB, the rest punched out,
    as InnoDB's page compression leaves them: 3,072 stretches of data."""
    page = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
    try:
        os.ftruncate(fd, _SIZE)
        for offset in range(0, _SIZE, 16 << 10):
            os.pwrite(fd, page, offset)
    finally:
        os.close(fd)


def _bytes_read_by_os_read(monkeypatch) -> list[int]:
    """The size of what each `os.read` call returns from now on (the call still does what
    it did)."""
    sizes: list[int] = []
    original = os.read

    def noting_the_size(fd, length):
        data = original(fd, length)
        sizes.append(len(data))
        return data

    monkeypatch.setattr(os, "read", noting_the_size)
    return sizes


@pytest.mark.parametrize(
    "make", [_image_with_data_at_odd_places, _database_with_a_hole_in_every_page]
)
def test_a_sparse_file_is_backed_up_without_reading_its_holes_and_comes_back_whole(
    service, tmp_path, monkeypatch, make
):
    folder = tmp_path / "vm"
    folder.mkdir()
    make(folder / "disk.img")
    data = (folder / "disk.img").stat().st_blocks * 512
    (folder / "vm.conf").write_text("memory = 2G\n")
    service.add_environment("vm", folder, version="1")
    as_backed_up = snapshot(folder, tmp_path / "as-backed-up")

    read = _bytes_read_by_os_read(monkeypatch)
    backup = service.create_backup("vm")
    monkeypatch.undo()

    # Reading its holes read all 48 MiB. Now: its first 4 MiB, read as any file's are to
    # tell a small file from a large one, and its data after them.
    assert sum(read) <= (4 << 20) + data + len("memory = 2G\n")
    with open(folder / "disk.img", "r+b") as image:
        image.write(b"changed since")
    service.restore_backup("vm", backup.id)
    assert rsync_differences(as_backed_up, folder, "--checksum") == []
    content = (folder / "disk.img").read_bytes()
    assert (
        hashlib.sha256(content).hexdigest()
        == hashlib.sha256((as_backed_up / "disk.img").read_bytes()).hexdigest()
    )


def test_a_large_file_of_zeros_is_restored_without_being_held_in_memory(service, tmp_path):
    # A preallocated database file: 48 MiB of zeros, stored as a few hundred bytes, which a
    # restore decoded in one piece (an 8 GiB one took 8 GiB of memory).
    folder = tmp_path / "db"
    folder.mkdir()
    with open(folder / "prealloc.db", "wb") as database:
        for _ in range(_SIZE >> 20):
            database.write(bytes(1 << 20))
    service.add_environment("db", folder, version="1")
    backup = service.create_backup("db")
    as_backed_up = snapshot(folder, tmp_path / "as-backed-up")
    (folder / "prealloc.db").write_bytes(b"lost")

    tracemalloc.start()
    try:
        service.restore_backup("db", backup.id)
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert held < 16 << 20
    assert rsync_differences(as_backed_up, folder, "--checksum") == []
