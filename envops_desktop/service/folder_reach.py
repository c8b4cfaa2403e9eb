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


def is_folder(path: Path, within: float | None = None) -> bool:
    """Whether `path` is a folder (links followed); False where nothing is there, and
    OperationFailedError where what is there cannot be looked at (`unreachable`) or its
    disk has not answered within `within` seconds, `ANSWER_SECONDS` by default
    (`not_answering`)."""
    return _status(path, os.stat, stat.S_ISDIR, within)


def is_link(path: Path) -> bool:
    """Whether `path` is itself a symbolic link; errors as `is_folder`'s."""
    return _status(path, os.lstat, stat.S_ISLNK)


def _status(
    path: Path,
    look: Callable[[Path], os.stat_result],
    kind: Callable[[int], bool],
    within: float | None = None,
) -> bool:
    try:
        mode = _answered_within(ANSWER_SECONDS if within is None else within, look, path).st_mode
    except OSError as error:
        if error.errno in _ABSENT:
            return False
        raise OperationFailedError(unreachable(path, error)) from error
    return kind(mode)


# How long the first look at a folder may take before its disk is taken for one that hangs:
# longer than a sleeping USB disk takes to spin up, or an NFS server to fail over.
ANSWER_SECONDS = 30.0
# Looks still held by their disks, by path: a disk that hangs is not asked again meanwhile.
_HELD: dict[str, "_Look"] = {}
_HELD_LOCK = threading.Lock()


class _Look:
    """`look(path)` made on a thread of its own: an NFS disk whose server hangs holds the
    call in the kernel, where nothing interrupts it, for as long as the server does. The
    thread is left to it; `outcome` is None until it has returned."""

    def __init__(self, look: Callable[[Path], os.stat_result], path: Path) -> None:
        self.outcome: os.stat_result | OSError | None = None
        self._answered = threading.Event()
        threading.Thread(
            target=self._run, args=(look, path), name="envops-look", daemon=True
        ).start()

    def _run(self, look: Callable[[Path], os.stat_result], path: Path) -> None:
        try:
            self.outcome = look(path)
        except OSError as error:
            self.outcome = error
        self._answered.set()

    def answered_within(self, seconds: float) -> bool:
        return self._answered.wait(seconds)


def _answered_within(
    seconds: float, look: Callable[[Path], os.stat_result], path: Path
) -> os.stat_result:
    """`look(path)`, or OperationFailedError (`not_answering`) if it has not returned within
    `seconds`: a scheduled backup of every other environment goes on past a disk that
    hangs."""
    key = os.fspath(path)
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is not None and held.outcome is None:
            raise OperationFailedError(not_answering(path, seconds))
        _HELD.pop(key, None)
    asked = _Look(look, path)
    if not asked.answered_within(seconds):
        with _HELD_LOCK:
            _HELD[key] = asked
        raise OperationFailedError(not_answering(path, seconds))
    if isinstance(asked.outcome, OSError):
        raise asked.outcome
    assert asked.outcome is not None
    return asked.outcome


def not_answering(path: Path | str, seconds: float) -> str:
    """Why `path`, whose disk has not answered a look within `seconds`, is given up."""
    return (
        f"{path} did not answer within {seconds:g} s: if it is on a network disk, check that "
        "its server answers."
    )


class LookWithoutWaiting:
    """Whether `path` is a folder, asked on a thread of its own for a caller that must
    never wait, the window's thread: `is_folder` is None until the disk has answered (for
    ever, on a disk that hangs), then True or False (False too where it could not be looked
    at)."""

    def __init__(self, path: Path) -> None:
        self._look = _Look(os.stat, path)

    @property
    def is_folder(self) -> bool | None:
        outcome = self._look.outcome
        if outcome is None:
            return None
        return not isinstance(outcome, OSError) and stat.S_ISDIR(outcome.st_mode)
