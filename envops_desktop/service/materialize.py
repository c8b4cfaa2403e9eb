"""Writing a backup's manifest out as a real directory tree, verifying every byte."""

import errno
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import zstandard

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import ManifestEntry
from envops_desktop.domain.progress import CancelToken, ProgressMeter
from envops_desktop.service.parallel import parallel_map
from envops_desktop.store.blobs import CHUNK, BlobStore, MissingBlobError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def _write_file(
    blobs: BlobStore, root: Path, entry: ManifestEntry, meter: ProgressMeter, cancel: CancelToken
) -> None:
    cancel.raise_if_cancelled()
    target = root / entry.path
    digest = hashlib.sha256()
    # O_EXCL|O_NOFOLLOW: never write through a link or over something already there.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o600)
    try:
        with open(fd, "wb", closefd=True) as out, blobs.open(entry.sha256 or "") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                meter.advance(len(chunk), entry.path)
    except MissingBlobError as error:
        raise OperationFailedError(
            f"The stored copy of {entry.path} is missing from the backup store."
        ) from error
    except zstandard.ZstdError as error:
        raise OperationFailedError(f"The stored copy of {entry.path} is damaged.") from error
    if digest.hexdigest() != entry.sha256:
        raise OperationFailedError(
            f"The stored copy of {entry.path} is damaged (its checksum does not match)."
        )
    os.chmod(target, entry.mode)
    os.utime(target, ns=(entry.mtime_ns, entry.mtime_ns))


def _finish_links_and_dirs(root: Path, entries: Sequence[ManifestEntry]) -> None:
    for entry in entries:
        if entry.kind is EntryKind.SYMLINK:
            path = root / entry.path
            os.symlink(entry.target or "", path)
            if os.utime in os.supports_follow_symlinks:
                os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
    # Deepest first: setting a child's times touches its parent, and a read-only directory
    # must get its mode only after everything inside it exists.
    for entry in sorted(
        (e for e in entries if e.kind is EntryKind.DIR), key=lambda e: e.path, reverse=True
    ):
        path = root / entry.path
        os.chmod(path, entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))


def materialize(
    blobs: BlobStore,
    entries: Sequence[ManifestEntry],
    root: Path,
    meter: ProgressMeter,
    cancel: CancelToken,
) -> None:
    """Create `root` (which must not exist) holding exactly `entries`, in path order."""
    os.mkdir(root, 0o700)
    try:
        for entry in entries:
            if entry.kind is EntryKind.DIR:
                os.mkdir(root / entry.path, 0o700)
        files = (e for e in entries if e.kind is EntryKind.FILE)
        for _ in parallel_map(
            lambda entry: _write_file(blobs, root, entry, meter, cancel), files, "envops-restore"
        ):
            pass
        _finish_links_and_dirs(root, entries)
    except OSError as error:
        raise OperationFailedError(_explain(error)) from error
    meter.finish()


def _explain(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "The disk is full."
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"Permission denied writing {error.filename}."
    return f"Could not write {error.filename or 'the configuration'}: {error.strerror}."
