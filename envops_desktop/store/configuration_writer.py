"""Writing a backup out as a portable configuration file (a zip)."""

import json
import os
import stat
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from envops_desktop.domain.configuration import (
    ESCAPED_NAMES_VERSION,
    MANIFEST_NAME,
    ConfigurationManifest,
    ManifestEntry,
    member_name,
)
from envops_desktop.domain.progress import CancelToken, ProgressMeter
from envops_desktop.store.blob_bodies import CHUNK
from envops_desktop.store.zip_bodies import ZipBody

# What a zip header's date holds (the year in seven bits from 1980, two-second steps). The
# exact time is the manifest's; the header's is for other tools' listings.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_ZIP_END = (2107, 12, 31, 23, 59, 58)

# Files in the order they go into the zip, batch by batch: each batch's entries, and the
# scratch file holding their bodies back to back with what each body is.
BodyBatch = tuple[list[ManifestEntry], tuple[str, list[ZipBody]]]


def _zip_time(mtime_ns: int) -> tuple[int, int, int, int, int, int]:
    moment = time.localtime(mtime_ns / 1e9)[:6]
    return min(max(moment, _ZIP_EPOCH), _ZIP_END)


def deflated_share(nbytes: int) -> int:
    """How much of a file's `nbytes` an export shows done once the file is deflated; the
    rest moves as its body is copied into the zip, which for a disk image that did not
    compress takes seconds of its own (the bar sat at 97 % for 1.5 s of a 1 GiB image's
    6 s export)."""
    return nbytes // 2


def partial_path(destination: Path) -> Path:
    """Where `destination` is written until it is whole."""
    return destination.with_name(destination.name + ".part")


def write_configuration_file(
    destination: Path,
    manifest: ConfigurationManifest,
    bodies: Iterable[BodyBatch],
    meter: ProgressMeter,
    cancel: CancelToken,
) -> None:
    """Write `destination` atomically: a half-written file never bears its name.

    `bodies` holds every file entry of the manifest, compressed beforehand (in parallel).
    """
    partial = partial_path(destination)
    partial.unlink(missing_ok=True)  # left by a killed export: made anew, with our mode
    # Its owner's only: it carries files that were 0600, such as a password's db.conf.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(fd, "wb") as out, zipfile.ZipFile(out, "w", allowZip64=True) as archive:
            for entries, (scratch, batch_bodies) in bodies:
                with open(scratch, "rb") as source:
                    for entry, body in zip(entries, batch_bodies, strict=True):
                        cancel.raise_if_cancelled()
                        info = _entry_info(entry, body, manifest.format_version)
                        _append_body(archive, info, source, cancel, _copy_meter(meter, entry))
                        meter.advance(entry.size, entry.path)
                os.unlink(scratch)
            archive.writestr(MANIFEST_NAME, _manifest_json(manifest))
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    meter.finish()


def _manifest_json(manifest: ConfigurationManifest) -> str:
    if manifest.format_version < ESCAPED_NAMES_VERSION:
        return manifest.model_dump_json(indent=1)
    # pydantic's JSON refuses lone surrogates; json writes them as the escapes the format
    # gives a name's bytes that are not UTF-8 (`\udcff`). The entries, and the folder's own
    # metadata, as Python holds them: pydantic's JSON mode also refused such a byte in an
    # extended attribute's name (a key of `meta`). Their values are plain JSON already.
    document = manifest.model_dump(mode="json", exclude={"entries", "root_meta"})
    document["entries"] = [entry.model_dump() for entry in manifest.entries]
    document["root_meta"] = manifest.root_meta
    return json.dumps(document, indent=1)


def _entry_info(entry: ManifestEntry, body: ZipBody, format_version: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(member_name(entry.path, format_version), _zip_time(entry.mtime_ns))
    info.external_attr = (stat.S_IFREG | entry.mode) << 16
    info.compress_type, info.CRC, info.compress_size = body
    info.file_size = entry.size
    return info


def _copy_meter(meter: ProgressMeter, entry: ManifestEntry) -> Callable[[float], None]:
    # The file's share past its deflating, as the fraction of its body copied goes.
    deflated = deflated_share(entry.size)
    rest = entry.size - deflated
    return lambda copied: meter.ahead(deflated + int(rest * copied), entry.path)


def _append_body(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    source: BinaryIO,
    cancel: CancelToken,
    copied: Callable[[float], None],
) -> None:
    # zipfile has no public way to add a body compressed elsewhere. This does what its own
    # ZipFile.open(name, "w") does, minus compressing; with sizes and CRC known up front the
    # local header is final at once and needs no data descriptor.
    out = archive.fp
    assert out is not None  # an open archive
    out.seek(archive.start_dir)
    info.header_offset = out.tell()
    archive._writecheck(info)  # refuses duplicate names, checks zip64 limits
    archive._didModify = True  # so that close() writes the central directory
    out.write(info.FileHeader())
    remaining = info.compress_size
    while remaining:
        chunk = source.read(min(CHUNK, remaining))
        if not chunk:
            raise OSError(f"scratch file ended early writing {info.filename}")
        out.write(chunk)
        remaining -= len(chunk)
        cancel.raise_if_cancelled()  # a disk image's body takes seconds to copy
        if remaining:  # within a body of several chunks; a small file's is counted after
            copied(1 - remaining / info.compress_size)
    archive.filelist.append(info)
    archive.NameToInfo[info.filename] = info
    archive.start_dir = out.tell()
