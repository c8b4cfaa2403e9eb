"""Files the kernel keeps where they are: immutable (`chattr +i`) or append-only
(`chattr +a`). Neither can be renamed or removed, even by root, so a restore, which puts a
new tree in place of the folder that holds them, would leave them behind in an old tree no
one could clear away, and would quietly take away the protection they were given (the
new copy has no such flag: `rsync -aHAX` keeps none either). A restore is refused first.

The flags are read with `statx`, which needs no file opened (`FS_IOC_GETFLAGS` does, and
took three times as long a file). Linux with glibc 2.28 or later; elsewhere nothing is
found.
"""

import ctypes
import functools
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

_FLAGS = ((0x10, "immutable", "i"), (0x20, "append-only", "a"))  # STATX_ATTR_*
_UNMOVABLE = 0x10 | 0x20
_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_AT_STATX_DONT_SYNC = 0x4000  # a network filesystem need not be asked afresh
_STATX_SIZE = 256
# struct statx: stx_attributes at byte 8, stx_attributes_mask (which of them the
# filesystem reports at all) at byte 56.
_ATTRIBUTES, _ATTRIBUTES_AT, _ATTRIBUTES_MASK = struct.Struct("=Q"), 8, 56


class Unmovable(NamedTuple):
    """A path the kernel keeps where it is, and by which flag."""

    path: Path
    flag: str  # "immutable" or "append-only"
    option: str  # chattr's letter for it: "i" or "a"


def unmovable_inside(folder: Path) -> Unmovable | None:
    """The first path in `folder` (itself included, links not followed) that is immutable
    or append-only; None if there is none, or if this system cannot say. A system call a
    path: done only where a restore is about to replace them."""
    statx = _statx()
    if statx is None:
        return None
    buffer = ctypes.create_string_buffer(_STATX_SIZE)
    if statx(_AT_FDCWD, os.fsencode(folder), _AT_SYMLINK_NOFOLLOW, 0, buffer) != 0:
        return None  # gone: the restore says so in its own words
    if not _ATTRIBUTES.unpack_from(buffer, _ATTRIBUTES_MASK)[0] & _UNMOVABLE:
        return None  # a filesystem that keeps no such flags (FAT, older tmpfs, NFS)
    found = _unmovable(folder, buffer)
    if found is not None:
        return found
    pending = [os.fsencode(folder)]  # no mount inside: a restore refuses one first
    while pending:
        path = pending.pop()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # replaced or unreadable: the restore says so in its own words
        try:
            for entry in os.scandir(fd):
                name = os.fsencode(entry.name)
                if statx(fd, name, _AT_SYMLINK_NOFOLLOW | _AT_STATX_DONT_SYNC, 0, buffer) != 0:
                    continue
                if _ATTRIBUTES.unpack_from(buffer, _ATTRIBUTES_AT)[0] & _UNMOVABLE:
                    return _unmovable(Path(os.fsdecode(path + b"/" + name)), buffer)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path + b"/" + name)
        finally:
            os.close(fd)
    return None


def _unmovable(path: Path, statx_buffer: ctypes.Array[ctypes.c_char]) -> Unmovable | None:
    attributes = _ATTRIBUTES.unpack_from(statx_buffer, _ATTRIBUTES_AT)[0]
    for bit, flag, option in _FLAGS:
        if attributes & bit:
            return Unmovable(path, flag, option)
    return None


@functools.cache
def _statx() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        statx = ctypes.CDLL(None, use_errno=True).statx
    except (OSError, AttributeError):  # a C library without it
        return None
    statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_char_p]
    statx.restype = ctypes.c_int
    return statx  # type: ignore[no-any-return]
