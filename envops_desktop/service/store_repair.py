"""Repairing a store that `envops verify` found damaged: what it cannot trust is forgotten,
so that backups store it again.

A content is named by its hash, so one good copy stored again makes whole every backup that
needs it, old ones included. What keeps the next backup from storing it is what trusts the
store without reading it: the pack index or the file of its own that still names the bad
copy, the hash cache that knows a file's content by its size and times, and the digest by
which an unchanged folder stands for its last backup. Forgetting all three is the repair;
the next backup of each folder that still holds such a file then reads it and stores it.

A backup whose list of files is damaged is beyond that: nothing says which files it held,
so it cannot be restored, and while it is kept nothing can be freed (its list might name
any content). The repair deletes it. One from the team's store goes from here only: the
next sync takes the store's copy of it in again, list and all.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from envops_desktop.domain.models import Backup
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ignore_progress
from envops_desktop.service.backups import delete_backups
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.garbage import waiting_for_backups
from envops_desktop.service.store_check import StoreReport
from envops_desktop.store.hash_caches import forget_blobs


@dataclass
class StoreRepair:
    """What a repair did: the contents it forgot, the backups it deleted (and of those, the
    ids of the ones the next sync takes in again from the team's store)."""

    forgotten: list[str] = field(default_factory=list)
    deleted: list[Backup] = field(default_factory=list)
    from_team_store: list[str] = field(default_factory=list)


def repair_store(
    ctx: ServiceContext,
    report: StoreReport,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> StoreRepair:
    """Forget the damaged and missing contents `report` found (`check_store`), so that the
    next backup of a folder still holding any of them stores it again, and delete the
    backups whose list of files it found damaged.

    Each is looked at again first: a content or a list found whole then is kept.
    """
    waiting = waiting_for_backups(progress, cancel)
    repair = StoreRepair(forgotten=_forget_contents(ctx, report, waiting))
    damaged = ctx.backups.still_damaged(report.damaged_manifests)
    for backups in ctx.backups.with_manifests(damaged).values():
        repair.deleted += backups
    repair.from_team_store = [
        b.id for b in repair.deleted if b.deleted_at is None and ctx.shared.is_shared(b.id)
    ]
    if repair.deleted:
        reason = "its list of files was damaged"
        delete_backups(ctx, repair.deleted, reason, waiting, for_the_team=False, progress=progress)
    return repair


def _forget_contents(
    ctx: ServiceContext, report: StoreReport, waiting: Callable[[], None]
) -> list[str]:
    """Holds the exclusive blobs lock, as freeing content does: a backup storing meanwhile
    could otherwise find a bad copy still named, or record a hash cache that trusts it."""
    if not report.damaged and not report.missing:
        return []
    with ctx.locks.blobs_collecting(waiting):
        damaged = [sha for sha in report.damaged if not ctx.blobs.verify(sha)]
        missing = ctx.blobs.lacking(report.missing)
        forgotten = sorted({*damaged, *missing})
        # The caches first, as when content is freed: they must never name content that is
        # gone. A repair cut short after them costs the next backup a full read, no more.
        with ctx.db.transaction() as conn:
            forget_blobs(conn, set(forgotten))
            ctx.backups.forget_tree_digests(conn)
        ctx.blobs.delete(damaged)
    return forgotten
