"""What a file is beyond its content, mode and mtime: owner, xattrs and ACLs, hardlinks, holes.

Read at backup and applied at restore exactly as `rsync -aHAX` keeps them. A manifest row
carries it as one JSON object (`EntryMeta`), absent when there is nothing to say:

- `uid`, `gid`, `user`, `group`: the owner by number, and by name where the name is known;
- `xattrs`: extended attributes by name, values in base64 (POSIX ACLs are the
  `system.posix_acl_access` and `system.posix_acl_default` ones);
- `hardlink`: the path of an earlier file of the same tree this one is a hard link to;
- `data`: for a sparse file, its data as `[offset, length]` extents; the rest is holes.
"""

import base64
import errno
import functools
import importlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from envops_desktop.store.file_reads import open_regular_file
from envops_desktop.store.full_disk import has_no_room_for

EntryMeta = dict[str, object]

# Attributes that give powers or labels to a file, kept only when restoring into the same
# environment on the same machine: a file capability is as good as setuid.
SYSTEM_XATTR_PREFIXES = ("security.", "trusted.")
SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_HAS_XATTRS = hasattr(os, "listxattr")
_HAS_OWNERS = hasattr(os, "chown") and hasattr(os, "getuid")
# An inode number as a backup keeps it. Only compared for equality, so a wider one (ReFS has
# 128 bits) loses nothing that matters by being cut to 64.
INODE_BITS = (1 << 64) - 1


@functools.cache
def _account(module: str, lookup: str, key: int | str, field: str) -> Any:
    """One answer from the user or group database (none on Windows); None when absent."""
    try:
        return getattr(getattr(importlib.import_module(module), lookup)(key), field)
    except (ImportError, KeyError):
        return None


def _user_name(uid: int) -> str | None:
    return _account("pwd", "getpwuid", uid, "pw_name")


def _group_name(gid: int) -> str | None:
    return _account("grp", "getgrgid", gid, "gr_name")


def _uid_named(name: str) -> int | None:
    return _account("pwd", "getpwnam", name, "pw_uid")


def _gid_named(name: str) -> int | None:
    return _account("grp", "getgrnam", name, "gr_gid")


@functools.cache
def _owner(uid: int, gid: int) -> EntryMeta:
    # One shared object per owner: 200,000 files of three owners hold three of them.
    meta: EntryMeta = {"uid": uid, "gid": gid}
    if (user := _user_name(uid)) is not None:
        meta["user"] = user
    if (group := _group_name(gid)) is not None:
        meta["group"] = group
    return meta


def owner_of(st: os.stat_result) -> EntryMeta | None:
    """The metadata of an entry with nothing to say but its owner (shared per owner)."""
    return _owner(st.st_uid, st.st_gid) if _HAS_OWNERS else None


def may_have_holes(st: os.stat_result) -> bool:
    """Whether a regular file's blocks do not cover its size: only then are holes looked for."""
    return bool(st.st_size) and st.st_blocks * 512 < st.st_size


def has_xattrs(path: str) -> bool:
    """Whether the entry at `path` (not following a link) may have extended attributes:
    one call, where reading them is one more per attribute; a folder of 20,000 files has
    none on nearly all of them."""
    if not _HAS_XATTRS:
        return False
    try:
        return bool(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return True  # let reading them say what is wrong


def read_xattrs(path: str | int, follow: bool = False) -> dict[str, str]:
    """A file's extended attributes, values in base64; none where the OS or filesystem has
    none. `path` may be an open file's descriptor."""
    if not _HAS_XATTRS:
        return {}
    follow = follow or isinstance(path, int)  # a descriptor is the file: no link to follow
    try:
        names = os.listxattr(path, follow_symlinks=follow)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOENT):
            return {}
        raise
    values = {}
    for name in sorted(names):
        try:
            value = os.getxattr(path, name, follow_symlinks=follow)
        except OSError as error:
            if error.errno == errno.ENODATA:  # removed since it was listed
                continue
            raise
        values[name] = base64.b64encode(value).decode("ascii")
    return values


def data_extents(fd: int, size: int) -> list[list[int]] | None:
    """A sparse file's data as `[offset, length]` extents, or None for a file with no holes."""
    if not hasattr(os, "SEEK_DATA"):
        return None
    extents = []
    offset = 0
    try:
        while offset < size:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append([start, min(end, size) - start])
            offset = end
    except OSError as error:
        if error.errno != errno.ENXIO:  # ENXIO: no data past `offset`, the rest is a hole
            if error.errno in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                return None
            raise
    if extents == [[0, size]]:
        return None
    return extents


def read_metadata(
    path: str, st: os.stat_result, holes: bool = False, hardlink: str | None = None
) -> EntryMeta | None:
    """The metadata of the entry at `path` (not following a link), whose status is `st`.

    `holes`: look for holes (only worth it for a regular file whose blocks do not cover its
    size). `hardlink`: the earlier path of the tree this file is a link to.
    """
    meta = owner_of(st)
    xattrs = read_xattrs(path)
    extents = None
    if holes and may_have_holes(st):
        fd, _status = open_regular_file(path)
        try:
            extents = data_extents(fd, st.st_size)
        finally:
            os.close(fd)
    return _with_rest(meta, xattrs, extents, hardlink)


def metadata_as_read(
    scanned: EntryMeta | None,
    uid: int,
    gid: int,
    xattrs: dict[str, str] | None,
    extents: list[list[int]] | None,
) -> EntryMeta | None:
    """The metadata of a file as its content was read, its owner `uid`:`gid`, where that is
    not the file its scan saw (`scanned`); the hardlink stays the scan's, which is checked
    against the contents read (`LinksAsRead`)."""
    owner = _owner(uid, gid) if _HAS_OWNERS else None
    return _with_rest(owner, xattrs, extents, (scanned or {}).get("hardlink"))  # type: ignore[arg-type]


def _with_rest(
    owner: EntryMeta | None,
    xattrs: dict[str, str] | None,
    extents: list[list[int]] | None,
    hardlink: str | None,
) -> EntryMeta | None:
    # The owner's shared metadata, or a copy of it with what else there is to say.
    if not (xattrs or extents is not None or hardlink is not None):
        return owner
    meta = dict(owner or {})
    if xattrs:
        meta["xattrs"] = xattrs
    if extents is not None:
        meta["data"] = extents
    if hardlink is not None:
        meta["hardlink"] = hardlink
    return meta


@dataclass(frozen=True)
class MetadataPolicy:
    """Which of a tree's recorded powers a restore applies.

    A restore from the workstation's own store applies everything; a configuration file
    (untrusted) applies none of them unless the user allows it: files then belong to the
    user importing them, with no setuid, setgid or sticky bit and no security or trusted
    attributes.
    """

    owners: bool = True
    special_bits: bool = True
    system_xattrs: bool = True


OWN_STORE = MetadataPolicy()
UNTRUSTED = MetadataPolicy(owners=False, special_bits=False, system_xattrs=False)


def may_change_owners() -> bool:
    """Whether this process may give files to other users (root, or CAP_CHOWN)."""
    if not _HAS_OWNERS:
        return False
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 0))  # CAP_CHOWN is bit 0
    except OSError:
        pass
    return False


def owner_ids(meta: EntryMeta) -> tuple[int, int] | None:
    """The uid and gid to give a file on this machine: by name where the name exists here,
    by number otherwise (as rsync does without --numeric-ids)."""
    if "uid" not in meta:
        return None
    user, group = meta.get("user"), meta.get("group")
    uid = _uid_named(user) if isinstance(user, str) else None
    gid = _gid_named(group) if isinstance(group, str) else None
    return (
        uid if uid is not None else int(meta["uid"]),  # type: ignore[call-overload]
        gid if gid is not None else int(meta["gid"]),  # type: ignore[call-overload]
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """What a restore sets on one new file besides content, mode and times: picklable, so a
    helper process can apply it."""

    owner: tuple[int, int] | None = None
    xattrs: tuple[tuple[str, bytes], ...] = ()
    data: tuple[tuple[int, int], ...] | None = None


# Nothing to set but content, mode and times.
NOTHING = Applied()


_OWNER_KEYS = ("uid", "gid", "user", "group")
_OWNER_KEY_SET = frozenset(_OWNER_KEYS)


def restricted(
    meta: EntryMeta | None, mode: int, policy: MetadataPolicy
) -> tuple[int, EntryMeta | None]:
    """An entry's mode and metadata with only what `policy` lets it keep."""
    if not policy.special_bits:
        mode &= ~SPECIAL_BITS
    if not meta or (policy.owners and policy.system_xattrs):
        return mode, meta
    kept = dict(meta)
    if not policy.owners:
        for key in _OWNER_KEYS:
            kept.pop(key, None)
    xattrs = kept.pop("xattrs", None)
    if xattrs:
        if not policy.system_xattrs:
            xattrs = {
                name: value
                for name, value in xattrs.items()  # type: ignore[attr-defined]
                if not name.startswith(SYSTEM_XATTR_PREFIXES)
            }
        if xattrs:
            kept["xattrs"] = xattrs
    return mode, kept or None


def restricted_row(row: tuple[Any, ...], policy: MetadataPolicy) -> tuple[Any, ...]:
    """A manifest row (`manifest_codec.EntryRow`) with only what `policy` lets it keep."""
    mode, meta = restricted(row[7] if len(row) > 7 else None, row[2], policy)
    return (*row[:2], mode, *row[3:7], meta)


def to_apply(meta: EntryMeta | None, mode: int, policy: MetadataPolicy) -> tuple[int, Applied]:
    """The mode and metadata a restore under `policy` gives an entry recorded with these."""
    if meta and meta.keys() <= _OWNER_KEY_SET:
        # Most entries say who owns them and nothing more: worked out once per owner, where
        # a restore of 200,000 files did it 400,000 times (its preview, then its writing).
        mode, _nothing = restricted(None, mode, policy)  # the special bits, as for any entry
        owner = meta.get("uid"), meta.get("gid"), meta.get("user"), meta.get("group")
        return mode, _owned(owner) if policy.owners and _may_chown() else NOTHING
    mode, meta = restricted(meta, mode, policy)
    if not meta:
        return mode, NOTHING
    owner = owner_ids(meta) if _may_chown() else None
    recorded: dict[str, str] = meta.get("xattrs") or {}  # type: ignore[assignment]
    xattrs = tuple((name, base64.b64decode(value)) for name, value in recorded.items())
    extents: list[list[int]] | None = meta.get("data")  # type: ignore[assignment]
    data = None if extents is None else tuple((offset, length) for offset, length in extents)
    if owner is None and not xattrs and data is None:
        return mode, NOTHING
    return mode, Applied(owner, xattrs, data)


@functools.lru_cache(maxsize=256)
def _owned(owner: tuple[object, ...]) -> Applied:
    """What a restore applies to an entry whose metadata is only `owner` (the values of
    `_OWNER_KEYS`, in that order, None where absent), by a process that may give files away."""
    meta = {key: value for key, value in zip(_OWNER_KEYS, owner, strict=True) if value is not None}
    ids = owner_ids(meta)
    return NOTHING if ids is None else Applied(ids)


@functools.cache
def _may_chown() -> bool:
    return may_change_owners()


def keeps_its_owner(meta: EntryMeta | None, policy: MetadataPolicy) -> bool:
    """Whether a folder put in place from a record of `meta` under `policy` keeps the owner
    the folder it replaces has: the record names none, or `policy` gives none (a
    configuration file imported without its privileges)."""
    return not (policy.owners and meta and meta.keys() & _OWNER_KEY_SET)


def owners_can_be_set() -> bool:
    """Whether a restore by this process gives files their recorded owners (asked once)."""
    return _may_chown()


def owner_not_kept(meta: EntryMeta | None) -> bool:
    """Whether a restore by this process leaves an entry recorded with `meta` owned by
    someone other than its recorded owner (it may not give files away)."""
    if not meta or _may_chown():
        return False
    owner = owner_ids(meta)
    return owner is not None and (
        owner[0] != os.geteuid() or owner[1] not in {os.getegid(), *os.getgroups()}
    )


# What a new file or folder takes from a folder with a default ACL, unasked.
INHERITED_XATTRS = ("system.posix_acl_access", "system.posix_acl_default")


def drop_xattrs(path: str, names: Iterable[str]) -> None:
    """Remove these extended attributes of `path` (not following a link), where it has them."""
    if not _HAS_XATTRS:
        return
    for name in names:
        try:
            os.removexattr(path, name, follow_symlinks=False)
        except OSError as error:
            if error.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise


def xattr_names(path: str) -> set[str]:
    """The names of the extended attributes of `path` (not following a link)."""
    if not _HAS_XATTRS:
        return set()
    try:
        return set(os.listxattr(path, follow_symlinks=False))
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return set()
        raise


def apply_metadata(
    file: str | int,
    applied: Applied,
    mode: int,
    mtime_ns: int | None,
    follow: bool = True,
    path: str | None = None,
) -> None:
    """Set what a restore sets on a new entry, in the order that keeps it all: the owner
    first (chown clears setuid and file capabilities), then the mode, the attributes (ACLs
    after the mode, which would rewrite their mask) and last the times. `path`: what
    `file`, a descriptor, was opened as, for an error to name (not "12")."""
    try:
        if applied.owner is not None:
            os.chown(file, *applied.owner, follow_symlinks=follow)
        if follow:  # a link's own mode means nothing on Linux, and cannot be set there
            os.chmod(file, mode)
        for name, value in applied.xattrs:
            _set_xattr(file, name, value, follow)
        if mtime_ns is not None:
            os.utime(file, ns=(mtime_ns, mtime_ns), follow_symlinks=follow)
    except OSError as error:
        if isinstance(error.filename, int) and path is not None:
            raise OSError(error.errno, error.strerror, path) from error
        raise


def _set_xattr(file: str | int, name: str, value: bytes, follow: bool) -> None:
    try:
        os.setxattr(file, name, value, follow_symlinks=follow)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            # ramfs, or a share that keeps none: "Operation not supported" says not what.
            why = f"its disk cannot keep extended attributes such as {name} ({error.strerror})"
            raise OSError(error.errno, why, error.filename) from error
        if error.errno in (errno.ENOSPC, errno.E2BIG) and not has_no_room_for(file):
            # ext4 keeps a file's attributes in one block: one too big for it is "No space
            # left on device" on a disk with room, and was said to be a full disk.
            why = (
                f"its disk cannot keep an extended attribute of {len(value):,} bytes ({name}), "
                "too big for it"
            )
            raise OSError(errno.E2BIG, why, error.filename) from error
        raise


# A MiB of zeros: to compare a recorded hole's content with, a piece at a time, and to hand
# out as a hole's content without reading it.
ZEROS = bytes(1 << 20)


class SparseWriter:
    """Writes a file's content in order, leaving its recorded holes unwritten.

    A hole is left unwritten only where the content holds zeros there: holes recorded of a
    file that changed as it was read (or by a version of EnvOps that took them from the scan
    rather than the read) may cover bytes, which are written, so that the file is always
    exactly the content stored.
    """

    def __init__(self, out: BinaryIO, data: tuple[tuple[int, int], ...]) -> None:
        self._out = out
        self._data = data
        self._next = 0  # the first extent not yet written past: content comes in order
        self._position = 0

    def write(self, chunk: bytes | memoryview) -> int:
        start, end = self._position, self._position + len(chunk)
        view = memoryview(chunk)
        at = start
        for offset, length in self._parts(start, end):
            self._unless_zeros(view, start, at, offset)
            self._put(view, start, offset, length)
            at = offset + length
        self._unless_zeros(view, start, at, end)
        self._position = end
        return len(chunk)

    def _put(self, view: memoryview, start: int, offset: int, length: int) -> None:
        self._out.seek(offset)
        part = view[offset - start : offset - start + length]
        while part:
            part = part[self._out.write(part) or 0 :]

    def _unless_zeros(self, view: memoryview, start: int, low: int, high: int) -> None:
        # The stretch [low, high) of a recorded hole: what of it is not zeros is written.
        # Copied to bytes, a piece compares at memcmp's speed (13 ms for a 256 MiB hole);
        # a memoryview compares byte by byte (0.6 s).
        for piece in range(low, high, len(ZEROS)):
            stop = min(piece + len(ZEROS), high)
            if view[piece - start : stop - start].tobytes() != ZEROS[: stop - piece]:
                self._put(view, start, piece, stop - piece)

    def _parts(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        # From the first extent not yet passed, not from the first: a database file with a
        # hole punched in every page has an extent every 16 KiB, 65,536 in a GiB, and
        # looking at each for each MiB written took 25 s of a 26 s restore.
        data = self._data
        while self._next < len(data):
            offset, length = data[self._next]
            if offset >= end:
                return
            low, high = max(offset, start), min(offset + length, end)
            if low < high:
                yield low, high - low
            if offset + length > end:
                return  # it goes on into the next chunk
            self._next += 1

    def finish(self) -> None:
        """Give the file its whole size, a hole at its end included."""
        self._out.truncate(self._position)
