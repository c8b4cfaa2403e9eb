"""pydantic models for what the service stores and returns."""

from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envops_desktop.domain.enums import (
    ActivityAction,
    BackupOrigin,
    EntryKind,
    EnvironmentStatus,
    Outcome,
)
from envops_desktop.domain.paths import relative_path_problem


class PostRestoreCommand(BaseModel):
    """A command run inside the environment after its configuration is swapped in."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    argv: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=300.0, gt=0)


class Environment(BaseModel):
    """A named configuration directory this app keeps safe."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    name: str
    path: str
    version: str
    version_file: str | None = None
    status: EnvironmentStatus = EnvironmentStatus.READY
    post_restore_command: PostRestoreCommand | None = None
    last_restored_backup_id: str | None = None
    last_backup_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class TreeEntry(NamedTuple):
    """One entry of a backup's tree as the engine handles it: the fields of `ManifestEntry`.

    A plain tuple: a 200,000-file backup held as `ManifestEntry` models took 207 MiB, as
    these 21 MiB, and the garbage collector stops tracking them.
    """

    path: str
    kind: EntryKind
    mode: int
    size: int
    mtime_ns: int
    sha256: str | None
    target: str | None


class ManifestEntry(BaseModel):
    """One file, directory or symlink of a backup, with what it takes to recreate it exactly."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    path: str
    kind: EntryKind
    mode: int = Field(ge=0, le=0o7777)
    size: int = Field(default=0, ge=0)
    mtime_ns: int
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    target: str | None = None

    @field_validator("path")
    @classmethod
    def _path_is_safe(cls, value: str) -> str:
        problem = relative_path_problem(value)
        if problem:
            raise ValueError(f"path {value!r} {problem}")
        return value

    @model_validator(mode="after")
    def _kind_has_its_fields(self) -> "ManifestEntry":
        if self.kind is EntryKind.FILE and self.sha256 is None:
            raise ValueError(f"file {self.path!r} has no sha256")
        if self.kind is EntryKind.SYMLINK and not self.target:
            raise ValueError(f"symlink {self.path!r} has no target")
        return self


class Backup(BaseModel):
    """An immutable snapshot of one environment's configuration."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    environment_id: str
    name: str
    created_at: datetime
    version: str
    created_by: str
    origin: BackupOrigin
    file_count: int
    total_bytes: int
    skipped: list[str] = Field(default_factory=list)
    # The environment folder's own permissions and mtime, restored with its contents.
    root_mode: int | None = None
    root_mtime_ns: int | None = None


class ActivityEntry(BaseModel):
    """One line of the activity log."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: int
    time: datetime
    environment_id: str | None
    environment_name: str
    action: ActivityAction
    user: str
    outcome: Outcome
    detail: str = ""


class RecoveryReport(BaseModel):
    """What start-up recovery did with one interrupted operation."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    environment_name: str
    rolled_forward: bool
    detail: str
