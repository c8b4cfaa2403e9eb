"""A restore's or an import's steps, in their order: checked at once, the environment's
locks taken (and the team's), what an interrupted restore left put right, checked again,
held to its preview, backed up first, its report worked out, then written and swapped in
(`restore.restore_locked`)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.domain.enums import ActivityAction
from envops_desktop.domain.errors import (
    A_BACKUP,
    A_CONFIGURATION_FILE,
    OperationCancelledError,
    PreviewOutOfDateError,
)
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.service import backups as backup_ops
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.environments import find_environment
from envops_desktop.service.parallel import Background
from envops_desktop.service.recovery import put_right_earlier_restores
from envops_desktop.service.restore import (
    SpaceNeeded,
    TreeWriter,
    check_restorable,
    restore_locked,
)
from envops_desktop.service.scanning import holds_at_most, quick_scan
from envops_desktop.service.team_locks import team_lock

if TYPE_CHECKING:
    from envops_desktop.domain.changes import TreeChanges
    from envops_desktop.service.replacements import Replacement
    from envops_desktop.service.shared_store import OpenedStore
    from envops_desktop.store.journal_records import JournalEntry

# A restore works out its report while it writes when the backup or the folder it replaces
# holds up to this many entries. Beyond both, first: the folder's side of the comparison is
# held whole (100 MiB for 200,000 paths), which beside the writing's own would pass the
# memory target. Of the changes only their JSON is kept (`Replacement.report`): 200,000 files
# into an empty folder peaked at 125 MB that way, against 147 MB with the report first.
_REPORT_BESIDE_WRITING_UP_TO = 50_000


@dataclass
class RestorePlan:
    """What a restore or an import puts in place: the tree `backup_for` gives (a backup, or
    the one an imported file becomes), written from the store or by `write_tree`, whose
    changes to the folder `replacement` works out as the report. `back_up_first_as` names
    the backup taken first, if one is; `only`, the paths of a selective restore;
    `previewed`, what the user was shown it would change."""

    version: str
    needed: SpaceNeeded
    action: ActivityAction
    backup_for: Callable[[Environment], Backup]
    replacement: "Replacement"
    back_up_first_as: str | None = None
    write_tree: TreeWriter | None = None
    subject: str | None = None
    caveats: list[str] | None = None
    only: list[str] | None = None
    previewed: "TreeChanges | None" = None

    @property
    def importing(self) -> bool:
        return self.action is ActivityAction.CONFIGURATION_IMPORTED


def carry_out(
    ctx: ServiceContext,
    env: Environment,
    plan: RestorePlan,
    progress: ProgressCallback,
    cancel: CancelToken,
    opened_store: "OpenedStore | None",
    settle_later: bool,
) -> "tuple[Environment, JournalEntry | None]":
    """Check, lock, then restore, backing up first if the plan says so (just before the
    swap: `restore_locked`). Returns the refreshed environment and, with `settle_later`, the
    journal entry still to be settled. A restore that is cancelled leaves no backup taken
    for it."""
    what = A_CONFIGURATION_FILE if plan.importing else A_BACKUP
    check_restorable(env, plan.version, plan.needed, what, look_inside=False)  # at once
    with (
        # The others first: whichever holds this one too is then the one named.
        ctx.locks.overlapping(env, ctx.environments.all()),
        ctx.locks.environment(env.id, env.name),
        team_lock(ctx, opened_store, env, "imported" if plan.importing else "restored") as team,
    ):
        env = find_environment(ctx, env.id)  # it may have changed while we waited
        # Before anything looks at the folder (its version, the preview's check, the
        # backup first): an interrupted restore's roll-back may change it.
        put_right_earlier_restores(ctx, env)
        check_restorable(env, plan.version, plan.needed, what)
        report: bytearray | Background[bytearray]
        if plan.previewed is not None:
            # Worked out under the lock before anything changes (a backup first changes
            # nothing in the folder, and an import's file is not yet taken in), to refuse a
            # restore the user saw other changes of.
            report = _checked_report(env, plan, plan.previewed, cancel)
        taken_first: list[Backup] = []
        first_as = plan.back_up_first_as

        def back_up_first() -> None:
            assert first_as is not None
            backup = backup_ops.back_up_before_restore(ctx, env, first_as, progress, cancel)
            taken_first.extend([backup] if backup is not None else [])

        if plan.previewed is None or env.pre_restore_command is not None:
            report = _report(env, plan, cancel)
        try:
            return restore_locked(
                ctx,
                env,
                plan.backup_for(env),
                plan.action,
                progress,
                cancel,
                settle_later,
                plan.write_tree,
                plan.subject,
                plan.caveats,
                team=team,
                only=plan.only,
                report=report,
                back_up_first=None if first_as is None else back_up_first,
            )
        except OperationCancelledError:
            if taken_first:
                backup_ops.delete_backups(ctx, taken_first)
            raise


def _report(
    env: Environment, plan: RestorePlan, cancel: CancelToken
) -> bytearray | Background[bytearray]:
    """What the restore changes, as the JSON kept with its activity entry, worked out while
    the new tree is written (it reads the folder, which the writing leaves alone;
    `restore_locked` starts it), waited for before the folder changes: 0.2 s less for the
    1 GiB tree. With a pre-restore command, once the command has run (`restore_locked`
    waits for it): what it leaves in the folder (a state file saved as its service stops)
    is changed too, whatever a preview said."""
    later = Background(lambda: plan.replacement.report(env, plan.only, cancel), "envops-report")
    if env.pre_restore_command is not None:
        return later
    beside = plan.replacement.file_count <= _REPORT_BESIDE_WRITING_UP_TO or holds_at_most(
        Path(env.path), _REPORT_BESIDE_WRITING_UP_TO
    )
    return later if beside else plan.replacement.report(env, plan.only, cancel)


def _checked_report(
    env: Environment, plan: RestorePlan, previewed: "TreeChanges", cancel: CancelToken
) -> bytearray:
    """What putting the plan's tree in place changes in `env`'s folder now, as the JSON kept
    with its activity entry; PreviewOutOfDateError if that is not what was `previewed`."""
    from envops_desktop.service.replacements import bearing_on

    replacement, only = plan.replacement, plan.only
    scan = quick_scan(env)
    fingerprint = previewed.fingerprint
    if fingerprint is not None and replacement.fingerprint(env, scan) == fingerprint:
        # The folder as it was when previewed, to the inode and ctime, and the same tree to
        # replace it: the same changes, without comparing 200,000 paths again (3-4 s).
        whole = previewed
    else:
        whole = replacement.preview(env, None, cancel, scan)
    # Paths left as they are may change at will (a log the service writes, unticked for
    # that reason): the restore does not touch them, so it is still what was shown.
    if bearing_on(whole, only) != bearing_on(previewed, only):
        raise PreviewOutOfDateError(env.name, whole, plan.importing)
    if only is None:
        return whole.to_json()
    return replacement.report(env, only, cancel)
