"""Writing files so they survive: new files never written through a link, and syncs.

What a restore's extraction and the store's own writes share: a file created exclusively
that gets its mode and times once written, and flushing to the disk before a step that must
find the data there after a power cut.
"""

import contextlib
import os
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO

from envops_desktop.store.blob_bodies import write_all
from envops_desktop.store.file_metadata import NOTHING, Applied, SparseWriter, apply_metadata

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
BINARY = getattr(os, "O_BINARY", 0)
# Mode and times set through the open file where the OS allows: two path lookups fewer per
# restored file.
_META_BY_FD = os.chmod in os.supports_fd and os.utime in os.supports_fd


def sync_to_disk() -> None:
    """Flush written data to the disk before a step that must find it there after a power cut."""
    if hasattr(os, "sync"):
        os.sync()


# Past this many files, one sync of everything costs less than flushing each on its own.
_FLUSH_ONE_BY_ONE = 256


def flush_files(paths: Collection[Path]) -> None:
    """`sync_to_disk` for these files and the folders naming them only, when they are few.

    An import that writes its tree while it stores the content must flush the content before
    recording it, but not the gigabyte of tree beside it: that waits for the disk later.
    """
    if not hasattr(os, "sync"):
        return
    if len(paths) > _FLUSH_ONE_BY_ONE:
        os.sync()
        return
    # The folders too, and theirs: a blob's folder may be new (`objects/ab/`).
    folders = {folder for p in paths for folder in (p.parent, p.parent.parent)}
    for path in [*paths, *folders]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def flushing_in_background(enabled: bool = True, interval: float = 0.5) -> Iterator[None]:
    """Write data back to disk while more is being written, so the closing sync is short.

    Linux starts writing back only once a tenth of memory is dirty, so the 600 MB a backup
    writes would otherwise all wait for its final sync: two seconds of disk time after the CPU
    work instead of during it.
    """
    if not enabled or not hasattr(os, "sync"):
        yield
        return
    stop = threading.Event()

    def flush() -> None:
        while not stop.wait(interval):
            os.sync()

    flusher = threading.Thread(target=flush, name="envops-flush", daemon=True)
    flusher.start()
    try:
        yield
    finally:
        stop.set()
        flusher.join()


# A new file: never written through a link or over something already there.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | BINARY


def write_new_file(
    target: str, data: bytes, mode: int, mtime_ns: int, applied: Applied = NOTHING
) -> None:
    """`writing_new_file` for content held whole, with no holes: an open, the writes, the
    metadata and a close, with no file object or context around them."""
    fd = os.open(target, _NEW_FILE, 0o600)
    try:
        write_all(fd, data)
        if _META_BY_FD:
            apply_metadata(fd, applied, mode, mtime_ns, path=target)
    finally:
        os.close(fd)
    if not _META_BY_FD:  # Windows: by path, once the file is closed
        apply_metadata(target, applied, mode, mtime_ns)


@contextlib.contextmanager
def writing_new_file(
    target: str, mode: int, mtime_ns: int, applied: Applied = NOTHING
) -> Iterator[BinaryIO]:
    """A file created for writing (unbuffered) that gets `mode`, `mtime_ns` and the `applied`
    owner and attributes once written; with recorded holes, those are left unwritten.

    O_EXCL|O_NOFOLLOW: never written through a link or over something already there.
    """
    with open(os.open(target, _NEW_FILE, 0o600), "wb", buffering=0) as out:
        if applied.data is None:
            yield out
        else:
            sparse = SparseWriter(out, applied.data)
            yield sparse  # type: ignore[misc]
            sparse.finish()
        if _META_BY_FD:
            apply_metadata(out.fileno(), applied, mode, mtime_ns, path=target)
    if not _META_BY_FD:  # Windows: by path, once the file is closed
        apply_metadata(target, applied, mode, mtime_ns)
