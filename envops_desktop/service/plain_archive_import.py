"""Importing an archive another tool made: its tree taken as a configuration file's, with
the version the user confirms and the root folder the user picks.

The archive is read and hashed once (`store/plain_archives.py`); everything after that (the
preview, the upload, the import in one pass, the backup it becomes) is a configuration
file's, under the same path, link and size rules.
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from envops_desktop.domain.configuration import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ConfigurationManifest,
    ManifestEntry,
)
from envops_desktop.domain.errors import InvalidInputError, OperationFailedError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.service.context import UPLOAD_PREFIX, ServiceContext
from envops_desktop.store.configuration_reader import (
    DEFAULT_LIMITS,
    check_converted,
    validated_entries,
)
from envops_desktop.store.member_staging import refused
from envops_desktop.store.owned_folders import OwnedFolder
from envops_desktop.store.plain_archives import PlainTree, read_plain_archive
from envops_desktop.store.timestamps import utc_now
from envops_desktop.store.zip_members import ZipMember

if TYPE_CHECKING:
    from envops_desktop.service.configuration_files import (
        CheckedConfigurationFile,
        StagedConfiguration,
    )

Members = dict[str, ZipMember]
# A manifest's version until the user says which it is; nothing is imported with it.
_UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class PlainArchive:
    """What makes an archive with no manifest importable: how it was read, and the two
    answers the user gives, which version it is and which folder is its root."""

    tree: PlainTree
    allow_external_links: bool
    version: str | None = None
    # The archive's one top-level folder taken as the environment's folder; None: the
    # archive's top level is.
    root_folder: str | None = None
    # An archive holding one folder is read either way; until the user picks, neither.
    layout_chosen: bool = False

    @property
    def top_folder(self) -> str | None:
        """The archive's one top-level folder, when that is all it holds."""
        return self.tree.top_folder

    def unanswered(self, file_name: str) -> str | None:
        """What the user has still to say before this archive can be imported, if anything."""
        if self.top_folder is not None and not self.layout_chosen:
            return (
                f"{file_name} holds a single folder, {self.top_folder}: choose whether that "
                "folder or the archive's top level is the configuration folder."
            )
        if self.version is None:
            return (
                f"{file_name} has no manifest to say which version of the configuration it "
                "holds: confirm its version."
            )
        return None


def no_checksums_caveat(file_name: str, kind: str) -> str:
    """Said before the import, and kept in its activity entry."""
    return (
        f"{file_name} is a plain {kind} archive: it carried no checksums, so its files are "
        "taken as they were read."
    )


def macos_folder_caveat(file_name: str) -> str:
    """Said when a zip's `__MACOSX` folder was left out."""
    return (
        f"{file_name} was zipped on a Mac: its __MACOSX folder, where macOS keeps a copy of "
        "the files' resource forks and attributes, is left out."
    )


def read_archive(
    ctx: ServiceContext,
    source: Path,
    kind: str,
    allow_external_links: bool,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> tuple[PlainArchive, ConfigurationManifest, Members, OwnedFolder | None]:
    """Read and check `source`; a tar's bodies are copied into a scratch folder, returned
    with it, the copy bearing the archive's name (for every sentence that names it)."""
    scratch = None if kind == "zip" else OwnedFolder(ctx.staging_dir, f"{UPLOAD_PREFIX}{new_id()}")
    try:
        copy = scratch.directory / source.name if scratch is not None else source
        tree = read_plain_archive(source, kind, copy, DEFAULT_LIMITS, progress, cancel)
        plain = PlainArchive(tree, allow_external_links)
        manifest, members = _manifest(source, plain)
    except BaseException:
        if scratch is not None:
            scratch.release()
        raise
    return plain, manifest, members, scratch


def _manifest(source: Path, plain: PlainArchive) -> tuple[ConfigurationManifest, Members]:
    """The manifest the archive would have carried, laid out and versioned as chosen."""
    tree = plain.tree
    root, rows, members = tree.root, tree.entries, tree.members
    if plain.root_folder is not None:
        prefix = plain.root_folder + "/"
        root = next(e for e in rows if e["path"] == plain.root_folder)
        rows = [_moved(e, prefix) for e in rows if e["path"] != plain.root_folder]
        members = {path.removeprefix(prefix): member for path, member in members.items()}
    header = ConfigurationManifest(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        environment_name="",
        backup_name="",
        version=plain.version or _UNCONFIRMED,
        created_at=utc_now(),
        created_by="",
        entries=[],
        root_mode=None if root is None else root["mode"],
        root_mtime_ns=None if root is None else root["mtime_ns"],
        root_meta=None if root is None else root.get("meta"),
    )
    manifest = header.model_copy(update={"entries": _validated(source, rows)})
    check_converted(source, manifest, members, plain.allow_external_links)
    return manifest, members


def _moved(entry: dict[str, Any], prefix: str) -> dict[str, Any]:
    moved = {**entry, "path": entry["path"].removeprefix(prefix)}
    if (link := (entry.get("meta") or {}).get("hardlink")) is not None:
        moved["meta"] = {**entry["meta"], "hardlink": link.removeprefix(prefix)}
    return moved


def _validated(source: Path, rows: list[dict[str, Any]]) -> list[ManifestEntry]:
    def invalid(_start: int, error: ValidationError, batch: list[Any]) -> Exception:
        first = error.errors()[0]
        row = batch[int(first["loc"][0])]
        message = first["msg"].removeprefix("Value error, ")
        return refused(source, f"the entry {row['path']!r} cannot be kept: {message}")

    # A copy: validation takes its rows out, and the archive's are kept to lay it out again
    # when the user chooses another root.
    return validated_entries(list(rows), invalid)


File = TypeVar("File", "CheckedConfigurationFile", "StagedConfiguration")


def answered(file: File, version: str | None, root_folder: str | None) -> File:
    """`file`, a plain archive, with the user's answers: its version, and `root_folder`
    (its one top-level folder, or None for the archive's top level)."""
    plain = file.plain
    assert plain is not None, "only a plain archive is asked these"
    if root_folder is not None and root_folder != plain.top_folder:
        raise OperationFailedError(
            f"{root_folder} is not the one folder {file.file_name} holds"
            + (f" ({plain.top_folder})." if plain.top_folder else "; it holds several.")
        )
    chosen = replace(plain, version=version, root_folder=root_folder, layout_chosen=True)
    manifest, members = _manifest(Path(file.file_name), chosen)
    from envops_desktop.service.configuration_files import CheckedConfigurationFile

    if isinstance(file, CheckedConfigurationFile):  # the bodies are read from it still
        return replace(file, plain=chosen, manifest=manifest, members=members)
    return replace(file, plain=chosen, manifest=manifest)


def with_version_said(file: File, version: str | None, said: str, version_file: str) -> File:
    """`file`, laid out, whose `version_file` (where the environment keeps its version) says
    it holds version `said`: that is its version, and the user's answer must agree."""
    if version is not None and version != said:
        raise InvalidInputError(
            f"{file.file_name} holds {version_file}, which says it is version {said}, not "
            f"{version}; nothing was changed."
        )
    assert file.plain is not None, "only a plain archive is asked its version"
    manifest = file.manifest.model_copy(update={"version": said})
    return replace(file, plain=replace(file.plain, version=said), manifest=manifest)
