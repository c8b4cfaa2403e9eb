"""The controller behind the main window: models, operations, notifications, live refresh."""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from envops_desktop.controller.action_rules import Needs, why_unavailable
from envops_desktop.controller.activity_model import ActivityTableModel
from envops_desktop.controller.backups_model import BackupsTableModel
from envops_desktop.controller.dialog_work import DialogWork
from envops_desktop.controller.drift_watch import DriftWatch
from envops_desktop.controller.environments_model import EnvironmentsTableModel
from envops_desktop.controller.garbage_collection import (
    collect_on_this_thread_only,
    let_any_thread_collect,
)
from envops_desktop.controller.notifications import Notification
from envops_desktop.controller.operation_runner import (
    OperationRunner,
    RunningOperation,
    assert_gui_thread,
    once_drawn,
    reads_grace_ends,
)
from envops_desktop.controller.schedule_work import ScheduleWork
from envops_desktop.controller.store_work import StoreWork
from envops_desktop.controller.version_reads import VersionReads
from envops_desktop.domain.changes import TreeChanges
from envops_desktop.domain.enums import EnvironmentStatus
from envops_desktop.domain.errors import (
    EnvOpsError,
    NotFoundError,
    PreviewOutOfDateError,
    VersionMismatchError,
)
from envops_desktop.domain.excludes import Excludes
from envops_desktop.domain.models import Backup, Environment, RecoveryReport, RestoreCommand
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.service import EnvOpsService
from envops_desktop.service.configuration_files import (
    StagedConfiguration,
)
from envops_desktop.service.parallel import helpers_yield
from envops_desktop.workers.operation_worker import Operation

if TYPE_CHECKING:
    from envops_desktop.service.schedules import ScheduledRun

POLL_MS = 1000
# How often the app looks for a scheduled backup that has come due.
SCHEDULE_CHECK_MS = 30_000
# A run of scheduled backups that has said nothing for this long is taken to be held (its
# environment's network disk stopped answering halfway through, say), and no longer keeps
# the next check from starting another run. That one takes what is due of the other
# environments; the one held keeps its own locked, and each slot is taken once whatever
# runs it. Held, one run kept every other environment's scheduled backups from being
# taken until the disk answered, or the app was restarted.
SCHEDULED_RUN_QUIET_S = 120.0


@dataclass(frozen=True)
class AddedEnvironment:
    """An environment just added, and why restores into it would be refused (None: they
    would not be)."""

    environment: Environment
    restore_obstacle: str | None


class MainController(QObject):
    """Owns the table models and every long operation; the window only shows and asks.

    Model updates happen only in this object's slots, which run on the GUI thread; workers
    report through `RunningOperation`, whose signals Qt queues onto that thread.
    """

    notify = Signal(str, str)  # kind, text
    version_mismatch = Signal(object)  # VersionMismatchError found once the restore began
    selection_changed = Signal()  # the selected environment or its details changed
    operations_changed = Signal()
    scheduled_backups_done = Signal(list)  # the ScheduledRuns of one look at the schedules
    # A backup, restore, import or sync ended: its kind (Notification), what to say, its
    # environment's id ("" if none) and how many seconds it took. The desktop notifier
    # tells the user when the window is not in front.
    operation_ended = Signal(str, str, str, float)

    def __init__(self, service: EnvOpsService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        # Threads an operation started may outlive it (a report given up on): from now on
        # only this thread frees what holds Qt objects, whichever thread runs Python.
        collect_on_this_thread_only()
        helpers_yield(True)  # their work must not keep this thread from a core
        self._collecting_here = True
        self.runner = OperationRunner(self, service.explain)
        self.runner.changed.connect(self._on_operations_changed)
        self.environments_model = EnvironmentsTableModel(self)
        self.backups_model = BackupsTableModel(self._read_backups, self)
        self.backups_model.read_in.connect(self.selection_changed)
        # What the dialogs work out before the user says go.
        self.dialog_work = DialogWork(service, self.runner, self)
        # Schedules and retention, for their dialogs.
        self.schedule_work = ScheduleWork(service, self._run, self)
        self.schedule_work.notify.connect(self.notify)
        self.schedule_work.changed.connect(self.refresh)
        # Verify store, Repair, and the team's store.
        self.store_work = StoreWork(service, self.runner, self._run, self.environments_model, self)
        self.activity_model = ActivityTableModel(
            service.query_activity, service.activity_since, service.activity_position, self
        )
        self._selected_id: str | None = None
        self._showing_deleted = False
        self._restoring: set[str] = set()
        self._last_change = -1
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.refresh_if_changed)
        # The runs taking scheduled backups: one at a time, unless the last has gone quiet.
        self._scheduled: list[RunningOperation] = []
        self._stopped = True  # until `start`, and again from `stop`
        self._schedules = QTimer(self)
        self._schedules.setInterval(SCHEDULE_CHECK_MS)
        self._schedules.timeout.connect(self.take_due_backups)
        self.drift = DriftWatch(service, self)
        self._versions = VersionReads(service, self)
        self.drift.changed.connect(self._show_drift)
        self.operation_ended.connect(self._check_drift_after)

    # Loading and live refresh ----------------------------------------------------------------

    def start(self) -> None:
        """Load everything and begin watching for changes made by other processes; put right
        the restores a crash interrupted, then begin taking scheduled backups."""
        self._stopped = False
        self.refresh()  # also loads the first page of the activity log
        self._poll.start()
        if self.service.has_interrupted_operations():
            doing = self.tr("Putting right an interrupted restore")
        elif self.service.may_have_leftovers():
            doing = self.tr("Clearing what an interrupted operation left")
        else:
            self._recovered(self.service.recover_interrupted_operations())  # nothing to wait for
            return
        # On a worker, the window open meanwhile: rolling back a restore of 100,000 files
        # takes seconds, and so does removing the hidden tree of a killed restore to a
        # folder; the look at a folder whose disk hangs up to `ANSWER_SECONDS`. Nothing
        # showed meanwhile. An environment being put right says "Updating" until it is done.
        running = self.runner.prepare(
            doing,
            None,
            lambda _progress, _cancel: self.service.recover_interrupted_operations(),
            cancellable=False,  # a roll-back half done would be put right at the next start
        )
        running.succeeded.connect(self._recovered)
        running.failed.connect(lambda message, _error: self._recovered([], message))
        self.runner.launch(running)

    def _recovered(self, reports: list[RecoveryReport], error: str = "") -> None:
        """Say what putting right interrupted restores did, then take scheduled backups:
        none of an environment before its interrupted restore is put right."""
        if self._stopped:  # the window closed meanwhile: it waited for this, and nothing more
            return
        self.refresh()
        if error:
            self.notify.emit(Notification.ERROR, error)
        for report in reports:
            self.notify.emit(
                Notification.SUCCESS if report.rolled_forward else Notification.INFO,
                self.tr("Recovered {env} after an interruption: {what}.").format(
                    env=report.environment_name, what=report.detail
                ),
            )
        self._schedules.start()
        # What came due while the app was closed is taken once, as soon as it shows.
        QTimer.singleShot(0, self.take_due_backups)

    def stop(self) -> None:
        self._stopped = True
        self._poll.stop()
        self._schedules.stop()

    def refresh_if_changed(self) -> None:
        counter = self.service.change_counter()
        if counter != self._last_change:
            self.refresh()

    def refresh(self) -> None:
        assert_gui_thread()
        self._last_change = self.service.change_counter()
        environments = [
            replace(self._with_local_status(e), modified_since_backup=self.drift.state(e.id))
            for e in self.service.list_environments()
        ]
        self.environments_model.set_records(environments)
        if any(e.version_file for e in environments):
            self._versions.read()
        self.drift.watch(environments)
        ids = {e.id for e in environments}
        if self._selected_id not in ids:
            self._selected_id = None
        self.backups_model.show(self._selected_id, self._showing_deleted)
        self.activity_model.fetch_newer()
        self.selection_changed.emit()

    def _show_drift(self, environment_id: str) -> None:
        # Only the badge changes: refreshed whole, each answer read every backup again.
        environments = [
            replace(e, modified_since_backup=self.drift.state(e.id))
            if e.id == environment_id
            else e
            for e in self.environments_model.records()
        ]
        self.environments_model.set_records(environments)
        self.selection_changed.emit()

    def _with_local_status(self, environment: Environment) -> Environment:
        # A restore started here shows `Updating` at once, before its worker has written it.
        if environment.id in self._restoring and environment.status is not (
            EnvironmentStatus.UPDATING
        ):
            return replace(environment, status=EnvironmentStatus.UPDATING)
        return environment

    def _check_drift_after(self, _kind: str, _text: str, environment_id: str, _s: float) -> None:
        # A backup or restore changes what the folder is compared with, or the folder.
        row = self.environments_model.row_of(environment_id) if environment_id else None
        if row is not None:
            self.drift.check_anew(self.environments_model.record(row))

    def filter_activity(self, environment_id: str | None) -> None:
        """Show the log of one environment, or of all with None."""
        self.activity_model.set_environment(environment_id)

    # Selection -------------------------------------------------------------------------------

    def select_environment(self, environment_id: str | None) -> None:
        if environment_id == self._selected_id:
            return
        self._selected_id = environment_id
        self.backups_model.show(environment_id, self._showing_deleted)
        if self.selected_environment is not None:
            self.drift.check(self.selected_environment)
        self.selection_changed.emit()

    def _read_backups(self, environment_id: str, deleted: bool) -> list[Backup]:
        """On a worker: the rows of the backups table."""
        try:
            if deleted:
                return self.service.deleted_backups(environment_id)
            return self.service.list_backups(environment_id)
        except NotFoundError:  # removed meanwhile, by another process: so are its rows
            return []

    @property
    def selected_environment(self) -> Environment | None:
        if self._selected_id is None:
            return None
        row = self.environments_model.row_of(self._selected_id)
        return None if row is None else self.environments_model.record(row)

    def why_unavailable(self, needs: Needs, backup: Backup | None = None) -> str | None:
        """None when an action with `needs` can run on the selection now, else why not."""
        env = self.selected_environment
        busy = env is not None and self.environment_busy(env)
        return why_unavailable(needs, env, busy, backup)

    def environment_busy(self, environment: Environment) -> bool:
        return (
            environment.status is EnvironmentStatus.UPDATING
            or environment.id in self.runner.busy_environment_ids()
        )

    # Quick changes (SQLite only) -------------------------------------------------------------

    def add_environment(
        self,
        name: str,
        path: Path,
        version: str | None,
        version_file: str | None,
        post_restore_command: RestoreCommand | None,
        pre_restore_command: RestoreCommand | None = None,
    ) -> RunningOperation:
        """Prepare registering an environment on a worker, where its folder is looked at:
        one on a network disk that stopped answering holds the worker, not the window. It
        fails with a sentence for the dialog; cancelled, it records nothing. The dialog
        connects, then launches it (`runner.launch`); its result is an `AddedEnvironment`."""

        def operation(_progress: ProgressCallback, cancel: CancelToken) -> AddedEnvironment:
            env = self.service.add_environment(
                name,
                path,
                version,
                version_file,
                post_restore_command,
                pre_restore_command,
                cancel=cancel,
            )
            # Backups work; that restores would not is better known now than when needed.
            return AddedEnvironment(env, self.service.restore_obstacle(env.id))

        running = self.runner.prepare(
            self.tr("Adding {name}").format(name=name), None, operation, let_go_at_quit=True
        )
        running.succeeded.connect(self._added)
        return running

    def _added(self, added: AddedEnvironment) -> None:
        self.refresh()
        said = self.tr("Added {name}.").format(name=added.environment.name)
        if added.restore_obstacle is None:
            self.notify.emit(Notification.SUCCESS, said)
        else:
            self.notify.emit(
                Notification.INFO,
                self.tr("{added} Restores into it will be refused: {obstacle}").format(
                    added=said, obstacle=added.restore_obstacle
                ),
            )

    def update_environment_version(self, environment_id: str, version: str) -> Environment:
        env = self.service.update_environment_version(environment_id, version)
        self.refresh()
        self.notify.emit(
            Notification.SUCCESS,
            self.tr("{name} now runs version {version}.").format(name=env.name, version=version),
        )
        return env

    def set_excludes(self, environment_id: str, patterns: list[str]) -> Environment:
        env = self.service.set_excludes(environment_id, patterns)
        self.refresh()
        self.notify.emit(
            Notification.SUCCESS,
            self.tr("{name} excludes {patterns}.").format(
                name=env.name,
                patterns=", ".join(Excludes(env.excludes).in_effect) or self.tr("nothing"),
            ),
        )
        return env

    def allow_links_out(self, environment_id: str, allowed: bool) -> Environment:
        env = self.service.allow_links_out(environment_id, allowed)
        self.refresh()
        said = (
            self.tr("{name} takes in teammates' backups with links leading out of it.")
            if allowed
            else self.tr("{name} refuses teammates' backups with links leading out of it.")
        )
        self.notify.emit(Notification.SUCCESS, said.format(name=env.name))
        return env

    def set_restore_command(
        self, environment_id: str, when: str, command: RestoreCommand | None
    ) -> Environment:
        """Set the environment's pre- or post-restore (`when`) command; None: none."""
        env = self.service.set_restore_command(environment_id, when, command)
        self.refresh()
        said = (
            self.tr("{name} runs {command} {when}-restore.")
            if command
            else self.tr("{name} runs no command {when}-restore.")
        )
        line = command.line if command else ""
        self.notify.emit(Notification.SUCCESS, said.format(name=env.name, command=line, when=when))
        return env

    def remove_environment(self, environment_id: str) -> RunningOperation:
        """Forget an environment and delete its backups, on a worker: freeing what only
        they held took 7.9 s for one backup of 200,000 files, and it may wait for another
        process's backup. It goes to its end once begun, so it is not cancellable."""
        env = self.service.get_environment(environment_id)
        return self._run(
            self.tr("Removing {env}").format(env=env.name),
            env,
            lambda progress, _cancel: self.service.remove_environment(env.id, progress),
            lambda _result: self.tr("Removed {env}; its folder {path} is left as it is.").format(
                env=env.name, path=env.path
            ),
            cancellable=False,
        )

    def toggle_pin(self, backup: Backup) -> None:
        """Pin a backup against retention, or unpin a pinned one."""
        pinned = self.service.pin_backup(backup.id, not backup.pinned)
        self.refresh()
        self.notify.emit(
            Notification.SUCCESS,
            (
                self.tr("{name} is kept whatever retention says.")
                if pinned.pinned
                else self.tr("{name} follows retention again.")
            ).format(name=pinned.name),
        )

    def _attempt(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except EnvOpsError as error:
            self.notify.emit(Notification.ERROR, str(error))
            return False
        return True

    # Scheduled backups ----------------------------------------------------------------------

    def take_due_backups(self) -> RunningOperation | None:
        """Take the scheduled backups that are due, on a worker (one look at a time). While
        one run goes on, no other starts, unless it has gone quiet (`SCHEDULED_RUN_QUIET_S`):
        then one does, for what came due of the other environments."""
        now = time.monotonic()
        if self._stopped or any(
            now - op.last_heard < SCHEDULED_RUN_QUIET_S for op in self._scheduled
        ):
            return None
        if not self.service.has_scheduled_work():
            return None
        running = self.runner.prepare(
            self.tr("Taking scheduled backups"),
            None,
            lambda progress, cancel: self.service.run_due_backups(progress, cancel),
        )
        self._scheduled.append(running)
        running.succeeded.connect(lambda runs: self._scheduled_backups_taken(running, runs))
        running.failed.connect(
            lambda message, _error: self._scheduled_backups_taken(running, [], message)
        )
        running.cancelled.connect(lambda _message: self._scheduled_backups_taken(running, []))
        self.runner.launch(running)
        return running

    def _scheduled_backups_taken(
        self, running: RunningOperation, runs: "list[ScheduledRun]", error: str = ""
    ) -> None:
        self._scheduled.remove(running)
        self.refresh()
        if error:
            self.notify.emit(Notification.ERROR, error)
        for run in runs:
            if run.outcome == "failed":
                self.notify.emit(
                    Notification.ERROR,
                    self.tr("The scheduled backup of {env} failed: {why}").format(
                        env=run.environment, why=run.detail
                    ),
                )
            elif run.outcome == "succeeded":
                self.notify.emit(
                    Notification.SUCCESS,
                    self.tr("Backed up {env} on schedule as {name}.").format(
                        env=run.environment, name=run.detail
                    ),
                )
        self.scheduled_backups_done.emit(runs)

    # Long operations (worker threads) --------------------------------------------------------

    def _run(
        self,
        label: str,
        environment: Environment | None,
        operation: Operation,
        success_text: Callable[[Any], str],
        success_kind: Callable[[Any], str] = lambda _result: Notification.SUCCESS,
        cancellable: bool = True,
    ) -> RunningOperation:
        environment_id = environment.id if environment else None
        running = self.runner.prepare(label, environment_id, operation, cancellable=cancellable)
        running.succeeded.connect(
            lambda result: self._ended(running, success_kind(result), success_text(result))
        )
        running.failed.connect(
            lambda message, _error: self._ended(running, Notification.ERROR, message)
        )
        running.cancelled.connect(lambda message: self._ended(running, Notification.INFO, message))
        self.runner.launch(running)
        return running

    def _ended(self, running: RunningOperation, kind: str, text: str) -> None:
        self.refresh()
        self.notify.emit(kind, text)
        self.operation_ended.emit(kind, text, running.environment_id or "", running.seconds())

    def create_backup(self, environment: Environment, name: str | None) -> RunningOperation:
        def operation(progress: ProgressCallback, cancel: CancelToken) -> Backup:
            return self.service.create_backup(
                environment.id, name or None, progress=progress, cancel=cancel
            )

        return self._run(
            self.tr("Backing up {name}").format(name=environment.name),
            environment,
            operation,
            lambda backup: self._backed_up(environment, backup),
        )

    def _backed_up(self, environment: Environment, backup: Backup) -> str:
        said = (
            self.tr("Backed up {env} as {backup} (1 file).")
            if backup.file_count == 1
            else self.tr("Backed up {env} as {backup} ({count} files).")
        ).format(env=environment.name, backup=backup.name, count=backup.file_count)
        if not backup.skipped:
            return said
        # Named one by one in the activity entry: a banner has room for a count.
        not_backed_up = self.tr("Not backed up: {count}, named in the Activity Log.")
        return f"{said} {not_backed_up.format(count=len(backup.skipped))}"

    def delete_backup(self, backup: Backup) -> RunningOperation:
        """Move a backup to Deleted, on a worker."""
        environment = self.service.get_environment(backup.environment_id)
        return self._run(
            self.tr("Deleting {name}").format(name=backup.name),
            environment,
            lambda _progress, _cancel: self.service.delete_backup(backup.id),
            lambda deleted: self.tr(
                "Moved {name} to Deleted; it can be recovered for {days:g} days."
            ).format(name=deleted.name, days=self.service.bin_days()),
        )

    @property
    def showing_deleted(self) -> bool:
        return self._showing_deleted

    def show_deleted(self, on: bool) -> None:
        """List the selected environment's backups in Deleted instead of its backups."""
        self._showing_deleted = on
        self.refresh()

    def recover_backup(self, backup: Backup) -> None:
        if self._attempt(lambda: self.service.recover_backup(backup.id)):
            self.refresh()
            self.notify.emit(
                Notification.SUCCESS, self.tr("Recovered {name}.").format(name=backup.name)
            )

    def empty_bin(self) -> RunningOperation:
        """Free every backup in Deleted now, on a worker."""
        return self._run(
            self.tr("Emptying Deleted"),
            None,
            lambda progress, _cancel: self.service.empty_bin(progress=progress),
            lambda freed: (
                self.tr("Freed 1 backup from Deleted.")
                if len(freed) == 1
                else self.tr("Freed {n} backups from Deleted.").format(n=len(freed))
            ),
        )

    def export_backup(
        self, backup: Backup, destination: Path, passphrase: str | None = None
    ) -> RunningOperation:
        """Export on a worker; with `passphrase`, the file is protected by it."""
        return self._run(
            self.tr("Exporting {name}").format(name=backup.name),
            None,
            lambda progress, cancel: self.service.export_backup(
                backup.id, destination, progress, cancel, passphrase
            ),
            lambda path: self.tr("Exported {name} to {path}.").format(name=backup.name, path=path),
        )

    def restore_to_folder(self, backup: Backup, folder: Path) -> RunningOperation:
        """Write a backup into a new folder on a worker; its environment stays as it is."""
        return self._run(
            self.tr("Restoring {name} to a folder").format(name=backup.name),
            None,
            lambda progress, cancel: self.service.restore_to_folder(
                backup.id, folder, progress, cancel
            ),
            lambda path: self.tr("{name} was written to {path}.").format(
                name=backup.name, path=path
            ),
        )

    def restore_backup(
        self,
        environment: Environment,
        backup: Backup,
        backup_first: bool,
        only: list[str] | None = None,
        source: Environment | None = None,
        previewed: TreeChanges | None = None,
    ) -> RunningOperation:
        """Restore on a worker (`only` those paths; a backup of `source`, another
        environment); `Updating` shows at once and the outcome is announced."""

        def operation(progress: ProgressCallback, cancel: CancelToken) -> Environment:
            nonlocal previewed
            try:
                return self.service.restore_backup(
                    environment.id,
                    backup.id,
                    backup_first,
                    progress,
                    cancel,
                    source.name if source else None,
                    only,
                    previewed,
                )
            finally:
                previewed = None  # as an import's (`import_configuration`)

        # It succeeds only at the version the environment runs: a backup of another one may
        # record another, where its copy of the version file says this one.
        success = self.tr("{env} was restored to {backup} ({version}).").format(
            env=environment.name, backup=backup.name, version=environment.version
        )
        return self._run_restore(
            self.tr("Restoring {env}").format(env=environment.name),
            environment,
            operation,
            success,
        )

    def import_configuration(
        self,
        environment: Environment,
        staged: StagedConfiguration,
        backup_first: bool,
        answers: tuple[str, str | None] | None = None,
        previewed: TreeChanges | None = None,
    ) -> RunningOperation:
        """Restore from an uploaded file exactly as from a saved backup; an archive with no
        manifest with the user's `answers`, its version and root folder. The file is
        discarded once done, unless the folder changed since `previewed`: then it stays
        staged, for the Import dialog to show what it would change now."""

        def operation(progress: ProgressCallback, cancel: CancelToken) -> Environment:
            nonlocal previewed
            kept = False
            try:
                answered = staged
                if answers is not None:
                    answered = self.service.answer_plain_archive(environment.id, staged, *answers)
                return self.service.import_configuration(
                    environment.id, answered, backup_first, progress, cancel, previewed
                )
            except PreviewOutOfDateError:
                kept = True
                raise
            finally:
                if not kept:
                    self.service.discard_staged_configuration(staged)
                # Not held to the end of this operation, which the window's thread lets go
                # of: the dialog lets go of the preview off that thread.
                previewed = None

        version = answers[0] if answers is not None else staged.manifest.version
        success = self.tr("{env} was restored from {file} ({version}).").format(
            env=environment.name, file=staged.file_name, version=version
        )
        return self._run_restore(
            self.tr("Importing into {env}").format(env=environment.name),
            environment,
            operation,
            success,
        )

    def _run_restore(
        self,
        label: str,
        environment: Environment,
        operation: Operation,
        success: str,
    ) -> RunningOperation:
        running = self.runner.prepare(label, environment.id, operation)
        running.succeeded.connect(lambda _env: self._restore_over(running, success, None))
        running.failed.connect(lambda message, error: self._restore_over(running, message, error))
        running.cancelled.connect(lambda message: self._restore_over(running, message, None, True))
        self._restoring.add(environment.id)
        self.runner.launch(running, once_drawn())
        self.refresh()
        self.notify.emit(
            Notification.INFO,
            self.tr(
                "{env} is being updated. This can take a while; its status shows Updating until "
                "it is done."
            ).format(env=environment.name),
        )
        return running

    def _restore_over(
        self, running: RunningOperation, message: str, error: object, cancelled: bool = False
    ) -> None:
        self._restoring.discard(running.environment_id or "")
        self.refresh()  # `Updating` gone before the mismatch box asks what to do
        if isinstance(error, VersionMismatchError):
            self.version_mismatch.emit(error)
        kind = Notification.ERROR if error is not None else Notification.SUCCESS
        self._ended(running, Notification.INFO if cancelled else kind, message)

    def _on_operations_changed(self) -> None:
        self.operations_changed.emit()
        self.selection_changed.emit()

    def shutdown(self, writes_by: float | None = None) -> None:
        """Cancel what is running, wait for what changes anything to put things back (and
        let go of reads a network disk holds, and of changes not put back by `writes_by`:
        `OperationRunner.shut_down`), stop watching."""
        self.stop()
        reads_by = reads_grace_ends()  # one grace for all: each waits within it
        self.runner.shut_down(reads_by, writes_by)
        self.drift.stop(reads_by)
        self._versions.stop(reads_by)
        self.activity_model.stop()
        self.backups_model.stop()
        if self._collecting_here:  # the window's close and its owner may both shut it down
            self._collecting_here = False
            let_any_thread_collect()
            helpers_yield(False)
