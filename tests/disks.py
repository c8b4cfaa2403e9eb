"""Real mounts for tests: small disks that fill up, folders bound elsewhere, network disks
that stop answering. Root only."""

import contextlib
import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

needs_root_to_mount = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="mounting needs root on Linux (CI runs as root)",
)


@contextlib.contextmanager
def small_disk(where: Path, size: str, files: int | None = None) -> Iterator[Path]:
    """A tmpfs of `size` ("4m"), room for `files` files and folders (inodes) if given,
    mounted at `where` for the block, always unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={files}" if files else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        # Busy: something the test ran kept a file there open, which is a failure of its own.
        subprocess.run(["umount", str(where)], check=True)


@contextlib.contextmanager
def disk_without_xattrs(where: Path) -> Iterator[Path]:
    """A ramfs mounted at `where` for the block: no extended attributes, no ACLs, and no
    size (it says 0 bytes in all, free among them)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "ramfs", "ramfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


_libc = ctypes.CDLL(None, use_errno=True)


def _disk_whose_server_never_answers(where: Path) -> int:
    """Mount at `where` a FUSE filesystem (what sshfs and most network disks are on Linux)
    whose server is the descriptor returned, and which never reads a request from it: every
    look inside waits until the descriptor is closed, then fails as "not connected"."""
    where.mkdir(parents=True, exist_ok=True)
    server = os.open("/dev/fuse", os.O_RDWR)
    options = f"fd={server},rootmode=40000,user_id=0,group_id=0"
    if _libc.mount(b"envops-test", os.fsencode(where), b"fuse", 0, options.encode()) != 0:
        number = ctypes.get_errno()
        os.close(server)
        raise OSError(number, os.strerror(number), str(where))
    return server


@contextlib.contextmanager
def network_disk_gone(where: Path) -> Iterator[Path]:
    """A network disk mounted at `where` for the block, its server gone, as an sshfs
    disk's is once the connection drops: everything inside answers "Transport endpoint is
    not connected" (ENOTCONN) at once. What was in the folder before stays hidden under it."""
    os.close(_disk_whose_server_never_answers(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@contextlib.contextmanager
def network_disk_not_answering(where: Path) -> Iterator[Callable[[], None]]:
    """A network disk mounted at `where` for the block whose server stopped answering, as
    an NFS disk's does when its server hangs: every look inside waits, in the kernel, until
    the connection is given up (the function yielded, or the block's end); then it fails as
    `network_disk_gone`'s."""
    server = _disk_whose_server_never_answers(where)
    given_up = False

    def give_up() -> None:
        nonlocal given_up
        if not given_up:
            given_up = True
            os.close(server)

    try:
        yield give_up
    finally:
        give_up()
        _unmount_once_left(where)


def _unmount_once_left(where: Path) -> None:
    # What waited on the disk wakes to "not connected" and leaves it within moments; until
    # then the disk is busy.
    for _ in range(100):
        if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
            return
        time.sleep(0.05)
    subprocess.run(["umount", str(where)], check=True)


@contextlib.contextmanager
def ext4_disk(where: Path, size: str = "64M") -> Iterator[Path]:
    """An ext4 filesystem in a file, mounted at `where` through a loop device for the block:
    a file's extended attributes must fit in one 4 KiB block there."""
    image = where.with_name(where.name + ".img")
    with open(image, "wb") as f:
        f.truncate(int(size.rstrip("M")) << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)
        image.unlink()


def folders_can_be_exchanged(where: Path) -> bool:
    """Whether the filesystem at `where` swaps two folders in one step (renameat2)."""
    from envops_desktop.service import swap

    first, second = where / "exchange-probe-a", where / "exchange-probe-b"
    first.mkdir()
    second.mkdir()
    try:
        return swap._exchange(first, second)
    finally:
        first.rmdir()
        second.rmdir()
