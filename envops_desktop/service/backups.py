"""Creating and deleting deduplicated backups."""

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EntryKind, Outcome
from envops_desktop.domain.errors import NotFoundError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ProgressMeter
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.parallel import run_in_batches
from envops_desktop.service.scanning import MTIME_NS, PATH, SIZE, Scan, ScannedFile, scan_tree
from envops_desktop.service.versions import current_version
from envops_desktop.store.backup_records import entry_row
from envops_desktop.store.blob_batches import ingest_files
from envops_desktop.store.blobs import sync_to_disk
from envops_desktop.store.hash_caches import CACHE_KEY, HashCache
from envops_desktop.store.manifest_codec import EntryRow
from envops_desktop.store.pack_index import PackedAt
from envops_desktop.store.timestamps import utc_now

# A file modified within this many nanoseconds of the scan may change again in the same mtime
# tick without its mtime moving, so its hash is not cached (git's "racily clean" problem).
_RACY_NS = 2_000_000_000
_PHASE = "backing up"
_FILE = EntryKind.FILE.value


def _store_files(
    ctx: ServiceContext,
    root: Path,
    files: list[ScannedFile],
    progress: ProgressCallback,
    cancel: CancelToken,
) -> tuple[dict[str, tuple[str, int]], list[tuple[str, PackedAt]]]:
    """Store the files' contents; per path its sha256 and size as read, and the new packed
    blobs, which become part of the store when the backup is recorded."""
    meter = ProgressMeter(progress, _PHASE, sum(f[SIZE] for f in files))
    work = functools.partial(ingest_files, str(ctx.data_dir))
    stored: dict[str, tuple[str, int]] = {}
    placed: list[tuple[str, PackedAt]] = []
    for batch, outcome in run_in_batches(
        work, files, lambda f: str(root / f[PATH]), itemgetter(SIZE), "envops-backup", cancel
    ):
        for scanned, (sha, size, at) in zip(batch, outcome, strict=True):
            stored[scanned[PATH]] = (sha, size)
            if at is not None:
                placed.append((sha, at))
        meter.advance(sum(f[SIZE] for f in batch), batch[-1][PATH])
    meter.finish()
    return stored, placed


@dataclass
class _StoredTree:
    """What reading a scanned tree put in the store, ready to be recorded in one transaction."""

    rows: list[EntryRow]
    placed: list[tuple[str, PackedAt]]
    total_bytes: int
    cache_fresh: HashCache  # entries of files read this time
    cache_whole: Callable[[], HashCache]  # every entry the cache should now hold
    # Every file's hash went into the cache: the next scan with the same digest needs none.
    all_cached: bool


def _store_tree(
    ctx: ServiceContext,
    env: Environment,
    scan: Scan,
    started_ns: int,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> _StoredTree:
    cache = ctx.hash_caches.read(env.id)
    # Looked up with map() over key tuples made by itemgetter: no Python per file, 5 ms
    # for 20,000 files where a loop comparing fields took 60.
    known = list(map(cache.get, map(CACHE_KEY, scan.files)))
    rows = [entry_row(e) for e in scan.others]
    rows += [_file_row(f, sha, f[SIZE]) for f, sha in zip(scan.files, known, strict=True) if sha]
    to_store = [f for f, sha in zip(scan.files, known, strict=True) if not sha]
    stored, placed = _store_files(ctx, Path(env.path), to_store, progress, cancel)
    rows += [_file_row(f, *stored[f[PATH]]) for f in to_store]
    if stored:
        # Even content found already stored is flushed: another process may have put it
        # there moments ago and not flushed it yet. Cached files were flushed by the
        # backup that cached them.
        sync_to_disk()  # the blobs must be on disk before a record says the backup exists
    # Files found in the cache stay in it as they are (they were not racy then, so are not
    # now); only files read this time can enter it.
    fresh = _fresh_cache(to_store, stored, started_ns)
    return _StoredTree(
        rows=rows,
        placed=placed,
        total_bytes=sum(row[3] for row in rows),
        cache_fresh=fresh,
        cache_whole=functools.partial(_whole_cache, scan.files, known, fresh),
        all_cached=len(fresh) == len(to_store),
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
    if not Path(env.path).is_dir():
        raise NotFoundError(f"The environment directory {env.path} does not exist.")
    version = current_version(env)
    started = time.time_ns()
    scan = scan_tree(Path(env.path))
    tree_digest = scan.digest()
    with ctx.locks.blobs_in_use():
        # Read under the lock: no backup deletion (which prunes the cache) runs meanwhile.
        same_tree = ctx.backups.manifest_of_tree(env.id, tree_digest)
        new_tree = None
        if same_tree is None:
            new_tree = _store_tree(ctx, env, scan, started, progress, cancel)
        else:
            ProgressMeter(progress, _PHASE, 0).finish()  # nothing to read
        backup = Backup(
            id=new_id(),
            environment_id=env.id,
            name=name or _default_name(origin),
            created_at=utc_now(),
            version=version,
            created_by=ctx.user,
            origin=origin,
            file_count=len(scan.files),
            total_bytes=new_tree.total_bytes if new_tree else sum(f[SIZE] for f in scan.files),
            skipped=sorted(scan.skipped),
            root_mode=scan.root_mode,
            root_mtime_ns=scan.root_mtime_ns,
        )
        with ctx.db.transaction():
            if new_tree is None:
                ctx.backups.insert(backup, manifest=same_tree, tree_digest=tree_digest)
            else:
                ctx.blobs.record_packed(new_tree.placed)
                ctx.backups.insert(
                    backup,
                    rows=new_tree.rows,
                    tree_digest=tree_digest if new_tree.all_cached else None,
                )
                ctx.hash_caches.add(env.id, new_tree.cache_fresh, new_tree.cache_whole)
            ctx.record(env, ActivityAction.BACKUP_CREATED, Outcome.SUCCESS, _detail(backup))
    return backup


def _file_row(scanned: ScannedFile, sha: str, size: int) -> EntryRow:
    path, _, mtime_ns, _, mode = scanned
    return (path, _FILE, mode, size, mtime_ns, sha, None)


def _fresh_cache(
    files: list[ScannedFile], stored: dict[str, tuple[str, int]], started_ns: int
) -> HashCache:
    # A file whose size as read differs from its scan changed while it was read: not cached.
    return {
        CACHE_KEY(f): stored[f[PATH]][0]
        for f in files
        if started_ns - f[MTIME_NS] > _RACY_NS and stored[f[PATH]][1] == f[SIZE]
    }


def _whole_cache(files: list[ScannedFile], known: list[str | None], fresh: HashCache) -> HashCache:
    # The keys are made again here rather than kept from the lookup: on 200,000 files they
    # are 18 MB, and the whole cache is wanted only once in several backups.
    whole = {CACHE_KEY(f): sha for f, sha in zip(files, known, strict=True) if sha}
    whole.update(fresh)
    return whole


def _default_name(origin: BackupOrigin) -> str:
    stamp = utc_now().astimezone().strftime("%Y-%m-%d %H:%M")
    label = {BackupOrigin.PRE_RESTORE: "Before restore", BackupOrigin.IMPORTED: "Imported"}
    return f"{label.get(origin, 'Backup')} {stamp}"


def _detail(backup: Backup) -> str:
    detail = f"{backup.name} ({backup.origin.value}): {backup.file_count} files, " + (
        f"{backup.total_bytes} bytes"
    )
    if backup.skipped:
        detail += "; skipped special files: " + ", ".join(backup.skipped)
    return detail


def delete_backup(ctx: ServiceContext, env: Environment, backup: Backup) -> int:
    """Delete a backup and the blobs only it used; return how many blobs were freed."""
    with ctx.locks.blobs_collecting():
        orphans = ctx.backups.delete(backup.id)
        ctx.blobs.delete(orphans)
    ctx.record(
        env,
        ActivityAction.BACKUP_DELETED,
        Outcome.SUCCESS,
        f"{backup.name}: {len(orphans)} stored files freed",
    )
    return len(orphans)
