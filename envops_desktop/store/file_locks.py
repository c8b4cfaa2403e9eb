"""Operating-system file locks, which the kernel lets go of when their process dies."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def try_lock(fd: int, shared: bool, blocking: bool) -> bool:
        """Lock the open file `fd`; without `blocking`, False at once when another holds it."""
        mode = msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK
        try:
            msvcrt.locking(fd, mode, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def try_lock(fd: int, shared: bool, blocking: bool) -> bool:
        """Lock the open file `fd`; without `blocking`, False at once when another holds it."""
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if not blocking:
            flags |= fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            return False
        return True


def open_lock_file(path: Path) -> int:
    """A descriptor of the lock file `path`, made if missing, for `file_lock`."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def file_lock(fd: int, shared: bool, blocking: bool) -> Iterator[bool]:
    """Hold a lock on the open lock file `fd` within the block, and close it after; yields
    whether it was taken."""
    try:
        yield try_lock(fd, shared, blocking)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
