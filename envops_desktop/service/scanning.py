"""Walking an environment's directory without ever following a link."""

import errno
import hashlib
import marshal
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import TreeEntry

# A regular file found by a scan: (path, size, mtime_ns, inode, mode); the first four are what
# the hash cache compares. A plain tuple, not a NamedTuple: building 20,000 of them is half
# the cost, the garbage collector stops tracking them, and `marshal` takes them as they are.
ScannedFile = tuple[str, int, int, int, int]
PATH, SIZE, MTIME_NS = 0, 1, 2  # the positions in a ScannedFile that are read by index

_S_ISREG, _S_ISDIR, _S_ISLNK = stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK


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
        return hashlib.sha256(marshal.dumps((self.files, others, self.skipped), 2)).hexdigest()


def scan_tree(root: Path) -> Scan:
    """List a directory tree; FIFOs, sockets and devices are skipped and named in `skipped`."""
    root_stat = root.stat()
    scan = Scan(root_mode=stat.S_IMODE(root_stat.st_mode), root_mtime_ns=root_stat.st_mtime_ns)
    add_file = scan.files.append
    pending = [("", str(root), True)]
    while pending:
        prefix, directory, is_root = pending.pop()
        for name, st in _listing(directory, follow=is_root):
            mode = st.st_mode
            if _S_ISREG(mode):  # nearly every entry: the cheapest path
                add_file((prefix + name, st.st_size, st.st_mtime_ns, st.st_ino, mode & 0o7777))
            elif _S_ISDIR(mode):
                scan.others.append(_entry(prefix + name, EntryKind.DIR, st))
                pending.append((prefix + name + "/", os.path.join(directory, name), False))
            elif _S_ISLNK(mode):
                target = os.readlink(os.path.join(directory, name))
                scan.others.append(_entry(prefix + name, EntryKind.SYMLINK, st, target))
            else:
                scan.skipped.append(prefix + name)
    return scan


# POSIX: `lstat` of a name relative to the open folder spares the kernel walking the whole
# path for each of 20,000 files (≈ 10 % of a scan), and O_NOFOLLOW refuses a folder that was
# swapped for a link after it was listed. Windows has neither, and needs neither: there
# scandir's entries carry their status already. (`os.lstat` is not listed in
# `supports_dir_fd`; it is `os.stat` that is.)
_BY_DESCRIPTOR = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd
# Gone, or a folder replaced by a file or a link, between being listed and being read.
_CHANGED_WHILE_LISTED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def _listing(directory: str, follow: bool) -> list[tuple[str, os.stat_result]]:
    """Each entry of a folder with its own (never its link target's) status."""
    try:
        if not _BY_DESCRIPTOR:
            with os.scandir(directory) as entries:
                return [(e.name, e.stat(follow_symlinks=False)) for e in entries]
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | (0 if follow else os.O_NOFOLLOW))
        try:
            lstat = os.lstat
            return [(name, lstat(name, dir_fd=fd)) for name in os.listdir(fd)]
        finally:
            os.close(fd)
    except PermissionError as error:
        raise OperationFailedError(
            f"Cannot read the folder {directory}: permission denied."
        ) from error
    except OSError as error:
        if error.errno not in _CHANGED_WHILE_LISTED:
            raise
        raise OperationFailedError(
            f"The folder {directory} changed while it was being read; try again."
        ) from error


def _entry(path: str, kind: EntryKind, st: os.stat_result, target: str | None = None) -> TreeEntry:
    return TreeEntry(path, kind, stat.S_IMODE(st.st_mode), 0, st.st_mtime_ns, None, target)
