"""Walking an environment's directory without ever following a link."""

import hashlib
import marshal
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import TreeEntry


class ScannedFile(NamedTuple):
    """A regular file found by a scan, with what the hash cache compares.

    A tuple of plain values: the garbage collector stops tracking it, so scanning 20,000
    files does not make its full passes (which pause every thread) any longer.
    """

    path: str
    size: int
    mode: int
    mtime_ns: int
    inode: int


@dataclass
class Scan:
    """Everything under a root: directories and links as entries, files still to be hashed."""

    others: list[TreeEntry] = field(default_factory=list)
    files: list[ScannedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    root_mode: int = 0o755
    root_mtime_ns: int = 0

    def digest(self) -> str:
        """A name for everything this scan saw: two scans with the same digest found the same
        entries with the same size, mode, mtime and inode, so a backup of the one serves as a
        backup of the other wherever the hash cache would have trusted every file."""
        others = [(e.path, e.kind.value, e.mode, e.mtime_ns, e.target) for e in self.others]
        # marshal of plain tuples is ten times quicker than JSON here; version 2 skips the
        # shared-reference table. The format may change between Python versions, which only
        # makes a digest miss once.
        return hashlib.sha256(
            marshal.dumps((list(map(tuple, self.files)), others, self.skipped), 2)
        ).hexdigest()


def scan_tree(root: Path) -> Scan:
    """List a directory tree; FIFOs, sockets and devices are skipped and named in `skipped`."""
    root_stat = root.stat()
    scan = Scan(root_mode=stat.S_IMODE(root_stat.st_mode), root_mtime_ns=root_stat.st_mtime_ns)
    pending = [("", str(root))]
    while pending:
        prefix, directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                children = list(listing)
        except PermissionError as error:
            raise OperationFailedError(
                f"Cannot read the folder {directory}: permission denied."
            ) from error
        for child in children:
            rel = prefix + child.name
            st = child.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):  # nearly every entry: the cheapest path
                scan.files.append(
                    ScannedFile(rel, st.st_size, st.st_mode & 0o7777, st.st_mtime_ns, st.st_ino)
                )
            elif stat.S_ISDIR(st.st_mode):
                scan.others.append(_entry(rel, EntryKind.DIR, st))
                pending.append((rel + "/", child.path))
            elif stat.S_ISLNK(st.st_mode):
                scan.others.append(_entry(rel, EntryKind.SYMLINK, st, os.readlink(child.path)))
            else:
                scan.skipped.append(rel)
    return scan


def _entry(path: str, kind: EntryKind, st: os.stat_result, target: str | None = None) -> TreeEntry:
    return TreeEntry(path, kind, stat.S_IMODE(st.st_mode), 0, st.st_mtime_ns, None, target)
