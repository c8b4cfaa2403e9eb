"""Export a backup as a configuration file (a zip with its manifest), sealed with a
passphrase if asked: written whole under a temporary name, then renamed."""

import contextlib
import errno
import functools
import os
from pathlib import Path

from envops_desktop.domain.configuration import (
    FORMAT_NAME,
    ConfigurationManifest,
    ManifestEntry,
    format_version_for,
)
from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.errors import (
    OperationFailedError,
)
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment, has_content
from envops_desktop.domain.paths import shown
from envops_desktop.domain.progress import (
    CancelToken,
    ProgressCallback,
    ProgressMeter,
)
from envops_desktop.service.context import (
    EXPORT_SCRATCH_PREFIX,
    ServiceContext,
)
from envops_desktop.service.materialize import path_of_blob
from envops_desktop.service.parallel import run_in_batches, start_helpers_early, workload
from envops_desktop.store.blob_batches import deflate_blobs
from envops_desktop.store.blobs import DamagedBlobError, MissingBlobError
from envops_desktop.store.configuration_writer import (
    deflated_share,
    partial_path,
    write_configuration_file,
)
from envops_desktop.store.full_disk import no_room_to, where_full
from envops_desktop.store.owned_folders import OwnedFolder
from envops_desktop.store.sealed_files import seal_file


def export_backup(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    destination: Path,
    progress: ProgressCallback,
    cancel: CancelToken,
    passphrase: str | None = None,
) -> None:
    """Write `backup` to `destination` as a configuration file; with `passphrase`, sealed
    as a whole (`store/sealed_files.py`), safe to mail."""
    # Loading while the manifest is gathered.
    start_helpers_early(workload(backup.total_bytes, backup.file_count))
    entries = [ManifestEntry.model_construct(**e._asdict()) for e in ctx.backups.entries(backup.id)]
    manifest = ConfigurationManifest(
        format=FORMAT_NAME,
        format_version=format_version_for(entries, backup.root_meta),
        environment_name=env.name,
        backup_name=backup.name,
        version=backup.version,
        created_at=backup.created_at,
        created_by=backup.created_by,
        entries=entries,
        root_mode=backup.root_mode,
        root_mtime_ns=backup.root_mtime_ns,
        root_meta=backup.root_meta,
    )
    meter = ProgressMeter(progress, "exporting", backup.total_bytes)
    try:
        with ctx.locks.blobs_in_use():  # no backup deletion frees what is being exported
            _write_exported(ctx, destination, manifest, meter, cancel, passphrase, progress)
    except MissingBlobError as error:  # an OSError too, but not the destination's
        raise OperationFailedError(
            f"The stored copy of {path_of_blob(error, manifest.entries)} is missing from the "
            f"backup store, so {shown(destination.name)} was not written."
        ) from error
    except DamagedBlobError as error:
        raise OperationFailedError(
            f"The stored copy of {path_of_blob(error, manifest.entries)} is damaged ({error}), "
            f"so {shown(destination.name)} was not written."
        ) from error
    except OSError as error:
        if error.errno == errno.ENOSPC:  # the scratch's disk, or the destination's
            full = where_full(error, partial_path(destination), ctx.staging_dir / "scratch")
            raise OperationFailedError(no_room_to(f"write {destination}", full)) from error
        raise OperationFailedError(
            f"Could not write {destination}: {error.strerror or error}."
        ) from error
    sealed = ", protected by a passphrase" if passphrase else ""
    ctx.record(
        env,
        ActivityAction.BACKUP_EXPORTED,
        Outcome.SUCCESS,
        f"{backup.name} to {destination}{sealed}",
    )


def _write_exported(
    ctx: ServiceContext,
    destination: Path,
    manifest: ConfigurationManifest,
    meter: ProgressMeter,
    cancel: CancelToken,
    passphrase: str | None,
    progress: ProgressCallback,
) -> None:
    # Deflating is the slow part: it runs in batches on every core, each batch into a scratch
    # file of its own, while one writer copies the finished batches into the zip in order.
    files = [e for e in manifest.entries if has_content(e)]
    # Owned with the `.part` it names: an export killed part-way leaves both, and the next
    # start removes them.
    scratch = OwnedFolder(
        ctx.staging_dir, f"{EXPORT_SCRATCH_PREFIX}{new_id()}", also=partial_path(destination)
    )
    try:
        work = functools.partial(deflate_blobs, str(ctx.data_dir), str(scratch.directory))
        # Not durable: the scratch files are gone before the disk would see them, and the
        # zip itself is the user's file, written like any program writes a file.
        batches = run_in_batches(
            work,
            files,
            workload(sum(e.size for e in files), len(files)),
            lambda e: e.sha256,
            lambda e: e.size,
            "envops-export",
            cancel,
            lambda done, e: meter.ahead(deflated_share(done), e.path),
            durable=False,
        )
        # Closed before the scratch folder goes, so no helper is still writing into it.
        # A sealed file is written plain inside the scratch folder first, then sealed whole.
        plain = scratch.directory / "plain.zip" if passphrase else destination
        with contextlib.closing(batches):
            write_configuration_file(plain, manifest, batches, meter, cancel)
        if passphrase:
            _seal(plain, destination, passphrase, progress, cancel)
    finally:
        scratch.release()


def _seal(
    plain: Path, destination: Path, passphrase: str, progress: ProgressCallback, cancel: CancelToken
) -> None:
    """Seal `plain` into `destination`, atomically: a half-sealed file never bears its name."""
    partial = partial_path(destination)
    partial.unlink(missing_ok=True)
    meter = ProgressMeter(progress, "encrypting", plain.stat().st_size)

    def advance(nbytes: int) -> None:
        cancel.raise_if_cancelled()
        meter.advance(nbytes)

    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(fd, "wb") as out, open(plain, "rb") as source:
            seal_file(source, out, passphrase, advance)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    meter.finish()
