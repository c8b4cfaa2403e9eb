"""Real mounts for tests: small disks that fill up, folders bound elsewhere, network disks
that go away or stop answering, disks that fail. Root only."""

import contextlib
import ctypes
import errno
import os
import struct
import subprocess
import sys
import threading
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


def _fuse_disk(where: Path) -> int:
    """Mount at `where` a FUSE filesystem (what sshfs and most network disks are on Linux)
    whose server is the descriptor returned: until something answers the requests read
    from it, every look inside waits; once it is closed, each fails as "not connected"."""
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
    os.close(_fuse_disk(where))
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
    server = _fuse_disk(where)
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
def disk_failing_every_look(where: Path) -> Iterator[Path]:
    """A disk mounted at `where` for the block that answers every look inside, the folder
    itself included, with "Input/output error" (EIO), as a failing one does."""
    server = _fuse_disk(where)
    answering = threading.Thread(target=_answer_with_errors, args=(server,), daemon=True)
    answering.start()
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)
        answering.join()  # the unmount ends its reads
        os.close(server)


# FUSE's protocol (linux/fuse.h): a request starts with its length, opcode and id; a reply
# with its length, an error (negated) and the request's id.
_REQUEST = struct.Struct("<IIQ")
_REPLY = struct.Struct("<IiQ")
_INIT, _FORGET, _INTERRUPT, _BATCH_FORGET = 26, 2, 36, 42
# The answer to INIT: protocol 7.31, no options, 4 KiB writes; the rest zero.
_INIT_REPLY = struct.pack("<IIIIHHIIHHI7I", 7, 31, 0, 0, 16, 12, 4096, 1, 0, 0, 0, *[0] * 7)


def _answer_with_errors(server: int) -> None:
    while True:
        try:
            request = os.read(server, (1 << 20) + 4096)
        except OSError:  # unmounted
            return
        _length, opcode, unique = _REQUEST.unpack_from(request)
        if opcode == _INIT:
            os.write(server, _REPLY.pack(_REPLY.size + len(_INIT_REPLY), 0, unique) + _INIT_REPLY)
        elif opcode not in (_FORGET, _BATCH_FORGET, _INTERRUPT):  # these take no answer
            os.write(server, _REPLY.pack(_REPLY.size, -errno.EIO, unique))


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
