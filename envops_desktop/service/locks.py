"""Operating-system file locks: one operation per environment, and blob collection exclusion.

The OS releases a file lock when its process dies, so a killed restore never leaves an
environment locked, and start-up recovery can tell a dead operation from one still running in
another process by trying its lock.
"""

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from envops_desktop.domain.errors import EnvironmentBusyError, OperationFailedError
from envops_desktop.domain.models import Environment
from envops_desktop.store.file_locks import file_lock, open_lock_file
from envops_desktop.store.full_disk import no_room_to

# How often a wait that can be cancelled tries the lock again.
WAIT_POLL_SECONDS = 0.1


class Locks:
    """Named lock files under `<data dir>/locks/`."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(exist_ok=True)

    @contextlib.contextmanager
    def _lock(self, name: str, shared: bool, blocking: bool) -> Iterator[bool]:
        path = self._dir / name
        try:
            fd = open_lock_file(path)
        except OSError as error:
            # Made on first use: on a disk that filled up since, a bare OSError escaped.
            if error.errno == errno.ENOSPC:
                raise OperationFailedError(
                    no_room_to(f"make the lock file {path}", path)
                ) from error
            why = (error.strerror or str(error)).lower()
            raise OperationFailedError(f"Cannot make the lock file {path}: {why}.") from error
        with file_lock(fd, shared, blocking) as taken:
            yield taken

    @contextlib.contextmanager
    def environment(self, env_id: str, env_name: str) -> Iterator[None]:
        """Hold the environment for one operation, or refuse at once if another holds it."""
        with self._environment_lock(env_id) as ok:
            if not ok:
                raise EnvironmentBusyError(
                    f"{env_name} is busy with another operation; try again when it has finished."
                )
            yield

    @contextlib.contextmanager
    def overlapping(self, env: Environment, others: Iterable[Environment]) -> Iterator[None]:
        """Hold every one of `others` whose folder holds `env`'s or lies inside it, or refuse
        at once if another operation holds one: a restore of /etc replaces /etc/nginx too,
        and a restore of /etc/nginx under way would be lost in the old /etc, or land in the
        new one half written."""
        mine = os.path.realpath(env.path)
        with contextlib.ExitStack() as held:
            for other in sorted(others, key=lambda other: other.id):  # one order for all
                theirs = os.path.realpath(other.path)
                inside = Path(mine).is_relative_to(theirs)
                if other.id == env.id or not (inside or Path(theirs).is_relative_to(mine)):
                    continue
                if not held.enter_context(self._environment_lock(other.id)):
                    where = "holds" if inside else "lies in"
                    raise EnvironmentBusyError(
                        f"{other.name}, whose folder {where} {env.name}'s, is busy with another "
                        "operation; try again when it has finished. Nothing was changed."
                    )
            yield

    @contextlib.contextmanager
    def environment_if_free(self, env_id: str) -> Iterator[bool]:
        """Take the lock if nobody holds it; yields whether it was taken."""
        with self._environment_lock(env_id) as ok:
            yield ok

    def _environment_lock(self, env_id: str) -> contextlib.AbstractContextManager[bool]:
        """The environment's lock, taken without waiting; yields whether it was taken."""
        return self._lock(f"env-{env_id}.lock", shared=False, blocking=False)

    @contextlib.contextmanager
    def blobs_in_use(self) -> Iterator[None]:
        """Held (shared) while an operation may rely on a blob it has not recorded yet."""
        with self._lock("blobs.lock", shared=True, blocking=True):
            yield

    @contextlib.contextmanager
    def blobs_idle(self) -> Iterator[bool]:
        """Exclusive without waiting: yields whether no operation is using blobs right now."""
        with self._lock("blobs.lock", shared=False, blocking=False) as ok:
            yield ok

    @contextlib.contextmanager
    def blobs_collecting(self, waiting: Callable[[], None] | None = None) -> Iterator[None]:
        """Held (exclusive) while unreferenced blobs are deleted. While another operation
        uses blobs, `waiting` is called every so often and may raise to stop waiting."""
        if waiting is None:
            with self._lock("blobs.lock", shared=False, blocking=True):
                yield
            return
        while True:
            with self._lock("blobs.lock", shared=False, blocking=False) as taken:
                if taken:
                    yield
                    return
            waiting()
            time.sleep(WAIT_POLL_SECONDS)
