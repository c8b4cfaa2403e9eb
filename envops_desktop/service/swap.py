"""The directory moves of a restore, each safe to repeat after a crash at any point.

A restore works with four sibling paths on the environment's filesystem: the target (the
environment), staging (the backup being written out), previous (the old configuration once
moved aside) and discard (a failed new configuration on its way out). Renames within one
filesystem are atomic, so at every instant the target is either wholly old or wholly new.
"""

import errno
import os
import shutil
import sys
from pathlib import Path

from envops_desktop.service.crash_points import crash_point
from envops_desktop.service.mounts import mounts_inside
from envops_desktop.store.journal_records import JournalEntry


def sibling_paths(target: Path, operation_id: str) -> tuple[Path, Path, Path]:
    """Staging, previous and discard paths beside `target`, hidden and unique to the operation."""
    parent, name = target.parent, target.name
    return (
        parent / f".{name}.envops-staging-{operation_id}",
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
    """Move the old configuration aside and the staged one into its place."""
    target = Path(entry.target)
    os.rename(target, entry.previous)
    crash_point("between-renames")
    os.rename(entry.staging, target)
    _sync_directory(target.parent)


def roll_back(entry: JournalEntry) -> None:
    """Put the previous configuration back, whatever step the restore had reached."""
    target = Path(entry.target)
    if os.path.lexists(entry.previous):
        if os.path.lexists(target):
            os.rename(target, entry.discard)
        crash_point("rollback-between-renames")
        os.rename(entry.previous, target)
        _sync_directory(target.parent)
    remove_tree(Path(entry.staging))
    remove_tree(Path(entry.discard))


def clean_up(entry: JournalEntry) -> None:
    """Remove what a completed restore left beside the environment."""
    for leftover in (entry.previous, entry.staging, entry.discard):
        remove_tree(Path(leftover))
