"""The restore engine: stage, verify, swap atomically, run the post-restore command, or undo.

Every step is journaled before it happens, so that a crash at any instant can be rolled back
(or forward) at the next start: see `recovery.py` and `swap.py`. The restored files reach
the disk after the swap, while the previous configuration is still kept: `flushing.py`.
"""

import contextlib
import functools
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus, JournalPhase, Outcome
from envops_desktop.domain.errors import (
    A_BACKUP,
    EnvOpsError,
    InvalidConfigurationFileError,
    NotFoundError,
    OperationCancelledError,
    OperationFailedError,
    VersionMismatchError,
)
from envops_desktop.domain.excludes import Excludes, LeftAsTheyAre
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import (
    Backup,
    Environment,
    RestoreCommand,
    TreeEntry,
    bytes_written,
)
from envops_desktop.domain.paths import shown
from envops_desktop.domain.progress import CancelToken, Progress, ProgressCallback, ProgressMeter
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.crash_points import crash_point
from envops_desktop.service.file_flags import unmovable_inside
from envops_desktop.service.flushing import (
    can_settle_later,
    current_boot_id,
    settle,
)
from envops_desktop.service.folder_reach import is_link
from envops_desktop.service.left_alone import (
    carry_over,
    carry_what_came_since,
    keep_folders_holding,
    keep_links_to_what_stays,
    make_folders_holding,
)
from envops_desktop.service.materialize import materialize_backup
from envops_desktop.service.mounts import is_mount_point, mounts_inside
from envops_desktop.service.parallel import Background, start_helpers_early, workload
from envops_desktop.service.restore_commands import (
    AGAIN_AFTER_ROLLBACK,
    command_output,
    run_restore_command,
)
from envops_desktop.service.scanning import environment_folder
from envops_desktop.service.swap import roll_back, sibling_paths, swap_in
from envops_desktop.service.versions import current_version
from envops_desktop.store.file_metadata import (
    OWN_STORE,
    EntryMeta,
    apply_metadata,
    keeps_its_owner,
    owner_not_kept,
    owners_can_be_set,
    to_apply,
)
from envops_desktop.store.journal_records import JournalEntry

if TYPE_CHECKING:  # pydantic, which the command line loads only where it reads a file
    from envops_desktop.domain.configuration import ManifestEntry
    from envops_desktop.service.team_locks import TeamLock

_SPACE_MARGIN = 16 << 20

# Writes the tree a restore puts in place at a path that must not exist yet, verifying every
# byte, reporting to the meter, and flushing what it writes as it goes when told to.
TreeWriter = Callable[[Path, ProgressMeter, CancelToken, bool], None]


@dataclass(frozen=True)
class SpaceNeeded:
    """The room a restore's new tree takes: at most `at_most` bytes (its files' sizes, all a
    backup's record holds), and exactly what `exactly` works out from its list of files,
    asked only when that much is not free. A sparse file's holes take none (a 200 GiB VM
    image may hold 2 GiB of data), nor do a hardlink's other names."""

    at_most: int
    exactly: Callable[[], int] | None = None

    @classmethod
    def of_backup(cls, ctx: ServiceContext, backup: Backup) -> "SpaceNeeded":
        """The room a restore of `backup` takes, its list of files read only if need be."""
        return cls(
            backup.total_bytes, lambda: sum(map(bytes_written, ctx.backups.entries(backup.id)))
        )

    def within(self, free: int) -> int:
        """The bytes needed, worked out exactly only when `free` bytes may not be enough."""
        if free >= self.at_most or self.exactly is None:
            return self.at_most
        return self._exact

    @functools.cached_property
    def _exact(self) -> int:
        # Once: a restore checks its room at once and again under the lock, and a backup's
        # list of files of 200,000 entries takes half a second to read.
        assert self.exactly is not None
        return self.exactly()


def check_restorable(
    env: Environment,
    version: str | None,
    needed: SpaceNeeded,
    subject: str = A_BACKUP,
    look_inside: bool = True,
) -> None:
    """Refuse, before anything changes, a restore (of a `subject`, of `version`: None while
    the user has not said it) that cannot be done safely. `look_inside` also reads the
    flags of everything in the folder (a system call a path), which a caller about to
    check again under the lock leaves to that check."""
    environment_version = current_version(env)
    if version is not None and version != environment_version:
        raise VersionMismatchError(env.name, environment_version, version, subject)
    check_folder_swappable(env)
    check_free_space(Path(env.path), needed)
    if look_inside:
        _check_nothing_unmovable(env)


def check_folder_swappable(env: Environment) -> None:
    """Refuse a restore into `env`'s folder that the swap could not do, whatever it
    restores: a folder that is a link, missing, a mount point or holding one, or in a
    folder nothing can be made in."""
    target = Path(env.path)
    try:
        linked = is_link(target)
    except OperationFailedError as error:
        raise OperationFailedError(f"{error} Nothing was changed.") from error
    if linked:
        # Registered through a link before paths were resolved: the swap would replace the
        # link with a folder and leave the real configuration as it was.
        raise OperationFailedError(
            f"{target} is a link to {os.path.realpath(target)}; register that folder as the "
            "environment instead. Nothing was changed."
        )
    try:
        environment_folder(env)
    except NotFoundError as missing:
        # Not made here: a path whose disk is not mounted yet would be filled on the disk
        # below it, and hidden again once the disk is mounted.
        raise NotFoundError(
            f"{missing} A restore writes into an existing folder: if it was deleted, make an "
            f"empty one there (mkdir {target}) and restore again; if its disk is not "
            "mounted, mount it first. Nothing was changed."
        ) from missing
    mounted = mounts_inside(target)
    if mounted:
        raise OperationFailedError(
            f"{mounted[0]} is a filesystem mounted inside {env.name}; a restore would have to "
            "move it aside with the old configuration, so it is refused. Unmount it, or "
            "register a folder that holds no mount. Nothing was changed."
        )
    # The swap renames the directory; a mount point cannot be renamed, and replacing its
    # contents file by file could not keep the all-or-nothing promise, so refuse it.
    if is_mount_point(target):
        raise OperationFailedError(
            f"{target} is a mount point, so its configuration cannot be swapped atomically; "
            "register a folder inside it as the environment instead."
        )
    parent = target.parent
    if (why := why_nothing_can_be_made_in(parent)) is not None:
        raise OperationFailedError(
            f"Cannot write in {parent}, the folder that holds {target.name} ({why}); "
            "a restore needs it to swap the configuration in atomically. Nothing was changed."
        )


def check_free_space(target: Path, needed: SpaceNeeded) -> None:
    """Refuse a restore whose new tree, written beside `target`, would not fit there."""
    usage = shutil.disk_usage(target.parent)
    free = usage.free
    # A filesystem of no fixed size (ramfs, some FUSE ones) says it has 0 bytes in all.
    if not usage.total:
        return
    needed_bytes = needed.within(max(free - _SPACE_MARGIN, 0))
    if free < needed_bytes + _SPACE_MARGIN:
        raise OperationFailedError(
            f"Not enough free disk space beside {target}: the restore needs "
            f"{_mib(needed_bytes + _SPACE_MARGIN)} MiB ({_mib(needed_bytes)} MiB of files and "
            f"{_mib(_SPACE_MARGIN)} MiB to spare) and {_mib(free)} MiB are free."
        )


def _check_nothing_unmovable(env: Environment) -> None:
    """Refuse a restore of `env` whose folder holds an immutable or append-only path, which
    it would replace with a copy without that protection and could never remove."""
    found = unmovable_inside(Path(env.path))
    if found is not None:
        raise OperationFailedError(
            f"{shown(str(found.path))} is {found.flag} (chattr +{found.option}): a restore "
            "would put a copy that is not in its place, and could never remove it. Clear the "
            f"flag first (chattr -{found.option}) if the restore should replace it. Nothing "
            "was changed."
        )


def why_nothing_can_be_made_in(folder: Path) -> str | None:
    """Why no folder can be made in `folder` ("Read-only file system"), or None if one can.

    Tried rather than asked of os.access: root passes access checks on read-only mounts and
    immutable folders, where the swap would still fail halfway through; and a disk that is
    read-only, or no disk at all (/proc), was said to have too little free space."""
    probe = folder / f".envops-probe-{new_id()}"
    try:
        probe.mkdir()
    except OSError as error:
        return error.strerror or str(error)
    probe.rmdir()
    return None


def _mib(nbytes: int) -> int:
    return -(-nbytes // (1 << 20))


def _starting_beside(
    report: "bytearray | Background[bytearray] | None", progress: ProgressCallback
) -> ProgressCallback:
    """`progress`, which also starts working out `report` once the first files are written:
    until then this process prepares the writing (which files, in what order, from where),
    and the report, sharing its interpreter, held that up by as long as it took (0.2 s of a
    restore of 20,000 files from the team's store)."""
    if not isinstance(report, Background):
        return progress
    started = report

    def forward(said: Progress) -> None:
        if said.done:
            started.start()
        progress(said)

    return forward


def restore_locked(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    action: ActivityAction,
    progress: ProgressCallback,
    cancel: CancelToken,
    settle_later: bool = False,
    write_tree: TreeWriter | None = None,
    subject: str | None = None,
    caveats: list[str] | None = None,
    team: "TeamLock | None" = None,
    only: list[str] | None = None,
    report: "bytearray | Background[bytearray] | None" = None,
    back_up_first: Callable[[], None] | None = None,
) -> tuple[Environment, JournalEntry | None]:
    """Replace `env`'s configuration with `backup` (the caller holds the environment's lock,
    and has put right what its earlier restores left: `put_right_earlier_restores`).

    The new tree is written from the store, or by `write_tree` (from the team's store as
    it is fetched; or an import in one pass, whose refusal of its file puts everything back
    as it was, with no trace). Returns the
    refreshed environment and, with `settle_later`, the journal entry still to be settled
    (`flushing.settle`) when the restore may be reported before it is on disk. `team`, the
    environment's lock in a shared store, is checked before the swap and before the
    journal's commit, and stops the restore there if it was lost; the generation the
    restore claims there before its swap is journaled.
    `report`, what it changes as `TreeChanges` JSON (worked out by the caller before
    anything changed, or to be worked out beside the writing: started once the first files
    are written, or after the pre-restore command when there is one; waited for before
    anything in the folder moves), is kept with its activity entry. `back_up_first` backs
    the folder up once the new tree is written and the pre-restore command has run, just
    before the swap: the backup then holds the folder as the restore replaces it, with what
    a service stopped by that command wrote on its way down, and what was written meanwhile.
    """
    fence = team.check if team is not None else _nothing
    start_helpers_early(workload(backup.total_bytes, backup.file_count))
    target = Path(env.path)
    operation_id = new_id()
    staging, previous, discard = sibling_paths(target, operation_id)
    entry = JournalEntry(
        id=operation_id,
        environment_id=env.id,
        environment_name=env.name,
        backup_id=backup.id,
        action=action.value,
        phase=JournalPhase.STAGING,
        target=str(target),
        staging=str(staging),
        previous=str(previous),
        discard=str(discard),
        prior_status=env.status,
        has_post_restore=env.post_restore_command is not None,
        subject=subject or f"the restore of {backup.name} ({backup.version})",
    )
    # Settled later, nothing waits for the disk here, and flushing while writing only slowed
    # the writing (5.2 s against 3.4 s for 1 GiB).
    settle_later = settle_later and can_settle_later(entry)
    started = time.monotonic()
    if caveats is None:
        caveats = restore_caveats(ctx, backup) if write_tree is None else []
    ctx.journal.begin(entry)
    touched = False  # whether the environment's folder was ever moved
    disturbed: str | None = None  # the last command that had run: what it did to a service
    try:
        crash_point("staging")
        # With a pre-restore command, the report waits for it (`carry_out`): what it leaves
        # in the folder (a state file saved as its service stops) is replaced too.
        beside = report if env.pre_restore_command is None else None
        meter = ProgressMeter(_starting_beside(beside, progress), "restoring", backup.total_bytes)
        (write_tree or from_store(ctx, backup))(staging, meter, cancel, not settle_later)
        cancel.raise_if_cancelled()
        if env.pre_restore_command is not None:
            # Late, so that what it stops stays stopped the shortest time; before the carry,
            # so that what it leaves in the paths a restore leaves alone (a rotated log, a
            # state file saved on the way down) is what the new tree holds.
            _run_command(
                ctx, entry, env.pre_restore_command, target, progress, cancel, "pre-restore"
            )
            disturbed = "pre-restore"
        if back_up_first is not None:
            back_up_first()
            cancel.raise_if_cancelled()  # the last moment a cancel leaves the folder as it is
        if isinstance(report, Background):
            report = report.result()
        left = LeftAsTheyAre(Excludes(env.excludes), only)
        if only is not None:
            make_folders_holding(target, staging, left)
        carried = carry_over(target, staging, left)
        keep_links_to_what_stays(target, staging, left, carried.shared)
        if only is None:
            apply_root_metadata(staging, target, backup)
        else:
            keep_folders_holding(target, staging, left)
        crash_point("staged")
        entry = replace(
            entry,
            staged_inode=os.lstat(staging).st_ino,
            generation=team.claim_generation(entry.id) if team is not None else None,
        )
        ctx.journal.begin_swap(entry.id, entry.staged_inode, entry.generation)
        crash_point("swapping")
        fence()
        touched = True
        swap_in(entry)
        crash_point("swapped")
        carry_what_came_since(Path(entry.previous), target, left)
        ctx.journal.set_phase(entry.id, JournalPhase.APPLIED)
        crash_point("applied")
        if env.post_restore_command is not None:
            disturbed = "post-restore"
            _run_command(
                ctx, entry, env.post_restore_command, target, progress, cancel, "post-restore"
            )
        crash_point("post-restore")
        seconds = time.monotonic() - started
        restored = f"{backup.name} ({backup.version}){_of_another(ctx, env, backup)}"
        notes = [f"{restored} restored in {seconds:.1f} s"]
        if only is not None:
            notes.append("partial: only " + _some(only))
        notes += [caveat.rstrip(".") for caveat in caveats]
        if carried.lost:
            notes.append(f"left alone but removed with their folders: {_some(carried.lost)}")
        if excluded := Excludes(env.excludes).in_effect:
            notes.append("left as they were: " + ", ".join(excluded))
        fence()
        # Recorded or rolled back: a restore the database cannot record is not reported done.
        complete_restore(ctx, entry, backup, action, Outcome.SUCCESS, "; ".join(notes), report)
    except BaseException as error:
        started = _undo(ctx, env, backup, entry, action, error, touched, disturbed, progress)
        if isinstance(error, InvalidConfigurationFileError):
            raise  # its one sentence says it all, and nothing was changed
        raise _user_error(env, error, touched, started) from error
    crash_point("flushing")
    unsettled = None
    if settle_later:
        unsettled = entry
    else:
        # Recorded as done and in place; should the journal's last line not be written, the
        # next start finishes it (the restore stands either way).
        with contextlib.suppress(sqlite3.Error):
            settle(ctx, entry)
    refreshed = ctx.environments.by_id(env.id)
    assert refreshed is not None
    return refreshed, unsettled


# How many paths a caveat names before it says "and N more".
_NAMED = 5


def _nothing() -> None:
    pass


def _run_command(
    ctx: ServiceContext,
    entry: JournalEntry,
    command: RestoreCommand,
    folder: Path,
    progress: ProgressCallback,
    cancel: CancelToken,
    name: str,
) -> None:
    """Run the environment's `name` command in its folder, journaled so that a restart ends
    it if this process dies; its failure fails the restore."""
    progress(Progress(f"running the {name} command", 0, 0))
    failure = run_restore_command(
        command,
        folder,
        cancel,
        command_output(ctx.data_dir, entry.environment_id, name),
        lambda handle: ctx.journal.set_post_restore_process(entry.id, handle),
        name,
    )
    if failure is not None:
        raise OperationFailedError(str(failure))


def _of_another(ctx: ServiceContext, env: Environment, backup: Backup) -> str:
    """ " of SOURCE" for a backup of another environment restored into `env`."""
    if backup.environment_id == env.id:
        return ""
    source = ctx.environments.by_id(backup.environment_id)
    return f" of {source.name if source else 'another environment'}"


def _some(paths: list[str]) -> str:
    named = ", ".join(paths[:_NAMED])
    return named if len(paths) <= _NAMED else f"{named} and {len(paths) - _NAMED} more"


def restore_caveats(ctx: ServiceContext, backup: Backup) -> list[str]:
    """What restoring `backup` will not bring back exactly, as sentences for the user to read
    before the restore starts (and for its activity entry)."""
    caveats = []
    if backup.changed_while_read:
        caveats.append(
            f"{_some(backup.changed_while_read)} kept changing while {backup.name} was made; "
            "the backup holds them as they were last read, which may mix old and new parts."
        )
    owners = owners_caveat(lambda: ctx.backups.entries(backup.id), backup.root_meta)
    return caveats + ([owners] if owners else [])


def owners_caveat(
    entries: Callable[[], Iterable["TreeEntry | ManifestEntry"]], root_meta: EntryMeta | None
) -> str | None:
    """The sentence naming the entries a restore by this process will give to the user
    rather than to their recorded owners, which it may not give files to; None if none."""
    if owners_can_be_set():  # as root: no pass over the manifest on every restore
        return None
    other_owners = [e.path for e in entries() if owner_not_kept(e.meta)]
    if not other_owners and not owner_not_kept(root_meta):
        return None
    return (
        f"EnvOps may not give files to other users here (run it as root to), so "
        f"{_some(other_owners or ['the environment folder'])} will belong to you instead "
        "of their recorded owners."
    )


def from_store(ctx: ServiceContext, backup: Backup) -> TreeWriter:
    """The tree writer of a restore of `backup` from the store here."""

    def write(staging: Path, meter: ProgressMeter, cancel: CancelToken, flush: bool) -> None:
        with ctx.locks.blobs_in_use():  # no deletion frees or moves a blob while it is read
            materialize_backup(
                ctx.blobs,
                functools.partial(ctx.backups.entries, backup.id),
                workload(backup.total_bytes, backup.file_count),
                staging,
                meter,
                cancel,
                flush_meanwhile=flush,
            )

    return write


def apply_root_metadata(staging: Path, target: Path, backup: Backup) -> None:
    """Give the new tree's folder the mode, owner and times `backup` recorded for its own;
    what it did not record, `target` (the folder it replaces) gives."""
    live = target.stat()
    recorded = backup.root_mode if backup.root_mode is not None else stat.S_IMODE(live.st_mode)
    meta = backup.root_meta
    if keeps_its_owner(meta, OWN_STORE):  # a record with xattrs but no owner made it yours
        meta = {**(meta or {}), "uid": live.st_uid, "gid": live.st_gid}
    mode, applied = to_apply(meta, recorded, OWN_STORE)
    # A zip lists no entry for its folder itself: unrecorded, its time stays as it is too.
    mtime_ns = live.st_mtime_ns if backup.root_mtime_ns is None else backup.root_mtime_ns
    apply_metadata(str(staging), applied, mode, mtime_ns)


def complete_restore(
    ctx: ServiceContext,
    entry: JournalEntry,
    backup: Backup,
    action: ActivityAction,
    outcome: Outcome,
    detail: str,
    report: bytes | None = None,
) -> None:
    """Record a restore whose new configuration is in place, with `report` (what it
    changed) if there is one; it is still to be settled."""
    env = ctx.environments.by_id(entry.environment_id)
    assert env is not None
    try:
        version = current_version(env)
    except EnvOpsError:
        version = backup.version
    with ctx.db.transaction():
        ctx.journal.set_phase(entry.id, JournalPhase.FLUSHING, current_boot_id())
        ctx.environments.update(
            env.id,
            status=EnvironmentStatus.READY.value,
            version=version,
            last_restored_backup_id=backup.id,
        )
        activity_id = ctx.record(env, action, outcome, detail)
        if report is not None:
            ctx.activity.attach_report(activity_id, report)


def _undo(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    entry: JournalEntry,
    action: ActivityAction,
    error: BaseException,
    touched: bool,
    disturbed: str | None,
    progress: ProgressCallback,
) -> str:
    """Put the folder back and record the failure; returns what was done to start again
    what the restore's commands had stopped (`_start_again`)."""
    # The data disk may be full. The journal then keeps its earlier phase, from which the
    # next start rolls back too: putting the files back needs no room in the database.
    with contextlib.suppress(sqlite3.Error):
        ctx.journal.set_phase(entry.id, JournalPhase.ROLLING_BACK)
    try:
        roll_back(entry)
    except OSError as rollback_error:
        # The journal stays at "rolling back", so the next start finishes the job.
        raise OperationFailedError(
            f"The restore failed ({_reason(error)}) and putting the previous configuration back "
            f"failed too ({_reason(rollback_error)}); EnvOps will finish that when it next starts."
        ) from error
    cancelled = isinstance(error, OperationCancelledError | KeyboardInterrupt)
    failed = ActivityAction.RESTORE_CANCELLED if cancelled else ActivityAction.RESTORE_FAILED
    # A configuration file refused while it was read changes nothing, as when it is staged.
    refused = isinstance(error, InvalidConfigurationFileError)
    status = env.status if cancelled or refused else EnvironmentStatus.UPDATE_FAILED
    outcome = Outcome.CANCELLED if cancelled else Outcome.FAILURE
    reason = "cancelled by the user" if cancelled else _reason(error)
    if cancelled and disturbed == "post-restore":  # the user stopped it: not run again unasked
        started = "its post-restore command, stopped before it ended, was not run again"
    else:
        started = _start_again(ctx, env, entry, disturbed, progress)
    try:
        with ctx.db.transaction():
            ctx.environments.update(env.id, status=status.value)
            if not refused:
                ctx.record(
                    env,
                    failed,
                    outcome,
                    f"{action.value} from {backup.name} ({backup.version}): {reason}; "
                    + _aftermath(touched, started=started),
                )
            ctx.journal.remove(entry.id)
    except sqlite3.Error as record_error:
        raise OperationFailedError(
            f"{_sentence(reason)}; {_aftermath(touched, env.name, started)}. EnvOps could "
            f"not record that ({_reason(record_error)}) and will when it next starts."
        ) from error
    return started


def _start_again(
    ctx: ServiceContext,
    env: Environment,
    entry: JournalEntry,
    disturbed: str | None,
    progress: ProgressCallback,
) -> str:
    """With the folder put back, run the post-restore command on it once more if the
    restore had stopped a service (its pre-restore command had run) or restarted it on the
    new configuration (its post-restore command had run): a failed restore starts the
    service again on the configuration it had. What was done, as a clause for the
    failure's sentences; "" if there was nothing to start again."""
    if disturbed is None:
        return ""
    command = env.post_restore_command
    if command is None:
        return (
            "what the pre-restore command stopped was not started again: "
            "there is no post-restore command"
        )
    to_do = (
        "to start again what the pre-restore command stopped"
        if disturbed == "pre-restore"
        else "again on it"
    )

    progress(Progress("running the post-restore command on the configuration put back", 0, 0))

    def journaled(handle: str) -> None:
        # Ended at the next start if this process dies; unjournaled if the data disk is full.
        with contextlib.suppress(sqlite3.Error):
            ctx.journal.set_post_restore_process(entry.id, handle)

    failure = run_restore_command(
        command,
        Path(env.path),
        # The restore's own token may be cancelled already (after the pre-restore command):
        # the service is started again all the same, within the command's timeout.
        CancelToken(),
        command_output(ctx.data_dir, env.id, AGAIN_AFTER_ROLLBACK),
        journaled,
        "post-restore",
    )
    if failure is None:
        return f"its post-restore command was run {to_do}"
    return f"its post-restore command was run {to_do}, and {failure.what}"


def _reason(error: BaseException) -> str:
    if isinstance(error, EnvOpsError):
        return str(error).rstrip(".")
    if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
        return "the disk that holds EnvOps's data is full"
    if isinstance(error, OSError):
        return f"{error.strerror or error} ({error.filename or 'no file'})"
    return f"unexpected error: {error!r}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _aftermath(touched: bool, env_name: str = "", started: str = "") -> str:
    """What a failed restore left, said truly: nothing is "back in place" that never moved;
    and what was done to start again what its commands had stopped (`_start_again`)."""
    of = f" of {env_name}" if env_name else ""
    left = (
        f"the previous configuration{of} is back in place"
        if touched
        else f"the configuration{of} was not changed"
    )
    return f"{left}; {started}" if started else left


def _user_error(
    env: Environment, error: BaseException, touched: bool, started: str
) -> BaseException:
    if isinstance(error, OperationCancelledError | KeyboardInterrupt):
        also = f"; {started}" if started else ""
        return OperationCancelledError(
            f"The restore was cancelled; {env.name} is exactly as it was{also}."
        )
    if isinstance(error, Exception):
        return OperationFailedError(
            f"{_reason(error)}. {_sentence(_aftermath(touched, env.name, started))}."
        )
    return error
