"""Repairing a store that `envops verify` found damaged: what it cannot trust is forgotten,
so that backups store it again.

A content is named by its hash, so one good copy stored again makes whole every backup that
needs it, old ones included. What keeps the next backup from storing it is what trusts the
store without reading it: the pack index or the file of its own that still names the bad
copy, the hash cache that knows a file's content by its size and times, and the digest by
which an unchanged folder stands for its last backup. Forgetting all three is the repair;
the next backup of each folder that still holds such a file then reads it and stores it.
"""

from envops_desktop.domain.progress import CancelToken, ProgressCallback, ignore_progress
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.garbage import waiting_for_backups
from envops_desktop.service.store_check import StoreReport
from envops_desktop.store.hash_caches import forget_blobs


def repair_store(
    ctx: ServiceContext,
    report: StoreReport,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> list[str]:
    """Forget the damaged and missing contents `report` found (`check_store`), so that the
    next backup of a folder still holding any of them stores it again; return them.

    Holds the exclusive blobs lock, as freeing content does: a backup storing meanwhile
    could otherwise find a bad copy still named, or record a hash cache that trusts it.
    Each content is checked again under the lock; one found whole then is kept.
    """
    if not report.damaged and not report.missing:
        return []
    with ctx.locks.blobs_collecting(waiting_for_backups(progress, cancel)):
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
