"""Start-up recovery: finish or undo every restore that a crash, kill or power cut interrupted."""

import os
from pathlib import Path

from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus, JournalPhase, Outcome
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import Environment, RecoveryReport
from envops_desktop.service.context import (
    EXPORT_SCRATCH_PREFIX,
    FOLDER_RESTORE_PREFIX,
    UPLOAD_PREFIX,
    ServiceContext,
)
from envops_desktop.service.flushing import current_boot_id, settle
from envops_desktop.service.folder_reach import is_folder
from envops_desktop.service.restore import complete_restore
from envops_desktop.service.restore_commands import end_process_group
from envops_desktop.service.swap import remove_tree, roll_back
from envops_desktop.service.tree_check import tree_matches
from envops_desktop.store.journal_records import JournalEntry
from envops_desktop.store.owned_folders import remove_unowned


def _log(level: str, message: str, *args: object) -> None:
    # logging, imported only when there is something to say: it took 4 ms of every start.
    import logging

    getattr(logging.getLogger(__name__), level)(message, *args)


def clear_leftovers(ctx: ServiceContext) -> None:
    """Remove half-written blobs, abandoned uploads, export scratch and restores to a folder
    that a crash left behind."""
    with ctx.locks.blobs_idle() as idle:
        if idle:  # no backup or import in any process is writing blobs now
            ctx.blobs.clear_temporary()
    prefixes = (UPLOAD_PREFIX, EXPORT_SCRATCH_PREFIX, FOLDER_RESTORE_PREFIX)
    for removed in remove_unowned(ctx.staging_dir, prefixes, remove_tree):
        _log("info", "removed %s, left by an operation that was killed", removed)


def may_have_leftovers(ctx: ServiceContext) -> bool:
    """Whether `clear_leftovers` may have anything to remove: a killed restore to a folder
    leaves a hidden tree that takes seconds to remove (200,000 files), a killed upload its
    blobs. With nothing in the staging folder and no half-written blob, it is quick."""
    with os.scandir(ctx.staging_dir) as staged:
        return any(staged) or ctx.blobs.has_temporary()


def recover_interrupted_operations(ctx: ServiceContext) -> list[RecoveryReport]:
    """Put every interrupted restore right and record what was done.

    A journal entry whose environment lock is held belongs to a restore still running in
    another process (the CLI while the app starts, say): it is left alone.
    """
    reports = []
    try:
        clear_leftovers(ctx)
    except OSError as error:
        _log("warning", "could not clear leftovers: %s", error)  # scratch only; tried next time
    for entry in ctx.journal.unfinished(include_done=True):
        with ctx.locks.environment_if_free(entry.environment_id) as free:
            if not free:
                continue
            try:
                report = _recover_entry(ctx, entry)
            except OSError as error:
                # One environment's leftovers that cannot be removed (an immutable file, a
                # folder of another user's) must not stop every command for every other one.
                report = _not_put_right(ctx, entry, f"could not be cleaned up ({_said(error)})")
            except OperationFailedError as error:  # its disk is gone, or does not answer
                report = _not_put_right(ctx, entry, f"waits for its folder: {error}")
            if report is not None:
                reports.append(report)
    return reports


def _not_put_right(ctx: ServiceContext, entry: JournalEntry, why: str) -> RecoveryReport:
    """Say `why` `entry` could not be put right now. Its environment, left "Updating" by the
    restore that was interrupted, is marked "Update Failed": nothing updates it, and the
    window lets the user restore it again once its disk is back (the restore puts this one
    right first) rather than wait for the next start."""
    detail = (
        f"the interrupted restore {why.rstrip('.')}; EnvOps will try again at the next start "
        "or restore of it"
    )
    env = ctx.environments.by_id(entry.environment_id)
    if env is not None and env.status is EnvironmentStatus.UPDATING:
        with ctx.db.transaction():
            ctx.environments.update(env.id, status=EnvironmentStatus.UPDATE_FAILED.value)
            ctx.activity.append(
                env.id, env.name, ActivityAction.RECOVERED, ctx.user, Outcome.FAILURE, detail
            )
    return RecoveryReport(
        environment_name=entry.environment_name, rolled_forward=False, detail=detail
    )


def put_right_earlier_restores(ctx: ServiceContext, env: Environment) -> None:
    """Settle, keep or undo what earlier restores of `env` left, as the start-up recovery
    does, before another restore of it starts (the caller holds the environment's lock).

    The start-up recovery may have been unable to: the folder's network disk was not back
    yet, say. Rolled back after a new restore, the old one would put back the configuration
    from before both, and throw the new one away. OperationFailedError if one cannot be put
    right now: nothing else is done to the folder.
    """
    for entry in ctx.journal.of_environment(env.id):
        try:
            report = _recover_entry(ctx, entry)
        except OSError as error:
            raise OperationFailedError(
                f"An earlier restore of {env.name} was interrupted and could not be put right "
                f"now ({_said(error)}), so this one did not start. EnvOps tries again at the "
                "next start or restore."
            ) from error
        if report is not None:
            _log("info", "recovered %s before restoring it: %s", env.name, report.detail)


def _said(error: OSError) -> str:
    return f"{error.strerror or error}: {error.filename or 'a file'}"


def _recover_entry(ctx: ServiceContext, entry: JournalEntry) -> RecoveryReport | None:
    # A first look that gives up on a disk that hangs (OperationFailedError): every command,
    # and the window's start, recovers every environment first, and would wait with it.
    is_folder(Path(entry.target).parent)
    if entry.phase is JournalPhase.DONE or (
        entry.phase is JournalPhase.FLUSHING
        and entry.boot_id is not None
        and entry.boot_id == current_boot_id()
    ):
        # Done, or in place and only waiting for the disk, in this same boot: the kernel
        # still holds whatever was written, so a sync finishes the job. With no boot id
        # recorded a power cut cannot be ruled out: verified below.
        settle(ctx, entry)
        return None
    return _recover(ctx, entry)


def _recover(ctx: ServiceContext, entry: JournalEntry) -> RecoveryReport | None:
    if entry.generation is not None:
        overtaken = _overtaken(ctx, entry)
        if overtaken is not None:
            return overtaken
    backup = ctx.backups.by_id(entry.backup_id)
    # Journaled before version 9 without a subject: said as then, but never naming a backup
    # that does not exist (an import's, not recorded yet).
    if entry.subject:
        subject = entry.subject
    elif backup is not None:
        subject = f"the restore of {backup.name} ({backup.version})"
    elif entry.action == ActivityAction.CONFIGURATION_IMPORTED.value:
        subject = "the import of a configuration file"
    else:
        subject = "the restore of a backup deleted since"
    # A restore in place but maybe not on disk (the machine restarted before it settled) is
    # checked byte for byte against its backup, as the disk now has it.
    completed = (
        backup is not None
        and entry.phase in (JournalPhase.APPLIED, JournalPhase.FLUSHING)
        and not entry.has_post_restore
        and tree_matches(Path(entry.target), ctx.backups.entries(backup.id))
    )
    if completed and backup is not None:
        detail = (
            f"{subject} had completed and verifies; it was kept "
            f"(interrupted at '{entry.phase.value}')"
        )
        complete_restore(ctx, entry, backup, ActivityAction.RECOVERED, Outcome.SUCCESS, detail)
        settle(ctx, entry)
        return RecoveryReport(
            environment_name=entry.environment_name, rolled_forward=True, detail=detail
        )
    ctx.journal.set_phase(entry.id, JournalPhase.ROLLING_BACK)
    if entry.post_restore_process:
        # Its restore was killed while it ran: it must not act on what is rolled back now.
        end_process_group(entry.post_restore_process)
    roll_back(entry)
    detail = (
        f"{subject} was interrupted at '{entry.phase.value}' and rolled back; "
        "the previous configuration is in place"
    )
    return _cleared(ctx, entry, EnvironmentStatus.UPDATE_FAILED, detail)


def _cleared(
    ctx: ServiceContext, entry: JournalEntry, status: EnvironmentStatus, detail: str
) -> RecoveryReport:
    """Clear an interrupted restore that was not kept: the environment's status, an
    activity entry saying what was done, and the journal row, in one transaction."""
    env = ctx.environments.by_id(entry.environment_id)
    with ctx.db.transaction():
        if env is not None:
            ctx.environments.update(env.id, status=status.value)
        ctx.activity.append(
            entry.environment_id,
            entry.environment_name,
            ActivityAction.RECOVERED,
            ctx.user,
            Outcome.FAILURE,
            detail,
        )
        ctx.journal.remove(entry.id)
    return RecoveryReport(
        environment_name=entry.environment_name, rolled_forward=False, detail=detail
    )


def _overtaken(ctx: ServiceContext, entry: JournalEntry) -> RecoveryReport | None:
    """For a restore of a shared environment: leave the folder alone when another
    workstation restored it since this one claimed its generation (it took the lock over
    after this one's lease lapsed). None when no other did, and recovery goes on as usual.
    Listing the generations needs the bucket's credentials, not the store's passphrase."""
    from envops_desktop.service.shared_store import load_settings, objects_of
    from envops_desktop.service.team_locks import generation_number, later_generations
    from envops_desktop.store.bucket_objects import StoreUnreachableError

    settings = load_settings(ctx.data_dir)
    if settings is None:  # the store was let go of: the folder is this workstation's alone
        return None
    assert entry.generation is not None
    try:
        later = later_generations(objects_of(settings), entry.generation)
    except StoreUnreachableError as error:
        # Without knowing, rolling either way might undo a newer restore: wait for the store.
        return RecoveryReport(
            environment_name=entry.environment_name,
            rolled_forward=False,
            detail=(
                f"the interrupted restore of {entry.environment_name} waits for the shared "
                f"store, which could not be reached ({error}); EnvOps will try again at the "
                "next start"
            ),
        )
    if not later:
        return None
    for leftover in (entry.staging, entry.previous, entry.discard):
        remove_tree(Path(leftover))  # this restore's own scratch, never the live folder
    subject = entry.subject or "the restore"
    detail = (
        f"{subject} was interrupted at '{entry.phase.value}' and left alone: another "
        f"workstation took the lock over and restored {entry.environment_name} since "
        f"(generation {generation_number(later[-1])} in the shared store), "
        "and rolling back or forward would have undone its restore"
    )
    return _cleared(ctx, entry, EnvironmentStatus.READY, detail)
