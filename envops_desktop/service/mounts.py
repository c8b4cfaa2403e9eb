"""Filesystems mounted inside a folder: the engine never descends into, moves or deletes across one.

A bind mount of a folder on the same filesystem has the same device number as its parent,
so comparing `st_dev` misses it; Linux's /proc/self/mountinfo lists every mount point.
Elsewhere (macOS, Windows), a folder on another device than its parent is taken as one.
"""

import os
import re
from pathlib import Path

_MOUNTINFO = "/proc/self/mountinfo"
_ESCAPED = re.compile(rb"\\([0-7]{3})")


def _mount_points() -> list[str] | None:
    """Every mount point on this machine, or None where the system does not list them."""
    try:
        with open(_MOUNTINFO, "rb") as listing:
            lines = listing.read().splitlines()
    except OSError:
        return None
    # Field 5 is the mount point, with space, tab, newline and backslash written in octal.
    return [
        os.fsdecode(_ESCAPED.sub(lambda m: bytes([int(m.group(1), 8)]), line.split(b" ")[4]))
        for line in lines
        if line.count(b" ") >= 4
    ]


def mounts_inside(folder: Path) -> list[Path]:
    """The mount points strictly inside `folder` (whose links are followed), sorted."""
    real = os.path.realpath(folder)
    listed = _mount_points()
    if listed is None:
        return _other_devices_inside(real)
    inside = real.rstrip(os.sep) + os.sep
    return sorted(Path(point) for point in set(listed) if point.startswith(inside))


def is_mount_point(folder: Path) -> bool:
    """Whether `folder` (its links followed) is itself a mount point: a folder bound onto
    itself, or on the filesystem of the folder around it, is one that `os.path.ismount`
    does not see, and it cannot be renamed either."""
    real = os.path.realpath(folder)
    listed = _mount_points()
    return os.path.ismount(real) if listed is None else real in listed


def _other_devices_inside(real: str) -> list[Path]:
    device = os.lstat(real).st_dev
    found: list[Path] = []
    for directory, folders, _files in os.walk(real):
        for name in list(folders):
            path = os.path.join(directory, name)
            if os.lstat(path).st_dev != device:
                found.append(Path(path))
                folders.remove(name)  # never descend into it
    return sorted(found)
