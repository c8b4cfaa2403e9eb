"""Scheduled backups: setting a schedule, saying when it next runs, taking the due backups.

Due backups are taken by whichever process looks first, the app (on a worker, while it
runs) or `envops schedule run` (under cron or a timer): each takes the environment's lock
without waiting, then claims the slot in the database (`ScheduleRecords.claim`), so that
two processes that find one slot due back it up once. However many slots passed while
nothing ran, one backup is taken for them (`schedule_times.due_slot`). A shared
environment's schedule is the team's (`sharing.py` follows it), and while the team's store
is unlocked a slot is also claimed there (`team_locks.claim_slot`), so that one workstation
backs it up; the others note who did, and take the backup in at their next sync.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.domain.errors import EnvOpsError, OperationCancelledError
from envops_desktop.domain.models import Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.domain.schedules import ScheduleRule, ScheduleStatus, when
from envops_desktop.service import backups as backup_ops
from envops_desktop.service import retention
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.environments import refresh_version
from envops_desktop.service.schedule_times import due_slot, slot_after
from envops_desktop.service.team_locks import claim_slot
from envops_desktop.store.schedule_records import FAILED, RUNNING, SUCCEEDED, ScheduleRow

if TYPE_CHECKING:  # the shared store's modules load only where one is used
    from envops_desktop.service.shared_store import OpenedStore

# Another workstation sharing the environment took the slot (`ScheduledRun.outcome`).
ELSEWHERE = "elsewhere"
# A slot not taken this long after it came was missed (the app closed, the machine off).
MISSED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class ScheduledRun:
    """One due backup, and how it went."""

    environment: str  # its name
    environment_id: str
    slot: datetime
    # succeeded, failed, busy (the environment was in use: tried again later) or elsewhere
    # (another workstation backed it up)
    outcome: str
    detail: str  # the backup's name, or what went wrong


def set_schedule(
    ctx: ServiceContext, env: Environment, rule: ScheduleRule | None, now: datetime
) -> None:
    """Back `env` up by `rule` from `now` on; None turns its schedule off (the rule is kept)."""
    if rule is None:
        ctx.schedules.turn_off(env.id)
    else:
        ctx.schedules.set(env.id, rule, enabled=True, since=now)


def preview(rule: ScheduleRule | None, now: datetime, zone: tzinfo | None) -> str:
    """What a schedule set to `rule` now would say of itself: "Every day at 02:00 — next
    run tomorrow at 02:00", or "Off"."""
    if rule is None:
        return "Off"
    return f"{rule.describe(zone)} — next run {when(slot_after(rule, now, now, zone), now, zone)}"


def status(
    ctx: ServiceContext, env: Environment, now: datetime, zone: tzinfo | None
) -> ScheduleStatus:
    row = ctx.schedules.get(env.id)
    if row is None:
        return ScheduleStatus(env.name, None, False, None, False, False, None, "")
    slot = due_slot(row.rule, row.since, row.last_slot, now, zone) if row.enabled else None
    next_run = None
    if row.enabled:
        after = max(row.last_slot or row.since, row.since)
        next_run = slot or slot_after(row.rule, row.since, after, zone)
    missed = slot is not None and now - slot > MISSED_AFTER
    if row.last_outcome == RUNNING:  # its process died during the backup, unless still at it
        with ctx.locks.environment_if_free(env.id) as free:
            missed = missed or free
    return ScheduleStatus(
        environment=env.name,
        rule=row.rule,
        enabled=row.enabled,
        next_run=next_run,
        due=slot is not None,
        overdue=row.enabled and (missed or row.last_outcome == FAILED),
        last_outcome=row.last_outcome,
        last_detail=row.last_detail,
    )


def run_due(
    ctx: ServiceContext,
    now: datetime,
    zone: tzinfo | None,
    progress: ProgressCallback,
    cancel: CancelToken,
    store: "OpenedStore | None" = None,
) -> list[ScheduledRun]:
    """Take every backup due at `now`, one per environment, each by one process only; with
    the team's `store` unlocked, a shared environment's by one workstation only."""
    runs = []
    for row in ctx.schedules.all():
        env = ctx.environments.by_id(row.environment_id)
        if env is None or not row.enabled:
            continue
        if due_slot(row.rule, row.since, row.last_slot, now, zone) is None:
            continue
        cancel.raise_if_cancelled()
        with ctx.locks.environment_if_free(env.id) as free:
            if not free:
                runs.append(
                    ScheduledRun(env.name, env.id, now, "busy", "another operation holds it")
                )
                continue
            run = _take(ctx, env, now, zone, progress, cancel, store)
            if run is not None:
                runs.append(run)
    return runs


def _take(
    ctx: ServiceContext,
    env: Environment,
    now: datetime,
    zone: tzinfo | None,
    progress: ProgressCallback,
    cancel: CancelToken,
    store: "OpenedStore | None",
) -> ScheduledRun | None:
    """Back `env` up (its lock held) for its due slot, unless another process, or another
    workstation sharing it, took it."""
    row: ScheduleRow | None = ctx.schedules.get(env.id)  # read again under the lock
    slot = due_slot(row.rule, row.since, row.last_slot, now, zone) if row and row.enabled else None
    if row is None or slot is None or not ctx.schedules.claim(env.id, row.last_slot, slot):
        return None
    shared_id = ctx.shared.shared_id(env.id) if store is not None else None
    if store is not None and shared_id is not None:
        try:
            taken_by = claim_slot(store, shared_id, slot, ctx.user_at_host)
        except EnvOpsError as error:
            ctx.schedules.finish(env.id, slot, FAILED, str(error))
            return ScheduledRun(env.name, env.id, slot, FAILED, str(error))
        if taken_by is not None:  # its backup comes with the next sync
            detail = f"backed up by {taken_by}"
            ctx.schedules.finish(env.id, slot, SUCCEEDED, detail)
            return ScheduledRun(env.name, env.id, slot, ELSEWHERE, detail)
    try:
        backup = backup_ops.create_backup_locked(
            ctx, refresh_version(ctx, env), None, BackupOrigin.SCHEDULED, progress, cancel
        )
    except OperationCancelledError:
        ctx.schedules.finish(env.id, slot, FAILED, "cancelled")
        raise
    except EnvOpsError as error:
        ctx.schedules.finish(env.id, slot, FAILED, str(error))
        return ScheduledRun(env.name, env.id, slot, FAILED, str(error))
    ctx.schedules.finish(env.id, slot, SUCCEEDED, backup.name)
    # Only after a backup that succeeded: a run of failures must not thin out the history.
    removed = retention.apply(ctx, env, ctx.retention.get(env.id), now, dry_run=False).removed
    detail = backup.name + (f"; retention removed {len(removed)}" if removed else "")
    if store is None and ctx.shared.shared_id(env.id) is not None:
        # Backed up all the same: a slot backed up twice costs a list of files (the contents
        # are the team's once), a slot backed up by nobody costs the backup.
        detail += "; the team's store is locked here: another workstation may back this slot up too"
    return ScheduledRun(env.name, env.id, slot, SUCCEEDED, detail)
