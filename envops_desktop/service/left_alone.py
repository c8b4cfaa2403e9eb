"""What a restore leaves exactly as it is: device files, which no backup holds.

A backup names a device file it cannot keep; the restore that replaces the tree around it
carries the live one over into the new tree (a hard link to the same node, so nothing that
has it open notices), instead of deleting it with the old tree.
"""

import os
import stat
from pathlib import Path


def _device_files(top: str) -> list[str]:
    """The device files under `top`, as relative paths; folders are read through their
    entries' types, with no status call for the files around them."""
    found, pending = [], [""]
    while pending:
        prefix = pending.pop()
        with os.scandir(os.path.join(top, prefix) if prefix else top) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(prefix + entry.name + "/")
                elif not (
                    entry.is_file(follow_symlinks=False) or entry.is_symlink()
                ) and _is_device(entry.stat(follow_symlinks=False).st_mode):
                    found.append(prefix + entry.name)
    return sorted(found)


def _is_device(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def carry_over_devices(live: Path, new_tree: Path) -> list[str]:
    """Link each device file of `live` into `new_tree` at the same place, unless the new tree
    has something there; return those that could not be kept (their folder is not in the new
    tree, or something else is at their path)."""
    lost = []
    for path in _device_files(str(live)):
        destination = new_tree / path
        if _is_real_folder(new_tree, path.rpartition("/")[0]) and not os.path.lexists(destination):
            os.link(live / path, destination, follow_symlinks=False)
        else:
            lost.append(path)
    return lost


def _is_real_folder(root: Path, relative: str) -> bool:
    """Whether `relative` is a folder under `root` reached through folders only, never
    through a link that could lead out of the tree."""
    here = root
    for part in filter(None, relative.split("/")):
        here = here / part
        try:
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                return False
        except FileNotFoundError:
            return False
    return True
