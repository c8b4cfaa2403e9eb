"""The directory moves of a restore, each safe to repeat after a crash at any point.

A restore works with four sibling paths on the environment's filesystem: the target (the
environment), staging (the backup being written out), previous (the old configuration once
moved aside) and discard (a failed new configuration on its way out). Renames within one
filesystem are atomic. Where the system can exchange two folders in one step (Linux's
renameat2), the swap does, so a program reading the environment finds at every instant
either the whole old tree or the whole new one; elsewhere it renames twice, and the folder
is missing for the instant between.
"""

import errno
import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from envops_desktop.service.crash_points import crash_point
from envops_desktop.service.mounts import mounts_inside
from envops_desktop.store.journal_records import JournalEntry
from envops_desktop.store.owned_folders import STAGING_MARK


def sibling_paths(target: Path, operation_id: str) -> tuple[Path, Path, Path]:
    """Staging, previous and discard paths beside `target`, hidden and unique to the operation."""
    parent, name = target.parent, target.name
    return (
        parent / f".{name}{STAGING_MARK}{operation_id}",
        parent / f".{name}.envops-previous-{operation_id}",
        parent / f".{name}.envops-discard-{operation_id}",
    )


def _sync_directory(path: Path) -> None:
    # A rename is durable only once its directory is flushed (POSIX; Windows has no dir fsync).
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Delete a directory tree that may hold read-only folders, and nothing outside it.

    A link is removed, never followed; a tree with a filesystem mounted inside is refused
    rather than emptied across the mount; only folders inside the tree are made writable.
    """
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
        return
    mounted = mounts_inside(path)
    if mounted:
        raise OSError(errno.EBUSY, "a filesystem is mounted inside it", str(mounted[0]))
    inside = os.path.join(os.path.abspath(path), "")

    def make_writable_and_retry(func, failed_path, exc) -> None:  # noqa: ANN001
        error = exc[1] if isinstance(exc, tuple) else exc  # onerror gives sys.exc_info()
        if isinstance(error, FileNotFoundError):
            return  # another process clearing the same leftovers got there first
        folder = os.path.dirname(os.path.abspath(failed_path))
        if not os.path.join(folder, "").startswith(inside):
            raise error  # never change anything outside the tree being removed
        os.chmod(folder, 0o700)
        if os.path.isdir(failed_path) and not os.path.islink(failed_path):
            os.chmod(failed_path, 0o700)
        func(failed_path)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:  # pragma: no cover - Python 3.11
        shutil.rmtree(path, onerror=make_writable_and_retry)


def swap_in(entry: JournalEntry) -> None:
    """Move the staged configuration into place and the old one aside, to `previous`."""
    target = Path(entry.target)
    if _exchange(entry.staging, target):
        crash_point("between-renames")  # the old tree is at the staging path now
        os.rename(entry.staging, entry.previous)
    else:
        os.rename(target, entry.previous)
        crash_point("between-renames")
        os.rename(entry.staging, target)
    _sync_directory(target.parent)


def roll_back(entry: JournalEntry) -> None:
    """Put the previous configuration back, whatever step the restore had reached."""
    target = Path(entry.target)
    if _holds(entry.staging, entry, new=False) and not os.path.lexists(entry.previous):
        # Killed between the swap's exchange and the rename after it: the tree at the
        # staging path is the old one. Named for what it is, it is put back below.
        os.rename(entry.staging, entry.previous)
    if _holds(entry.previous, entry, new=True):
        # A roll-back by exchange was killed before the rename after it: the old tree is
        # back in place already, and the new one only needs to go.
        os.rename(entry.previous, entry.discard)
    elif os.path.lexists(entry.previous):
        if not os.path.lexists(target):
            os.rename(entry.previous, target)
        elif _exchange(entry.previous, target):
            crash_point("rollback-between-renames")  # the new tree is at `previous` now
            os.rename(entry.previous, entry.discard)
        else:
            os.rename(target, entry.discard)
            crash_point("rollback-between-renames")
            os.rename(entry.previous, target)
        _sync_directory(target.parent)
    remove_tree(Path(entry.staging))
    remove_tree(Path(entry.discard))


def _holds(path: str, entry: JournalEntry, new: bool) -> bool:
    """Whether `path` holds the new (staged) tree, or with `new` False the old one; False
    when the journal row predates the staged inode, or nothing is there."""
    if entry.staged_inode is None or not os.path.lexists(path):
        return False
    return (os.lstat(path).st_ino == entry.staged_inode) == new


def _exchange(first: str | Path, second: str | Path) -> bool:
    """Swap two folders' names in one atomic step; False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), 2) == 0:
        return True
    import ctypes  # loaded by `_renameat2` already

    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a filesystem or kernel without RENAME_EXCHANGE: rename twice
    raise OSError(error, os.strerror(error), str(first), None, str(second))


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    # Loaded at the first swap, not at start: ctypes took 5 ms of every command's start.
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100


def clean_up(entry: JournalEntry) -> None:
    """Remove what a completed restore left beside the environment."""
    for leftover in (entry.previous, entry.staging, entry.discard):
        remove_tree(Path(leftover))
