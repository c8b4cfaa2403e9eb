"""Saving one file of a backup or an upload where the user chooses, as `cp` would."""

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from envops_desktop.domain.errors import OperationFailedError


@contextlib.contextmanager
def saving_as(destination: Path, mode: int) -> Iterator[Callable[[BinaryIO], None]]:
    """A copier of a stream to `destination`, which is replaced only once all of it is
    written: a failed save leaves what was there. As `cp` does, a new file gets the
    permissions of the one saved (`mode`, less the umask and the setuid, setgid and sticky
    bits), and a file saved over keeps its own, and its owner: a secret kept 0600 is not
    left readable by all. Saved over a link, it is written to the file the link leads to
    and the link stays, as `cp` and editors do: /etc/resolv.conf, say, is often a link
    that a service expects to find there."""
    if destination.is_symlink():
        destination = Path(os.path.realpath(destination))
    partial = destination.with_name(f".{destination.name}.envops-part")

    def copy(source: BinaryIO) -> None:
        try:
            partial.unlink(missing_ok=True)  # a leftover would keep its own permissions
            created = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777)
            with open(created, "wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
                _keep_what_was_there(out.fileno(), destination)
            os.replace(partial, destination)
        except OSError as error:
            raise OperationFailedError(
                f"{destination} could not be written ({error.strerror or error}); nothing "
                "was saved."
            ) from error

    try:
        yield copy
    finally:
        partial.unlink(missing_ok=True)


def _keep_what_was_there(new: int, destination: Path) -> None:
    """Give the open file `new` the permissions and owner of the file at `destination`, if
    there is one."""
    try:
        there = os.stat(destination)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(there.st_mode):
        return
    if (there.st_uid, there.st_gid) != os.fstat(new)[4:6]:
        with contextlib.suppress(PermissionError):  # not ours to give away: ours, then
            os.fchown(new, there.st_uid, there.st_gid)
    os.fchmod(new, stat.S_IMODE(there.st_mode))
