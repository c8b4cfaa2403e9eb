"""Reading a configuration file as untrusted input: the archive and its manifest.

Nothing here trusts the file: paths, links, types, sizes and ratios are all checked before
any content is read, and the first problem is reported in one sentence naming the entry.
The contents are checked against the manifest as they are staged (`member_staging.py`).
"""

import codecs
import json
import os
import re
import stat
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ConfigDict, TypeAdapter, ValidationError

from envops_desktop.domain.configuration import (
    ESCAPED_NAMES_VERSION,
    FILES_PREFIX,
    FORMAT_VERSION,
    MANIFEST_NAME,
    ConfigurationManifest,
    ImportLimits,
    ManifestEntry,
    path_of_member,
)
from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import InvalidConfigurationFileError, NotFoundError
from envops_desktop.domain.paths import link_target_escapes, relative_path_problem
from envops_desktop.store.json_in_steps import loads_in_steps
from envops_desktop.store.member_staging import refused
from envops_desktop.store.zip_members import ZipDirectory, ZipMember
from envops_desktop.store.zip_peek import read_member_start

DEFAULT_LIMITS = ImportLimits()
# Built on first import of a file, not when the command line starts (40 ms).
_ENTRIES = TypeAdapter(list[ManifestEntry], config=ConfigDict(defer_build=True))
_VALIDATION_BATCH = 500
# Where a configuration file names the environment it came from: a JSON string.
_ENVIRONMENT_NAME = re.compile(rb'"environment_name"\s*:\s*("(?:[^"\\]|\\.)*")')
_PEEKED_BYTES = 4096
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def refuse_unless_a_file(path: Path) -> None:
    """Refuse, before anything opens it, what is not a regular file (or a link to one):
    opening a pipe waits for a writer that may never come, and a device never ends."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as error:  # not found, as a backup or environment is (exit 6)
        raise NotFoundError(f"{path} does not exist; nothing was changed.") from error
    except OSError as error:
        raise refused(path, f"it cannot be read ({error.strerror})") from error
    if stat.S_ISDIR(mode):
        raise refused(path, "it is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise refused(
            path, "it is a pipe, a device or a socket, not a file; save what it gives to a file"
        )


def open_archive(path: Path) -> ZipDirectory:
    """Open the zip or say plainly why it is not one."""
    refuse_unless_a_file(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as error:  # gone or changed since: as unreadable as it can be
        raise refused(path, f"it cannot be read ({error.strerror})") from error
    if magic not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        raise refused(path, "it is not a configuration file, nor a zip or tar archive")
    try:
        return ZipDirectory(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise refused(
            path, "it is truncated or damaged (its zip directory cannot be read)"
        ) from error


def _check_members(
    path: Path, archive: zipfile.ZipFile, limits: ImportLimits
) -> dict[str, ZipMember]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise refused(
            path, f"it has {len(infos)} entries, more than the limit of {limits.max_entries}"
        )
    duplicates = [name for name, count in Counter(i.filename for i in infos).items() if count > 1]
    if duplicates:
        raise refused(path, f"the entry {duplicates[0]!r} appears more than once")
    members = {}
    for info in infos:
        name = info.filename
        if name == MANIFEST_NAME:
            continue
        problem = relative_path_problem(name.rstrip("/"))
        if problem:
            raise refused(path, f"the entry {name!r} {problem}")
        if not name.startswith(FILES_PREFIX):
            raise refused(path, f"the entry {name!r} is outside the config/ folder")
        file_type = stat.S_IFMT(info.external_attr >> 16)
        if file_type == stat.S_IFLNK:
            raise refused(
                path, f"the entry {name!r} is a link stored as a file; links belong in the manifest"
            )
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise refused(path, f"the entry {name!r} is a device file, FIFO or socket")
        if info.is_dir():
            continue
        members[name.removeprefix(FILES_PREFIX)] = ZipMember.of(info)
    return members


def _read_manifest(
    path: Path, archive: zipfile.ZipFile, limits: ImportLimits
) -> ConfigurationManifest:
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError as error:
        raise refused(path, "it has no manifest.json") from error
    if info.file_size > limits.max_manifest_bytes:
        raise refused(path, "its manifest.json is larger than the limit")
    try:
        with archive.open(info) as f:
            text = _text_in_parts(f, limits.max_manifest_bytes + 1)
            # Parsed a value at a time off the main thread, which a GUI must have back
            # meanwhile; on it, in one call (twice as fast).
            if threading.current_thread() is threading.main_thread():
                document = json.loads("".join(text))
            else:
                document = loads_in_steps(text)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise refused(path, "its manifest.json is damaged") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise refused(path, f"its manifest.json is not valid JSON ({error})") from error
    declared = document.get("format_version") if isinstance(document, dict) else None
    if isinstance(declared, int) and declared > FORMAT_VERSION:
        raise refused(
            path,
            f"it was written in format version {declared}, newer than "
            f"this EnvOps reads ({FORMAT_VERSION}); update EnvOps Desktop",
        )
    return _validate_manifest(path, document)


def _text_in_parts(member: BinaryIO, limit: int) -> Iterator[str]:
    """Up to `limit` bytes of a zip member as text, read and decoded a part at a time, in
    one of the encodings `json.loads` accepts (UTF-8, -16, -32): inflated in one call, the
    manifest of 200,000 files held the GIL 30 ms, and made one string (67 MB), 35-40 ms."""
    first = member.read(min(_PART, limit))
    decoder = codecs.getincrementaldecoder(json.detect_encoding(first))()
    yield decoder.decode(first)
    left = limit - len(first)
    while left > 0 and (part := member.read(min(_PART, left))):
        left -= len(part)
        yield decoder.decode(part)
    yield decoder.decode(b"", final=True)


_PART = 1 << 20


def _validate_manifest(path: Path, document: object) -> ConfigurationManifest:
    """Validate the header, then the entries a batch at a time."""
    raw_entries = document.get("entries") if isinstance(document, dict) else None
    try:
        if not isinstance(raw_entries, list):
            return ConfigurationManifest.model_validate(document)
        header = ConfigurationManifest.model_validate({**document, "entries": []})
    except ValidationError as error:
        raise _invalid(path, error) from error
    entries = validated_entries(
        raw_entries, lambda start, error, _batch: _invalid(path, error, offset=start)
    )
    return header.model_copy(update={"entries": entries})


def validated_entries(
    raw_entries: list[Any], invalid: Callable[[int, ValidationError, list[Any]], Exception]
) -> list[ManifestEntry]:
    """`raw_entries` as manifest entries, a batch at a time, taken out of `raw_entries` as
    they are validated; a batch that fails raises what `invalid` makes of its first index,
    the error and the batch.

    pydantic validates in Rust while holding the GIL; 20,000 entries in one call froze the
    GUI thread for a third of a second, batches let it run in between. Each batch of the
    parsed JSON is let go once validated: held to the end beside the entries, the 1 GiB
    tree's took 17 MiB at an import's peak.
    """
    entries: list[ManifestEntry] = []
    start = 0
    # Taken from the end, each batch in one short cut: from the front, every cut moved the
    # whole rest of the list (0.035 s for 400,000 entries against 0.004).
    raw_entries.reverse()
    while raw_entries:
        batch = raw_entries[-_VALIDATION_BATCH:][::-1]
        del raw_entries[-_VALIDATION_BATCH:]
        try:
            entries += _ENTRIES.validate_python(batch)
        except ValidationError as error:
            raise invalid(start, error, batch) from error
        start += len(batch)
    return entries


def _invalid(path: Path, error: ValidationError, offset: int | None = None) -> Exception:
    first = error.errors()[0]
    location = list(first["loc"])
    if offset is not None:  # a batch of entries: put the entry's place in the whole list
        location = ["entries", offset + int(location[0]), *location[1:]]
    where = ".".join(str(part) for part in location) or "the document"
    message = first["msg"].removeprefix("Value error, ")
    return refused(path, f"its manifest.json is invalid at {where}: {message}")


_KIND_NAMES = {
    EntryKind.FILE: "file",
    EntryKind.SYMLINK: "link",
    EntryKind.FIFO: "pipe",
    EntryKind.SOCKET: "socket",
}


def check_entries(
    source: Path | str, entries: list[ManifestEntry], allow_external_links: bool
) -> dict[str, ManifestEntry]:
    """Refuse a list of entries from outside (a file's, another workstation's) whose shape
    could write outside the environment or lie about its files: a path listed twice, an
    entry outside a listed folder or inside a link, a link leading out (unless allowed), a
    hardlink to anything but an earlier node of the same kind and content (a file's) or
    target (a link's). Returns the files that carry content, by path."""
    kinds: dict[str, EntryKind] = {}
    nodes: dict[str, ManifestEntry] = {}  # the first name of each file, link or FIFO
    for entry in entries:
        if entry.path in kinds:
            raise refused(source, f"the manifest lists {entry.path!r} twice")
        kinds[entry.path] = entry.kind
    for entry in entries:
        parent = entry.path.rpartition("/")[0]
        if parent and kinds.get(parent) is not EntryKind.DIR:
            held_by = kinds.get(parent)
            why = (
                "is not in a listed folder"
                if held_by is None
                else f"is inside a {_KIND_NAMES[held_by]} ({parent!r}), not a folder"
            )
            raise refused(source, f"the entry {entry.path!r} {why}")
        if (
            entry.kind is EntryKind.SYMLINK
            and not allow_external_links
            and link_target_escapes(entry.path, entry.target or "")
        ):
            raise refused(
                source,
                f"the link {entry.path!r} points outside the environment "
                f"(to {entry.target!r}); allow external links to import it",
            )
        link = (entry.meta or {}).get("hardlink")
        if link is not None:
            first = nodes.get(link)
            if first is None or _node(first) != _node(entry):
                kind = _KIND_NAMES[entry.kind]
                alike = "content" if entry.kind is EntryKind.FILE else "target"
                raise refused(
                    source,
                    f"the {kind} {entry.path!r} is a hardlink to {link!r}, which is not an "
                    f"earlier {kind} with the same {alike}",
                )
        elif entry.kind is not EntryKind.DIR:
            nodes[entry.path] = entry
    return {path: entry for path, entry in nodes.items() if entry.kind is EntryKind.FILE}


def _node(entry: ManifestEntry) -> tuple[EntryKind, str | None]:
    """What every name of one node has alike: its kind, and a file's content or a link's
    target."""
    return entry.kind, entry.sha256 if entry.kind is EntryKind.FILE else entry.target


def _check_manifest(
    path: Path,
    manifest: ConfigurationManifest,
    members: dict[str, ZipMember],
    limits: ImportLimits,
    allow_external_links: bool,
) -> None:
    # The files whose content the archive holds, by path.
    firsts = check_entries(path, manifest.entries, allow_external_links)
    for entry in firsts.values():
        info = members.get(entry.path)
        if info is None:
            raise refused(
                path, f"the file {entry.path!r} is in the manifest but not in the archive"
            )
        if info.file_size != entry.size:
            raise refused(
                path,
                f"the file {entry.path!r} is {info.file_size} bytes in the archive but "
                f"{entry.size} in the manifest",
            )
    for name in members:
        if name not in firsts:
            raise refused(
                path, f"the entry {FILES_PREFIX + name!r} is not listed in the manifest as a file"
            )
    # What lands on the disk: a sparse file's holes are written as holes, so only its data
    # counts, or a backup of a 200 GiB sparse file (a VM image, lastlog) would be refused.
    written = manifest.written_bytes
    if written > limits.max_total_bytes:
        raise refused(
            path, f"it would expand to more than the limit of {limits.max_total_bytes >> 30} GiB"
        )
    refuse_reading_more(path, manifest.total_bytes, limits)
    # Over the whole archive, not per file: 2 MiB of zeros is a real file that deflates a
    # thousand times, and every file is held to its declared size as it is read.
    compressed = sum(member.compress_size for member in members.values())
    if written > limits.ratio_applies_above and written > compressed * limits.max_ratio:
        raise refused(
            path,
            f"it expands to {written >> 20} MiB, more than {limits.max_ratio} times its "
            "compressed size (a zip bomb)",
        )


def refuse_reading_more(source: Path | str, read_bytes: int, limits: ImportLimits) -> None:
    """Refuse an archive whose files read as more than the limit, holes included."""
    if read_bytes > limits.max_read_bytes:
        raise refused(
            source,
            f"its files read as more than the limit of {limits.max_read_bytes >> 30} GiB, "
            "holes included",
        )


def check_converted(
    path: Path,
    manifest: ConfigurationManifest,
    members: dict[str, ZipMember],
    allow_external_links: bool,
) -> None:
    """Check a manifest made here for an archive that carried none, as a file's own is."""
    _check_manifest(path, manifest, members, DEFAULT_LIMITS, allow_external_links)


def check_configuration_file(
    path: Path,
    allow_external_links: bool = False,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> tuple[ConfigurationManifest, dict[str, ZipMember]]:
    """Validate everything but the files' contents: the archive, its entries and manifest.

    Returns the manifest and each file's zip entry, by manifest path; the contents are
    checked as they are staged (`member_staging.stage_members`).
    """
    with open_archive(path) as archive:
        members = _check_members(path, archive, limits)
        manifest = _read_manifest(path, archive, limits)
        if manifest.format_version >= ESCAPED_NAMES_VERSION:
            members = _by_path(path, members)
        _check_manifest(path, manifest, members, limits, allow_external_links)
    return manifest, members


def _by_path(path: Path, members: dict[str, ZipMember]) -> dict[str, ZipMember]:
    # The members by the paths their escaped names stand for (`member_name`).
    by_path = {}
    for name, member in members.items():
        unescaped = path_of_member(name)
        if unescaped is None:
            raise refused(path, f"the entry {FILES_PREFIX + name!r} has a name escaped wrongly")
        by_path[unescaped] = member
    return by_path


def peek_environment_name(path: Path) -> str | None:
    """The environment a configuration file says it came from, or None if it cannot say.

    Only a hint for choosing which environment to offer the file to; everything is
    validated properly when the file is uploaded.
    """
    try:
        refuse_unless_a_file(path)
        with open(path, "rb", buffering=0) as file:  # a few reads, each of what it needs
            # Its start alone, where EnvOps writes the name, found without reading the
            # zip's whole directory: it is read on the window's thread.
            start = read_member_start(file, MANIFEST_NAME, _PEEKED_BYTES)
        named = _ENVIRONMENT_NAME.search(start) if start else None
        name = json.loads(named.group(1)) if named else None
    except (
        InvalidConfigurationFileError,
        NotFoundError,  # the upload says so in its own words
        ValueError,
        OSError,
    ):
        return None
    return name if isinstance(name, str) else None
