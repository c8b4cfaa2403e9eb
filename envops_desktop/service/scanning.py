"""Walking an environment's directory without ever following a link."""

import contextlib
import errno
import hashlib
import marshal
import os
import stat
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import NotFoundError, OperationFailedError
from envops_desktop.domain.excludes import Excludes
from envops_desktop.domain.models import Environment, ScannedFile, TreeEntry
from envops_desktop.domain.name_json import dumps_any_name
from envops_desktop.domain.progress import REPORTED_EVERY
from envops_desktop.domain.times import EARLIEST_NS, LATEST_NS, recordable_ns, unrecordable_note
from envops_desktop.service.folder_reach import disk_gone_hint, is_folder
from envops_desktop.service.mounts import mounts_inside
from envops_desktop.store.file_metadata import (
    INODE_BITS,
    EntryMeta,
    has_xattrs,
    may_have_holes,
    owner_of,
    read_metadata,
    read_xattrs,
)
from envops_desktop.store.hash_caches import Known

_S_ISREG, _S_ISDIR, _S_ISLNK = stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK
_DIGEST_PART = 4096
# A file modified within this many nanoseconds of a scan may change again in the same mtime
# tick without its mtime moving, so its hash is not cached (git's "racily clean" problem).
RACY_NS = 2_000_000_000


class ScannedFiles:
    """The regular files a scan found, in path order, held as columns.

    A tuple per file with int objects of its own took 55 MiB for 200,000 files, held through
    a whole backup; as a list of paths and arrays of numbers they take 22 MiB. Iterating
    gives each file as a `ScannedFile`, made on the way.
    """

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.sizes = array("q")
        self.mtimes_ns = array("q")
        self.inodes = array("Q")
        self.modes = array("H")
        # The last change to each file's inode (content, owner, mode, links or xattrs): it
        # names a tree in its digest, and tells which files' xattrs the hash cache knows.
        self.ctimes_ns = array("q")
        # Per file, its owner and the rest (`file_metadata.EntryMeta`): mostly one shared
        # object per owner, so 8 bytes a file.
        self.metas: list[EntryMeta | None] = []
        # Files whose time lies outside what EnvOps records, each with that time.
        self.unrecordable: list[tuple[str, int]] = []

    def add(self, path: str, st: os.stat_result, meta: EntryMeta | None) -> None:
        self.paths.append(path)
        self.sizes.append(st.st_size)
        try:
            self.mtimes_ns.append(st.st_mtime_ns)
        except OverflowError:  # past what 64 bits hold: a wrong clock's year 2300
            self.mtimes_ns.append(recordable_ns(st.st_mtime_ns))
            self.unrecordable.append((path, st.st_mtime_ns))
        self.inodes.append(st.st_ino & INODE_BITS)
        self.modes.append(st.st_mode & 0o7777)
        self.metas.append(meta)
        self.ctimes_ns.append(st.st_ctime_ns)

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[ScannedFile]:
        return zip(self.paths, self.sizes, self.mtimes_ns, self.inodes, self.modes, strict=True)

    def changed_before(self, ns: int) -> bool:
        """Whether every file's inode last changed before `ns` (nanoseconds since the epoch)."""
        return max(self.ctimes_ns, default=0) < ns

    def digest_into(self, digest: "hashlib._Hash") -> None:
        # marshal of a list of str is ten times quicker than JSON here; version 2 skips the
        # shared-reference table. Its format may change between Python versions, which only
        # makes a digest miss once. In parts, so no second copy of 200,000 paths is made.
        for start in range(0, len(self.paths), _DIGEST_PART):
            digest.update(marshal.dumps(self.paths[start : start + _DIGEST_PART], 2))
        for column in (self.sizes, self.mtimes_ns, self.inodes, self.modes):
            digest.update(column)
        # As a digest of its own: the digests of trees recorded before stay the same.
        digest.update(hashlib.sha256(self.ctimes_ns).digest())
        # Each distinct metadata once, and per file which one it has.
        distinct: dict[int, int] = {}
        which = array("I", (distinct.setdefault(id(m), len(distinct)) for m in self.metas))
        by_id = {id(m): m for m in self.metas}
        # A hardlink's first name may not be UTF-8.
        digest.update(dumps_any_name([by_id[key] for key in distinct]))
        digest.update(which)


@dataclass
class Scan:
    """Everything under a root: directories and links as entries, files still to be hashed."""

    root: str = ""
    started_ns: int = 0  # when the scan began, in nanoseconds since the epoch
    others: list[TreeEntry] = field(default_factory=list)
    files: ScannedFiles = field(default_factory=ScannedFiles)
    skipped: list[str] = field(default_factory=list)
    # Entries gone (or made something else) between being listed and being read, with all
    # they held, left out where the scan was asked to pass over them.
    removed: list[str] = field(default_factory=list)
    # The first name (in path order) of each file with other names in the tree.
    linked_to: set[str] = field(default_factory=set)
    root_mode: int = 0o755
    root_mtime_ns: int = 0
    root_meta: EntryMeta | None = None
    # What the environment's excludes left out, a folder once (not what it holds).
    excluded: list[str] = field(default_factory=list)
    # Device files, named in `skipped` too: a restore leaves them be unless it replaces them.
    devices: list[str] = field(default_factory=list)
    # A quick scan left these files' extended attributes unread (`read_file_xattrs`).
    xattrs_unread: array = field(default_factory=lambda: array("I"))
    quick: bool = False
    # Each entry ("." for the folder) whose time lies past what EnvOps records, with its own:
    # the scan's columns hold the nearest it records.
    unrecordable: dict[str, int] = field(default_factory=dict)

    @property
    def steady_before_ns(self) -> int:
        """A file whose inode last changed before this cannot have changed again unseen
        since: one changed later may change again within the same ctime tick (`RACY_NS`)."""
        return self.started_ns - RACY_NS

    def digest(self) -> str | None:
        """A name for everything a quick scan saw: two scans with the same digest found the
        same entries with the same size, mode, mtime, ctime and inode, so a backup of the one
        serves as a backup of the other wherever the hash cache would have trusted every file.

        A file's extended attributes are not read for it: changing them moves the file's
        ctime. Within a ctime tick of the scan they may change again with no new ctime, so a
        tree with a file changed within `RACY_NS` of the scan has no name (None). Nor could
        it match one named before, all of whose files had changed earlier than that.
        """
        if not self.quick:
            raise ValueError("a digest is taken of a quick scan, before its files' xattrs")
        if not self.files.changed_before(self.steady_before_ns):
            return None
        others = [(e.path, e.kind.value, e.mode, e.mtime_ns, e.target) for e in self.others]
        digest = hashlib.sha256(marshal.dumps((others, self.skipped), 2))
        digest.update(dumps_any_name([self.root_meta, *(e.meta for e in self.others)]))
        self.files.digest_into(digest)
        return digest.hexdigest()

    def read_file_xattrs(
        self,
        advance: Callable[[int], None] = lambda _files: None,
        only: Iterable[int] | None = None,
        known: Known | None = None,
    ) -> None:
        """Read the extended attributes that a quick scan left unread, as a full scan would
        have: into each file's metadata, beside its owner. `advance` is told how many files
        have been looked at since it was last told (0.5 s over 200,000 files).

        Given `only` (positions among those left unread), the rest are left to whoever reads
        those files' contents, as a backup's helpers do, on the open file. Given `known`,
        what the hash cache knows of the files, those it knows the xattrs of as they are now
        are not read: they are the cache's.
        """
        top, paths, metas = self.root.rstrip("/") + "/", self.files.paths, self.files.metas
        unread = self.xattrs_unread if only is None else only
        as_cached, cached = (known.xattrs_as_cached, known.xattrs) if known else (b"", {})
        for count, index in enumerate(unread, 1):
            if as_cached and as_cached[index]:
                xattrs = cached.get(index)
            else:
                full = top + paths[index]
                xattrs = read_xattrs(full) if has_xattrs(full) else None
            if xattrs:
                metas[index] = {**(metas[index] or {}), "xattrs": xattrs}
            if count % REPORTED_EVERY == 0:
                advance(REPORTED_EVERY)
        self.xattrs_unread = array("I")
        self.quick = False


# How `skipped` names a folder that another filesystem is mounted on.
MOUNT_POINT_NOTE = " (a mount point: recorded as an empty folder, its contents not backed up)"
# How `skipped` names a device file: a restore leaves whatever is at its path alone.
DEVICE_NOTE = " (a device file: not backed up; a restore leaves it as it is)"
# How a backup's `skipped` names an entry removed while the backup read the folder.
REMOVED_NOTE = " (removed while it was being backed up: not in this backup)"


def scan_tree(
    root: Path,
    excludes: Excludes | None = None,
    file_xattrs: bool = True,
    entering: Callable[[str], None] | None = None,
    pass_over_removed: bool = False,
) -> Scan:
    """List a directory tree with every entry's metadata; files come in path order.

    Without `file_xattrs`, a quick scan: regular files' extended attributes are left for
    `Scan.read_file_xattrs`, one call a file that an unchanged tree need not pay.

    Devices are skipped and named in `skipped`; a folder another filesystem is mounted on
    is recorded as an empty folder, never entered, and named there too. A file with other
    names in the tree records the first of them (in path order) as the one it links to.
    What `excludes` matches is left out, a folder with all it holds, and counted.
    `entering` is told each folder's path as it is entered, for a progress report.

    An entry removed while the tree is read (a lock file, an editor's scratch file, the
    temporary name of a file written and renamed) ends the scan with a sentence, unless it
    is excluded; with `pass_over_removed` it is left out and named in `removed`.
    """
    started_ns = time.time_ns()
    real_root = os.path.realpath(root)
    mounted = {os.path.relpath(point, real_root) for point in mounts_inside(Path(real_root))}
    top = str(root)
    root_stat, top_entries = _listing(top, follow=True)
    scan = Scan(
        root=str(root),
        started_ns=started_ns,
        quick=not file_xattrs,
        root_mode=stat.S_IMODE(root_stat.st_mode),
        root_mtime_ns=recordable_ns(root_stat.st_mtime_ns),
        root_meta=read_metadata(str(root), root_stat),
    )
    add_file, files, unread = scan.files.add, scan.files.paths, scan.xattrs_unread.append
    # Each entry whose time a scan keeps as the nearest it records, with its own.
    unrecordable: list[tuple[str, int]] = []
    _note_unrecordable(".", root_stat, unrecordable)
    excluding = bool(excludes)
    first_names: dict[tuple[int, int], str] = {}  # a hardlinked node's first path, by inode
    # Depth first, each folder's entries in the order their paths sort in, so the files
    # come out in path order with no sort of them all (a backup writes its manifest's rows
    # as it reads them): a folder `a` sorts as `a/`, whose contents come after `a-b` and
    # before `a0`.
    pending = [("", top.rstrip("/") + "/", _in_path_order(top_entries))]
    while pending:
        prefix, directory, entries = pending[-1]
        entry = next(entries, None)
        if entry is None:
            pending.pop()
            continue
        name, st = entry
        if st is None:  # gone since its folder was listed
            path = prefix + name
            # Its kind went with it: read as a folder, which every pattern for it matches.
            if excluding and excludes.matches(path, True):  # type: ignore[union-attr]
                continue  # a lock file or log that comes and goes: no business of ours
            if not pass_over_removed:
                raise _FolderChangedError(directory.rstrip("/") or "/")
            scan.removed.append(path)
            continue
        mode, path = st.st_mode, prefix + name
        if excluding and excludes.matches(path, _S_ISDIR(mode)):  # type: ignore[union-attr]
            scan.excluded.append(path)
            continue
        full = directory + name
        try:
            if _S_ISREG(mode):  # nearly every entry: the cheapest path
                if st.st_nlink > 1:
                    first = first_names.setdefault((st.st_dev, st.st_ino), path)
                    if first != path:
                        scan.linked_to.add(first)
                    meta = read_metadata(full, st, True, None if first == path else first)
                elif may_have_holes(st) or (file_xattrs and has_xattrs(full)):
                    meta = read_metadata(full, st, holes=True)
                else:
                    if not file_xattrs:
                        unread(len(files))
                    meta = owner_of(st)
                add_file(path, st, meta)
            elif _S_ISDIR(mode):
                if mounted and path in mounted:
                    scan.others.append(_entry(path, EntryKind.DIR, st, full, unrecordable))
                    scan.skipped.append(path + MOUNT_POINT_NOTE)
                    continue
                if entering is not None:
                    entering(path)
                status, listing = _listing(full, False)
                scan.others.append(_entry(path, EntryKind.DIR, status, full, unrecordable))
                pending.append((path + "/", full + "/", _in_path_order(listing)))
            elif _S_ISLNK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                if _S_ISLNK(mode):
                    target, st = _link_as_read(full, st)
                # These can have several names too, as rsync -H keeps them (`cp -al` links
                # a tree's symlinks): a later name records the first.
                linked = None
                if st.st_nlink > 1:
                    first = first_names.setdefault((st.st_dev, st.st_ino), path)
                    linked = None if first == path else first
                if _S_ISLNK(mode):
                    node = _entry(path, EntryKind.SYMLINK, st, full, unrecordable, target, linked)
                else:
                    kind = EntryKind.FIFO if stat.S_ISFIFO(mode) else EntryKind.SOCKET
                    node = _entry(path, kind, st, full, unrecordable, hardlink=linked)
                scan.others.append(node)
            else:
                scan.devices.append(path)
                scan.skipped.append(path + DEVICE_NOTE)
        except (_FolderChangedError, FileNotFoundError, NotADirectoryError):
            # Removed, or made something else, since it was listed.
            if not pass_over_removed:
                raise
            scan.removed.append(path)
    scan.others.sort(key=itemgetter(0))  # a folder `a` comes before `a-b`, not after it
    scan.unrecordable = dict(unrecordable + scan.files.unrecordable)
    scan.skipped += [path + unrecordable_note(ns) for path, ns in scan.unrecordable.items()]
    return scan


def environment_folder(env: Environment) -> Path:
    """`env`'s folder, or NotFoundError in a sentence where there is none (moved, deleted,
    its disk not mounted), OperationFailedError where it cannot be reached (its network
    disk gone)."""
    folder = Path(env.path)
    if not is_folder(folder):
        raise NotFoundError(f"The environment directory {folder} does not exist.")
    return folder


def quick_scan(
    env: Environment,
    entering: Callable[[str], None] | None = None,
    pass_over_removed: bool = False,
) -> Scan:
    """`env`'s folder as a backup first scans it (its excludes left out), files' xattrs not
    yet read: a tree as an earlier backup found it needs none of them. What cannot be read
    raises OperationFailedError (`unreadable`)."""
    folder = environment_folder(env)
    with said_if_unreadable(env):
        return scan_tree(folder, Excludes(env.excludes), False, entering, pass_over_removed)


@contextlib.contextmanager
def said_if_unreadable(env: Environment) -> Iterator[None]:
    """Within it, an OSError reading `env`'s folder is OperationFailedError (`unreadable`)."""
    try:
        yield
    except OSError as error:
        raise OperationFailedError(unreadable(env, error)) from error


def unreadable(env: Environment, error: OSError) -> str:
    """Why something in `env`'s folder could not be read, as a sentence naming it: a
    network disk mounted inside it gone, a disk failing, a path too long to open."""
    name = os.fsdecode(error.filename) if error.filename else "a file"
    if error.errno == errno.ENAMETOOLONG:
        cut = f"{name[:120]}…" if len(name) > 120 else name
        return (
            f"A path in {env.name} is longer than this system lets a program open "
            f"({len(os.fsencode(name))} bytes): {cut}. Shorten it, then try again."
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"Cannot read {name} in {env.name}: permission denied."
    return f"Could not read {name} in {env.name}: {error.strerror or error}.{disk_gone_hint(error)}"


def _in_path_order(
    listing: list[tuple[str, os.stat_result | None]],
) -> Iterator[tuple[str, os.stat_result | None]]:
    listing.sort(
        key=lambda entry: entry[0] + "/" if entry[1] and _S_ISDIR(entry[1].st_mode) else entry[0]
    )
    return iter(listing)


# POSIX: `lstat` of a name relative to the open folder spares the kernel walking the whole
# path for each of 20,000 files (≈ 10 % of a scan), and O_NOFOLLOW refuses a folder that was
# swapped for a link after it was listed. Windows has neither, and needs neither: there
# scandir's entries carry their status already. (`os.lstat` is not listed in
# `supports_dir_fd`; it is `os.stat` that is.)
_BY_DESCRIPTOR = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd
# Gone, or a folder replaced by a file or a link, between being listed and being read.
_CHANGED_WHILE_LISTED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


class _Listing(NamedTuple):
    """A folder's entries, each with its own status, and the folder's status that goes with
    them: a backup records the folder's time and mode from here, not from its parent's
    listing, so an entry added in between never comes back under an older folder time."""

    status: os.stat_result
    entries: list[tuple[str, os.stat_result | None]]


# A folder changing as it is listed is listed again, this many times at most, so that the
# status kept goes with the names listed; one that never stops (a spool) keeps the last.
_LISTING_TRIES = 3


def _listing(directory: str, follow: bool) -> _Listing:
    """A folder's own status as it is listed, and each of its entries with its own (never
    its link target's) status; None for one gone between the listing and its status, for
    the caller to judge."""
    try:
        if not _BY_DESCRIPTOR:
            with os.scandir(directory) as found:
                entries = [(e.name, _status(e.stat, follow_symlinks=False)) for e in found]
            return _Listing(os.stat(directory, follow_symlinks=follow), entries)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | (0 if follow else os.O_NOFOLLOW))
        try:
            status = os.fstat(fd)
            for _ in range(_LISTING_TRIES):
                names, before = os.listdir(fd), status
                status = os.fstat(fd)
                if _same_change(before, status):
                    break
            lstat = os.lstat
            try:
                return _Listing(status, [(name, lstat(name, dir_fd=fd)) for name in names])
            except FileNotFoundError:  # rare: gone meanwhile; the slower loop marks which
                return _Listing(status, [(name, _status(lstat, name, dir_fd=fd)) for name in names])
        finally:
            os.close(fd)
    except PermissionError as error:
        raise OperationFailedError(
            f"Cannot read the folder {directory}: permission denied."
        ) from error
    except OSError as error:
        if error.errno not in _CHANGED_WHILE_LISTED:
            raise
        raise _FolderChangedError(directory) from error


def _same_change(before: os.stat_result, after: os.stat_result) -> bool:
    # An entry added, removed or renamed moves a folder's mtime; a mode, owner or xattr its
    # ctime.
    return before.st_mtime_ns == after.st_mtime_ns and before.st_ctime_ns == after.st_ctime_ns


def _link_as_read(full: str, listed: os.stat_result) -> tuple[str, os.stat_result]:
    """A link's target with the status that goes with it. One replaced since its folder was
    listed (`ln -sfn` renames a new link over a deployment's `current`) is recorded as the
    link read, its time and owner with its target, as a file is recorded as it was read."""
    status = listed
    for _ in range(_LISTING_TRIES):
        target = _link_target(full)
        now = os.lstat(full)
        if not _S_ISLNK(now.st_mode):
            raise FileNotFoundError(errno.ENOENT, "no longer a link", full)
        if now.st_ino == status.st_ino and _same_change(status, now):
            break
        status = now
    return target, status


def _link_target(full: str) -> str:
    try:
        return os.readlink(full)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        # No longer a link: made a file or a folder since it was listed.
        raise FileNotFoundError(errno.ENOENT, "no longer a link", full) from error


def _status(
    lstat: Callable[..., os.stat_result], *args: object, **kwargs: object
) -> os.stat_result | None:
    try:
        return lstat(*args, **kwargs)
    except FileNotFoundError:
        return None


class _FolderChangedError(OperationFailedError):
    """An entry of a folder removed, or made something else, between the folder's listing
    and its own reading; or a folder itself, when it is read."""

    def __init__(self, directory: str) -> None:
        super().__init__(f"The folder {directory} changed while it was being read; try again.")


def _entry(
    path: str,
    kind: EntryKind,
    st: os.stat_result,
    full: str,
    unrecordable: list[tuple[str, int]],
    target: str | None = None,
    hardlink: str | None = None,
) -> TreeEntry:
    _note_unrecordable(path, st, unrecordable)
    meta = read_metadata(full, st, hardlink=hardlink)
    mtime_ns = recordable_ns(st.st_mtime_ns)
    return TreeEntry(path, kind, stat.S_IMODE(st.st_mode), 0, mtime_ns, None, target, meta)


def _note_unrecordable(path: str, st: os.stat_result, found: list[tuple[str, int]]) -> None:
    # A file's is found as it is added to its column, at no cost until one fails to fit.
    if not EARLIEST_NS <= st.st_mtime_ns <= LATEST_NS:
        found.append((path, st.st_mtime_ns))


def holds_at_most(root: Path, limit: int) -> bool:
    """Whether `root` holds no more than `limit` entries, counted at every depth without
    following a link; stops counting past `limit`, so a big folder costs little to judge."""
    count = 0
    folders = [os.fspath(root)]
    while folders:
        try:
            with os.scandir(folders.pop()) as listing:
                for entry in listing:
                    count += 1
                    if count > limit:
                        return False
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
        except OSError:  # gone or unreadable: what cannot be listed cannot be held either
            continue
    return True
