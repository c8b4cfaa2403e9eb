"""Retention: which of an environment's backups its rules no longer keep, and removing them.

A backup is kept when any rule keeps it (`RetentionRule`), and whatever the rules say when
it is pinned, among the environment's newest `ALWAYS_KEPT`, or made on another workstation
(a shared store's backup is removed where it was made, or by hand). Retention runs after
each scheduled backup that succeeded, and on demand (`envops retention apply`, the
retention dialog's dry run first); each removal has an activity entry saying why.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.retention import ALWAYS_KEPT, RetentionRule
from envops_desktop.domain.wording import counted
from envops_desktop.service import backups as backup_ops
from envops_desktop.service.context import ServiceContext


@dataclass(frozen=True)
class Removal:
    """A backup retention removes (or would), and why."""

    backup_id: str
    name: str
    created_at: datetime
    why: str


@dataclass
class RetentionReport:
    """What retention removed from an environment, or would (`dry_run`)."""

    environment: str
    rule: RetentionRule
    dry_run: bool
    removed: list[Removal] = field(default_factory=list)

    def summary(self) -> str:
        if not self.removed:
            return f"{self.environment}: retention removes nothing."
        count = len(self.removed)
        backups = counted(count, "backup")
        verb = "would be removed" if self.dry_run else "were removed"
        if count == 1:
            verb = verb.replace("were", "was")
        lines = [f"{self.environment}: these {backups} {verb}:"]
        lines += [
            f"  {r.name} ({r.created_at.astimezone():%Y-%m-%d %H:%M}): {r.why}"
            for r in self.removed
        ]
        return "\n".join(lines)


def removable(backups: list[Backup], rule: RetentionRule, now: datetime) -> list[Removal]:
    """Of one environment's backups, those `rule` does not keep at `now`, oldest first."""
    newest_first = sorted(backups, key=lambda b: b.created_at, reverse=True)
    kept = {b.id for b in newest_first[:ALWAYS_KEPT]}
    kept |= {b.id for b in backups if b.pinned or b.made_on is not None}
    why: dict[str, str] = {}
    scheduled = [b for b in newest_first if b.origin is BackupOrigin.SCHEDULED]
    if rule.scheduled_days is None and rule.scheduled_last is None:
        kept |= {b.id for b in scheduled}
    else:
        if rule.scheduled_days is not None:
            since = now - timedelta(days=rule.scheduled_days)
            kept |= {b.id for b in scheduled if b.created_at >= since}
        if rule.scheduled_last is not None:
            kept |= {b.id for b in scheduled[: rule.scheduled_last]}
        why |= {b.id: _scheduled_why(rule) for b in scheduled}
    before = [b for b in newest_first if b.origin is BackupOrigin.PRE_RESTORE]
    kept |= {b.id for b in before[: rule.before_restore_last]}
    why |= {b.id: f"not among the last {rule.before_restore_last} before restore" for b in before}
    others = [b for b in newest_first if b.origin in (BackupOrigin.MANUAL, BackupOrigin.IMPORTED)]
    if rule.manual_days is None:
        kept |= {b.id for b in others}
    else:
        since = now - timedelta(days=rule.manual_days)
        kept |= {b.id for b in others if b.created_at >= since}
        why |= {b.id: f"older than {rule.manual_days} days" for b in others}
    return [
        Removal(b.id, b.name, b.created_at, why[b.id])
        for b in reversed(newest_first)
        if b.id not in kept
    ]


def _scheduled_why(rule: RetentionRule) -> str:
    reasons = []
    if rule.scheduled_days is not None:
        reasons.append(f"older than {rule.scheduled_days} days")
    if rule.scheduled_last is not None:
        reasons.append(f"not among the last {rule.scheduled_last} scheduled")
    return " and ".join(reasons)


def apply(
    ctx: ServiceContext, env: Environment, rule: RetentionRule, now: datetime, dry_run: bool
) -> RetentionReport:
    """Remove what `rule` does not keep of `env`'s backups (the caller holds its lock), each
    with an activity entry; with `dry_run`, only say what that would be."""
    report = RetentionReport(env.name, rule, dry_run)
    report.removed = removable(ctx.backups.for_environment(env.id), rule, now)
    if not dry_run:
        for removal in report.removed:
            backup = ctx.backups.by_id(removal.backup_id)
            if backup is not None:
                backup_ops.move_to_bin(ctx, env, backup, why=f"retention: {removal.why}")
    return report
