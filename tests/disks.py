"""Real mounts for tests: small disks that fill up, folders bound elsewhere. Root only."""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
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
