"""What every part of the service shares: the data dir, its records, blobs and locks."""

import getpass
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import Environment
from envops_desktop.service.locks import Locks
from envops_desktop.store.activity_records import ActivityRecords
from envops_desktop.store.backup_records import BackupRecords
from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.database import Database
from envops_desktop.store.environment_records import EnvironmentRecords
from envops_desktop.store.folder_owners import others_parts, refusal
from envops_desktop.store.hash_caches import HashCaches
from envops_desktop.store.journal_records import JournalRecords
from envops_desktop.store.retention_records import RetentionRecords
from envops_desktop.store.schedule_records import ScheduleRecords
from envops_desktop.store.service_settings import ServiceSettings
from envops_desktop.store.shared_records import SharedRecords
from envops_desktop.store.timestamps import utc_now

POOL_SIZE = max(2, min(8, os.cpu_count() or 2))
# Folders in the staging dir: an upload's content until it is imported, an export's scratch.
UPLOAD_PREFIX = "upload-"
# The data folder's file naming its team's shared store, when it uses one.
SHARED_STORE_SETTINGS = "shared-store.json"
EXPORT_SCRATCH_PREFIX = "export-"
# Owns a restore to a folder's hidden tree beside that folder, so a kill leaves none behind.
FOLDER_RESTORE_PREFIX = "to-folder-"


def login_name() -> str:
    """The OS login of whoever runs the operation, for `created by` and the activity log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class ServiceContext:
    """The open data dir."""

    data_dir: Path
    db: Database
    environments: EnvironmentRecords
    backups: BackupRecords
    hash_caches: HashCaches
    activity: ActivityRecords
    journal: JournalRecords
    blobs: BlobStore
    locks: Locks
    staging_dir: Path
    user: str
    shared: SharedRecords
    schedules: ScheduleRecords
    retention: RetentionRecords
    settings: ServiceSettings
    # The time, UTC: what a backup is stamped with and schedules and retention go by.
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def open(cls, data_dir: Path) -> "ServiceContext":
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        others = others_parts(data_dir)
        if others:
            raise OperationFailedError(refusal(data_dir, others, login_name()))
        db = Database(data_dir)
        settings = ServiceSettings(db)
        staging = data_dir / "staging"
        staging.mkdir(exist_ok=True, mode=0o700)
        return cls(
            data_dir=data_dir,
            db=db,
            environments=EnvironmentRecords(db),
            backups=BackupRecords(db),
            hash_caches=HashCaches(db),
            activity=ActivityRecords(db),
            journal=JournalRecords(db),
            blobs=BlobStore(data_dir, db),
            locks=Locks(data_dir / "locks"),
            staging_dir=staging,
            user=login_name(),
            shared=SharedRecords(db),
            schedules=ScheduleRecords(db),
            retention=RetentionRecords(db, settings),
            settings=settings,
        )

    @property
    def user_at_host(self) -> str:
        """Who and where, as another workstation is told: "alice@ops-laptop"."""
        return f"{self.user}@{platform.node()}"

    def record(
        self, env: Environment, action: ActivityAction, outcome: Outcome, detail: str = ""
    ) -> int:
        """Add an activity entry for `env`; returns its id."""
        return self.activity.append(env.id, env.name, action, self.user, outcome, detail)
