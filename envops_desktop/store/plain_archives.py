"""Reading an archive another tool made (zip, tar, tar.gz, tar.zst, tar.bz2, tar.xz) as
untrusted input, into the entries and file bodies a configuration file would have carried.

Such an archive has no manifest and no checksums: each file is hashed here as it is read,
and what the headers say (modes, times, owners, links, extended attributes and ACLs) becomes
its manifest entry. A zip's files are read again later straight from it; a tar's, which a
compressed stream cannot reach again without reading everything before them, are copied
into a stored zip in the staging area as they are hashed. Sizes are bounded by what the
headers declare, by an absolute cap, and, for a compressed tar, by how far it expands.
"""

import base64
import bz2
import contextlib
import errno
import functools
import grp
import gzip
import hashlib
import lzma
import os
import pwd
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from envops_desktop.domain.configuration import ImportLimits
from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import data_length
from envops_desktop.domain.paths import relative_path_problem
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ProgressMeter
from envops_desktop.store import zip_headers
from envops_desktop.store.blob_bodies import CHUNK
from envops_desktop.store.configuration_reader import refuse_reading_more
from envops_desktop.store.full_disk import no_room_to
from envops_desktop.store.member_staging import reading_body, refused
from envops_desktop.store.zip_members import ZipDirectory, ZipMember

# No header of a real archive (a long name, a pax record of attributes) comes near this; a
# forged one declaring gigabytes would otherwise be read whole into memory by `tarfile`.
_LARGEST_HEADER = 16 << 20
_ACL_TAGS = {
    "user": (0x01, 0x02),
    "group": (0x04, 0x08),
    "mask": (0x10, 0x10),
    "other": (0x20, 0x20),
}
_UNDEFINED_ID = 0xFFFFFFFF
_EXTENDED_HEADERS = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_DAMAGED_STREAM = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


@dataclass
class PlainTree:
    """What a plain archive holds, in the archive's own paths."""

    kind: str
    # Manifest entry fields (path, kind, mode, size, mtime_ns, sha256, target, meta), in
    # the archive's order; folders it implies but does not list are added.
    entries: list[dict[str, Any]]
    members: dict[str, ZipMember]  # each file's body, by path, in `bodies`
    bodies: Path  # the zip the bodies are read from: the archive itself, or its copy
    root: dict[str, Any] | None = None  # the archive's own "." entry, if it has one
    top_folder: str | None = None  # its one top-level folder, when that is all it holds
    left_out_macos_folder: bool = False  # a zip's __MACOSX folder, which was left out


def read_plain_archive(
    source: Path,
    kind: str,
    copy_to: Path,
    limits: ImportLimits,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> PlainTree:
    """Hash and describe every entry of `source`; a tar's bodies are copied into the zip
    `copy_to`. Refuses, naming the entry, what a configuration file would be refused for."""
    reader = _ZipReader(source) if kind == "zip" else _TarReader(source, kind, copy_to)
    tree = _Collector(source, limits, cancel)
    meter = ProgressMeter(progress, "reading", source.stat().st_size)
    try:
        reader.read_into(tree, meter)
        reader.close()  # the copy's last writes, its list of members, may fill the disk too
        meter.finish()
    except OSError as error:
        if error.errno == errno.ENOSPC:  # a tar.gz of zeros expands past what was checked
            raise OperationFailedError(
                no_room_to(f"take in {source.name}", copy_to.parent)
            ) from error
        raise refused(source, f"it cannot be read ({error.strerror or error})") from error
    finally:
        # After a failure, closing the copy failed the same way, and said that instead.
        with contextlib.suppress(OSError):
            reader.close()
    if not tree.entries:  # importing it would empty the environment
        raise refused(source, "it holds no files or folders")
    return tree.finished(kind, reader.bodies)


class _Collector:
    """The entries of an archive as they are read, checked against the limits and the
    path rules as they come."""

    def __init__(self, source: Path, limits: ImportLimits, cancel: CancelToken) -> None:
        self.source = source
        self.limits = limits
        self.cancel = cancel
        self.entries: dict[str, dict[str, Any]] = {}
        self.members: dict[str, ZipMember] = {}
        self.links_to: dict[str, list[str]] = {}  # by a path hardlinks name, their paths
        self.root: dict[str, Any] | None = None
        self.total = 0  # bytes written
        self.read_total = 0  # bytes read as, holes included
        self.left_out_macos_folder = False

    def normal(self, name: str, linked_from: str | None = None) -> str | None:
        """`name` as a path of the tree, or None for the archive's root ("." or "./"); the
        name a hardlink `linked_from` names, for the sentence of a refusal."""
        # As tar reads it: `tar -cf x.tar "$DIR/"*` with DIR=conf/ stores conf//app.yaml,
        # and tar -C . stores ./conf/app.yaml, each conf/app.yaml. A leading "/" stays, to
        # be refused where tar would strip it.
        path = "/".join(part for part in name.split("/") if part not in ("", "."))
        if name.startswith("/"):
            path = "/" + path
        elif not path:
            return None
        problem = relative_path_problem(path)
        if problem and linked_from is not None:
            raise refused(
                self.source, f"the entry {linked_from!r} is a hardlink to {name!r}, which {problem}"
            )
        if problem:
            raise refused(self.source, f"the entry {name!r} {problem}")
        return path

    def path_of(self, name: str, again: bool = False) -> str | None:
        """The path of a new entry of the archive, or None for its root. `again`: it may
        name a path an earlier entry did, which it then replaces (`add`), as tar extracts
        an archive appended to (`tar -r`) or given a file twice."""
        self.cancel.raise_if_cancelled()
        path = self.normal(name)
        if path in self.entries and not again:
            raise refused(self.source, f"the entry {name!r} appears more than once")
        if len(self.entries) >= self.limits.max_entries:
            raise refused(
                self.source, f"it has more than the limit of {self.limits.max_entries} entries"
            )
        return path

    def declare(self, name: str, size: int, written: int | None = None) -> None:
        """Count a file's size and the bytes it writes (`written`: of a sparse file, its
        data only), as its header declares them, before its body is read."""
        self.read_total += size
        refuse_reading_more(self.source, self.read_total, self.limits)
        self.total += size if written is None else written
        if self.total > self.limits.max_total_bytes:
            raise refused(
                self.source,
                f"it would expand to more than the limit of {self.limits.max_total_bytes >> 30} "
                f"GiB (at {name!r})",
            )

    def add(self, path: str | None, entry: dict[str, Any], member: ZipMember | None = None) -> None:
        if path is None:
            if entry["kind"] is not EntryKind.DIR:  # would be dropped without a word
                raise refused(self.source, "an entry that is not a folder has no name")
            self.root = entry
            return
        if path in self.entries:
            self._replace(path, entry["kind"])
        self.entries[path] = {"path": path, **entry}
        if member is not None:
            self.members[path] = member
        if (link := (entry.get("meta") or {}).get("hardlink")) is not None:
            self.links_to.setdefault(link, []).append(path)

    def _replace(self, path: str, kind: EntryKind) -> None:
        """Make way for a later entry of `path`, as tar extracts it: the names hard-linked
        to the earlier copy keep its content. A folder and something else of one name are
        refused: tar could not put the one where the other is."""
        earlier = self.entries[path]
        if (earlier["kind"] is EntryKind.DIR) != (kind is EntryKind.DIR):
            shown = "a folder and something else"
            raise refused(self.source, f"the entry {path!r} appears twice, as {shown}")
        if (link := (earlier.get("meta") or {}).get("hardlink")) is not None:
            self.links_to[link].remove(path)
        names = self.links_to.pop(path, [])
        if not names:
            self.members.pop(path, None)
            return
        # The first name linked to the earlier copy holds its content now; the rest link to it.
        holder, *others = names
        self.entries[holder] = {**earlier, "path": holder}
        self.members[holder] = self.members.pop(path)
        for name in others:
            self.entries[name]["meta"] = {**self.entries[name]["meta"], "hardlink": holder}
        if others:
            self.links_to[holder] = others

    def finished(self, kind: str, bodies: Path) -> PlainTree:
        entries = self._with_implied_folders()
        _first_of_each_hardlink(entries, self.members)
        tops = {e["path"].split("/", 1)[0] for e in entries}
        (top,) = tops if len(tops) == 1 else (None,)
        if top is not None and (len(entries) == 1 or self.entries[top]["kind"] != "dir"):
            top = None
        return PlainTree(
            kind, entries, self.members, bodies, self.root, top, self.left_out_macos_folder
        )

    def _with_implied_folders(self) -> list[dict[str, Any]]:
        # zip and tar both let an archive list `a/b/c` without `a` or `a/b`; the folders
        # are made as a plain `mkdir -p` would, dated like the archive itself.
        mtime_ns = os.stat(self.source).st_mtime_ns
        for path in list(self.entries):
            parent = path.rpartition("/")[0]
            while parent and parent not in self.entries:
                self.entries[parent] = {
                    "path": parent,
                    "kind": EntryKind.DIR,
                    "mode": 0o755,
                    "mtime_ns": mtime_ns,
                }
                parent = parent.rpartition("/")[0]
        return sorted(self.entries.values(), key=lambda e: e["path"])


def _linkable(node: dict[str, Any] | None) -> bool:
    """Whether a hardlink may name `node`: a file whose content was read, a link, a FIFO."""
    if node is None or node["kind"] is EntryKind.DIR:
        return False
    return node["kind"] is not EntryKind.FILE or node.get("sha256") is not None


def _first_of_each_hardlink(entries: list[dict[str, Any]], members: dict[str, ZipMember]) -> None:
    """A tar names the first path of a hardlinked node it met; a manifest, the first in
    path order, which is where a file's body then belongs."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if (link := (entry.get("meta") or {}).get("hardlink")) is not None:
            groups.setdefault(link, []).append(entry)
    by_path = {e["path"]: e for e in entries}
    for holder, links in groups.items():
        first = by_path.get(holder)
        if not _linkable(first):
            continue  # refused with the manifest's own words when it is checked
        leader = min([holder, *(link["path"] for link in links)])
        if leader != holder and holder in members:  # a file's body: a link or pipe has none
            members[leader] = members.pop(holder)
        # One inode: every name has the node's mode, time, owners, attributes and holes, as
        # a backup's scan finds them, though tar wrote them on the first entry only.
        mode, mtime_ns, meta = first["mode"], first["mtime_ns"], first.get("meta") or {}
        for entry in [first, *links]:
            for alike in ("kind", "sha256", "size", "target"):
                if alike in first:
                    entry[alike] = first[alike]
            entry["mode"], entry["mtime_ns"] = mode, mtime_ns
            linked = entry["path"] != leader
            entry["meta"] = {**meta, "hardlink": leader} if linked else meta or None


class _ZipReader:
    """A zip's entries; their bodies stay where they are and are read from it again."""

    def __init__(self, source: Path) -> None:
        self.bodies = source
        self._source = source
        try:
            self._zip = ZipDirectory(source)
        except (zipfile.BadZipFile, EOFError) as error:
            raise refused(
                source, "it is truncated or damaged (its zip directory cannot be read)"
            ) from error

    def read_into(self, tree: _Collector, meter: ProgressMeter) -> None:
        for info in self._zip.infolist():
            headers = zip_headers.headers_of(info)
            name, unix_mode = headers.name, headers.unix_mode
            if zip_headers.macos_metadata(name):
                tree.left_out_macos_folder = True
                continue
            path = tree.path_of(name)
            mode = unix_mode if unix_mode is not None else (0o755 if headers.is_folder else 0o644)
            entry: dict[str, Any] = {
                "mode": stat.S_IMODE(mode),
                "mtime_ns": headers.mtime_ns,
                "meta": headers.owners,
            }
            if info.flag_bits & 0x1:
                raise refused(self._source, f"the entry {name!r} is encrypted")
            if headers.is_folder:
                tree.add(path, {**entry, "kind": EntryKind.DIR})
                continue
            file_type = stat.S_IFMT(mode) if unix_mode is not None else stat.S_IFREG
            if file_type == stat.S_IFLNK:
                if info.file_size > 4096:
                    raise refused(self._source, f"the link {name!r} is too long")
                with reading_body(self._source, name):
                    target = self._zip.read(info).decode("utf-8", "surrogateescape")
                tree.add(path, {**entry, "kind": EntryKind.SYMLINK, "target": target})
            elif file_type in (stat.S_IFREG, 0):
                tree.declare(name, info.file_size)
                digest = hashlib.sha256()
                read = 0
                with reading_body(self._source, name), self._zip.open(info) as body:
                    while chunk := body.read(CHUNK):
                        digest.update(chunk)
                        tree.cancel.raise_if_cancelled()
                        # Its share of the archive so far, as the share of it read: a
                        # disk image of many GiB is most of the archive's reading.
                        read += len(chunk)
                        meter.ahead(info.compress_size * read // max(info.file_size, 1), name)
                kept = {**entry, "kind": EntryKind.FILE, "size": info.file_size}
                tree.add(path, {**kept, "sha256": digest.hexdigest()}, ZipMember.of(info))
            else:
                raise refused(self._source, f"the entry {name!r} is a device file, FIFO or socket")
            meter.advance(info.compress_size, name)

    def close(self) -> None:
        self._zip.close()


class _Bounded:
    """The decompressed tar stream, refusing an expansion past the import's ratio."""

    def __init__(self, raw: BinaryIO, stream: BinaryIO, source: Path, limits: ImportLimits) -> None:
        self._raw, self._stream, self._source, self._limits = raw, stream, source, limits
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.read_bytes += len(data)
        limits = self._limits
        if self.read_bytes > limits.ratio_applies_above and (
            self.read_bytes > self._raw.tell() * limits.max_ratio
        ):
            raise refused(
                self._source,
                f"it expands to {self.read_bytes >> 20} MiB, more than {limits.max_ratio} "
                "times its compressed size (a compression bomb)",
            )
        return data


class _ForgedHeaderError(Exception):
    pass


class _BoundedTarInfo(tarfile.TarInfo):
    """A member whose long name or pax attributes `tarfile` would read whole into memory:
    refused first when it declares more than any real archive's."""

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED_HEADERS and self.size > _LARGEST_HEADER:
            raise _ForgedHeaderError(self.size)
        return super()._proc_member(tarfile)  # type: ignore[misc]

    def _apply_pax_info(self, pax_headers: dict[str, str], encoding: str, errors: str) -> None:
        super()._apply_pax_info(pax_headers, encoding, errors)  # type: ignore[misc]
        # A sparse file's pax header (GNU's format 1.0) gives its real name, then, for a
        # name a plain header cannot hold (too long, not ASCII), `path`: its stand-in,
        # `GNUSparseFile.1234/name`. tarfile applies them in order, so the stand-in won and
        # the file came back in a folder of that name; GNU tar takes the real name.
        if "GNU.sparse.name" in pax_headers:
            self.name = pax_headers["GNU.sparse.name"]


class _TarReader:
    """A tar, compressed or not, read once from start to end; bodies are copied into a
    zip as they are hashed, stored as they are but for a sparse file's (deflated)."""

    def __init__(self, source: Path, kind: str, copy_to: Path) -> None:
        self.bodies = copy_to
        self._source = source
        self._kind = kind
        self._raw: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed by close()
        self._copy = ZipDirectory(copy_to, "x", allowZip64=True)

    def _stream(self) -> BinaryIO:
        raw = self._raw
        if self._kind == "tar.gz":
            return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
        if self._kind == "tar.zst":
            zstd = zstandard.ZstdDecompressor()
            return zstd.stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
        if self._kind == "tar.bz2":
            return bz2.BZ2File(raw)  # type: ignore[return-value]
        if self._kind == "tar.xz":
            return lzma.LZMAFile(raw)  # type: ignore[return-value]
        return raw

    def read_into(self, tree: _Collector, meter: ProgressMeter) -> None:
        stream = _Bounded(self._raw, self._stream(), self._source, tree.limits)
        try:
            # A stream, read once from start to end, as a compressed tar can only be.
            with tarfile.open(  # type: ignore[call-overload]
                fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo
            ) as archive:
                done = 0

                def under_way(name: str) -> None:
                    # How far the archive has been read within a member, as it is copied.
                    meter.ahead(self._raw.tell() - done, name)

                for member in archive:
                    self._add(archive, member, tree, functools.partial(under_way, member.name))
                    meter.advance(self._raw.tell() - done, member.name)
                    done = self._raw.tell()
        except _ForgedHeaderError as error:
            raise refused(
                self._source, f"one of its headers declares {error} bytes, more than any real one"
            ) from error
        except _DAMAGED_STREAM as error:
            raise refused(self._source, f"it is not a readable tar archive ({error})") from error
        except OSError as error:
            if error.errno is not None:
                raise
            raise refused(self._source, f"it is damaged ({error})") from error  # gzip, bz2

    def _add(
        self,
        archive: tarfile.TarFile,
        member: tarfile.TarInfo,
        tree: _Collector,
        under_way: Callable[[], None],
    ) -> None:
        path = tree.path_of(member.name, again=True)
        entry: dict[str, Any] = {
            "mode": member.mode & 0o7777,
            "mtime_ns": _mtime_ns(member),
            "meta": _tar_meta(member) or None,
        }
        if member.isdir():
            tree.add(path, {**entry, "kind": EntryKind.DIR})
        elif member.issym():
            tree.add(path, {**entry, "kind": EntryKind.SYMLINK, "target": member.linkname})
        elif member.islnk():
            link = tree.normal(member.linkname, linked_from=member.name)
            if link == path and tree.entries.get(path, {}).get("sha256") is not None:
                return  # a file named twice (`tar -cf a.tar conf conf/app.yaml`): one file
            node = tree.entries.get(link) if link is not None else None
            if not _linkable(node):
                raise refused(
                    self._source,
                    f"the entry {member.name!r} is a hardlink to {member.linkname!r}, which is "
                    "not an earlier file, link or pipe in it",
                )
            entry["meta"] = {**(entry["meta"] or {}), "hardlink": link}
            # Of a link or a pipe too: tar stores a tree's linked symlinks so (`cp -al`).
            kind, target = node["kind"], node.get("target")
            tree.add(path, {**entry, "kind": kind, "size": 0, "target": target})
        elif member.isfifo():
            tree.add(path, {**entry, "kind": EntryKind.FIFO})
        elif member.isreg():
            entry["size"] = member.size
            written = member.size
            if member.sparse:
                data = [[offset, length] for offset, length in member.sparse if length]
                entry["meta"] = {**(entry["meta"] or {}), "data": data}
                written = data_length(data)  # holes are written as holes
            tree.declare(member.name, member.size, written)
            sha256, body = self._copy_body(archive, member, tree.cancel, under_way)
            tree.add(path, {**entry, "kind": EntryKind.FILE, "sha256": sha256}, body)
        else:
            raise refused(self._source, f"the entry {member.name!r} is a device file")

    def _copy_body(
        self,
        archive: tarfile.TarFile,
        member: tarfile.TarInfo,
        cancel: CancelToken,
        under_way: Callable[[], None],
    ) -> tuple[str, ZipMember]:
        # Named by number: an archive's name may be any bytes, a zip's must be text. Counted
        # here, not by the bodies kept: a file named again replaces its first body.
        info = zipfile.ZipInfo(str(len(self._copy.filelist)))
        info.file_size = member.size
        if member.sparse:
            # Its holes come out of tarfile as zeros: kept as they are, a disk image of
            # 200 GiB holding 2 of data would take 200 GiB of scratch space.
            info.compress_type = zipfile.ZIP_DEFLATED
        digest = hashlib.sha256()
        body = archive.extractfile(member)
        assert body is not None  # a regular file
        with self._copy.open(info, "w", force_zip64=member.size >= 1 << 31) as out:
            while chunk := body.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                cancel.raise_if_cancelled()
                under_way()
        return digest.hexdigest(), ZipMember.of(self._copy.getinfo(info.filename))

    def close(self) -> None:
        self._copy.close()
        self._raw.close()


def _mtime_ns(member: tarfile.TarInfo) -> int:
    # A pax header keeps nanoseconds as a decimal string; the float would lose them.
    try:
        return int(Decimal(member.pax_headers["mtime"]) * 1_000_000_000)
    except (KeyError, InvalidOperation):
        return int(member.mtime) * 1_000_000_000


def _tar_meta(member: tarfile.TarInfo) -> dict[str, Any]:
    meta: dict[str, Any] = {"uid": member.uid, "gid": member.gid}
    if member.uname:
        meta["user"] = member.uname
    if member.gname:
        meta["group"] = member.gname
    xattrs = {}
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            raw = value.encode("utf-8", "surrogateescape")
            xattrs[key.removeprefix("SCHILY.xattr.")] = base64.b64encode(raw).decode("ascii")
    # GNU tar writes ACLs in both forms, bsdtar only as text: the text one is turned into
    # what Linux keeps, where the other is missing.
    for kind in ("access", "default"):
        name = f"system.posix_acl_{kind}"
        text = member.pax_headers.get(f"SCHILY.acl.{kind}")
        if text and name not in xattrs and (acl := posix_acl_from_text(text)) is not None:
            xattrs[name] = base64.b64encode(acl).decode("ascii")
    if xattrs:
        meta["xattrs"] = xattrs
    return meta


def posix_acl_from_text(text: str) -> bytes | None:
    """An ACL's long text form (`user::rw-`, `user:alice:r--`, … one per line or comma) as
    Linux stores it in `system.posix_acl_*`; None for one that the mode alone says, or one
    naming an account this machine does not know."""
    entries = []
    for line in text.replace(",", "\n").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(":")
        if len(parts) < 3 or parts[0] not in _ACL_TAGS:
            return None
        tag_name, qualifier, perms = parts[0], parts[1], parts[2]
        obj_tag, named_tag = _ACL_TAGS[tag_name]
        perm = sum(bit for char, bit in zip(perms[:3], (4, 2, 1), strict=False) if char != "-")
        if not qualifier:
            entries.append((obj_tag, perm, _UNDEFINED_ID))
            continue
        ident = _account_id(tag_name, qualifier)
        if ident is None:
            return None
        entries.append((named_tag, perm, ident))
    if len(entries) <= 3:  # owner, group and other: the mode already says it
        return None
    entries.sort(key=lambda e: (e[0], e[2]))
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def _account_id(tag: str, qualifier: str) -> int | None:
    if qualifier.isdigit():
        return int(qualifier)
    try:
        return pwd.getpwnam(qualifier).pw_uid if tag == "user" else grp.getgrnam(qualifier).gr_gid
    except KeyError:
        return None
