"""Whether a folder can be looked at, and why not in a sentence when it cannot.

A folder on a network disk whose server went away answers every look with an error of its
own: sshfs and other FUSE disks "Transport endpoint is not connected", NFS "Stale file
handle" or a time-out, a failing disk "Input/output error". None of them means the folder
is gone, and none may reach the user as a traceback. A disk whose server hangs answers
nothing at all: the look is given up on after `ANSWER_SECONDS`.
"""

import errno
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from envops_desktop.domain.errors import OperationFailedError

# Nothing there (or a link that leads nowhere): the caller says "does not exist".
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})
# What a network or removable disk answers once it has gone away.
_DISK_GONE = frozenset(
    {
        errno.ENOTCONN,
        errno.ESTALE,
        errno.EIO,
        errno.ETIMEDOUT,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENXIO,
        errno.ENODEV,
    }
)


def unreachable(path: Path | str, error: OSError) -> str:
    """Why `path` could not be looked at, as a sentence naming it and what its disk said."""
    return f"Cannot reach {path}: {error.strerror or error}.{disk_gone_hint(error)}"


def disk_gone_hint(error: OSError) -> str:
    """What to check, after a sentence naming `error`, when its disk may have gone away."""
    if error.errno not in _DISK_GONE:
        return ""
    return (
        " If it is on a network or removable disk, check that the disk is still mounted and "
        "its server answers."
    )


def is_folder(path: Path) -> bool:
    """Whether `path` is a folder (links followed); False where nothing is there, and
    OperationFailedError where what is there cannot be looked at (`unreachable`) or its
    disk has not answered within `ANSWER_SECONDS` (`not_answering`)."""
    return _status(path, os.stat, stat.S_ISDIR)


def is_link(path: Path) -> bool:
    """Whether `path` is itself a symbolic link; errors as `is_folder`'s."""
    return _status(path, os.lstat, stat.S_ISLNK)


def _status(
    path: Path, look: Callable[[Path], os.stat_result], kind: Callable[[int], bool]
) -> bool:
    try:
        mode = _answered_within(ANSWER_SECONDS, look, path).st_mode
    except OSError as error:
        if error.errno in _ABSENT:
            return False
        raise OperationFailedError(unreachable(path, error)) from error
    return kind(mode)


# How long the first look at a folder may take before its disk is taken for one that hangs:
# longer than a sleeping USB disk takes to spin up, or an NFS server to fail over.
ANSWER_SECONDS = 30.0
# Looks still held by their disks, by path: a disk that hangs is not asked again meanwhile.
_HELD: dict[str, threading.Thread] = {}
_HELD_LOCK = threading.Lock()


def _answered_within(
    seconds: float, look: Callable[[Path], os.stat_result], path: Path
) -> os.stat_result:
    """`look(path)`, or OperationFailedError (`not_answering`) if it has not returned within
    `seconds`. An NFS disk whose server hangs holds the call in the kernel, where nothing
    interrupts it, for as long as the server does: it is made on a thread of its own,
    which is left to it, and a scheduled backup of every other environment goes on."""
    key = os.fspath(path)
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is not None and held.is_alive():
            raise OperationFailedError(not_answering(path, seconds))
        _HELD.pop(key, None)
    outcome: list[os.stat_result | OSError] = []

    def looking() -> None:
        try:
            outcome.append(look(path))
        except OSError as error:
            outcome.append(error)

    thread = threading.Thread(target=looking, name="envops-look", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        with _HELD_LOCK:
            _HELD[key] = thread
        raise OperationFailedError(not_answering(path, seconds))
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    return outcome[0]


def not_answering(path: Path | str, seconds: float) -> str:
    """Why `path`, whose disk has not answered a look within `seconds`, is given up."""
    return (
        f"{path} did not answer within {seconds:g} s: if it is on a network disk, check that "
        "its server answers."
    )


class LookWithoutWaiting:
    """Whether `path` is a folder, asked on a thread of its own for a caller that must never
    wait long, the window's thread: `is_folder` is None until the disk has answered (for
    ever, on a disk that hangs), then True or False (False too where it could not be looked
    at)."""

    def __init__(self, path: Path) -> None:
        self.is_folder: bool | None = None
        self._answered = threading.Event()
        threading.Thread(target=self._look, args=(path,), name="envops-look", daemon=True).start()

    def answer_within(self, seconds: float) -> bool | None:
        """`is_folder`, once the disk has answered or `seconds` have passed."""
        self._answered.wait(seconds)
        return self.is_folder

    def _look(self, path: Path) -> None:
        try:
            self.is_folder = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            self.is_folder = False
        self._answered.set()
