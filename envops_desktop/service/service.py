"""EnvOpsService: the one facade the CLI, the desktop workers and the tests call."""

import dataclasses
import functools
import os
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.domain.activity_query import ActivityQuery
from envops_desktop.domain.enums import ActivityAction, BackupOrigin, Outcome
from envops_desktop.domain.errors import (
    A_BACKUP,
    A_CONFIGURATION_FILE,
    EnvOpsError,
    InvalidInputError,
    NotFoundError,
)
from envops_desktop.domain.file_sample import FileSample
from envops_desktop.domain.in_steps import let_go_in_steps
from envops_desktop.domain.models import (
    MAX_BACKUP_NAME_LENGTH,
    ActivityEntry,
    Backup,
    Environment,
    RecoveryReport,
    RestoreCommand,
    TreeEntry,
)
from envops_desktop.domain.paths import export_file_name
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ignore_progress
from envops_desktop.domain.recycle_bin import DEFAULT_BIN_DAYS
from envops_desktop.service import backups as backup_ops
from envops_desktop.service import environments as environment_ops
from envops_desktop.service import file_samples
from envops_desktop.service.backup_references import LIVE, RESERVED_NAMES, pick_backup
from envops_desktop.service.context import SHARED_STORE_SETTINGS, ServiceContext
from envops_desktop.service.flushing import settle_detached
from envops_desktop.service.garbage import GarbageReport, collect_garbage, waiting_for_backups
from envops_desktop.service.parallel import start_helpers_early, workload
from envops_desktop.service.recovery import may_have_leftovers, recover_interrupted_operations
from envops_desktop.service.restore import (
    SpaceNeeded,
    TreeWriter,
    check_restorable,
    restore_caveats,
)
from envops_desktop.service.restore_steps import RestorePlan, carry_out
from envops_desktop.service.scanning import quick_scan
from envops_desktop.service.store_check import (
    StoreProblem,
    StoreReport,
    check_store,
    store_problems,
)
from envops_desktop.service.store_repair import StoreRepair, repair_store
from envops_desktop.service.versions import short_printable
from envops_desktop.service.versions_brought import version_imported, version_restored, version_said
from envops_desktop.store.database import unusable
from envops_desktop.store.timestamps import utc_now

if TYPE_CHECKING:
    from pydantic import ValidationError

    from envops_desktop.domain.changes import TreeChanges
    from envops_desktop.domain.retention import RetentionRule
    from envops_desktop.domain.schedules import ScheduleRule, ScheduleStatus
    from envops_desktop.domain.shared_store import SharedStoreSettings
    from envops_desktop.service import tree_diff
    from envops_desktop.service.configuration_files import (
        CheckedConfigurationFile,
        StagedConfiguration,
    )
    from envops_desktop.service.plain_archive_import import File
    from envops_desktop.service.replacements import Replacement
    from envops_desktop.service.retention import Removal, RetentionReport
    from envops_desktop.service.schedules import ScheduledRun
    from envops_desktop.service.shared_store import OpenedStore, StoreCheck
    from envops_desktop.service.sharing import CaughtUp, SyncReport
    from envops_desktop.service.store_copy import CopyBackReport, CopyReport
    from envops_desktop.service.store_prune import PruneReport


# Configuration-file operations are imported where used: they bring pydantic (the file
# format's validation), whose import a backup or a restore from the command line need not pay.


class EnvOpsService:
    """Environments, backups, restores, configuration files and the activity log of a data dir.

    Thread-safe: every thread gets its own SQLite connection, and operations on one environment
    are serialised by an OS file lock that also holds against other processes. Long operations
    take a progress callback (called from worker threads) and a cancel token.
    """

    def __init__(
        self,
        data_dir: Path,
        settle_later: bool = False,
        clock: Callable[[], datetime] = utc_now,
        zone: tzinfo | None = None,
    ) -> None:
        """With `settle_later`, a restore returns once it is in place, before it is on disk,
        and `unsettled_restores` lists what `flushing.settle_in_background` is to finish.
        Schedules read the time from `clock` (UTC) and the local time zone from `zone` (None:
        the system's)."""
        self._ctx = ServiceContext.open(Path(data_dir))
        self._ctx.clock = self._clock = clock
        self.zone = zone
        self._settle_later = settle_later
        self._unsettled: list[str] = []
        self._opened_store: OpenedStore | None = None  # the shared store, once unlocked

    @property
    def data_dir(self) -> Path:
        return self._ctx.data_dir

    @property
    def user(self) -> str:
        return self._ctx.user

    def close(self) -> None:
        self._ctx.db.close()

    def explain(self, error: Exception) -> str | None:
        """A sentence for a fault no operation foresaw, where there is one to say: the
        database failing under it, a page of it damaged (only what reads that page finds
        out) or its disk full. None for anything else."""
        if isinstance(error, sqlite3.DatabaseError):
            return unusable(self._ctx.db.path, error)
        return None

    # Environments ---------------------------------------------------------------------------

    def add_environment(
        self,
        name: str,
        path: Path,
        version: str | None = None,
        version_file: str | None = None,
        post_restore_command: RestoreCommand | None = None,
        pre_restore_command: RestoreCommand | None = None,
        cancel: CancelToken | None = None,
    ) -> Environment:
        return environment_ops.add_environment(
            self._ctx,
            name,
            Path(path),
            version,
            version_file,
            post_restore_command,
            pre_restore_command,
            cancel,
        )

    def list_environments(self) -> list[Environment]:
        """Every environment as recorded (`get_environment`), its schedule in a few words."""
        schedules = self.schedules()
        return [
            environment_ops.with_schedule(env, schedules.get(env.id), self.zone)
            for env in self._ctx.environments.all()
        ]

    def read_versions(self, name_or_id: str | None = None) -> None:
        """Read again the version file of the environment (of every one, None) that keeps
        its version in one, and record what it says now.

        Apart from `get_environment` and `list_environments`: reading a file in a folder on
        a network disk that stopped answering waits as long as the disk does, which the
        window's thread must never do."""
        one = name_or_id is not None
        for env in [self._environment(name_or_id)] if one else self._ctx.environments.all():
            environment_ops.refresh_version(self._ctx, env)

    def restore_obstacle(self, name_or_id: str) -> str | None:
        """Why any restore into the environment's folder would be refused as things are (it
        is a mount point, holds one, or lies in a folder nothing can be made in), or None:
        said when it is added, not first when a restore is needed."""
        from envops_desktop.service.restore import check_folder_swappable

        try:
            check_folder_swappable(self._environment(name_or_id))
        except EnvOpsError as obstacle:
            # Said before anything is asked of it: "Nothing was changed" would be noise.
            return str(obstacle).removesuffix(" Nothing was changed.")
        return None

    def get_environment(self, name_or_id: str) -> Environment:
        """The environment as recorded: its version as its version file said when last read
        (`read_versions`; every operation that depends on it reads it again). Only the
        database is read, never the environment's folder."""
        return self._environment(name_or_id)

    def _environment(self, name_or_id: str) -> Environment:
        return environment_ops.find_environment(self._ctx, name_or_id)

    def update_environment_version(self, name_or_id: str, version: str) -> Environment:
        env = self.get_environment(name_or_id)
        with self._ctx.locks.environment(env.id, env.name):
            return environment_ops.set_version(self._ctx, self.get_environment(env.id), version)

    def set_excludes(self, name_or_id: str, patterns: list[str]) -> Environment:
        """Leave the paths `patterns` match out of the environment's backups, and as they are
        in its folder when it is restored (no patterns: nothing is excluded)."""
        env = self.get_environment(name_or_id)
        with self._ctx.locks.environment(env.id, env.name):
            return environment_ops.set_excludes(self._ctx, env, patterns)

    def set_restore_command(
        self, name_or_id: str, when: str, command: RestoreCommand | None
    ) -> Environment:
        """Run `command` in the environment's folder at every restore: `when` "pre", once
        the new configuration is written and before it replaces the old (if it fails,
        nothing is changed), or "post", after; None: no command then."""
        if when not in ("pre", "post"):
            raise InvalidInputError(f"A restore command runs pre or post, not {when}.")
        env = self.get_environment(name_or_id)
        with self._ctx.locks.environment(env.id, env.name):
            return environment_ops.set_restore_command(self._ctx, env, when, command)

    def allow_links_out(self, name_or_id: str, allowed: bool = True) -> Environment:
        """Take in teammates' backups of the environment even when they hold links that lead
        out of its folder (refused otherwise, as a configuration file's are)."""
        env = self.get_environment(name_or_id)
        with self._ctx.locks.environment(env.id, env.name):
            return environment_ops.allow_links_out(self._ctx, env, allowed)

    def remove_environment(
        self, name_or_id: str, progress: ProgressCallback = ignore_progress
    ) -> None:
        """Forget the environment and delete its backups, freeing what only they held (as
        `progress` is told); its folder is left exactly as it is."""
        env = self.get_environment(name_or_id)
        environment_ops.remove_environment(self._ctx, env, progress)

    # Schedules ------------------------------------------------------------------------------

    def set_schedule(self, environment: str, rule: "ScheduleRule | None") -> "ScheduleStatus":
        """Back the environment up by `rule` from now on; None turns its schedule off. A
        rule that names no time zone is in this workstation's from now on."""
        from envops_desktop.service import schedules
        from envops_desktop.service.shared_layout import SCHEDULE_SET

        env = self.get_environment(environment)
        rule = rule.stamped(self.zone) if rule is not None else None
        schedules.set_schedule(self._ctx, env, rule, self._clock())
        self._tell_team(SCHEDULE_SET, env.id, rule.model_dump_json() if rule else "null")
        return self.schedule(env.id)

    def schedule(self, environment: str) -> "ScheduleStatus":
        from envops_desktop.service import schedules

        # Not get_environment: the window asks at every selection, and the version file is
        # no part of a schedule.
        env = self._environment(environment)
        return schedules.status(self._ctx, env, self._clock(), self.zone)

    def schedules(self) -> "dict[str, ScheduleStatus]":
        """Every environment's schedule, by environment id."""
        from envops_desktop.service import schedules

        now = self._clock()
        return {
            env.id: schedules.status(self._ctx, env, now, self.zone)
            for env in self._ctx.environments.all()
        }

    def preview_schedule(self, rule: "ScheduleRule | None") -> str:
        """What a schedule set to `rule` now would say: its rule and its first run."""
        from envops_desktop.service import schedules

        return schedules.preview(rule, self._clock(), self.zone)

    def has_scheduled_work(self) -> bool:
        """Whether a scheduled backup is due now, or a backup has been in Deleted longer than
        the bin keeps it (a quick look, for the app's timer)."""
        expired = self._clock() - timedelta(days=self.bin_days())
        return bool(self._ctx.backups.deleted_before(expired)) or any(
            status.due for status in self.schedules().values()
        )

    def run_due_backups(
        self, progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None
    ) -> "list[ScheduledRun]":
        """Take every scheduled backup that is due, once however many slots were missed, and
        never twice for one slot, whichever process runs them (and, for a shared environment
        while the team's store is unlocked, whichever workstation); and free what has been
        in Deleted longer than the bin keeps it."""
        from envops_desktop.service import schedules

        self.empty_bin(self.bin_days())
        return schedules.run_due(
            self._ctx,
            self._clock(),
            self.zone,
            progress,
            cancel or CancelToken(),
            self._opened_store,
        )

    def now(self) -> datetime:
        """The time by this service's clock (UTC)."""
        return self._clock()

    # Retention ------------------------------------------------------------------------------

    def retention(self, environment: str) -> "RetentionRule":
        """The environment's retention rule (the defaults until one is set)."""
        return self._ctx.retention.get(self.get_environment(environment).id)

    def set_retention(self, environment: str, rule: "RetentionRule") -> None:
        """Make `rule` the environment's retention rule (the team's, at the next sync, for
        a shared environment)."""
        from envops_desktop.service.shared_layout import RETENTION_SET

        env = self.get_environment(environment)
        self._ctx.retention.set(env.id, rule)
        self._tell_team(RETENTION_SET, env.id, rule.model_dump_json())

    def _tell_team(self, kind: str, subject: str, value: str) -> None:
        """Note a setting changed here for the team's store, if this data folder uses one:
        the next sync tells it as an event (`team_events.tell_settings`)."""
        if self.shared_store() is not None:
            self._ctx.shared.note_setting_changed(kind, subject, value)

    def preview_retention(self, environment: str, rule: "RetentionRule") -> "list[Removal]":
        """What `rule` would remove of the environment's backups now (nothing is changed)."""
        from envops_desktop.service import retention

        env = self.get_environment(environment)
        return retention.removable(self._ctx.backups.for_environment(env.id), rule, self._clock())

    def set_and_apply_retention(self, environment: str, rule: "RetentionRule") -> "RetentionReport":
        """Make `rule` the environment's, then apply it."""
        self.set_retention(environment, rule)
        return self.apply_retention(environment)

    def apply_retention(self, environment: str, dry_run: bool = False) -> "RetentionReport":
        """Remove the environment's backups its retention rule no longer keeps, each with an
        activity entry; with `dry_run`, only say which."""
        from envops_desktop.service import retention

        env = self.get_environment(environment)
        with self._ctx.locks.environment(env.id, env.name):
            rule = self._ctx.retention.get(env.id)
            return retention.apply(self._ctx, env, rule, self._clock(), dry_run)

    def pin_backup(self, backup_id: str, pinned: bool = True) -> Backup:
        """Keep a backup whatever retention's rules say (or no longer, unpinned)."""
        from envops_desktop.service.shared_layout import PIN_SET

        backup = self.get_backup(backup_id)
        self._ctx.backups.set_pinned(backup.id, pinned)
        self._tell_team(PIN_SET, backup.id, "true" if pinned else "false")
        return self.get_backup(backup.id)

    # Backups --------------------------------------------------------------------------------

    def create_backup(
        self,
        environment: str,
        name: str | None = None,
        origin: BackupOrigin = BackupOrigin.MANUAL,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> Backup:
        env = self.get_environment(environment)
        # One left blank, or only spaces, is named for the backup's time.
        named = name is not None and name.strip() != ""
        name = short_printable(name, "A backup's name", MAX_BACKUP_NAME_LENGTH) if named else None
        if name in RESERVED_NAMES:  # a backup so named could not be told from what it means
            raise InvalidInputError(
                f"{name!r} stands for {RESERVED_NAMES[name]}; give this backup another name."
            )
        with self._ctx.locks.environment(env.id, env.name):
            return backup_ops.create_backup_locked(
                self._ctx,
                self.get_environment(env.id),
                name,
                origin,
                progress,
                cancel or CancelToken(),
            )

    def list_backups(self, environment: str) -> list[Backup]:
        """Backups of the environment, newest first."""
        return self._ctx.backups.for_environment(self.get_environment(environment).id)

    def backup_versions(self, environment: str) -> list[str]:
        """The versions the environment's backups hold, newest first, each once."""
        return self._ctx.backups.versions(self.get_environment(environment).id)

    def get_backup(self, backup_id: str, deleted_too: bool = False) -> Backup:
        """A backup by its id or any unique prefix of it; one in Deleted only `deleted_too`."""
        matches = self._ctx.backups.ids_starting_with(backup_id.strip()) if backup_id else []
        if len(matches) > 1:
            raise InvalidInputError(
                f"{backup_id} matches {len(matches)} backups; give more of the id."
            )
        backup = self._ctx.backups.by_id(matches[0]) if matches else None
        if backup is None:
            raise NotFoundError(f"There is no backup with id {backup_id}.")
        if backup.deleted_at is not None and not deleted_too:
            raise NotFoundError(
                f"{backup.name} ({backup.id}) is in Deleted; envops backup recover {backup.id} "
                "brings it back."
            )
        return backup

    def find_backup(self, environment: str, reference: str) -> Backup:
        """A backup of `environment` by `latest`, its exact name, or a unique id prefix."""
        env = self.get_environment(environment)
        return pick_backup(env, self._ctx.backups.for_environment(env.id), reference)

    def backup_entries(self, backup_id: str) -> list[TreeEntry]:
        return list(self._ctx.backups.entries(self.get_backup(backup_id).id))

    def delete_backup(self, backup_id: str) -> Backup:
        """Move a backup to Deleted: recoverable for `bin_days`, then its content is freed."""
        backup = self.get_backup(backup_id)
        env = self.get_environment(backup.environment_id)
        backup_ops.move_to_bin(self._ctx, env, backup)
        return self.get_backup(backup.id, deleted_too=True)

    def bin_days(self) -> float:
        """How many days a backup stays in Deleted before its content is freed."""
        return self._ctx.settings.bin_days()

    def set_bin_days(self, days: float) -> None:
        if not 1 <= days <= 365:
            raise InvalidInputError("Deleted keeps backups for 1 to 365 days.")
        self._ctx.settings.set_bin_days(days)

    def default_retention(self) -> "RetentionRule":
        """The retention rule of the environments that have none of their own."""
        return self._ctx.retention.default()

    def set_default_retention(self, rule: "RetentionRule") -> None:
        self._ctx.settings.set_default_retention(rule.model_dump_json())

    def count_backups(self, environment: str) -> int:
        """How many backups removing the environment deletes: those in Deleted too."""
        return self._ctx.backups.count(self.get_environment(environment).id)

    def deleted_backups(self, environment: str) -> list[Backup]:
        """The environment's backups in Deleted, newest first."""
        env = self.get_environment(environment)
        return self._ctx.backups.for_environment(env.id, deleted=True)

    def recover_backup(self, backup_id: str) -> Backup:
        """Bring a backup back from Deleted. One the team was told is deleted stays so."""
        backup = self.get_backup(backup_id, deleted_too=True)
        if backup.deleted_at is None:
            raise InvalidInputError(f"{backup.name} ({backup.id}) is not in Deleted.")
        if self._ctx.shared.is_shared(backup.id) and not self._ctx.shared.take_back_deletion(
            backup.id
        ):
            raise InvalidInputError(
                f"{backup.name} was deleted for the whole team through the shared store; it "
                "cannot be brought back here alone."
            )
        env = self.get_environment(backup.environment_id)
        with self._ctx.db.transaction():
            self._ctx.backups.recover(backup.id)
            self._ctx.record(
                env, ActivityAction.BACKUP_RECOVERED, Outcome.SUCCESS, f"{backup.name}: recovered"
            )
        return self.get_backup(backup.id)

    def empty_bin(
        self,
        older_than_days: float | None = None,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> list[Backup]:
        """Free the backups in Deleted (those there longer than `older_than_days`, if given)
        and the content only they used; return them. Cancelled while it waits for a backup
        to let go of the store, it frees nothing."""
        cutoff = self._clock()
        if older_than_days is not None:
            cutoff -= timedelta(days=older_than_days)
        waiting = waiting_for_backups(progress, cancel)
        return backup_ops.empty_bin(self._ctx, cutoff, waiting, progress)

    def check_store(
        self, progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None
    ) -> StoreReport:
        """Re-hash every stored blob and report the damaged or missing ones."""
        return check_store(self._ctx, progress, cancel)

    def repair_store(
        self,
        report: StoreReport,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> StoreRepair:
        """Forget the damaged and missing contents `report` found, so that the next backup of
        a folder still holding any of them stores it again, and delete the backups whose list
        of files it found damaged (one from the team's store: from here only)."""
        return repair_store(self._ctx, report, progress, cancel)

    def where_needed(self, shas: list[str]) -> dict[str, list[tuple[Backup, str]]]:
        """Per stored content of `shas`, each backup that needs it and the path that holds
        it there, newest backup first."""
        return self._ctx.backups.needing(set(shas))

    def store_problems(self, report: StoreReport) -> list[StoreProblem]:
        """What `report` found wrong, each with a backup that needs it."""
        needed = self.where_needed(report.missing + report.damaged)
        lists_of = self._ctx.backups.with_manifests(report.damaged_manifests)
        names = {env.id: env.name for env in self._ctx.environments.all()}
        return store_problems(report, needed, lists_of, names)

    def collect_garbage(
        self,
        dry_run: bool = False,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> GarbageReport:
        """Free stored content no backup needs (left by an interrupted backup or delete);
        cancelled, it frees nothing."""
        return collect_garbage(self._ctx, dry_run, progress, cancel)

    # Previews and comparisons ----------------------------------------------------------------

    def preview_restore(
        self,
        environment: str,
        backup_id: str,
        cancel: CancelToken | None = None,
        from_environment: str | None = None,
        only: list[str] | None = None,
        progress: ProgressCallback = ignore_progress,
    ) -> "TreeChanges":
        """What restoring a backup (`backup_id`: as `find_backup` takes it, of the environment
        or of `from_environment`) would change in the environment's folder, path by path;
        changes nothing. Files the hash cache knows as they are now are not read."""
        from envops_desktop.service.replacements import of_backup

        env = self.get_environment(environment)
        backup = self.backup_to_restore(env.name, backup_id, from_environment)
        only = self._chosen(env, backup, only)
        replacement = of_backup(self._ctx, backup)
        return replacement.preview(env, only, cancel or CancelToken(), progress=progress)

    def check_restore(
        self,
        environment: str,
        backup_id: str,
        from_environment: str | None = None,
        only: list[str] | None = None,
        look_inside: bool = True,
    ) -> None:
        """Refuse, as `restore_backup` would before anything changes, a restore that cannot
        go ahead (another version, a mount or an immutable file inside, too little space):
        for a dry run, which must not list the changes of a restore that would make none.
        Without `look_inside`, the flags of what the folder holds are left to the restore
        (a system call a path), for a check made before asking the user."""
        env = self.get_environment(environment)
        backup = self.backup_to_restore(env.name, backup_id, from_environment)
        only = self._chosen(env, backup, only)
        version = version_restored(self._ctx, env, backup, only)
        check_restorable(
            env, version, SpaceNeeded.of_backup(self._ctx, backup), A_BACKUP, look_inside
        )

    def check_import(
        self,
        environment: str,
        checked: "CheckedConfigurationFile | StagedConfiguration",
        look_inside: bool = True,
    ) -> None:
        """As `check_restore`, for an import; an archive whose version is not yet confirmed
        is not checked against the environment's."""
        from envops_desktop.service.configuration_files import refuse_losing_version_file

        env = self.get_environment(environment)
        refuse_losing_version_file(env, checked)
        version = version_imported(self._ctx, env, checked)
        needed = SpaceNeeded(checked.manifest.written_bytes)
        check_restorable(env, version, needed, A_CONFIGURATION_FILE, look_inside)

    def _chosen(
        self, env: Environment, backup: Backup, only: list[str] | None, from_preview: bool = False
    ) -> list[str] | None:
        """The paths a selective restore of `backup` into `env` brings back (`selection`)."""
        from envops_desktop.service.selection import chosen_paths

        if only is None:
            return None
        entries = functools.partial(self._ctx.backups.entries, backup.id)
        return chosen_paths(env, backup, entries, only, from_preview)

    def modified_since_backup(
        self, environment: str, cancel: CancelToken | None = None
    ) -> bool | None:
        """Whether the environment's folder differs from its last backup (and from the
        backup last restored into it, which a restore's own backup first is not); None
        when it has no backup yet. Files the hash cache knows as they are are not read.
        Its version file is read again too (`read_versions`): a change the folder's watcher
        saw may have been to it."""
        from envops_desktop.service import tree_diff

        env = environment_ops.refresh_version(self._ctx, self._environment(environment))
        # The newest only: a check at each selection read all 2,000 of an environment's
        # backups on its worker, holding the GIL from the window's thread.
        known = self._ctx.backups.for_environment(env.id, limit=1)
        if env.last_restored_backup_id is not None:
            restored = self._ctx.backups.by_id(env.last_restored_backup_id)
            known += [restored] if restored is not None and restored.deleted_at is None else []
        if not known:
            return None
        # The folder as it is after what was removed meanwhile: a lock file that came and
        # went is no difference, and a backup's file gone is one (where refusing said neither).
        scan = quick_scan(env, pass_over_removed=True)
        if tree_diff.as_backed_up(self._ctx, env, scan, known):
            return False
        live = tree_diff.held(
            # Unchanged since its backup, a file dated 2300 is not "modified" at each look.
            tree_diff.live_tree(
                self._ctx, env, cancel or CancelToken(), scan=scan, as_recorded=True
            )
        )
        # Each backup read only up to its first difference.
        return all(
            next(tree_diff.changes(live, self._recorded(backup)), None) is not None
            for backup in known
        )

    def _recorded(self, backup: Backup) -> "tree_diff.Side":
        """A backup's tree as it records it, as a side of a comparison."""
        from envops_desktop.service import tree_diff

        return lambda: tree_diff.recorded(self._ctx.backups.entries(backup.id), backup)

    def preview_import(
        self,
        environment: str,
        checked: "CheckedConfigurationFile | StagedConfiguration",
        cancel: CancelToken | None = None,
        progress: ProgressCallback = ignore_progress,
    ) -> "TreeChanges":
        """What importing a configuration file (checked, or uploaded) would change in the
        environment's folder, path by path; changes nothing."""
        env = self.get_environment(environment)
        file_tree = self._file_tree(checked)
        return file_tree.preview(env, None, cancel or CancelToken(), progress=progress)

    def _file_tree(
        self, checked: "CheckedConfigurationFile | StagedConfiguration"
    ) -> "Replacement":
        """A configuration file's tree, as what its import puts in place."""
        from envops_desktop.service.replacements import of_file

        manifest = checked.manifest
        entries: list[TreeEntry] = manifest.entries  # type: ignore[assignment]  # same fields
        return of_file(self._ctx, checked.file_name, entries, manifest, checked.policy)

    def restore_report(self, activity_id: int) -> "TreeChanges | None":
        """What the restore an activity entry records changed, if it was kept."""
        from envops_desktop.domain.changes import TreeChanges

        body = self._ctx.activity.report(activity_id)
        return None if body is None else TreeChanges.from_json(body)

    def backup_file(self, backup_id: str, path: str, limit: int = 1 << 20) -> FileSample | None:
        """The first `limit` bytes of file `path` in a backup, with the size and hash of all
        of it, to show beside another version of it; None when the backup holds no such
        file, or its content is in the team's store only."""
        return file_samples.backup_file(self._ctx, self.get_backup(backup_id), path, limit)

    def live_file(self, environment: str, path: str, limit: int = 1 << 20) -> FileSample | None:
        """The first `limit` bytes of regular file `path` of the environment's folder as it
        is now, with the size and hash of all of it; None when no regular file is there
        (never read through a link, nor from a pipe)."""
        folder = Path(self.get_environment(environment).path)
        return file_samples.live_file(folder, path, limit)

    def staged_file(
        self,
        staged: "StagedConfiguration",
        path: str,
        root_folder: str | None = None,
        limit: int = 1 << 20,
    ) -> FileSample | None:
        """The first `limit` bytes of file `path` of an uploaded configuration file (an
        archive with no manifest: laid out with `root_folder` as its root), with the size
        and hash of all of it, to show beside the folder's; None when it holds no such
        file."""
        return file_samples.staged_file(self._ctx, staged, path, root_folder, limit)

    def save_staged_file(
        self,
        staged: "StagedConfiguration",
        path: str,
        destination: Path,
        root_folder: str | None = None,
    ) -> Path:
        """Write file `path` of an uploaded configuration file (laid out with `root_folder`
        as its root), whole, as `destination` (replaced if there)."""
        return file_samples.save_staged_file(
            self._ctx, staged, path, Path(destination), root_folder
        )

    def save_backup_file(self, backup_id: str, path: str, destination: Path) -> Path:
        """Write file `path` of a backup, whole, as `destination` (replaced if there):
        to take one file back by hand."""
        backup = self.get_backup(backup_id)
        return file_samples.save_backup_file(self._ctx, backup, path, Path(destination))

    def compare(self, first: str, second: str, cancel: CancelToken | None = None) -> "TreeChanges":
        """How `second` differs from `first`: each a backup's id, or "live" (the folder of
        the other's environment as it is now); two backups must be of one environment."""
        from envops_desktop.domain.changes import TreeChanges
        from envops_desktop.service import tree_diff

        if first == second == LIVE:
            raise InvalidInputError("Compare live with a backup: name one of them.")
        backups = {name: self.get_backup(name) for name in (first, second) if name != LIVE}
        one, *other = backups.values()
        if other and other[0].environment_id != one.environment_id:
            raise InvalidInputError(
                f"{one.name} and {other[0].name} are backups of two environments; compare "
                "backups of one."
            )
        recorded = {name: self._recorded(backup) for name, backup in backups.items()}
        if LIVE in (first, second):
            env = self.get_environment(one.environment_id)
            live = tree_diff.live_tree(
                self._ctx,
                env,
                cancel or CancelToken(),
                against=lambda: self._ctx.backups.entries(one.id),
            )
            recorded[LIVE] = tree_diff.held(live)
        names = {name: backup.name for name, backup in backups.items()} | {LIVE: LIVE}
        changes = tuple(tree_diff.changes(recorded[first], recorded[second]))
        return TreeChanges(before=names[first], after=names[second], changes=changes)

    # Restores -------------------------------------------------------------------------------

    def restore_backup(
        self,
        environment: str,
        backup_id: str,
        backup_first: bool = False,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
        from_environment: str | None = None,
        only: list[str] | None = None,
        previewed: "TreeChanges | None" = None,
    ) -> Environment:
        """Replace the environment's configuration with a backup, all or nothing; with
        `only`, just those paths (folders with all they hold), the rest left as it is. A
        backup of another environment (of the same version) only when `from_environment`
        names it: one wrong id must not overwrite production. With `previewed` (what the
        user was shown it would change), PreviewOutOfDateError if it would change anything
        else now, before anything changes."""
        from envops_desktop.service.replacements import of_backup

        backup = self.get_backup(backup_id)
        env = self.get_environment(environment)
        source = self._source_of(env, backup, from_environment)
        only = self._chosen(env, backup, only, from_preview=previewed is not None)
        version = version_restored(self._ctx, env, backup, only)
        subject = None
        if source is not None:
            subject = f"the restore of {backup.name} ({version}) from {source.name}"
        plan = RestorePlan(
            version,
            SpaceNeeded.of_backup(self._ctx, backup),
            ActivityAction.BACKUP_RESTORED,
            lambda _env: backup,
            of_backup(self._ctx, backup),
            f"Before restoring '{backup.name}'" if backup_first else None,
            self._from_team_store(backup),
            subject,
            restore_caveats(self._ctx, backup),
            only,
            previewed,
        )
        return self._restore(environment, plan, progress, cancel)

    def backup_to_restore(
        self, environment: str, reference: str, from_environment: str | None = None
    ) -> Backup:
        """The backup a restore into `environment` means by `reference` (as `find_backup`
        takes it), of that environment or of `from_environment`; the id of another
        environment's backup, without `from_environment` naming it, is refused."""
        env = self.get_environment(environment)
        try:
            backup = self.find_backup(from_environment or env.name, reference)
        except NotFoundError as not_found:
            if from_environment is not None:
                raise
            try:
                backup = self.get_backup(reference)
            except (NotFoundError, InvalidInputError):
                raise not_found from None
        self._source_of(env, backup, from_environment)
        return backup

    def restore_to_folder(
        self,
        backup_id: str,
        destination: Path,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> Path:
        """Write a backup as a new folder (or into an empty one), outside every
        environment's folder: its environment stays as it is. Returns the folder."""
        from envops_desktop.service.folder_restore import check_destination, restore_to_folder
        from envops_desktop.service.restore import from_store

        backup = self.get_backup(backup_id)
        env = self.get_environment(backup.environment_id)
        check_destination(self._ctx, destination)  # before a passphrase is asked
        write_tree = self._from_team_store(backup) or from_store(self._ctx, backup)
        return restore_to_folder(
            self._ctx, env, backup, destination, write_tree, progress, cancel or CancelToken()
        )

    def check_restore_to_folder(self, backup_id: str, destination: Path) -> Path:
        """Refuse, as `restore_to_folder` would before writing, a folder it cannot write
        the backup into (not new or empty, inside an environment's, too little space);
        returns the folder, made absolute."""
        from envops_desktop.service.folder_restore import check_room_in

        return check_room_in(self._ctx, self.get_backup(backup_id), destination)

    def _source_of(
        self, env: Environment, backup: Backup, from_environment: str | None
    ) -> Environment | None:
        """The other environment `backup` is of, for a restore into `env`; None when it is
        `env`'s own. Refused unless `from_environment` names that environment."""
        source = self.get_environment(backup.environment_id)
        if source.id == env.id:
            if from_environment is not None and self.get_environment(from_environment).id != env.id:
                raise InvalidInputError(f"{backup.name} is a backup of {env.name} itself.")
            return None
        if from_environment is None or self.get_environment(from_environment).id != source.id:
            raise NotFoundError(
                f"{env.name} has no backup {backup.name}: it is a backup of {source.name}. To "
                f"restore it into {env.name}, say it comes from {source.name} (--from "
                f"{source.name}). Nothing was changed."
            )
        return source

    def _from_team_store(self, backup: Backup) -> TreeWriter | None:
        """The writer of a restore of `backup` whose contents are in the team's store, which
        fetches them as it writes; None when they are all here."""
        if backup.made_on is None:  # made here: all its contents are here
            return None  # without loading the shared store's code (70 ms of a small restore)
        from envops_desktop.service import team_restore

        elsewhere = team_restore.contents_elsewhere(self._ctx, backup)
        if not elsewhere:
            return None
        store = self._team_store_for(backup)
        # They fetch what they write.
        start_helpers_early(workload(backup.total_bytes, backup.file_count), from_bucket=True)
        return team_restore.from_team_store(self._ctx, store, backup, elsewhere)

    def _team_store_for(self, backup: Backup) -> "OpenedStore":
        """The team's store, unlocked, for the contents of `backup` that only it holds."""
        if self._opened_store is None:
            raise InvalidInputError(
                f"The files of {backup.name} are in your team's shared store, which needs its "
                "passphrase: sync with the team first (File → Sync with team), or set "
                "ENVOPS_PASSPHRASE or pass --passphrase-file to envops."
            )
        return self._opened_store

    def _contents_here(
        self, backups: list[Backup], progress: ProgressCallback, cancel: CancelToken
    ) -> None:
        """Fetch into the store here the contents of `backups` that only the team's store
        holds, for what reads them from here."""
        from envops_desktop.service import sharing, team_restore

        for backup in backups:
            elsewhere = team_restore.contents_elsewhere(self._ctx, backup)
            if elsewhere:
                sizes = {e.sha256 or "": e.size for e in self._ctx.backups.entries(backup.id)}
                store = self._team_store_for(backup)
                sharing.fetch_contents_of(self._ctx, store, elsewhere, sizes, progress, cancel)

    def restore_caveats(self, backup_id: str) -> list[str]:
        """What a restore of this backup will not bring back exactly (files that changed
        while it was made; owners this process may not set), as sentences to show first."""
        return restore_caveats(self._ctx, self.get_backup(backup_id))

    def _restore(
        self,
        environment: str,
        plan: RestorePlan,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> Environment:
        env, unsettled = carry_out(
            self._ctx,
            self.get_environment(environment),
            plan,
            progress,
            cancel or CancelToken(),
            self._opened_store,
            self._settle_later,
        )
        if unsettled is not None:
            self._unsettled.append(unsettled.id)
        return env

    def unsettled_restores(self) -> list[str]:
        """Journal ids of this service's restores that are in place but not yet settled."""
        return list(self._unsettled)

    def settle_restores(self, journal_ids: list[str]) -> None:
        """Wait until these restores are on disk, then clear what could undo them."""
        settle_detached(self._ctx, journal_ids)

    # Configuration files --------------------------------------------------------------------

    def export_backup(
        self,
        backup_id: str,
        destination: Path,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
        passphrase: str | None = None,
    ) -> Path:
        """Write a backup as a configuration file; with `passphrase`, protected by it. A
        `destination` that is a folder gets a file named for the environment and the backup
        (`export_file_name`), never one written over; the file written is returned."""
        from envops_desktop.service import configuration_export

        backup = self.get_backup(backup_id)
        env = self.get_environment(backup.environment_id)
        destination = Path(destination)
        if destination.is_dir():  # as `cp FILE DIR` names the copy
            destination /= export_file_name(env.name, backup.name)
            if os.path.lexists(destination):
                raise InvalidInputError(
                    f"{destination} already exists; name the file to write instead."
                )
        self._contents_here([backup], progress, cancel or CancelToken())
        configuration_export.export_backup(
            self._ctx, env, backup, destination, progress, cancel or CancelToken(), passphrase
        )
        return destination

    def stage_configuration_file(
        self,
        source: "Path | CheckedConfigurationFile",
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
        allow_external_links: bool = False,
        keep_privileges: bool = False,
        passphrase: str | None = None,
    ) -> "StagedConfiguration":
        """Take in a configuration file: read it all, validate it all, keep its content staged.

        `source` may be what `check_configuration_file` returned, so that a caller that looked
        at the manifest first (the Import dialog, to refuse another version at once) does not
        read and check it twice.
        """
        from envops_desktop.service import configuration_files

        checked = (
            source
            if isinstance(source, configuration_files.CheckedConfigurationFile)
            else self.check_configuration_file(
                Path(source), allow_external_links, keep_privileges, passphrase
            )
        )
        return configuration_files.stage_configuration_file(
            self._ctx, checked, progress, cancel or CancelToken()
        )

    def discard_staged_configuration(self, staged: "StagedConfiguration") -> None:
        """Remove what an upload staged and let go of its manifest's entries, a part at a
        time: left to the last reference, 200,000 of them were freed in one call that held
        the GIL, and the window, a third of a second."""
        staged.blobs.discard()
        let_go_in_steps(staged.manifest.entries)

    def import_configuration(
        self,
        environment: str,
        staged: "StagedConfiguration",
        backup_first: bool = False,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
        previewed: "TreeChanges | None" = None,
    ) -> Environment:
        """Restore the environment from a staged configuration file.

        The file's content is kept as a backup of origin `imported` even when the restore
        itself fails, so that the user can retry from the backups list. With `previewed`
        (what the user was shown it would change), PreviewOutOfDateError if it would change
        anything else now, before anything changes; `staged` is then still staged.
        """
        from envops_desktop.service import configuration_files

        configuration_files.refuse_unanswered(staged)
        staged = self.as_imported_into(environment, staged)
        plan = RestorePlan(
            staged.manifest.version,
            SpaceNeeded(staged.manifest.written_bytes),
            ActivityAction.CONFIGURATION_IMPORTED,
            lambda env: configuration_files.adopt_staged_configuration(self._ctx, env, staged),
            self._file_tree(staged),
            f"Before importing '{staged.file_name}'" if backup_first else None,
            subject=f"the import of '{staged.file_name}'",
            caveats=staged.caveats,
            previewed=previewed,
        )
        return self._restore(environment, plan, progress, cancel)

    def check_configuration_file(
        self,
        source: Path,
        allow_external_links: bool = False,
        keep_privileges: bool = False,
        passphrase: str | None = None,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> "CheckedConfigurationFile":
        """Check all of a configuration file but its files' contents, which
        `import_configuration_file` checks as it reads them.

        `keep_privileges`: apply the file's owners, setuid, setgid and sticky bits and
        security and trusted attributes, which an untrusted file otherwise does not get.
        `passphrase` opens a passphrase-protected file (PassphraseNeededError without it).
        An archive another tool made (zip, tar, tar.gz, tar.zst, …) is read whole, its files
        hashed; it is imported once `answer_plain_archive` has its version and root folder.
        """
        from envops_desktop.service import configuration_files

        return configuration_files.checked_configuration_file(
            self._ctx,
            Path(source),
            allow_external_links,
            keep_privileges,
            passphrase,
            progress,
            cancel,
        )

    def answer_plain_archive(
        self, environment: str, file: "File", version: str | None, root_folder: str | None
    ) -> "File":
        """A plain archive (checked or uploaded) for `environment` with the user's answers:
        the version it holds, and `root_folder`, its one top-level folder taken as the
        environment's folder (None: the archive's top level is). When the environment keeps
        its version in a file and the archive, so laid out, holds that file, the archive says
        its version itself: `version` may be None, and another is refused."""
        from envops_desktop.service.plain_archive_import import answered, with_version_said

        env = self.get_environment(environment)
        laid_out = answered(file, version, root_folder)
        said = version_said(self._ctx, env, laid_out)
        if said is None or env.version_file is None:
            return laid_out
        return with_version_said(laid_out, version, said, env.version_file)

    def as_imported_into(self, environment: str, file: "File") -> "File":
        """`file`, to import into `environment`, with the version it brings as its manifest's
        (what its copy of the environment's version file says, recorded with the backup it
        becomes); refused if it would take the version file away."""
        from envops_desktop.service.configuration_files import refuse_losing_version_file

        refuse_losing_version_file(self.get_environment(environment), file)
        version = version_imported(self._ctx, self.get_environment(environment), file)
        if version is None or version == file.manifest.version:
            return file
        return dataclasses.replace(
            file, manifest=file.manifest.model_copy(update={"version": version})
        )

    def import_configuration_file(
        self,
        environment: str,
        checked: "CheckedConfigurationFile",
        backup_first: bool = False,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
        previewed: "TreeChanges | None" = None,
    ) -> Environment:
        """Restore the environment from a checked configuration file in one pass over it:
        each file is checked as it is written into the new tree.

        For a caller with nothing but a question between reading the file and importing it
        (the command line); a file refused part way changes nothing, as if refused when
        staged. With `previewed`, as `import_configuration`.
        """
        from envops_desktop.service import configuration_files

        configuration_files.refuse_unanswered(checked)
        checked = self.as_imported_into(environment, checked)
        one_pass = configuration_files.ImportInOnePass(self._ctx, checked)
        plan = RestorePlan(
            one_pass.manifest.version,
            SpaceNeeded(one_pass.manifest.written_bytes),
            ActivityAction.CONFIGURATION_IMPORTED,
            one_pass.backup_for,
            self._file_tree(checked),
            f"Before importing '{checked.file_name}'" if backup_first else None,
            one_pass.write_tree,
            subject=f"the import of '{checked.file_name}'",
            caveats=checked.caveats,
            previewed=previewed,
        )
        return self._restore(environment, plan, progress, cancel)

    # Activity and recovery ------------------------------------------------------------------

    def activity(self, environment: str | None = None, limit: int = 50) -> list[ActivityEntry]:
        """The newest activity entries, of one environment or of all."""
        env_id = self.get_environment(environment).id if environment else None
        return self._ctx.activity.page(ActivityQuery(environment_id=env_id), limit=limit)

    def query_activity(
        self,
        query: ActivityQuery,
        after: ActivityEntry | None = None,
        limit: int = 500,
        cancel: CancelToken | None = None,
    ) -> list[ActivityEntry]:
        """A page of the activity log, filtered, searched and sorted by the store: the first,
        or the one after entry `after`; given up (OperationCancelledError) once `cancel` is
        set."""
        return self._ctx.activity.page(query, after, limit, cancel)

    def activity_since(self, query: ActivityQuery, after_id: int) -> list[ActivityEntry]:
        return self._ctx.activity.newer_than(query, after_id)

    def activity_position(self, query: ActivityQuery, entry: ActivityEntry, up_to_id: int) -> int:
        """How many of the entries up to `up_to_id` come before `entry` in the query's order."""
        return self._ctx.activity.position(query, entry, up_to_id)

    def latest_activity_id(self) -> int:
        return self._ctx.activity.latest_id()

    def change_counter(self) -> int:
        """A number that moves whenever any process or thread commits to the store."""
        conn = self._ctx.db.connection()
        return conn.execute("PRAGMA data_version").fetchone()[0] + self.latest_activity_id()

    def recover_interrupted_operations(self) -> list[RecoveryReport]:
        """Roll back (or forward) every restore a crash interrupted; call once at start-up."""
        return recover_interrupted_operations(self._ctx)

    def has_interrupted_operations(self) -> bool:
        """Whether the journal holds a restore to put right (or only to settle), for which
        `recover_interrupted_operations` looks at folders: with none, it only clears
        scratch."""
        return bool(self._ctx.journal.unfinished(include_done=True))

    def may_have_leftovers(self) -> bool:
        """Whether `recover_interrupted_operations` may have scratch of killed operations to
        clear (a hidden tree of 200,000 files takes seconds): with none, and no interrupted
        restore, it is done at once."""
        return may_have_leftovers(self._ctx)

    # The shared store ---------------------------------------------------------------------

    def shared_store(self) -> "SharedStoreSettings | None":
        """The team store this data folder uses, or None for its own folder alone."""
        if not (self.data_dir / SHARED_STORE_SETTINGS).exists():
            return None  # without importing pydantic: a tenth of a small restore
        from envops_desktop.service import shared_store

        return shared_store.load_settings(self.data_dir)

    @staticmethod
    def check_store_address(url: str, endpoint: str | None, region: str | None) -> None:
        """Refuse (InvalidInputError) an address no store can be at, before a passphrase is
        asked for it."""
        _store_settings(url, endpoint, region)

    def use_shared_store(
        self,
        url: str,
        passphrase: str,
        endpoint: str | None = None,
        region: str | None = None,
        lease_seconds: float | None = None,
    ) -> "OpenedStore":
        """Connect this data folder to the store at `url` (made there if the prefix holds
        none, its locks leased for `lease_seconds`), after proving that the server enforces
        conditional writes."""
        from envops_desktop.service import shared_store
        from envops_desktop.store.leases import LEASE_SECONDS

        settings = _store_settings(url, endpoint, region)
        opened = shared_store.open_store(
            settings,
            passphrase,
            self._ctx.user_at_host,
            lease_seconds=lease_seconds or LEASE_SECONDS,
        )
        shared_store.save_settings(self.data_dir, opened.settings)
        self._opened_store = opened
        return opened

    def test_shared_store(
        self, url: str, endpoint: str | None = None, region: str | None = None
    ) -> "StoreCheck":
        """Prove that the server at `url` refuses a second create-only write and a write on a
        stale ETag (the locks depend on it), without connecting to it."""
        from envops_desktop.service import shared_store

        settings = _store_settings(url, endpoint, region)
        return shared_store.prove_conditional_writes(shared_store.objects_of(settings))

    def check_shared_store(self, passphrase: str | None = None) -> "StoreCheck":
        """Prove again that the connected store's server enforces conditional writes; with
        `passphrase`, that it still unlocks the store."""
        from envops_desktop.service import shared_store

        settings = self.shared_store()
        if settings is None:
            raise NotFoundError(
                "This data folder uses no shared store; connect one with envops store use."
            )
        check = shared_store.prove_conditional_writes(shared_store.objects_of(settings))
        if passphrase is not None:
            self.unlock_shared_store(passphrase)
        return check

    def needs_unlocking_for(self, environment: str) -> bool:
        """Whether a restore of `environment` must first unlock the shared store: it is
        shared with the team, and this service has not unlocked the store yet."""
        env = self.get_environment(environment)
        return (
            self._opened_store is None
            and self._ctx.shared.shared_id(env.id) is not None
            and self.shared_store() is not None
        )

    def unlock_shared_store(self, passphrase: str) -> "OpenedStore":
        """Open the shared store with its passphrase for this service's later operations:
        restores and imports of shared environments take their lock there."""
        from envops_desktop.service import shared_store

        settings = shared_store.load_settings(self.data_dir)
        if settings is None:
            raise NotFoundError(
                "This data folder uses no shared store; connect one with envops store use."
            )
        self._opened_store = shared_store.open_store(
            settings, passphrase, self._ctx.user_at_host, create=False
        )
        return self._opened_store

    def catch_up_with_team(
        self,
        environment: str,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> "CaughtUp":
        """Take in the team's backups of a shared environment that are not here yet, and
        what was deleted or changed elsewhere, from the store unlocked already; nothing when
        it is not unlocked. Says what it took in, and what it refused."""
        from envops_desktop.service import sharing

        if self._opened_store is None:
            return sharing.CaughtUp()
        env = self.get_environment(environment)
        return sharing.catch_up(
            self._ctx, self._opened_store, env, progress, cancel or CancelToken()
        )

    def sync_shared_store(
        self,
        passphrase: str,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> "SyncReport":
        """Share the backups made here that the store lacks, and take in the backups other
        workstations shared of environments that are here too (by name)."""
        from envops_desktop.service import sharing

        opened = self.unlock_shared_store(passphrase)
        return sharing.sync(self._ctx, opened, progress, cancel or CancelToken())

    def copy_store(
        self,
        url: str,
        passphrase: str,
        endpoint: str | None = None,
        region: str | None = None,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
        back: bool = False,
    ) -> "CopyReport | CopyBackReport":
        """Copy every backup of this data folder into the store at `url` (made there if the
        prefix holds none), resumably, and verify the copy; or, `back`, every backup in that
        store of an environment this data folder has (by name) into it, each file checked as
        it comes. Either way the data folder stays as it is connected."""
        from envops_desktop.service import shared_store, store_copy

        settings = _store_settings(url, endpoint, region)
        store = shared_store.open_store(settings, passphrase, self._ctx.user_at_host, not back)
        if not back:  # what is copied is read from here
            backups = [
                backup
                for env in self._ctx.environments.all()
                for backup in self._ctx.backups.for_environment(env.id)
            ]
            self._contents_here(backups, progress, cancel or CancelToken())
        copy = store_copy.copy_from if back else store_copy.copy_to
        return copy(self._ctx, store, progress, cancel or CancelToken())

    def prune_shared_store(
        self,
        passphrase: str,
        bin_days: float = DEFAULT_BIN_DAYS,
        dry_run: bool = False,
        progress: ProgressCallback = ignore_progress,
        cancel: CancelToken | None = None,
    ) -> "PruneReport":
        """Free what no backup in the shared store needs, and the backups deleted from it more
        than `bin_days` ago; safe while other workstations back up (`store_prune.py`)."""
        from envops_desktop.service import store_prune

        opened = self.unlock_shared_store(passphrase)
        return store_prune.prune(
            self._ctx, opened, bin_days, progress, cancel or CancelToken(), dry_run
        )


def _store_settings(url: str, endpoint: str | None, region: str | None) -> "SharedStoreSettings":
    from pydantic import ValidationError

    from envops_desktop.domain.shared_store import SharedStoreSettings

    try:
        return SharedStoreSettings(url=url, endpoint=endpoint or None, region=region or None)
    except ValidationError as error:
        raise InvalidInputError(_first_problem(error)) from None


def _first_problem(error: "ValidationError") -> str:
    problem = error.errors()[0]["msg"].removeprefix("Value error, ")
    return problem[:1].upper() + problem[1:] + "."
