"""The public configuration-file format: its manifest model and the limits enforced on import.

Documented for people in docs/configuration-file-format.md; keep the two in step.
"""

import base64
import binascii
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from typing_extensions import TypedDict

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.models import bytes_written
from envops_desktop.domain.paths import is_utf8_text, relative_path_problem

FORMAT_NAME = "envops-configuration"
FORMAT_VERSION = 3  # the newest this version reads
# The version a file is written in when its names need nothing newer: what every earlier
# EnvOps reads.
PLAIN_NAMES_VERSION = 1
# From this version on, names that are not UTF-8 are carried: in the manifest as JSON escapes
# of lone surrogates (`\udcff` for the byte 0xff, as Python's "surrogateescape" holds it),
# and in every member's name escaped (`member_name`).
ESCAPED_NAMES_VERSION = 2
# From this version on, a symlink, FIFO or socket may be another name of an earlier one (its
# meta's `hardlink`), as rsync -H keeps them; before, only files were.
LINKED_NODES_VERSION = 3
MANIFEST_NAME = "manifest.json"
FILES_PREFIX = "config/"
_BYTE_ESCAPE = re.compile(r"\\(?:\\|x([89a-f][0-9a-f]))")


def needs_escaped_names(
    entries: Iterable["ManifestEntry"], root_meta: dict[str, Any] | None = None
) -> bool:
    """Whether any name among `entries` (a path, a link's target, a hardlink, an extended
    attribute's name), or of the folder's own extended attributes (`root_meta`), is not
    UTF-8, which a file can carry only from `ESCAPED_NAMES_VERSION`."""
    if not all(map(is_utf8_text, (root_meta or {}).get("xattrs") or ())):
        return True
    for entry in entries:
        meta = entry.meta or {}
        names = [entry.path, entry.target or "", meta.get("hardlink") or ""]
        if not all(map(is_utf8_text, [*names, *(meta.get("xattrs") or ())])):
            return True
    return False


def format_version_for(
    entries: list["ManifestEntry"], root_meta: dict[str, Any] | None = None
) -> int:
    """The oldest format that carries `entries` and the folder's `root_meta`, so that as
    many versions as can read it."""
    if any(e.kind is not EntryKind.FILE and e.meta and "hardlink" in e.meta for e in entries):
        return LINKED_NODES_VERSION
    escaped = needs_escaped_names(entries, root_meta)
    return ESCAPED_NAMES_VERSION if escaped else PLAIN_NAMES_VERSION


def member_name(path: str, format_version: int) -> str:
    """The zip member that holds the content of the file at `path`. From
    `ESCAPED_NAMES_VERSION`, its backslashes doubled and each byte that is not UTF-8 written
    as `\\xNN`, so that every name is UTF-8 and reads back to one path only."""
    if format_version < ESCAPED_NAMES_VERSION:
        return FILES_PREFIX + path
    escaped = path.replace("\\", "\\\\").encode("utf-8", "surrogateescape")
    return FILES_PREFIX + escaped.decode("utf-8", "backslashreplace")


def path_of_member(name: str) -> str | None:
    """The path whose content member `name` (without `FILES_PREFIX`) holds in a file of
    `ESCAPED_NAMES_VERSION` or later; None when it is not escaped as `member_name` escapes."""
    if "\\" not in name:
        return name
    if "\\" in _BYTE_ESCAPE.sub("", name):
        return None  # a backslash that escapes nothing, or a byte no name holds so
    path = _BYTE_ESCAPE.sub(
        lambda m: "\\" if m[1] is None else os.fsdecode(bytes([int(m[1], 16)])), name
    )
    return None if relative_path_problem(path) else path


_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"
_PRINTABLE_OR_EMPTY = r"^[^\x00-\x1f\x7f-\x9f]*$"  # a plain archive's manifest names nothing


def _names_are_plain(value: dict[str, str]) -> dict[str, str]:
    for name, content in value.items():
        if not 0 < len(name) <= 255 or "\x00" in name or "." not in name:
            raise ValueError(f"extended attribute name {name!r} is not valid")
        try:
            base64.b64decode(content, validate=True)
        except binascii.Error:
            raise ValueError(f"extended attribute {name!r} is not base64") from None
    return value


def _link_path_is_safe(value: str) -> str:
    problem = relative_path_problem(value)
    if problem:
        raise ValueError(f"hardlink {value!r} {problem}")
    return value


def _extents_in_order(value: list[tuple[int, int]]) -> list[tuple[int, int]]:
    end = 0
    for offset, length in value:
        if offset < end:
            raise ValueError("data extents overlap or are out of order")
        end = offset + length
    return value


class EntryMetadata(TypedDict, total=False):
    """An entry's owner, extended attributes, hardlink and holes: `meta` in the manifest.

    A typed dict, not a model: checked in pydantic's core as part of its entry, and kept as
    the plain object a manifest row holds (a model checked and dumped again for each entry
    was half the time of checking a teammate's list of 20,000 files)."""

    __pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[misc]

    uid: Annotated[int, Field(ge=0, lt=1 << 32)] | None
    gid: Annotated[int, Field(ge=0, lt=1 << 32)] | None
    user: Annotated[str, Field(max_length=256, pattern=_PRINTABLE)] | None
    group: Annotated[str, Field(max_length=256, pattern=_PRINTABLE)] | None
    # As recorded: base64, checked but not decoded.
    xattrs: Annotated[dict[str, str], AfterValidator(_names_are_plain)] | None
    hardlink: Annotated[str, AfterValidator(_link_path_is_safe)] | None
    data: (
        Annotated[
            list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(gt=0)]]],
            AfterValidator(_extents_in_order),
        ]
        | None
    )


def _as_recorded(value: EntryMetadata | None) -> dict[str, Any] | None:
    """Checked metadata as a manifest row holds it: no empty fields, extents as lists."""
    if value is None:
        return None
    kept: dict[str, Any] = {name: field for name, field in value.items() if field is not None}
    if "data" in kept:
        kept["data"] = [list(extent) for extent in kept["data"]]
    return kept or None


# An entry's `meta`, checked as `EntryMetadata`, kept (and written) as the plain object a
# row holds.
CheckedMeta = Annotated[
    EntryMetadata | None,
    AfterValidator(_as_recorded),
    PlainSerializer(lambda value: value, return_type=dict[str, Any] | None),
]


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
    meta: CheckedMeta = None

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
        if self.meta and self.kind is not EntryKind.FILE and "data" in self.meta:
            raise ValueError(f"{self.path!r} is not a file but has holes")
        if self.meta and self.kind is EntryKind.DIR and "hardlink" in self.meta:
            raise ValueError(f"{self.path!r} is a folder but has a hardlink")
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
    # Printable, these four: they are shown in tables and written to the activity log, where
    # a newline would forge a line of its own.
    environment_name: str = Field(pattern=_PRINTABLE_OR_EMPTY)
    backup_name: str = Field(pattern=_PRINTABLE_OR_EMPTY)
    version: str = Field(min_length=1, max_length=100, pattern=_PRINTABLE)
    created_at: datetime
    created_by: str = Field(pattern=_PRINTABLE_OR_EMPTY)
    entries: list[ManifestEntry]
    root_mode: int | None = Field(default=None, ge=0, le=0o7777)
    root_mtime_ns: int | None = None
    root_meta: CheckedMeta = None

    @property
    def file_count(self) -> int:
        return sum(1 for e in self.entries if e.kind == "file")

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def written_bytes(self) -> int:
        """What an import writes to disk (`bytes_written`), holes and hardlinks not counted."""
        return sum(map(bytes_written, self.entries))


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
    # What its files write: a sparse file's holes are left unwritten.
    max_total_bytes: int = 64 << 30
    # What they read as, holes included: every byte is hashed (ten minutes for a TiB here),
    # and a tar's sparse map may declare terabytes of holes in a few bytes.
    max_read_bytes: int = 1 << 40
    max_manifest_bytes: int = 256 << 20
    # Real configuration compresses well, but a whole archive that expands 200 times into
    # more than a gigabyte is a zip bomb.
    max_ratio: int = 200
    ratio_applies_above: int = 1 << 30
