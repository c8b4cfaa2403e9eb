"""The closed vocabularies of the domain."""

from enum import StrEnum


class EnvironmentStatus(StrEnum):
    """What an environment is doing, as shown on every screen."""

    READY = "Ready"
    UPDATING = "Updating"
    UPDATE_FAILED = "Update Failed"


class BackupOrigin(StrEnum):
    """Why a backup exists."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    PRE_RESTORE = "pre-restore"
    IMPORTED = "imported"


class EntryKind(StrEnum):
    """The kinds of filesystem entry a backup can hold."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    FIFO = "fifo"
    SOCKET = "socket"


class ActivityAction(StrEnum):
    """What an activity log entry records."""

    ENVIRONMENT_ADDED = "environment added"
    ENVIRONMENT_UPDATED = "environment updated"
    ENVIRONMENT_REMOVED = "environment removed"
    BACKUP_CREATED = "backup created"
    BACKUP_FAILED = "backup failed"
    BACKUP_DELETED = "backup deleted"
    BACKUP_RECOVERED = "backup recovered"
    BACKUP_EXPORTED = "backup exported"
    BACKUP_RESTORED = "backup restored"
    RESTORED_TO_FOLDER = "backup restored to a folder"
    CONFIGURATION_IMPORTED = "configuration imported"
    RESTORE_FAILED = "restore failed"
    RESTORE_CANCELLED = "restore cancelled"
    RECOVERED = "recovered after interruption"


class Outcome(StrEnum):
    """How an operation ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"


class JournalPhase(StrEnum):
    """Where a restore is, written durably before each step so a crash can be undone."""

    STAGING = "staging"
    SWAPPING = "swapping"
    APPLIED = "applied"
    # In place and recorded, not yet known to be on disk: the previous configuration is
    # kept until it is, so a power cut in between can still be undone.
    FLUSHING = "flushing"
    ROLLING_BACK = "rolling back"
    DONE = "done"
