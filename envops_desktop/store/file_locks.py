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


@contextlib.contextmanager
def file_lock(path: Path, shared: bool, blocking: bool) -> Iterator[bool]:
    """Hold a lock on `path` (made if missing) within the block; yields whether it was taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield try_lock(fd, shared, blocking)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
