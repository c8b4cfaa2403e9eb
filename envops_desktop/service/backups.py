"""Creating and deleting deduplicated backups."""

import hashlib
import time
from pathlib import Path

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EntryKind, Outcome
from envops_desktop.domain.errors import NotFoundError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ProgressMeter
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.parallel import parallel_map
from envops_desktop.service.scanning import ScannedFile, scan_tree
from envops_desktop.service.versions import current_version
from envops_desktop.store.backup_records import CachedHash, entry_row
from envops_desktop.store.blobs import SMALL_FILE, sha256_of_file, sync_to_disk
from envops_desktop.store.timestamps import utc_now

# A file modified within this many nanoseconds of the scan may change again in the same mtime
# tick without its mtime moving, so its hash is not cached (git's "racily clean" problem).
_RACY_NS = 2_000_000_000


def _store_file(
    ctx: ServiceContext,
    root: Path,
    scanned: ScannedFile,
    meter: ProgressMeter,
    cancel: CancelToken,
) -> str:
    cancel.raise_if_cancelled()
    source = root / scanned.path
    if scanned.size <= SMALL_FILE:
        data = source.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        ctx.blobs.put_bytes(sha, data)
        meter.advance(len(data), scanned.path)
        return sha
    # Large files: hash first so known content is never compressed or written again.
    sha = sha256_of_file(source, lambda n: meter.advance(n // 2, scanned.path))
    written = ctx.blobs.put_file(sha, source, lambda n: meter.advance(n - n // 2, scanned.path))
    if not written:
        meter.advance(scanned.size - scanned.size // 2, scanned.path)
    return sha


def create_backup_locked(
    ctx: ServiceContext,
    env: Environment,
    name: str | None,
    origin: BackupOrigin,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> Backup:
    """Back up `env` (whose lock the caller holds) and record the backup and an activity entry."""
    root = Path(env.path)
    if not root.is_dir():
        raise NotFoundError(f"The environment directory {root} does not exist.")
    version = current_version(env)
    started = time.time_ns()
    scan = scan_tree(root)
    cache = ctx.backups.cached_hashes(env.id)
    hashes: dict[str, str] = {}
    to_hash: list[ScannedFile] = []
    for scanned in scan.files:
        cached = cache.get(scanned.path)
        if (
            cached
            and cached[:3] == (scanned.size, scanned.mtime_ns, scanned.inode)
            and (ctx.blobs.has(cached[3]))
        ):
            hashes[scanned.path] = cached[3]
        else:
            to_hash.append(scanned)

    meter = ProgressMeter(progress, "backing up", sum(f.size for f in to_hash))
    with ctx.locks.blobs_in_use():
        stored = parallel_map(
            lambda scanned: _store_file(ctx, root, scanned, meter, cancel), to_hash, "envops-backup"
        )
        for scanned, sha in zip(to_hash, stored, strict=True):
            hashes[scanned.path] = sha
        meter.finish()
        rows = [entry_row(e) for e in scan.others]
        rows += [
            (f.path, EntryKind.FILE.value, f.mode, f.size, f.mtime_ns, hashes[f.path], None)
            for f in scan.files
        ]
        sync_to_disk()  # the blobs must be on disk before a record says the backup exists
        backup = Backup(
            id=new_id(),
            environment_id=env.id,
            name=name or _default_name(origin),
            created_at=utc_now(),
            version=version,
            created_by=ctx.user,
            origin=origin,
            file_count=len(scan.files),
            total_bytes=scan.total_bytes,
            skipped=sorted(scan.skipped),
            root_mode=scan.root_mode,
            root_mtime_ns=scan.root_mtime_ns,
        )
        with ctx.db.transaction():
            ctx.backups.insert(backup, rows)
            ctx.backups.replace_cached_hashes(env.id, _new_cache(scan.files, hashes, started))
            ctx.record(env, ActivityAction.BACKUP_CREATED, Outcome.SUCCESS, _detail(backup))
    return backup


def _new_cache(
    files: list[ScannedFile], hashes: dict[str, str], started_ns: int
) -> dict[str, CachedHash]:
    return {
        f.path: (f.size, f.mtime_ns, f.inode, hashes[f.path])
        for f in files
        if started_ns - f.mtime_ns > _RACY_NS
    }


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
        for sha in orphans:
            ctx.blobs.delete(sha)
    ctx.record(
        env,
        ActivityAction.BACKUP_DELETED,
        Outcome.SUCCESS,
        f"{backup.name}: {len(orphans)} stored files freed",
    )
    return len(orphans)
