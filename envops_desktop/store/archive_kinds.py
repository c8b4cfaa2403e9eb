"""What kind of file is being imported: an EnvOps configuration file, or an archive another
tool made (zip, tar, tar.gz, tar.zst, tar.bz2, tar.xz), told by its first bytes, not its name.

A zip is a configuration file when it holds EnvOps's manifest at its top level. Other zips
hold a `manifest.json` of their own too (a web application's, a browser extension's), so
the manifest's first bytes are read to see whose it is: JSON that plainly is not EnvOps's
makes the zip an archive like any other; anything else there is EnvOps's, damaged or not,
and refused as such in its own words.
"""

import os
import re
import zipfile
from pathlib import Path

from envops_desktop.domain.configuration import FORMAT_NAME, MANIFEST_NAME
from envops_desktop.store.zip_peek import member_start

# How each kind begins: zip, then the compressions a tar comes in.
_MAGICS = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "tar.gz"),
    (b"\x28\xb5\x2f\xfd", "tar.zst"),
    (b"BZh", "tar.bz2"),
    (b"\xfd7zXZ\x00", "tar.xz"),
)
_USTAR_AT = 257
_BLOCK = 512
# A tar header's checksum: eight bytes of octal, summed over the header as if they were spaces.
_CHECKSUM = slice(148, 156)
# EnvOps writes the format first: `{\n "format": "envops-configuration",`.
_FORMAT_WITHIN = 256
_FORMAT_MARK = f'"{FORMAT_NAME}"'.encode()
# JSON of another kind: an array, or an object whose first key is not "format".
_FOREIGN_JSON = re.compile(rb'(?:\xef\xbb\xbf)?\s*(?:\[|\{\s*"(?!format"))')


def plain_archive_kind(path: Path) -> str | None:
    """ "zip", "tar", "tar.gz", … for an archive with no EnvOps manifest; None for anything
    else (a configuration file, or not an archive at all)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_BLOCK)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    kind = next((name for magic, name in _MAGICS if head.startswith(magic)), None)
    if kind is None and (head[_USTAR_AT:].startswith(b"ustar") or _is_tar_header(head)):
        kind = "tar"
    if kind is None and size >= 1024 and size % 512 == 0 and not any(head):
        kind = "tar"  # an empty one, its end blocks only: refused as holding nothing
    if kind == "zip":
        try:
            if _holds_envops_manifest(path):
                return None  # a configuration file
        except (zipfile.BadZipFile, OSError):
            return None  # refused as a damaged configuration file, in its own words
    return kind


def _is_tar_header(block: bytes) -> bool:
    """Whether `block` is a tar header by its checksum, as GNU tar tells one: the old (v7)
    format has no "ustar" to look for."""
    if len(block) < _BLOCK or not block[0]:
        return False
    try:
        stored = int(block[_CHECKSUM].split(b"\0", 1)[0].strip() or b"x", 8)
    except ValueError:
        return False
    spaced = block[: _CHECKSUM.start] + b" " * 8 + block[_CHECKSUM.stop :]
    # Some old tars summed signed bytes.
    signed = sum(b - 256 if b > 127 else b for b in spaced)
    return stored in (sum(spaced), signed)


def _holds_envops_manifest(path: Path) -> bool:
    """Whether a zip holds EnvOps's manifest at its top level, found in its directory's
    bytes (`zip_peek`).

    `zipfile` would make a `ZipInfo` of every entry first, in Python: for the 20,000 files
    of a 1 GiB configuration file 0.1 s on the worker, during which the window waited for
    the GIL (and it is parsed again to be read). A regular expression over the directory
    held the GIL too: 7-16 ms over the 15 MiB directory of 200,000 files.
    """
    with open(path, "rb", buffering=0) as f:  # a few reads, each of what it needs
        head = member_start(f, MANIFEST_NAME, _FORMAT_WITHIN)
    return head is not None and (_FORMAT_MARK in head or _FOREIGN_JSON.match(head) is None)
