"""Reclaiming stored content no backup needs: what a killed backup or delete left behind."""

from collections.abc import Callable
from dataclasses import dataclass, field

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.progress import (
    CancelToken,
    Progress,
    ProgressCallback,
    ignore_progress,
)
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.store_check import needed_contents
from envops_desktop.store.hash_caches import forget_blobs
from envops_desktop.store.pack_index import PackedAt


@dataclass
class GarbageReport:
    """What `envops gc` freed, or with a dry run would free."""

    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = False


def collect_garbage(
    ctx: ServiceContext,
    dry_run: bool = False,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> GarbageReport:
    """Delete every stored content no backup references (or, with `dry_run`, only say which).

    Holds the exclusive blobs lock, so no backup is storing content meanwhile that its
    record does not name yet; refuses while a damaged manifest hides what it needs. A cancel
    stops it until it starts deleting, which it then finishes: a pack left half-freed would
    keep its dead contents' space for good.
    """
    with ctx.locks.blobs_collecting(waiting_for_backups(progress, cancel)):
        damaged: list[str] = []
        referenced = needed_contents(ctx, damaged, progress, cancel)
        if damaged:
            raise OperationFailedError(
                f"{len(damaged)} stored list(s) of a backup's files are damaged, so what they "
                "need is unknown and nothing was freed. Run envops verify."
            )
        report = GarbageReport(dry_run=dry_run)
        report.blobs = sorted({sha for sha in ctx.blobs.all_blobs() if sha not in referenced})
        report.bytes = sum(_stored_size(ctx, sha) for sha in report.blobs)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if report.blobs and not dry_run:
            # The hash cache first: it must never name content that is gone.
            with ctx.db.transaction() as conn:
                forget_blobs(conn, set(report.blobs))
            ctx.blobs.delete(report.blobs)
    return report


def waiting_for_backups(
    progress: ProgressCallback, cancel: CancelToken | None
) -> Callable[[], None]:
    """What waiting to free contents does while a backup, a restore or an import stores or
    reads them (`Locks.blobs_collecting`): says so, and stops at a cancel."""

    def waiting() -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(Progress("waiting for backups", 0, 0))

    return waiting


def _stored_size(ctx: ServiceContext, sha: str) -> int:
    where = ctx.blobs.locate(sha)
    if where is None:
        return 0
    if isinstance(where, PackedAt):
        return where.length
    return where.stat().st_size
