"""The public configuration-file format: its manifest model and the limits enforced on import.

Documented for people in docs/configuration-file-format.md; keep the two in step.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.paths import relative_path_problem

FORMAT_NAME = "envops-configuration"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
FILES_PREFIX = "config/"


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


class ConfigurationManifest(BaseModel):
    """`manifest.json` at the root of a configuration file.

    Unknown fields are ignored so that files written by later versions of the same major
    format stay readable; a higher `format_version` is refused with a clear sentence.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    format: Literal["envops-configuration"]
    format_version: int = Field(ge=1)
    environment_name: str
    backup_name: str
    # Printable: it is shown in tables and written to the activity log.
    version: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")
    created_at: datetime
    created_by: str
    entries: list[ManifestEntry]
    root_mode: int | None = Field(default=None, ge=0, le=0o7777)
    root_mtime_ns: int | None = None

    @property
    def file_count(self) -> int:
        return sum(1 for e in self.entries if e.kind == "file")

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)


def replacement_warning(file_name: str, exported_from: str, environment: str) -> str:
    """What importing a configuration file into `environment` will do, said before it does.

    A file exported from another environment says so first: that is how the wrong one gets
    noticed before it replaces anything.
    """
    if exported_from != environment:
        return (
            f"This file was exported from {exported_from}. Importing it replaces "
            f"{environment}'s configuration."
        )
    return f"Importing {file_name} erases the current configuration of {environment}."


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what an imported file may ask of this machine."""

    max_entries: int = 1_000_000
    max_total_bytes: int = 64 << 30
    max_manifest_bytes: int = 256 << 20
    # Real configuration compresses well, but not 200:1 past a megabyte: that is a zip bomb.
    max_ratio: int = 200
    ratio_applies_above: int = 1 << 20
