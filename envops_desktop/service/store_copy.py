"""Copying this data folder's store into a team's bucket and back, resumably, verified.

Into a bucket (`copy_to`): every backup of the data folder (made here or taken in from
elsewhere) goes into the store at the given address, made there if it holds none, without
connecting the data folder to it. Which contents the bucket holds already is read from its
index at the start, so a copy cut off (the network, a kill, Ctrl+C) sends only what is
missing when run again. At the end every copied backup is read back from the bucket: its
record, its list of files, and each of its contents, decrypted and checked against its
SHA-256.

Back from a bucket (`copy_from`): every backup in the store of an environment this data
folder has (by name; its path stays this folder's) comes in as a sync takes backups in,
each content checked against its SHA-256 before it is kept, without connecting the data
folder either. Backups here already are not fetched again, so a copy cut off resumes.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import has_content
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ProgressMeter
from envops_desktop.domain.wording import counted
from envops_desktop.service.context import EXPORT_SCRATCH_PREFIX, ServiceContext
from envops_desktop.service.shared_layout import (
    BACKUP,
    BACKUP_DELETED,
    events,
    read_sealed,
    refresh_indexes,
)
from envops_desktop.service.shared_store import OpenedStore
from envops_desktop.service.sharing import PackReader, checked_frames, take_in
from envops_desktop.service.store_prune import running_backup
from envops_desktop.service.team_events import same_names, shared_environments
from envops_desktop.service.team_push import push_backup, share_environment
from envops_desktop.store.database import Database
from envops_desktop.store.helper_progress import shown_on
from envops_desktop.store.owned_folders import OwnedFolder
from envops_desktop.store.sealing import DamagedObjectError
from envops_desktop.store.shared_records import SharedRecords


@dataclass
class CopyReport:
    """What a copy sent, found there already, and verified."""

    where: str
    copied: list[str] = field(default_factory=list)  # backups sent now, by name
    already: list[str] = field(default_factory=list)  # in the bucket from an earlier run
    verified_files: int = 0

    def summary(self) -> str:
        return (
            f"Copied {counted(len(self.copied), 'backup')} to {self.where} ({len(self.already)} "
            f"{'was' if len(self.already) == 1 else 'were'} there already); all "
            f"{len(self.copied) + len(self.already)} read back and verified, "
            f"{counted(self.verified_files, 'stored file')}."
        )


@dataclass
class CopyBackReport:
    """What a copy back from a bucket took in, and what it could not map here."""

    where: str
    copied: list[str] = field(default_factory=list)  # backups taken in now, by name
    already: int = 0  # backups of the store here already
    unmapped: list[str] = field(default_factory=list)  # the store's environments not here

    def summary(self) -> str:
        said = (
            f"Copied {counted(len(self.copied), 'backup')} from {self.where} ({self.already} "
            f"{'was' if self.already == 1 else 'were'} here already), every stored file checked "
            "against its SHA-256."
        )
        if self.unmapped:
            said += (
                "\nIn the store but not here: "
                + ", ".join(self.unmapped)
                + " (add an environment of that name to copy its backups)."
            )
        return said


def copy_to(
    ctx: ServiceContext, target: OpenedStore, progress: ProgressCallback, cancel: CancelToken
) -> CopyReport:
    """Copy every backup here into `target`, then verify each there."""
    objects, key = target.objects, target.key
    report = CopyReport(objects.where)
    with (
        _apart(ctx) as copying,
        ctx.locks.blobs_in_use(),
        running_backup(copying, target) as registration,
    ):
        refresh_indexes(copying, objects, key)
        there = {name.removeprefix("backups/") for name in objects.keys("backups/")}
        environments = shared_environments(objects, key)
        for env in ctx.environments.all():
            for backup in reversed(ctx.backups.for_environment(env.id)):
                cancel.raise_if_cancelled()
                if backup.id in there:
                    report.already.append(backup.name)
                    continue
                shared_id = share_environment(copying, objects, key, env, environments)
                push_backup(
                    copying, objects, key, shared_id, backup, registration, progress, cancel
                )
                report.copied.append(backup.name)
        report.verified_files = _verify(copying, target, progress, cancel)
    return report


def copy_from(
    ctx: ServiceContext, source: OpenedStore, progress: ProgressCallback, cancel: CancelToken
) -> CopyBackReport:
    """Take in every backup of `source` of the environments here that is not here yet, but
    those the team deleted."""
    objects, key = source.objects, source.key
    report = CopyBackReport(objects.where)
    with _apart(ctx) as copying, ctx.locks.blobs_in_use():
        refresh_indexes(copying, objects, key)
        environments = shared_environments(objects, key)
        mapped = same_names(ctx, environments)
        deleted = {e.subject for e in events(objects, key) if e.kind == BACKUP_DELETED}
        listed = {name.removeprefix("backups/") for name in objects.keys("backups/")}
        report.already = sum(ctx.backups.by_id(b) is not None for b in listed - deleted)
        report.copied, report.unmapped = take_in(
            copying, objects, key, environments, mapped, deleted, progress, cancel, False
        )
    return report


@contextlib.contextmanager
def _apart(ctx: ServiceContext) -> Iterator[ServiceContext]:
    """`ctx` with a cache of the bucket apart from the connected store's, in a database of
    its own that the bucket's index rebuilds: nothing of it needs to outlive the copy, and
    a copy killed leaves it to the next start to remove."""
    scratch = OwnedFolder(ctx.staging_dir, f"{EXPORT_SCRATCH_PREFIX}copy-{new_id()}")
    cache = Database(scratch.directory)
    try:
        yield replace(ctx, shared=SharedRecords(cache))
    finally:
        cache.close()
        scratch.release()


def _verify(
    ctx: ServiceContext, target: OpenedStore, progress: ProgressCallback, cancel: CancelToken
) -> int:
    """Read every backup here back from the bucket; the number of contents checked."""
    objects, key = target.objects, target.key
    refresh_indexes(ctx, objects, key)
    sizes: dict[str, int] = {}
    for env in ctx.environments.all():
        for backup in ctx.backups.for_environment(env.id):
            record = read_sealed(objects, key, f"backups/{backup.id}", BACKUP)
            if record["manifest"] != ctx.backups.manifest_of(backup.id)[0]:
                raise OperationFailedError(
                    f"The copy of {backup.name} in {objects.where} lists other files than "
                    "the backup here."
                )
            for entry in ctx.backups.entries(backup.id):
                if has_content(entry) and entry.sha256:
                    sizes[entry.sha256] = entry.size
    parts = ctx.shared.parts_of_many(sizes)
    lacking = [sha for sha in sizes if sha not in parts]
    if lacking:
        raise OperationFailedError(
            f"The copy in {objects.where} lacks {counted(len(lacking), 'stored file')}; run the "
            "copy again."
        )
    order = sorted(parts, key=lambda sha: parts[sha][0][2:4])
    meter = ProgressMeter(progress, "verifying", sum(sizes.values()))
    with PackReader(ctx, objects, [part for sha in order for part in parts[sha]]) as reader:
        for sha in order:
            cancel.raise_if_cancelled()
            try:
                with shown_on(meter, cancel, sha):
                    for _frame in checked_frames(reader, key, sha, parts[sha]):
                        pass
            except DamagedObjectError as error:
                raise OperationFailedError(
                    f"A stored file ({sha[:12]}) is damaged in the copy in {objects.where}; "
                    "run the copy again."
                ) from error
            meter.advance(sizes[sha], sha)
    meter.finish()
    return len(order)
