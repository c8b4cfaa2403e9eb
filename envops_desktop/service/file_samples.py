"""One file of a backup, of an uploaded configuration file or of a live folder: its first
bytes to show beside another version of it, or all of it saved where the user chooses."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from envops_desktop.domain.errors import NotFoundError
from envops_desktop.domain.file_sample import FileSample, sample_of
from envops_desktop.domain.models import Backup, TreeEntry
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.saved_files import saving_as
from envops_desktop.store.file_reads import open_regular_file

if TYPE_CHECKING:
    from envops_desktop.domain.configuration import ManifestEntry
    from envops_desktop.service.configuration_files import StagedConfiguration

Reader = Callable[[BinaryIO], object]


def read_stored(ctx: ServiceContext, entry: TreeEntry, read: Reader) -> bool:
    """Call `read` with a backup's file open; False when it has no content here (a folder
    or a link, or content kept in the team's store only)."""
    if entry.sha256 is None:
        return False
    with ctx.locks.blobs_in_use():
        if not ctx.blobs.has(entry.sha256):
            return False
        with ctx.blobs.reading([entry.sha256]), ctx.blobs.open(entry.sha256) as f:
            read(f)
    return True


def stored_head(ctx: ServiceContext, entry: TreeEntry, limit: int) -> bytes | None:
    """The first `limit` bytes of a backup's file; None when it has no content here."""
    found: list[bytes] = []
    read_stored(ctx, entry, lambda f: found.append(f.read(limit)))
    return found[0] if found else None


def backup_file(ctx: ServiceContext, backup: Backup, path: str, limit: int) -> FileSample | None:
    """The first `limit` bytes of file `path` in `backup`, with the size and hash of all of
    it; None when the backup holds no such file, or its content is in the team's store
    only."""
    entry = _backup_entry(ctx, backup, path)
    head = None if entry is None else stored_head(ctx, entry, limit)
    return None if entry is None or head is None else _sample(head, entry)


def save_backup_file(ctx: ServiceContext, backup: Backup, path: str, destination: Path) -> Path:
    """Write file `path` of `backup`, whole, as `destination` (replaced if there)."""
    entry = _backup_entry(ctx, backup, path)
    with saving_as(destination, entry.mode if entry else 0) as copy:
        if entry is None or not read_stored(ctx, entry, copy):
            raise NotFoundError(
                f"{path} has no content in this backup here (a folder or link, or kept in "
                "the team's store only); nothing was saved."
            )
    return destination


def live_file(folder: Path, path: str, limit: int) -> FileSample | None:
    """The first `limit` bytes of regular file `path` of `folder` as it is now, with the size
    and hash of all of it; None when no regular file is there. Never through a link, nor
    waiting on a pipe put there since a preview: it would hold the reader, and the window's
    quit with it, until something wrote to it."""
    try:
        fd, _status = open_regular_file(folder / path)
    except OSError:
        return None
    with open(fd, "rb") as file:
        return sample_of(file, limit)


def staged_file(
    ctx: ServiceContext,
    staged: "StagedConfiguration",
    path: str,
    root_folder: str | None,
    limit: int,
) -> FileSample | None:
    """The first `limit` bytes of file `path` of an uploaded configuration file (an archive
    with no manifest: laid out with `root_folder` as its root), with the size and hash of
    all of it; None when it holds no such file."""
    found: list[bytes] = []
    entry = _read_staged(ctx, staged, path, root_folder, lambda f: found.append(f.read(limit)))
    return None if entry is None else _sample(found[0], entry)


def save_staged_file(
    ctx: ServiceContext,
    staged: "StagedConfiguration",
    path: str,
    destination: Path,
    root_folder: str | None,
) -> Path:
    """Write file `path` of an uploaded configuration file (laid out with `root_folder` as
    its root), whole, as `destination` (replaced if there)."""
    entry = _staged_entry(staged, path, root_folder)
    with saving_as(destination, entry.mode if entry else 0) as copy:
        if not _read_staged(ctx, staged, path, root_folder, copy):
            raise NotFoundError(
                f"{path} has no content in {staged.file_name} (a folder or link); nothing "
                "was saved."
            )
    return destination


def _read_staged(
    ctx: ServiceContext,
    staged: "StagedConfiguration",
    path: str,
    root_folder: str | None,
    read: Reader,
) -> "ManifestEntry | None":
    """Call `read` with file `path` of an uploaded configuration file open, and return its
    entry; None when it holds no such file."""
    entry = _staged_entry(staged, path, root_folder)
    if entry is None or entry.sha256 is None:
        return None
    with ctx.locks.blobs_in_use(), staged.blobs.open(entry.sha256) as f:
        read(f)
    return entry


def _staged_entry(
    staged: "StagedConfiguration", path: str, root_folder: str | None
) -> "ManifestEntry | None":
    inside = f"{root_folder}/{path}" if staged.plain is not None and root_folder else path
    return next((e for e in staged.manifest.entries if e.path == inside), None)


def _backup_entry(ctx: ServiceContext, backup: Backup, path: str) -> TreeEntry | None:
    return next((e for e in ctx.backups.entries(backup.id) if e.path == path), None)


def _sample(head: bytes, entry: "TreeEntry | ManifestEntry") -> FileSample:
    """A stored file's first bytes, named by its recorded size and hash: a file of
    gigabytes need not be read to its end to be told apart."""
    assert entry.sha256 is not None, "only a file with content is read"
    return FileSample(head, entry.size, entry.sha256)
