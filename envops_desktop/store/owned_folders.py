"""Scratch folders in the staging area, each owned by the live process that made it.

An export or import killed part-way leaves its scratch behind: blobs of an upload, deflated
batches of an export, the export's half-written `NAME.part` in the user's folder, a restore
to a folder's hidden tree beside that folder. The
owner holds a lock on `<folder>.owner` for as long as it works, and the kernel lets go of
that lock however the process ends; so the next start removes exactly the scratch whose
lock it can take, and leaves another window's upload, still waiting for Import, alone.
"""

import errno
import os
import shutil
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.store.file_locks import try_lock
from envops_desktop.store.full_disk import no_room_to

OWNER_SUFFIX = ".owner"
# In the name of a tree written beside its final place, before it is renamed there.
STAGING_MARK = ".envops-staging-"
# Scratch with no owner file, as versions before owner files made it: removed by age.
UNOWNED_STALE_SECONDS = 24 * 3600


class OwnedFolder:
    """`staging/<name>`, and the file `also` elsewhere, held by this process until released.

    The lock comes before the folder, so no other process's start-up finds the folder
    without a live owner. `also` is what this process is writing outside the data folder (an
    export's `.part` file, a tree named with STAGING_MARK), removed with the folder when its
    owner dies.
    """

    def __init__(self, staging: Path, name: str, also: Path | None = None) -> None:
        self.directory = staging / name
        self._owner = staging / (name + OWNER_SUFFIX)
        try:
            self._fd = os.open(self._owner, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as error:
            _refuse_if_full(staging, self._owner, error)
            raise
        try:
            try_lock(self._fd, shared=False, blocking=True)
            os.write(self._fd, os.fsencode(also) if also else b"")
            self.directory.mkdir(exist_ok=True)
        except BaseException as error:
            os.close(self._fd)
            self._owner.unlink(missing_ok=True)
            _refuse_if_full(staging, self.directory, error)
            raise
        # Released when forgotten too: whatever holds it (a checked file, and the variants
        # made of it) decides how long it lives, not the first of them to go.
        self._release = weakref.finalize(self, _release, self.directory, self._fd, self._owner)

    def release(self) -> None:
        """Remove the folder and give up ownership; `also` is the caller's to keep or not."""
        self._release()


def _refuse_if_full(staging: Path, made: Path, error: BaseException) -> None:
    # The data disk filled up: a sentence, not a bare OSError out of the command or window.
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        raise OperationFailedError(no_room_to("make the scratch files it needs", made)) from error


def _release(directory: Path, fd: int, owner: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    os.close(fd)  # before the unlink, which Windows refuses on an open file
    owner.unlink(missing_ok=True)


def remove_unowned(
    staging: Path, prefixes: tuple[str, ...], remove_tree: Callable[[Path], None]
) -> list[Path]:
    """Remove the scratch under `staging` whose owner is dead, and what it wrote elsewhere
    (a tree by `remove_tree`, which may hold read-only folders); return what was removed."""
    removed = []
    for owner in staging.glob("*" + OWNER_SUFFIX):
        try:
            fd = os.open(owner, os.O_RDWR)
        except FileNotFoundError:
            continue  # released meanwhile
        try:
            if not try_lock(fd, shared=False, blocking=False):
                continue  # its owner is alive
            also = os.read(fd, 1 << 16)
            folder = owner.with_name(owner.name.removesuffix(OWNER_SUFFIX))
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
            elsewhere = Path(os.fsdecode(also))
            # Only what an owner names in these two ways: never some other file or folder.
            if also.endswith(b".part") and os.path.isfile(also):
                os.unlink(also)
                removed.append(elsewhere)
            elif (
                STAGING_MARK in elsewhere.name and elsewhere.is_dir() and not elsewhere.is_symlink()
            ):
                remove_tree(elsewhere)
                removed.append(elsewhere)
        finally:
            os.close(fd)
        owner.unlink(missing_ok=True)
    cutoff = time.time() - UNOWNED_STALE_SECONDS
    for prefix in prefixes:
        for folder in staging.glob(prefix + "*"):
            if (
                not folder.with_name(folder.name + OWNER_SUFFIX).exists()
                and folder.is_dir()
                and folder.lstat().st_mtime < cutoff
            ):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed
