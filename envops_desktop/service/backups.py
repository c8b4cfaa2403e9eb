"""Creating and deleting deduplicated backups."""

import contextlib
import errno
import functools
import heapq
import os
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress
from operator import itemgetter
from pathlib import Path

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EntryKind, Outcome
from envops_desktop.domain.errors import NotFoundError, OperationFailedError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import (
    CancelToken,
    Progress,
    ProgressCallback,
    ProgressMeter,
    ignore_progress,
)
from envops_desktop.domain.times import recordable_ns
from envops_desktop.domain.wording import counted
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.garbage import collect_garbage
from envops_desktop.service.links_as_read import LinksAsRead
from envops_desktop.service.parallel import run_in_batches, workload
from envops_desktop.service.scanning import (
    RACY_NS,
    REMOVED_NOTE,
    Scan,
    ScannedFiles,
    environment_folder,
    quick_scan,
    unreadable,
)
from envops_desktop.service.store_check import READING_BACKUPS
from envops_desktop.service.versions import current_version
from envops_desktop.store.backup_records import entry_row
from envops_desktop.store.blob_batches import ingest_files
from envops_desktop.store.blobs import AsRead
from envops_desktop.store.file_metadata import metadata_as_read
from envops_desktop.store.file_writes import sync_to_disk
from envops_desktop.store.hash_caches import CacheRow, Known
from envops_desktop.store.manifest_codec import EntryRow, ManifestWriter
from envops_desktop.store.pack_index import NewPlacements
from envops_desktop.store.timestamps import utc_now

_PHASE = "backing up"
# The phase of deleting backups for good after reading them all (`READING_BACKUPS`).
FREEING = "freeing stored files"
_FILE = EntryKind.FILE.value


def _store_files(
    ctx: ServiceContext,
    root: Path,
    files: ScannedFiles,
    chosen: "array[int]",
    total: int,
    placed: NewPlacements,
    meter: ProgressMeter,
    cancel: CancelToken,
    steady_before_ns: int,
) -> Iterator[tuple[str, int, bool, dict[str, str] | None, AsRead | None]]:
    """Store the contents of the `chosen` files (by position); yield per file, in order, its
    sha256, its size as read, whether it kept changing while it was read, its xattrs as
    read with it (None when it has none), and its status as read where it changed (or
    another file took its name) since the scan, or may have unseen (changed within a ctime
    tick of the scan: `steady_before_ns`).

    New packed blobs are added to `placed`; they become part of the store when the backup
    is recorded.
    """
    work = functools.partial(ingest_files, str(ctx.data_dir))
    top, paths, sizes, ctimes = str(root), files.paths, files.sizes, files.ctimes_ns
    for batch, outcome in run_in_batches(
        work,
        chosen,
        workload(total, len(chosen)),
        lambda i: (
            os.path.join(top, paths[i]),
            ctimes[i] if ctimes[i] < steady_before_ns else None,
        ),
        sizes.__getitem__,
        "envops-backup",
        cancel,
        lambda done, i: meter.ahead(done, paths[i]),
    ):
        for sha, size, at, changed, xattrs, as_read in outcome:
            if at is not None:
                placed.add(sha, at)
            yield sha, size, changed, xattrs, as_read
        meter.advance(sum(map(sizes.__getitem__, batch)), paths[batch[-1]])


@dataclass
class _CacheUpdate:
    """What a backup teaches the hash cache, as rows made when they are written."""

    files: ScannedFiles  # with every file's xattrs in its metadata, once the rows are made
    known: Known  # what the hash cache knew of them
    # A file whose ctime is this or later may change again within its ctime tick: it is
    # not cached (`Scan.steady_before_ns`).
    racy_before: int
    # Per file read this time and not racy, its sha256 as bytes: half the size of the text,
    # 9 MiB less held through a first backup of 200,000 files.
    read: list[bytes | None] = field(default_factory=list)
    fresh_count: int = 0  # how many of `read` are not None

    @property
    def relearned(self) -> bool:
        """Whether a file the cache knew had a row that did not know its xattrs, which were
        read: its row is new too."""
        return not all(compress(self.known.xattrs_as_cached, self.known.shas))

    def fresh(self) -> Iterator[CacheRow]:
        """Rows of the files read this time, and of those whose xattrs were, in path order."""
        return self._rows(fresh_only=True)

    def whole(self) -> Iterator[CacheRow]:
        """Every row the cache should now hold, in path order."""
        return self._rows(fresh_only=False)

    def _rows(self, fresh_only: bool) -> Iterator[CacheRow]:
        files, racy_before = self.files, self.racy_before
        for (path, size, mtime_ns, inode, _), known, as_cached, digest, ctime_ns, meta in zip(
            files,
            self.known.shas,
            self.known.xattrs_as_cached,
            self.read,
            files.ctimes_ns,
            files.metas,
            strict=True,
        ):
            # Within a ctime tick of the scan, it may change again with no new ctime (an
            # edit keeping its size and mtime, its xattrs): not cached, read next time.
            if ctime_ns >= racy_before:
                continue
            if digest:
                sha = digest.hex()
            elif known and not (fresh_only and as_cached):
                sha = known
            else:
                continue
            xattrs = (meta.get("xattrs") if meta else None) or {}  # all read by now
            yield path, size, mtime_ns, inode, sha, ctime_ns, xattrs  # type: ignore[misc]


@dataclass
class _FileRows:
    """The manifest rows of a scan's files, in its (path) order, each file's content found in
    the hash cache or stored as it comes; notes what goes into the cache."""

    cache: _CacheUpdate
    # Per file not known, what `_store_files` yields of it.
    stored: Iterator[tuple[str, int, bool, dict[str, str] | None, AsRead | None]]
    started_ns: int
    total_bytes: int = 0
    changed_while_read: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # gone before a helper could read them
    linked_to: set[str] = field(default_factory=set)  # `Scan.linked_to`

    def __iter__(self) -> Iterator[EntryRow]:
        cache_read, racy_before = self.cache.read.append, self.started_ns - RACY_NS
        total = fresh = 0
        links = LinksAsRead(self.linked_to) if self.linked_to else None
        files = self.cache.files
        metas = files.metas
        for index, ((path, size, mtime_ns, inode, mode), sha, meta) in enumerate(
            zip(files, self.cache.known.shas, metas, strict=True)
        ):
            digest = None
            if sha is None:
                sha, read, changed, xattrs, as_read = next(self.stored)
                if not sha:  # left out, as if the scan had not found it
                    self.removed.append(path)
                    cache_read(None)
                    continue
                moved = False
                if as_read is not None:  # maybe not the file scanned: the row is the one read's
                    scanned = (mode, mtime_ns, inode)
                    mode, mtime_ns = as_read.mode, recordable_ns(as_read.mtime_ns)
                    inode = as_read.inode
                    moved = (mode, mtime_ns, inode) != scanned
                    meta = metas[index] = metadata_as_read(
                        meta, as_read.uid, as_read.gid, xattrs, as_read.data
                    )
                # The scan left them to the helper that read the file; one that read them
                # itself (a hardlink, a sparse file) keeps what it read.
                elif xattrs and not (meta and "xattrs" in meta):
                    meta = metas[index] = {**(meta or {}), "xattrs": xattrs}  # for the cache too
                if changed:
                    self.changed_while_read.append(path)
                # Changed while it was read (its size as read differs from its scan), or
                # since its scan (another mode, time or file), or may still change within its
                # mtime tick: not cached.
                elif not moved and read == size and mtime_ns < racy_before:
                    digest = bytes.fromhex(sha)
                    fresh += 1
                size = read
            if links is not None:
                meta = links.kept(path, sha, inode, meta)
            cache_read(digest)
            total += size
            yield (path, _FILE, mode, size, mtime_ns, sha, None, meta)
        self.total_bytes, self.cache.fresh_count = total, fresh
        # Taken to its end, so that its pool and background flushing stop here, not whenever
        # the generator is collected.
        if next(self.stored, None) is not None:
            raise AssertionError("more contents were stored than files were read")


@dataclass
class _StoredTree:
    """What reading a scanned tree put in the store, ready to be recorded in one transaction."""

    manifest: str
    body: bytearray
    placed: NewPlacements
    total_bytes: int
    cache: _CacheUpdate
    # Every file's hash went into the cache: the next scan with the same digest needs none.
    all_cached: bool
    changed_while_read: list[str]
    removed: list[str]  # files gone before a helper could read them, left out


def _store_tree(
    ctx: ServiceContext,
    env: Environment,
    scan: Scan,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> _StoredTree:
    known = ctx.hash_caches.look_up(env.id, scan.files, scan.files.ctimes_ns)
    # Only those of files not read again: the helpers read the others' on the open file.
    scan.read_file_xattrs(only=(i for i in scan.xattrs_unread if known.shas[i]), known=known)
    # Positions, not the files: 4 bytes each where a tuple of a first backup's 200,000 files
    # took 40 MiB.
    to_store = array("I", (i for i, sha in enumerate(known.shas) if not sha))
    placed = NewPlacements()
    total = sum(map(scan.files.sizes.__getitem__, to_store))
    meter = ProgressMeter(progress, _PHASE, total)
    stored = _store_files(
        ctx,
        Path(env.path),
        scan.files,
        to_store,
        total,
        placed,
        meter,
        cancel,
        scan.steady_before_ns,
    )
    cache = _CacheUpdate(scan.files, known, scan.steady_before_ns)
    file_rows = _FileRows(cache, stored, scan.started_ns, linked_to=scan.linked_to)
    # Rows go into the manifest as the files are read, never all held at once.
    manifest = ManifestWriter()
    manifest.add(heapq.merge(map(entry_row, scan.others), file_rows, key=itemgetter(0)))
    meter.finish()
    if to_store:
        # Even content found already stored is flushed: another process may have put it
        # there moments ago and not flushed it yet. Cached files were flushed by the
        # backup that cached them.
        sync_to_disk()  # the blobs must be on disk before a record says the backup exists
    name, body = manifest.finish()
    return _StoredTree(
        manifest=name,
        body=body,
        placed=placed,
        total_bytes=file_rows.total_bytes,
        cache=cache,
        all_cached=cache.fresh_count == len(to_store),
        changed_while_read=file_rows.changed_while_read,
        removed=file_rows.removed,
    )


def create_backup_locked(
    ctx: ServiceContext,
    env: Environment,
    name: str | None,
    origin: BackupOrigin,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> Backup:
    """Back up `env` (whose lock the caller holds) and record the backup and an activity entry."""
    return _back_up(ctx, env, name, origin, progress, cancel, reuse_identical=False)[0]


def back_up_before_restore(
    ctx: ServiceContext,
    env: Environment,
    before: str,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> Backup | None:
    """The backup a restore takes first, named `before` ("Before restoring 'Nightly'").

    A tree exactly as an existing backup of the same version has it is not backed up again:
    that backup already holds it, and the activity entry says which. Returns the new backup,
    or None when none was needed.
    """
    backup, new = _back_up(ctx, env, before, BackupOrigin.PRE_RESTORE, progress, cancel, True)
    return backup if new else None


def _back_up(
    ctx: ServiceContext,
    env: Environment,
    name: str | None,
    origin: BackupOrigin,
    progress: ProgressCallback,
    cancel: CancelToken,
    reuse_identical: bool,
) -> tuple[Backup, bool]:
    try:
        environment_folder(env)
        version = current_version(env)
    except (NotFoundError, OperationFailedError) as error:
        # Recorded: a scheduled backup fails with no one watching (its folder gone, its
        # network disk not answering, its version file unreadable).
        ctx.record(env, ActivityAction.BACKUP_FAILED, Outcome.FAILURE, str(error))
        raise
    try:
        # What is removed meanwhile is left out and named, as tar and rsync do: a scheduled
        # backup of a live server's folder would otherwise fail on an editor's scratch file.
        scan = quick_scan(env, pass_over_removed=True)
    except OperationFailedError as error:
        raise _failed(ctx, env, str(error)) from error
    tree_digest = scan.digest()
    with ctx.locks.blobs_in_use():
        # Read under the lock: no backup deletion (which prunes the cache) runs meanwhile.
        same_tree = ctx.backups.manifest_of_tree(env.id, tree_digest) if tree_digest else None
        new_tree = None
        if same_tree is None:
            try:
                new_tree = _store_tree(ctx, env, scan, progress, cancel)
            except OSError as error:
                raise _failed(ctx, env, _unreadable(env, error)) from error
        else:
            ProgressMeter(progress, _PHASE, 0).finish()  # nothing to read
        manifest = same_tree if new_tree is None else new_tree.manifest
        removed_late = new_tree.removed if new_tree else []
        existing = ctx.backups.newest_with_manifest(env.id, manifest) if reuse_identical else None
        if (
            existing is not None
            and existing.version == version
            and existing.root_mode == scan.root_mode
            and existing.root_meta == scan.root_meta
        ):
            ctx.record(
                env,
                ActivityAction.BACKUP_CREATED,
                Outcome.SUCCESS,
                f"{name}: the configuration is exactly as backed up in {existing.name}; "
                "no new backup was needed",
            )
            return existing, False
        backup = Backup(
            id=new_id(),
            environment_id=env.id,
            name=name or _default_name(origin),
            created_at=ctx.clock(),
            version=version,
            created_by=ctx.user,
            origin=origin,
            file_count=len(scan.files) - len(removed_late),
            total_bytes=new_tree.total_bytes if new_tree else sum(scan.files.sizes),
            skipped=sorted(
                scan.skipped + [path + REMOVED_NOTE for path in scan.removed + removed_late]
            ),
            root_mode=scan.root_mode,
            root_mtime_ns=scan.root_mtime_ns,
            root_meta=scan.root_meta,
            changed_while_read=new_tree.changed_while_read if new_tree else [],
        )
        with ctx.db.transaction():
            if new_tree is None:
                ctx.backups.insert(backup, manifest=same_tree, tree_digest=tree_digest)
            else:
                ctx.blobs.record_packed(new_tree.placed)
                ctx.backups.insert(
                    backup,
                    manifest=new_tree.manifest,
                    body=new_tree.body,
                    tree_digest=tree_digest if new_tree.all_cached else None,
                )
                # Recorded, so let go before the cache is written, the backup's last and
                # largest step: 20 MiB less at the peak of a 200,000-file first backup.
                new_tree.placed.clear()
                new_tree.body.clear()
                if new_tree.cache.fresh_count or new_tree.cache.relearned:
                    ctx.hash_caches.add(env.id, new_tree.cache.fresh, new_tree.cache.whole)
            excluded = f"; {counted(len(scan.excluded), 'path')} excluded" if scan.excluded else ""
            ctx.record(
                env, ActivityAction.BACKUP_CREATED, Outcome.SUCCESS, _detail(backup) + excluded
            )
    return backup, True


def _failed(ctx: ServiceContext, env: Environment, reason: str) -> OperationFailedError:
    """A backup that could not read its tree (`reason`): recorded in the activity log, said
    plainly."""
    ctx.record(env, ActivityAction.BACKUP_FAILED, Outcome.FAILURE, reason)
    return OperationFailedError(f"{reason} No backup was recorded.")


def _unreadable(env: Environment, error: OSError) -> str:
    """Why a backup could not read what it scanned, or store it, as a sentence."""
    if error.errno == errno.ENOSPC:
        return "The disk that holds EnvOps's data is full; free some space and try again."
    return unreadable(env, error)


def _default_name(origin: BackupOrigin) -> str:
    stamp = utc_now().astimezone().strftime("%Y-%m-%d %H:%M")
    label = {BackupOrigin.PRE_RESTORE: "Before restore", BackupOrigin.IMPORTED: "Imported"}
    return f"{label.get(origin, 'Backup')} {stamp}"


def _detail(backup: Backup) -> str:
    detail = f"{backup.name} ({backup.origin.value}): {counted(backup.file_count, 'file')}, " + (
        counted(backup.total_bytes, "byte")
    )
    if backup.skipped:
        detail += "; not backed up: " + ", ".join(backup.skipped)
    if backup.changed_while_read:
        detail += "; incomplete, changed while they were read: " + ", ".join(
            backup.changed_while_read
        )
    return detail


def move_to_bin(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    why: str = "",
    deleted_by: str | None = None,
) -> None:
    """Move a backup to Deleted, the recycle bin: listed there and recoverable, its content
    kept until the bin is emptied (`empty_bin`). `deleted_by`: the workstation that deleted
    it from the team's shared store, which this one follows; `why`: for the activity log."""
    shared = deleted_by is None and ctx.shared.is_shared(backup.id)
    with ctx.db.transaction():
        if shared:  # the whole team's: the store is told at the next sync
            ctx.shared.note_deleted(backup.id)
        ctx.backups.move_to_bin(backup.id, ctx.clock(), why)
        ctx.record(
            env,
            ActivityAction.BACKUP_DELETED,
            Outcome.SUCCESS,
            f"{backup.name}: moved to Deleted"
            + (f"; {why}" if why else "")
            + ("; deleted for the team at the next sync" if shared else "")
            + (f"; deleted from the shared store by {deleted_by}" if deleted_by else ""),
        )


def empty_bin(
    ctx: ServiceContext,
    deleted_before: datetime,
    waiting: Callable[[], None] | None = None,
    progress: ProgressCallback = ignore_progress,
) -> list[Backup]:
    """Free the backups moved to Deleted at or before `deleted_before`, with the content only
    they used; return them. `waiting` and `progress`: as `delete_backups`."""
    freed = ctx.backups.deleted_before(deleted_before)
    if freed:
        reason = "emptied from Deleted"
        delete_backups(ctx, freed, reason, waiting, progress=progress)
    return freed


def delete_backups(
    ctx: ServiceContext,
    backups: list[Backup],
    reason: str = "",
    waiting: Callable[[], None] | None = None,
    for_the_team: bool = True,
    progress: ProgressCallback = ignore_progress,
) -> int:
    """Delete backups for good and the blobs only they used, with any content an interrupted
    backup or delete left unreferenced; return how many blobs were freed. `reason`: why,
    for the activity log ("emptied from Deleted"). Users' deletions go to Deleted first
    (`move_to_bin`), which tells the team of a shared one. Not `for_the_team`, a shared one
    goes from here only, and the next sync takes the store's copy in again.

    Together, since what they free is found by reading every other backup's list of files:
    one at a time, emptying a bin of many large backups read them all once for each.
    While another operation uses the store's contents, `waiting` is called every so often
    and may raise to give up, before anything is deleted (`Locks.blobs_collecting`);
    `progress` is then told of the reading and the freeing."""
    shared = {b.id for b in backups if b.deleted_at is None and ctx.shared.is_shared(b.id)}
    with ctx.locks.blobs_collecting(waiting):
        for backup_id in sorted(shared):
            if for_the_team:  # the store is told at the next sync
                ctx.shared.note_deleted(backup_id)
            else:
                ctx.shared.forget_shared(backup_id)
        orphans = forget_backups(ctx, backups, progress)
        free_contents(ctx, orphans, progress)
    with contextlib.suppress(OperationFailedError):  # a damaged manifest: verify says so
        orphans |= set(collect_garbage(ctx).blobs)
    freed = f"{counted(len(orphans), 'stored file')} freed"
    if len(backups) > 1:
        freed = f"deleted with {counted(len(backups) - 1, 'other backup')}: {freed} in all"
    for backup in backups:
        env = ctx.environments.by_id(backup.environment_id)
        if env is not None:
            ctx.record(
                env,
                ActivityAction.BACKUP_DELETED,
                Outcome.SUCCESS,
                f"{backup.name}: {freed}"
                + (f"; {reason}" if reason else "")
                + (_for_the_team(for_the_team) if backup.id in shared else ""),
            )
    return len(orphans)


def forget_backups(
    ctx: ServiceContext, backups: list[Backup], progress: ProgressCallback = ignore_progress
) -> set[str]:
    """Delete the records of `backups`; return the contents no other backup needs. Every
    backup's list of files is read once, the longer part of deleting for good, which
    `progress` is told of ("reading backups")."""
    meter = ProgressMeter(progress, READING_BACKUPS, ctx.backups.manifest_bytes())
    orphans = ctx.backups.delete((backup.id for backup in backups), meter.advance)
    meter.finish()
    return orphans


def free_contents(
    ctx: ServiceContext, shas: set[str], progress: ProgressCallback = ignore_progress
) -> None:
    """Delete the stored contents `shas`, which no backup needs: a wait with no total
    ("freeing stored files") for `progress`, as packs are rewritten whole."""
    progress(Progress(FREEING, 0, 0))
    ctx.blobs.delete(shas)


def _for_the_team(told: bool) -> str:
    if told:
        return "; deleted for the team at the next sync"
    return "; the team's copy is taken in again at the next sync"
