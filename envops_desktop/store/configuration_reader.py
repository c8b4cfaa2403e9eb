"""Reading a configuration file as untrusted input: validate everything, stream every byte.

Nothing here trusts the file: paths, links, types, sizes, ratios and checksums are all checked,
and the first problem is reported in one sentence naming the entry. Memory stays bounded by
the chunk size whatever the file's size.
"""

import hashlib
import json
import stat
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from pydantic import ConfigDict, TypeAdapter, ValidationError

from envops_desktop.domain.configuration import (
    FILES_PREFIX,
    FORMAT_VERSION,
    MANIFEST_NAME,
    ConfigurationManifest,
    ImportLimits,
    ManifestEntry,
)
from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import InvalidConfigurationFileError
from envops_desktop.domain.paths import link_target_escapes, relative_path_problem
from envops_desktop.domain.progress import CancelToken, ProgressMeter
from envops_desktop.store.blobs import CHUNK
from envops_desktop.store.json_in_steps import loads_in_steps
from envops_desktop.store.staged_blobs import StagedBlobs
from envops_desktop.store.zip_members import (
    BODY_ERRORS,
    UnreadableEntryError,
    member_chunks,
    readable_here,
)

DEFAULT_LIMITS = ImportLimits()
# Built on first import of a file, not when the command line starts (40 ms).
_ENTRIES = TypeAdapter(list[ManifestEntry], config=ConfigDict(defer_build=True))
_VALIDATION_BATCH = 500
# Files whose contents are looked up in the store with one query (SQLite takes 999 values).
_LOOKUP_BATCH = 500
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def _refuse(path: Path, problem: str) -> InvalidConfigurationFileError:
    return InvalidConfigurationFileError(f"{path.name} was refused: {problem}.")


def open_archive(path: Path) -> zipfile.ZipFile:
    """Open the zip or say plainly why it is not one."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except IsADirectoryError as error:
        raise _refuse(path, "it is a folder, not a file") from error
    except FileNotFoundError as error:
        raise _refuse(path, "the file does not exist") from error
    except OSError as error:
        raise _refuse(path, f"it cannot be read ({error.strerror})") from error
    if magic not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        raise _refuse(path, "it is not a configuration file (not a zip archive)")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise _refuse(
            path, "it is truncated or damaged (its zip directory cannot be read)"
        ) from error


def _check_members(
    path: Path, archive: zipfile.ZipFile, limits: ImportLimits
) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise _refuse(
            path, f"it has {len(infos)} entries, more than the limit of {limits.max_entries}"
        )
    duplicates = [name for name, count in Counter(i.filename for i in infos).items() if count > 1]
    if duplicates:
        raise _refuse(path, f"the entry {duplicates[0]!r} appears more than once")
    members = {}
    for info in infos:
        name = info.filename
        if name == MANIFEST_NAME:
            continue
        problem = relative_path_problem(name.rstrip("/"))
        if problem:
            raise _refuse(path, f"the entry {name!r} {problem}")
        if not name.startswith(FILES_PREFIX):
            raise _refuse(path, f"the entry {name!r} is outside the config/ folder")
        file_type = stat.S_IFMT(info.external_attr >> 16)
        if file_type == stat.S_IFLNK:
            raise _refuse(
                path, f"the entry {name!r} is a link stored as a file; links belong in the manifest"
            )
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse(path, f"the entry {name!r} is a device file, FIFO or socket")
        if info.is_dir():
            continue
        if (
            info.file_size > limits.ratio_applies_above
            and info.file_size > info.compress_size * limits.max_ratio
        ):
            raise _refuse(
                path,
                f"the entry {name!r} expands more than {limits.max_ratio} times (a zip bomb)",
            )
        members[name.removeprefix(FILES_PREFIX)] = info
    return members


def _read_manifest(
    path: Path, archive: zipfile.ZipFile, limits: ImportLimits
) -> ConfigurationManifest:
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError as error:
        raise _refuse(path, "it has no manifest.json") from error
    if info.file_size > limits.max_manifest_bytes:
        raise _refuse(path, "its manifest.json is larger than the limit")
    try:
        with archive.open(info) as f:
            raw = f.read(limits.max_manifest_bytes + 1)
        # The encodings json.loads accepts (UTF-8, -16, -32), parsed a value at a time.
        document = loads_in_steps(raw.decode(json.detect_encoding(raw)))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise _refuse(path, "its manifest.json is damaged") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _refuse(path, f"its manifest.json is not valid JSON ({error})") from error
    declared = document.get("format_version") if isinstance(document, dict) else None
    if isinstance(declared, int) and declared > FORMAT_VERSION:
        raise _refuse(
            path,
            f"it was written in format version {declared}, newer than "
            f"this EnvOps reads ({FORMAT_VERSION}); update EnvOps Desktop",
        )
    return _validate_manifest(path, document)


def _validate_manifest(path: Path, document: object) -> ConfigurationManifest:
    """Validate the header, then the entries a batch at a time.

    pydantic validates in Rust while holding the GIL; 20,000 entries in one call froze the
    GUI thread for a third of a second, batches let it run in between.
    """
    raw_entries = document.get("entries") if isinstance(document, dict) else None
    try:
        if not isinstance(raw_entries, list):
            return ConfigurationManifest.model_validate(document)
        header = ConfigurationManifest.model_validate({**document, "entries": []})
        entries: list[ManifestEntry] = []
        for start in range(0, len(raw_entries), _VALIDATION_BATCH):
            try:
                entries += _ENTRIES.validate_python(raw_entries[start : start + _VALIDATION_BATCH])
            except ValidationError as error:
                raise _invalid(path, error, offset=start) from error
    except ValidationError as error:
        raise _invalid(path, error) from error
    return header.model_copy(update={"entries": entries})


def _invalid(path: Path, error: ValidationError, offset: int | None = None) -> Exception:
    first = error.errors()[0]
    location = list(first["loc"])
    if offset is not None:  # a batch of entries: put the entry's place in the whole list
        location = ["entries", offset + int(location[0]), *location[1:]]
    where = ".".join(str(part) for part in location) or "the document"
    message = first["msg"].removeprefix("Value error, ")
    return _refuse(path, f"its manifest.json is invalid at {where}: {message}")


def _check_manifest(
    path: Path,
    manifest: ConfigurationManifest,
    members: dict[str, zipfile.ZipInfo],
    limits: ImportLimits,
    allow_external_links: bool,
) -> None:
    kinds: dict[str, EntryKind] = {}
    for entry in manifest.entries:
        if entry.path in kinds:
            raise _refuse(path, f"the manifest lists {entry.path!r} twice")
        kinds[entry.path] = entry.kind
    for entry in manifest.entries:
        parent = entry.path.rpartition("/")[0]
        if parent and kinds.get(parent) is not EntryKind.DIR:
            why = (
                "inside a link"
                if kinds.get(parent) is EntryKind.SYMLINK
                else "not in a listed folder"
            )
            raise _refuse(path, f"the entry {entry.path!r} is {why}")
        if (
            entry.kind is EntryKind.SYMLINK
            and not allow_external_links
            and link_target_escapes(entry.path, entry.target or "")
        ):
            raise _refuse(
                path,
                f"the link {entry.path!r} points outside the environment "
                f"(to {entry.target!r}); allow external links to import it",
            )
        if entry.kind is EntryKind.FILE:
            info = members.get(entry.path)
            if info is None:
                raise _refuse(
                    path, f"the file {entry.path!r} is in the manifest but not in the archive"
                )
            if info.file_size != entry.size:
                raise _refuse(
                    path,
                    f"the file {entry.path!r} is {info.file_size} bytes in the archive but "
                    f"{entry.size} in the manifest",
                )
    for name in members:
        if kinds.get(name) is not EntryKind.FILE:
            raise _refuse(
                path, f"the entry {FILES_PREFIX + name!r} is not listed in the manifest as a file"
            )
    if manifest.total_bytes > limits.max_total_bytes:
        raise _refuse(
            path, f"it would expand to more than the limit of {limits.max_total_bytes >> 30} GiB"
        )


def _member_chunks(
    archive: zipfile.ZipFile, raw: BinaryIO, info: zipfile.ZipInfo
) -> Iterator[bytes]:
    if readable_here(info):
        yield from member_chunks(raw, info, CHUNK)
        return
    try:  # another compression method: zipfile's own reader
        stream = archive.open(info)
    except (RuntimeError, NotImplementedError) as error:  # zipfile's words for these two
        raise UnreadableEntryError from error
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _stage_file(
    path: Path,
    archive: zipfile.ZipFile,
    raw: BinaryIO,
    info: zipfile.ZipInfo,
    entry: ManifestEntry,
    sink: StagedBlobs,
    meter: ProgressMeter,
    cancel: CancelToken,
) -> None:
    digest = hashlib.sha256()
    count = 0

    def chunks() -> Iterator[bytes]:
        nonlocal count
        for chunk in _member_chunks(archive, raw, info):
            cancel.raise_if_cancelled()
            count += len(chunk)
            if count > entry.size:
                raise _refuse(path, f"the file {entry.path!r} holds more than its declared size")
            digest.update(chunk)
            meter.advance(len(chunk), entry.path)
            yield chunk

    try:
        if sink.wants(entry.sha256 or ""):
            provisional = sink.write(chunks(), entry.sha256 or "")
        else:
            provisional = None
            for _ in chunks():
                pass
    except UnreadableEntryError as error:
        raise _refuse(
            path, f"the file {entry.path!r} is encrypted or compressed in a way EnvOps cannot read"
        ) from error
    except (*BODY_ERRORS, zlib.error, EOFError) as error:
        raise _refuse(path, f"the file {entry.path!r} is damaged or truncated ({error})") from error
    if count != entry.size or digest.hexdigest() != entry.sha256:
        if provisional:
            provisional.unlink(missing_ok=True)
        raise _refuse(path, f"the file {entry.path!r} does not match its checksum in the manifest")
    if provisional:
        sink.keep(provisional, entry.sha256 or "")


def read_configuration_file(
    path: Path,
    sink: StagedBlobs,
    meter_for: Callable[[int], ProgressMeter],
    cancel: CancelToken,
    allow_external_links: bool = False,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ConfigurationManifest:
    """Validate `path` completely, staging each verified file's content into `sink`.

    `meter_for(total_bytes)` makes the progress meter once the manifest gives the total.
    """
    with open_archive(path) as archive, open(path, "rb") as raw:
        members = _check_members(path, archive, limits)
        manifest = _read_manifest(path, archive, limits)
        _check_manifest(path, manifest, members, limits, allow_external_links)
        meter: ProgressMeter = meter_for(manifest.total_bytes)
        files = [e for e in manifest.entries if e.kind is EntryKind.FILE]
        for start in range(0, len(files), _LOOKUP_BATCH):
            group = files[start : start + _LOOKUP_BATCH]
            with sink.looking_up([e.sha256 or "" for e in group]):
                for entry in group:
                    info = members[entry.path]
                    _stage_file(path, archive, raw, info, entry, sink, meter, cancel)
        meter.finish()
    return manifest


def peek_environment_name(path: Path) -> str | None:
    """The environment a configuration file says it came from, or None if it cannot say.

    Only a hint for choosing which environment to offer the file to; everything is
    validated properly when the file is uploaded.
    """
    try:
        with open_archive(path) as archive:
            info = archive.getinfo(MANIFEST_NAME)
            if info.file_size > DEFAULT_LIMITS.max_manifest_bytes:
                return None
            name = json.loads(archive.read(info)).get("environment_name")
    except (
        InvalidConfigurationFileError,
        KeyError,
        ValueError,
        AttributeError,
        OSError,
        zipfile.BadZipFile,
        zlib.error,
    ):
        return None
    return name if isinstance(name, str) else None
