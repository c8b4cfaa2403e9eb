"""The work a dialog asks for before the user says go: a restore's or an import's preview,
a comparison, changes laid out for a changes view, a configuration file checked and
uploaded. Each is prepared on a worker, for the dialog to connect to, then launch
(`runner.launch`); none changes anything, and a quit lets go of any still running."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject

from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.operation_runner import OperationRunner, RunningOperation
from envops_desktop.domain.changes import TreeChanges, let_go_of_changes
from envops_desktop.domain.errors import (
    A_BACKUP,
    EnvOpsError,
    InvalidConfigurationFileError,
    VersionMismatchError,
)
from envops_desktop.domain.excludes import Excludes, LeftAsTheyAre
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.service import EnvOpsService
from envops_desktop.service.configuration_files import (
    CheckedConfigurationFile,
    StagedConfiguration,
)


@dataclass(frozen=True)
class ImportPreview:
    """What importing an uploaded file would change, and the version an archive with no
    manifest says it holds, so laid out (in the environment's version file), if it does."""

    changes: TreeChanges
    version_said: str | None = None
    refusal: str | None = None  # why the import, so laid out, would be refused


@dataclass(frozen=True)
class RestorePreview:
    """What restoring a backup would change, or why it would be refused (then no changes)."""

    changes: TreeChanges | None
    refusal: str | None = None
    # Of a restore of some paths: those it changes although they were not chosen (a name
    # left as it is whose node a file brought back joins, which rsync then sees relinked).
    unchosen: tuple[str, ...] = ()
    # Of the whole backup's: what the restore will not bring back exactly, to read first.
    caveats: tuple[str, ...] = ()


class DialogWork(QObject):
    """What the Restore, Import and changes dialogs work out before anything changes; the
    restores and imports themselves are the main controller's, which shows `Updating`."""

    def __init__(
        self, service: EnvOpsService, runner: OperationRunner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.runner = runner

    def compare(self, backup: Backup, other: Backup | None) -> RunningOperation:
        """Prepare working out, on a worker, how `backup` differs from `other` (None: from
        its environment's folder as it is now), as `ChangeRows` for a changes view; connect,
        then `runner.launch` it."""

        def operation(_progress: ProgressCallback, cancel: CancelToken) -> ChangeRows:
            other_id = other.id if other else "live"
            return ChangeRows(self.service.compare(backup.id, other_id, cancel))

        label = self.tr("Comparing {name}").format(name=backup.name)
        return self.runner.prepare(label, None, operation, let_go_at_quit=True)

    def list_changes(
        self, changes: Callable[[], TreeChanges | None], only: list[str] | None = None
    ) -> RunningOperation:
        """Prepare laying out `changes` for a changes view on a worker (their ticks and sort
        orders: half a second over 200,000 paths), ticked as a restore of `only` those
        paths (None: all) would restore them; its result is their `ChangeRows`, None where
        `changes` gives none. Connect, then `runner.launch` it."""

        def work() -> ChangeRows | None:
            found = changes()
            if found is None:
                return None
            rows = ChangeRows(found)
            if only is not None:
                rows.keep_only(only)
            return rows

        return self.prepare_reading(self.tr("Listing the changes"), work)

    def prepare_reading(self, label: str, work: Callable[[], object]) -> RunningOperation:
        """Prepare a dialog's reading (a file's two versions for a diff) on a worker: it
        changes nothing and touches no widget; connect, then `runner.launch` it."""
        return self.runner.prepare(
            label, None, lambda _progress, _cancel: work(), let_go_at_quit=True
        )

    def check_restorable_version(
        self, environment: Environment, version: str, subject: str = A_BACKUP
    ) -> None:
        """Raise VersionMismatchError unless the environment runs `version` now (that of a
        `subject`: a backup or a configuration file)."""
        current = self.service.get_environment(environment.id)
        if current.version != version:
            raise VersionMismatchError(current.name, current.version, version, subject)

    def preview_restore(
        self,
        environment: Environment,
        backup: Backup,
        source: Environment | None = None,
        only: list[str] | None = None,
    ) -> RunningOperation:
        """Prepare working out, on a worker, what restoring `backup` (`only` those paths)
        would change, or why the restore would be refused before anything changes; another
        version fails it, for the version box. The caller connects to it, then launches it
        (`runner.launch`)."""
        source_name = source.name if source else None

        def operation(progress: ProgressCallback, cancel: CancelToken) -> RestorePreview:
            try:
                # Here, not only once Restore is pressed: a backup of another environment
                # brings the version its copy of the version file says, known once read.
                # Not the folder's flags, which the restore reads under its lock.
                self.service.check_restore(
                    environment.id, backup.id, source_name, only, look_inside=False
                )
            except VersionMismatchError:
                raise
            except EnvOpsError as refused:
                return RestorePreview(None, str(refused))
            changes = self.service.preview_restore(
                environment.id, backup.id, cancel, source_name, only, progress
            )
            left = LeftAsTheyAre(Excludes([]), only)
            unchosen = tuple(
                change.path
                for change in changes.changes
                if not (left.selected(change.path) or left.holds_selected(change.path))
            )
            # Here, not as the dialog opens: unless this process may give files away, they
            # read every entry's owner (0.36-0.51 s for 200,000 files).
            caveats = () if only is not None else tuple(self.service.restore_caveats(backup.id))
            return RestorePreview(changes, unchosen=unchosen, caveats=caveats)

        label = self.tr("Working out what {env} would change").format(env=environment.name)
        return self.runner.prepare(label, None, operation, let_go_at_quit=True)

    def check_configuration(
        self,
        environment: Environment,
        path: Path,
        allow_external_links: bool,
        keep_privileges: bool = False,
        passphrase: str | None = None,
    ) -> RunningOperation:
        """Prepare reading a file's manifest and layout (a second, not the whole upload), or
        all of an archive another tool made (to hash it); `passphrase` opens a
        passphrase-protected file. A file with a manifest comes back with the version it
        would bring into `environment` (its copy of the version file's, if it holds one), or
        is refused before its upload if it would take that file away."""

        def operation(progress: ProgressCallback, cancel: CancelToken) -> CheckedConfigurationFile:
            checked = self.service.check_configuration_file(
                path, allow_external_links, keep_privileges, passphrase, progress, cancel
            )
            if checked.plain is not None:  # laid out and versioned once the user answers
                return checked
            try:
                return self.service.as_imported_into(environment.id, checked)
            except BaseException:
                checked.release()
                raise

        label = self.tr("Reading {name}").format(name=path.name)
        # A file on a share that hangs holds it; what it copied goes at the next start.
        return self.runner.prepare(label, None, operation, let_go_at_quit=True)

    def stage_configuration(self, checked: CheckedConfigurationFile) -> RunningOperation:
        """Prepare the upload of a checked file; the Import dialog connects, then launches it."""

        def operation(progress: ProgressCallback, cancel: CancelToken) -> StagedConfiguration:
            return self.service.stage_configuration_file(checked, progress, cancel)

        # As a check's: held by a share that hangs, let go of at quit; its copy goes at the
        # next start.
        return self.runner.prepare(
            self.tr("Uploading {name}").format(name=checked.source.name),
            None,
            operation,
            let_go_at_quit=True,
        )

    def release_configuration(self, made: object) -> None:
        """Let go of what a check or upload of a configuration file made (`made`): a file
        removed from the Import dialog or replaced there, or one whose dialog closed.

        Removed on a thread of its own and not waited for: the staged copy of a 20,000-file
        archive took 0.46-0.56 s to remove, and the window's thread stalled for 360-460 ms
        of it. A quit does not wait either: what it cuts short is removed at the next
        start, as after a crash (nothing holds its owner's lock then)."""
        if isinstance(made, StagedConfiguration):
            _on_a_thread_of_its_own(self.service.discard_staged_configuration, made)
        elif isinstance(made, CheckedConfigurationFile):
            _on_a_thread_of_its_own(made.release)

    def let_go_of(self, held: list[TreeChanges]) -> None:
        """Let go of `held` (emptied), the changes a dialog no longer shows, off the
        window's thread (`let_go_of_changes`). Nothing else may hold them any more."""
        _on_a_thread_of_its_own(let_go_of_changes, held)

    def preview_import(
        self,
        environment: Environment,
        staged: StagedConfiguration,
        root_folder: str | None = None,
    ) -> RunningOperation:
        """Prepare working out, on a worker, what importing an uploaded file would change
        (an archive with no manifest: with `root_folder` as its root); the caller connects to
        it, then launches it."""

        def operation(progress: ProgressCallback, cancel: CancelToken) -> ImportPreview:
            laid_out = staged
            if staged.plain is not None:  # its entries checked anew, off the GUI thread
                laid_out = self.service.answer_plain_archive(
                    environment.id, staged, None, root_folder
                )
            refusal = None
            try:
                # Not the folder's flags: the import checks them, and a preview must be quick.
                self.service.check_import(environment.id, laid_out, look_inside=False)
            except InvalidConfigurationFileError as refused:
                refusal = str(refused)
            except VersionMismatchError:
                pass  # Import asks, with the version box, once the version is answered
            changes = self.service.preview_import(environment.id, laid_out, cancel, progress)
            return ImportPreview(changes, laid_out.plain and laid_out.plain.version, refusal)

        label = self.tr("Working out what {env} would change").format(env=environment.name)
        return self.runner.prepare(label, None, operation, let_go_at_quit=True)


def _on_a_thread_of_its_own(work: Callable[..., object], *args: object) -> None:
    """Run `work(*args)` on a thread not waited for, by the window nor at quit."""
    threading.Thread(target=work, args=args, name="envops-release", daemon=True).start()
