"""The public configuration-file format: its manifest model and the limits enforced on import.

Documented for people in docs/configuration-file-format.md; keep the two in step.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envops_desktop.domain.models import ManifestEntry

FORMAT_NAME = "envops-configuration"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
FILES_PREFIX = "config/"


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
    version: str = Field(min_length=1, max_length=100)
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


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what an imported file may ask of this machine."""

    max_entries: int = 1_000_000
    max_total_bytes: int = 64 << 30
    max_manifest_bytes: int = 256 << 20
    # Real configuration compresses well, but not 200:1 past a megabyte: that is a zip bomb.
    max_ratio: int = 200
    ratio_applies_above: int = 1 << 20
