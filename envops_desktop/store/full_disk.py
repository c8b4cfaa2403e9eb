"""The sentence for a disk with no room left, bytes or files."""

import os


def _disk_of(
    path: str | os.PathLike[str] | int | None,
) -> tuple[str | None, os.statvfs_result | None]:
    if isinstance(path, int):  # an open file's descriptor
        try:
            return None, os.fstatvfs(path)
        except OSError:
            return None, None
    folder = os.path.dirname(os.fsdecode(path)) if path else None
    try:
        return folder, os.statvfs(folder) if folder else None
    except OSError:
        return folder, None


def has_no_room_for(path: str | os.PathLike[str] | int) -> bool:
    """Whether the disk that would hold the file `path` (or holds the open file `path`) has
    no bytes or no files left."""
    _, disk = _disk_of(path)
    return disk is not None and (not disk.f_bavail or (disk.f_files > 0 and not disk.f_favail))


def full_disk(path: str | os.PathLike[str] | None) -> str:
    """What is full about the disk that holds `path` (a file being made, so its folder is
    looked at), as a sentence.

    ENOSPC is the same error when the disk has no room left for more files though it has
    bytes to spare: an operator who sees free space in `df` is told to look at `df -i`."""
    folder, disk = _disk_of(path)
    if disk is not None and disk.f_files and not disk.f_favail and disk.f_bavail:
        free = disk.f_bavail * disk.f_frsize >> 20
        return (
            f"The disk that holds {folder} has no room for more files: every one of its "
            f"{disk.f_files:,} inodes is in use ({free:,} MiB are still free; see df -i)."
        )
    return f"The disk that holds {folder} is full." if folder else "The disk is full."


def no_room_to(doing: str, path: str | os.PathLike[str]) -> str:
    """ "Cannot `doing`: the disk … is full. Free some room there and try again.", of the
    disk that would hold the file `path`."""
    full = full_disk(path)
    return f"Cannot {doing}: {full[:1].lower()}{full[1:]} Free some room there and try again."


def where_full(error: OSError, *maybe: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """The file whose disk ran out of room: the one `error` names, else (a write through a
    descriptor names none) the first of `maybe` on a disk with no room left."""
    if error.filename:
        return error.filename
    return next((path for path in maybe if has_no_room_for(path)), maybe[0])
