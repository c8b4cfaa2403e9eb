"""The public configuration-file format: its manifest model and the limits enforced on import.

Documented for people in docs/configuration-file-format.md; keep the two in step.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.paths import relative_path_problem

FORMAT_NAME = "envops-configuration"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
FILES_PREFIX = "config/"


_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"


class EntryMetadata(BaseModel):
    """An entry's owner, extended attributes, hardlink and holes: `meta` in the manifest."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    uid: int | None = Field(default=None, ge=0, lt=1 << 32)
    gid: int | None = Field(default=None, ge=0, lt=1 << 32)
    user: str | None = Field(default=None, max_length=256, pattern=_PRINTABLE)
    group: str | None = Field(default=None, max_length=256, pattern=_PRINTABLE)
    xattrs: dict[str, str] | None = None
    hardlink: str | None = None
    data: list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(gt=0)]]] | None = None

    @field_validator("xattrs")
    @classmethod
    def _names_are_plain(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, content in (value or {}).items():
            if not 0 < len(name) <= 255 or "\x00" in name or "." not in name:
                raise ValueError(f"extended attribute name {name!r} is not valid")
            try:
                base64.b64decode(content, validate=True)
            except binascii.Error:
                raise ValueError(f"extended attribute {name!r} is not base64") from None
        return value

    @field_validator("hardlink")
    @classmethod
    def _link_path_is_safe(cls, value: str | None) -> str | None:
        problem = relative_path_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"hardlink {value!r} {problem}")
        return value

    @field_validator("data")
    @classmethod
    def _extents_in_order(cls, value: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        end = 0
        for offset, length in value or []:
            if offset < end:
                raise ValueError("data extents overlap or are out of order")
            end = offset + length
        return value


def checked_meta(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`value` checked as `EntryMetadata`, and kept as the plain object a manifest row holds."""
    if value is None:
        return None
    checked = EntryMetadata.model_validate(value).model_dump(exclude_none=True)
    if "xattrs" in checked:  # as recorded: base64, not the decoded bytes
        checked["xattrs"] = value["xattrs"]
    if "data" in checked:
        checked["data"] = [list(extent) for extent in checked["data"]]
    return checked or None


class ManifestEntry(BaseModel):
    """One entry of a backup (file, directory, symlink, FIFO or socket), with what it takes
    to recreate it exactly."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    path: str
    kind: EntryKind
    mode: int = Field(ge=0, le=0o7777)
    size: int = Field(default=0, ge=0)
    mtime_ns: int
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    target: str | None = None
    # Kept as the plain object a backup's manifest row holds, checked as `EntryMetadata`.
    meta: dict[str, Any] | None = None

    @field_validator("meta")
    @classmethod
    def _meta_is_valid(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return checked_meta(value)

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
        if self.meta and self.kind is not EntryKind.FILE and {"hardlink", "data"} & set(self.meta):
            raise ValueError(f"{self.path!r} is not a file but has a hardlink or holes")
        for offset, length in (self.meta or {}).get("data", []):
            if offset + length > self.size:
                raise ValueError(f"file {self.path!r} has data past its size")
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
    version: str = Field(min_length=1, max_length=100, pattern=_PRINTABLE)
    created_at: datetime
    created_by: str
    entries: list[ManifestEntry]
    root_mode: int | None = Field(default=None, ge=0, le=0o7777)
    root_mtime_ns: int | None = None
    root_meta: dict[str, Any] | None = None

    @field_validator("root_meta")
    @classmethod
    def _root_meta_is_valid(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return checked_meta(value)

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
    if exported_from and exported_from != environment:  # an archive with no manifest: ""
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
    # Real configuration compresses well, but a whole archive that expands 200 times into
    # more than a gigabyte is a zip bomb.
    max_ratio: int = 200
    ratio_applies_above: int = 1 << 30
