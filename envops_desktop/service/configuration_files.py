"""Export a backup as a configuration file; stage (upload) and import one."""

import contextlib
import functools
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zipfile import ZipInfo

from envops_desktop.domain.configuration import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ConfigurationManifest,
    ManifestEntry,
)
from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EntryKind, Outcome
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ProgressMeter
from envops_desktop.service.context import (
    EXPORT_SCRATCH_PREFIX,
    UPLOAD_PREFIX,
    ServiceContext,
)
from envops_desktop.service.parallel import run_in_batches
from envops_desktop.store.backup_records import entry_row
from envops_desktop.store.blob_batches import deflate_blobs
from envops_desktop.store.blobs import sync_to_disk
from envops_desktop.store.configuration_reader import check_configuration_file
from envops_desktop.store.configuration_writer import write_configuration_file
from envops_desktop.store.manifest_codec import encode_manifest
from envops_desktop.store.member_staging import MemberJob, stage_members
from envops_desktop.store.staged_blobs import StagedBlobs
from envops_desktop.store.timestamps import utc_now

# Files whose contents are looked up in the store with one query (SQLite takes 999 values).
_LOOKUP_BATCH = 500


@dataclass
class StagedConfiguration:
    """A configuration file that was read, fully validated and staged, ready to import."""

    id: str
    file_name: str
    manifest: ConfigurationManifest
    blobs: StagedBlobs


def export_backup(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    destination: Path,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    manifest = ConfigurationManifest(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        environment_name=env.name,
        backup_name=backup.name,
        version=backup.version,
        created_at=backup.created_at,
        created_by=backup.created_by,
        entries=[
            ManifestEntry.model_construct(**e._asdict()) for e in ctx.backups.entries(backup.id)
        ],
        root_mode=backup.root_mode,
        root_mtime_ns=backup.root_mtime_ns,
    )
    meter = ProgressMeter(progress, "exporting", backup.total_bytes)
    try:
        with ctx.locks.blobs_in_use():  # no backup deletion frees what is being exported
            _write_exported(ctx, destination, manifest, meter, cancel)
    except OSError as error:
        raise OperationFailedError(
            f"Could not write {destination}: {error.strerror or error}."
        ) from error
    ctx.record(
        env, ActivityAction.BACKUP_EXPORTED, Outcome.SUCCESS, f"{backup.name} to {destination}"
    )


def _write_exported(
    ctx: ServiceContext,
    destination: Path,
    manifest: ConfigurationManifest,
    meter: ProgressMeter,
    cancel: CancelToken,
) -> None:
    # Deflating is the slow part: it runs in batches on every core, each batch into a scratch
    # file of its own, while one writer copies the finished batches into the zip in order.
    files = [e for e in manifest.entries if e.kind is EntryKind.FILE and e.sha256 is not None]
    with tempfile.TemporaryDirectory(prefix=EXPORT_SCRATCH_PREFIX, dir=ctx.staging_dir) as scratch:
        work = functools.partial(deflate_blobs, str(ctx.data_dir), scratch)
        # Not durable: the scratch files are gone before the disk would see them, and the
        # zip itself is the user's file, written like any program writes a file.
        batches = run_in_batches(
            work,
            files,
            sum(e.size for e in files),
            lambda e: e.sha256,
            lambda e: e.size,
            "envops-export",
            cancel,
            durable=False,
        )
        # Closed before the scratch folder goes, so no helper is still writing into it.
        with contextlib.closing(batches):
            write_configuration_file(destination, manifest, batches, meter, cancel)


def stage_configuration_file(
    ctx: ServiceContext,
    source: Path,
    progress: ProgressCallback,
    cancel: CancelToken,
    allow_external_links: bool,
) -> StagedConfiguration:
    """Read and validate `source` completely, keeping its content in the staging area."""
    upload_id = new_id()
    staged = StagedBlobs(ctx.staging_dir / f"{UPLOAD_PREFIX}{upload_id}", ctx.blobs)
    try:
        free = shutil.disk_usage(ctx.staging_dir).free
        if source.is_file() and source.stat().st_size > free:
            raise OperationFailedError(f"Not enough free disk space to take in {source.name}.")
        manifest, members = check_configuration_file(source, allow_external_links)
        meter = ProgressMeter(progress, "uploading", manifest.total_bytes)
        batches = run_in_batches(
            functools.partial(stage_members, str(source), str(staged.directory)),
            _member_jobs(manifest, members, staged),
            manifest.total_bytes,
            lambda job: job,
            lambda job: job[2],
            "envops-upload",
            cancel,
            durable=False,  # the store syncs what it adopts, at import
        )
        # Closed before the stage can be discarded, so no helper is still writing into it.
        with contextlib.closing(batches):
            for batch, kept in batches:
                for job, compressed in zip(batch, kept, strict=True):
                    if compressed is not None:
                        staged.record(job[1], compressed)
                meter.advance(sum(job[2] for job in batch), batch[-1][0])
        meter.finish()
    except BaseException:
        staged.discard()
        raise
    return StagedConfiguration(upload_id, source.name, manifest, staged)


def _member_jobs(
    manifest: ConfigurationManifest, members: dict[str, ZipInfo], staged: StagedBlobs
) -> Iterator[MemberJob]:
    """Each file's staging job, claiming its content when the store and the files before it
    lack it; the store is asked a batch of contents at a time."""
    files = [e for e in manifest.entries if e.kind is EntryKind.FILE]
    for start in range(0, len(files), _LOOKUP_BATCH):
        group = files[start : start + _LOOKUP_BATCH]
        with staged.looking_up([e.sha256 or "" for e in group]):
            claims = [staged.claim(e.sha256 or "") for e in group]
        for entry, keep in zip(group, claims, strict=True):
            yield entry.path, entry.sha256 or "", entry.size, keep, members[entry.path]


def adopt_staged_configuration(
    ctx: ServiceContext, env: Environment, staged: StagedConfiguration
) -> Backup:
    """Move staged content into the store and record it as a backup of origin `imported`."""
    manifest = staged.manifest
    with ctx.locks.blobs_in_use():
        staged.blobs.move_into_store()
        sync_to_disk()
        backup = Backup(
            id=new_id(),
            environment_id=env.id,
            name=manifest.backup_name or f"Imported {staged.file_name}",
            created_at=utc_now(),
            version=manifest.version,
            created_by=ctx.user,
            origin=BackupOrigin.IMPORTED,
            file_count=manifest.file_count,
            total_bytes=manifest.total_bytes,
            root_mode=manifest.root_mode,
            root_mtime_ns=manifest.root_mtime_ns,
        )
        name, body = encode_manifest(map(entry_row, manifest.entries))
        with ctx.db.transaction():
            ctx.backups.insert(backup, manifest=name, body=body)
            ctx.record(
                env,
                ActivityAction.BACKUP_CREATED,
                Outcome.SUCCESS,
                f"{backup.name} (imported from {staged.file_name}): {backup.file_count} files",
            )
    staged.blobs.discard()
    return backup
