"""What a zip entry's headers say beyond what `zipfile` reads: its name's separators on
the system that made it, its modification time from the extra fields that keep it exactly,
and its owners, as `unzip` reads them, so that an archive imported here comes back as it
would unpacked by hand; and whether it is macOS's metadata rather than a file.

Extra fields (APPNOTE.TXT 4.5, Info-ZIP's extrafld.txt) are read from the central
directory, where `zipfile` keeps them; a malformed one is ignored, as `unzip` does.
"""

import stat
import struct
import time
import zipfile
import zlib
from typing import Any, NamedTuple

# Systems a zip names as the one that made an entry (APPNOTE 4.4.2) that are MS-DOS's
# heirs. There a backslash cannot be part of a name, so it is a separator (PowerShell 5's
# Compress-Archive and .NET Framework's ZipFile wrote them so), and a name not flagged as
# UTF-8 is in the OEM code page, which `zipfile` takes as cp437. Elsewhere (Unix, macOS) a
# name is the file's own bytes, as `unzip` writes them back.
_MS_DOS_FAMILY = {0: "MS-DOS/FAT", 6: "OS/2 HPFS", 11: "NTFS", 14: "VFAT"}

_UTF8_FLAG = 0x800
_MACOS_METADATA = "__MACOSX"
_MS_DOS_FOLDER = 0x10
_NTFS = 0x000A
_EXTENDED_TIMESTAMP = 0x5455  # "UT"
_UNICODE_PATH = 0x7075  # "up": the name in UTF-8, beside one in another encoding
_UNIX_OWNERS = 0x7875  # "ux"
_FILETIME_OF_1970 = 116_444_736_000_000_000  # in 100 ns steps since 1601


class ZipEntryHeaders(NamedTuple):
    """What an entry's headers say of it."""

    name: str  # a file name here (bytes that are not UTF-8 as lone surrogates), `/` between
    unix_mode: int | None  # type and permissions, if a Unix tool made it
    is_folder: bool
    mtime_ns: int
    owners: dict[str, Any] | None  # manifest metadata: uid and gid, if `zip` kept them


def headers_of(info: zipfile.ZipInfo) -> ZipEntryHeaders:
    """Read once per entry: an archive may hold a million."""
    fields = extra_fields(info.extra) if info.extra else {}
    name = _name(info, fields)
    mode = info.external_attr >> 16
    unix_mode = mode if info.create_system == 3 and mode else None
    # A folder by the `/` that ends its name, or by its Unix mode where it has one, else
    # by its MS-DOS attribute (Windows tools wrote a `\` at the end of its name instead).
    if name.endswith("/"):
        is_folder = True
    elif unix_mode is not None:
        is_folder = stat.S_ISDIR(unix_mode)
    else:
        is_folder = bool(info.external_attr & _MS_DOS_FOLDER)
    return ZipEntryHeaders(
        name, unix_mode, is_folder, _mtime_ns(info, fields), _owners(fields.get(_UNIX_OWNERS))
    )


def macos_metadata(name: str) -> bool:
    """Whether `name` is in the `__MACOSX` folder macOS's Archive Utility adds to a zip: a
    copy of each file's resource fork and attributes in Apple's own format, beside the
    files themselves, never a part of the folder that was zipped."""
    return name.split("/", 1)[0] == _MACOS_METADATA


def _name(info: zipfile.ZipInfo, fields: dict[int, bytes]) -> str:
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG and not name.isascii():
        raw = name.encode("cp437")  # back to the header's bytes, which `zipfile` decoded so
        unicode_path = fields.get(_UNICODE_PATH)
        if (
            unicode_path is not None
            and len(unicode_path) > 5
            and unicode_path[0] == 1
            and struct.unpack_from("<I", unicode_path, 1)[0] == zlib.crc32(raw)
        ):
            name = unicode_path[5:].decode("utf-8", "surrogateescape")
        elif info.create_system not in _MS_DOS_FAMILY:
            name = raw.decode("utf-8", "surrogateescape")
    if info.create_system in _MS_DOS_FAMILY:
        name = name.replace("\\", "/")
    return name


def _mtime_ns(info: zipfile.ZipInfo, fields: dict[int, bytes]) -> int:
    """From an NTFS field (to 100 ns), else an extended timestamp (to the second, in UTC),
    else the MS-DOS time every entry has, which is local time to two seconds."""
    ntfs = fields.get(_NTFS)
    if ntfs is not None:
        mtime = extra_fields(ntfs[4:]).get(1)  # after 4 reserved bytes, tagged likewise
        if mtime is not None and len(mtime) >= 8:
            (filetime,) = struct.unpack_from("<Q", mtime)
            return (filetime - _FILETIME_OF_1970) * 100
    stamp = fields.get(_EXTENDED_TIMESTAMP)
    if stamp is not None and len(stamp) >= 5 and stamp[0] & 0x01:
        (seconds,) = struct.unpack_from("<i", stamp, 1)
        return seconds * 1_000_000_000
    return int(time.mktime((*info.date_time, 0, 0, -1))) * 1_000_000_000


def _owners(field: bytes | None) -> dict[str, Any] | None:
    """The owner and group ids of Info-ZIP's "ux" field: a version, then each id's size
    and its little-endian bytes."""
    if field is None or len(field) < 2 or field[0] != 1:
        return None
    ids = []
    at = 1
    for _ in range(2):
        if at >= len(field):
            return None
        size = field[at]
        raw = field[at + 1 : at + 1 + size]
        if size == 0 or len(raw) != size or size > 4:
            return None
        ids.append(int.from_bytes(raw, "little"))
        at += 1 + size
    return {"uid": ids[0], "gid": ids[1]}


def extra_fields(extra: bytes) -> dict[int, bytes]:
    """An entry's extra fields by tag, up to the first that runs past the end."""
    fields = {}
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        value = extra[at + 4 : at + 4 + size]
        if len(value) != size:
            break
        fields[tag] = value
        at += 4 + size
    return fields
