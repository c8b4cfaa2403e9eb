"""What the window asks of the store: Verify store and its Repair, and the team's shared
store (connecting, unlocking, syncing). Long work runs on a worker and is announced like
every other operation (`Announce`: the main controller's banner and refresh)."""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from envops_desktop.controller.environments_model import EnvironmentsTableModel
from envops_desktop.controller.notifications import Notification
from envops_desktop.controller.operation_runner import Announce, OperationRunner, RunningOperation
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.service import EnvOpsService
from envops_desktop.service.store_check import StoreProblem, StoreReport
from envops_desktop.service.store_repair import StoreRepair

if TYPE_CHECKING:
    from envops_desktop.domain.shared_store import SharedStoreSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreCheck:
    """What Verify store found: the report, and each content or list of files missing or
    damaged, with a backup that needs it."""

    report: StoreReport
    problems: list[StoreProblem]


class StoreWork(QObject):
    """Checking, repairing and sharing the store, for the window and Preferences."""

    store_checked = Signal(object)  # the StoreCheck of a Verify store that ran to its end

    def __init__(
        self,
        service: EnvOpsService,
        runner: OperationRunner,
        announce: Announce,
        environments: EnvironmentsTableModel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.runner = runner
        self._announce = announce
        self._environments = environments

    def verify_store(self) -> RunningOperation:
        """Read back every stored content a backup needs, on a worker; `store_checked` then
        gives what was found."""

        def operation(progress: ProgressCallback, cancel: CancelToken) -> StoreCheck:
            report = self.service.check_store(progress, cancel)
            return StoreCheck(report, self.service.store_problems(report))

        running = self._announce(
            self.tr("Verifying the store"),
            None,
            operation,
            lambda check: self.store_summary(check.report),
            lambda check: Notification.SUCCESS if check.report.healthy else Notification.ERROR,
        )
        running.succeeded.connect(self.store_checked)
        return running

    def store_summary(self, report: StoreReport) -> str:
        """One paragraph on what a Verify store found."""
        if report.healthy:
            text = self.tr("The store is whole: {n} read back, none missing or damaged.").format(
                n=self._stored_files(report.checked)
            )
        else:
            text = self.tr(
                "The store is damaged: {missing} missing and {damaged} damaged of {n} read back."
            ).format(
                n=self._stored_files(report.checked),
                missing=len(report.missing),
                damaged=len(report.damaged),
            )
            manifests = len(report.damaged_manifests)
            if manifests:
                text += " " + (
                    self.tr("A backup's list of files is damaged.")
                    if manifests == 1
                    else self.tr("The lists of files of {n} backups are damaged.").format(
                        n=manifests
                    )
                )
        if report.in_team_store:
            text += " " + self.tr("{n} more are in the team's store only.").format(
                n=report.in_team_store
            )
        return text

    def _stored_files(self, count: int) -> str:
        return (
            self.tr("1 stored file") if count == 1 else self.tr("{n} stored files").format(n=count)
        )

    def repair_store(self, report: StoreReport) -> RunningOperation:
        """Forget, on a worker, what `report` found missing or damaged, so that the next
        backup of each environment stores again what its folder still holds, and delete the
        backups whose list of files it found damaged."""
        return self._announce(
            self.tr("Repairing the store"),
            None,
            lambda progress, cancel: self.service.repair_store(report, progress, cancel),
            self._repair_summary,
        )

    def _repair_summary(self, repair: StoreRepair) -> str:
        said = []
        if repair.forgotten:
            said.append(
                self.tr(
                    "Forgot {n} that could not be trusted. Back up each environment now: that "
                    "stores again what its folder still holds, and makes whole every backup "
                    "that needs it."
                ).format(n=self._stored_files(len(repair.forgotten)))
            )
        if repair.deleted:
            # The names the table holds: no read of the database on the window's thread.
            environments = {env.id: env.name for env in self._environments.records()}
            names = ", ".join(
                self.tr("{backup} of {env}").format(
                    backup=b.name, env=environments.get(b.environment_id, "?")
                )
                for b in repair.deleted
            )
            said.append(
                self.tr(
                    "Deleted the backups whose list of files was damaged ({names}): what only "
                    "they held is freed."
                ).format(names=names)
            )
        if repair.from_team_store:
            said.append(
                self.tr(
                    "The team's store holds {n} of them, whole: Sync with team takes them in again."
                ).format(n=len(repair.from_team_store))
            )
        return " ".join(said) or self.tr(
            "Everything was whole on a second look; nothing was forgotten or deleted."
        )

    # The shared store ------------------------------------------------------------------------

    def shared_store(self) -> "SharedStoreSettings | None":
        return self.service.shared_store()

    def stored_passphrase(self, url: str) -> RunningOperation:
        """Prepare looking the store's passphrase up in ENVOPS_PASSPHRASE and the keyring
        (None when neither has it): on a worker, since a keyring may take its time."""
        from envops_desktop.service.passphrases import passphrase_for

        return self.runner.prepare(
            self.tr("Looking for the passphrase"), None, lambda _p, _c: passphrase_for(url)
        )

    def test_store(self, url: str, endpoint: str, region: str) -> RunningOperation:
        """Prepare proving that a server enforces conditional writes (the dialog launches)."""
        return self.runner.prepare(
            self.tr("Testing the connection"),
            None,
            lambda _p, _c: self.service.test_shared_store(url, endpoint, region),
        )

    def connect_store(
        self, url: str, endpoint: str, region: str, passphrase: str, remember: bool
    ) -> RunningOperation:
        """Prepare connecting this data folder to the store at `url`."""

        def operation(_p: ProgressCallback, _c: CancelToken) -> object:
            from envops_desktop.service.passphrases import remember_passphrase

            opened = self.service.use_shared_store(url, passphrase, endpoint, region)
            if remember and not remember_passphrase(opened.settings.url, passphrase):
                log.info("no keyring to keep the passphrase in")
            return opened

        return self.runner.prepare(self.tr("Connecting to {url}").format(url=url), None, operation)

    def unlock_store(self, passphrase: str) -> RunningOperation:
        """Prepare unlocking the shared store, so that restores of shared environments can
        take their lock there (the window launches it)."""
        return self.runner.prepare(
            self.tr("Unlocking the shared store"),
            None,
            lambda _p, _c: self.service.unlock_shared_store(passphrase),
        )

    def sync_store(self, passphrase: str) -> RunningOperation:
        """Share the backups made here and take in the team's, on a worker."""
        return self._announce(
            self.tr("Syncing with the team"),
            None,
            lambda progress, cancel: self.service.sync_shared_store(passphrase, progress, cancel),
            lambda report: report.summary(),
            # Done, but a backup of the team's not taken in waits for the user.
            lambda report: Notification.ERROR if report.refused else Notification.SUCCESS,
        )
