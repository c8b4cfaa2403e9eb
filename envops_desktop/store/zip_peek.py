"""The start of one member of a zip, read without reading the zip's whole directory.

`zipfile.ZipFile` parses every entry of the central directory as it opens an archive: 1.5 s
for 200,000 entries. Reading one small member through it, as the window does to see which
environment a file came from, stalled the window that long. Here the directory is searched
as bytes, from its end (where EnvOps writes its manifest) and then whole, and only the
member found is read (APPNOTE.TXT 4.3).
"""

import struct
import zipfile
import zlib
from typing import BinaryIO

from envops_desktop.store.zip_headers import extra_fields

_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # a central directory entry, before its name
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s5H3L2H")  # a local header, before its name
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_EXTRA = 0x0001
_ENCRYPTED = 0x1
_STORED, _DEFLATED = 0, 8
_MAX_COMMENT = 0xFFFF
_TAIL_FIRST = 4096  # ours is the last entry: 100 bytes or so
_LONGEST_DIRECTORY = 64 * 1024 * 1024  # a million entries: past any archive we import
# A deflated block's code tables come before its first bytes.
_DEFLATE_SLACK = 4096


def read_member_start(file: BinaryIO, name: str, limit: int) -> bytes | None:
    """The first `limit` bytes of the member called `name`, or None where it is not found
    or cannot be read so: a hint, for a file read properly once it is imported."""
    try:
        return member_start(file, name, limit)
    except zipfile.BadZipFile:
        return None


def member_start(file: BinaryIO, name: str, limit: int) -> bytes | None:
    """The first `limit` bytes of the member called `name`, or None where the zip holds no
    such member; `zipfile.BadZipFile` where the zip or that member cannot be read so
    (damaged, encrypted, or compressed other than stored or deflated)."""
    try:
        return _member_start_of(file, name.encode(), limit)
    except (struct.error, ValueError, zlib.error) as error:  # headers pointing past the file
        raise zipfile.BadZipFile(str(error)) from error


def _member_start_of(file: BinaryIO, wanted: bytes, limit: int) -> bytes | None:
    offset, size = _central_directory(file)
    tail = min(size, _TAIL_FIRST)
    file.seek(offset + size - tail)
    entry = _find_entry(file.read(tail), wanted)
    if entry is None and tail < size:
        if size > _LONGEST_DIRECTORY:
            raise zipfile.BadZipFile("a central directory larger than any archive imported")
        file.seek(offset)
        entry = _find_entry(file.read(size), wanted)
    return None if entry is None else _member_start(file, *entry, len(wanted), limit)


def _central_directory(file: BinaryIO) -> tuple[int, int]:
    """Where the central directory starts, and its length."""
    length = file.seek(0, 2)
    # Without a comment first, as EnvOps writes it: a comment may take 64 KiB.
    for comment in (0, _MAX_COMMENT):
        tail_length = min(length, _ZIP64_LOCATOR.size + _END.size + comment)
        file.seek(length - tail_length)
        tail = file.read(tail_length)
        at = tail.rfind(_END_SIGNATURE)
        if 0 <= at <= len(tail) - _END.size:
            break
    else:
        raise zipfile.BadZipFile("no end of central directory")
    *_, size, offset, _comment = _END.unpack_from(tail, at)
    locator_at = at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail.startswith(_ZIP64_LOCATOR_SIGNATURE, locator_at):
        _, _, end64_offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        file.seek(end64_offset)
        end64 = file.read(_ZIP64_END.size)
        if len(end64) < _ZIP64_END.size or not end64.startswith(_ZIP64_END_SIGNATURE):
            raise zipfile.BadZipFile("no zip64 end of central directory where it is said to be")
        *_, size, offset = _ZIP64_END.unpack(end64)
    if offset < 0 or offset + size > length:
        raise zipfile.BadZipFile("a central directory outside the file")
    return offset, size


def _find_entry(directory: bytes, wanted: bytes) -> tuple[int, int, int] | None:
    """The found entry's flags, compression method and local header's offset."""
    end = len(directory)
    while (at := directory.rfind(wanted, 0, end)) >= 0:
        end = at + len(wanted) - 1
        start = at - _CENTRAL.size
        if start < 0 or not directory.startswith(_CENTRAL_SIGNATURE, start):
            continue
        fields = _CENTRAL.unpack_from(directory, start)
        flags, method = fields[3:5]
        csize, usize, name_length, extra_length = fields[8:12]
        local_offset = fields[16]
        if name_length != len(wanted):
            continue
        if 0xFFFFFFFF in (usize, csize, local_offset):
            extra = directory[at + len(wanted) : at + len(wanted) + extra_length]
            local_offset = _zip64_offset(extra, usize, csize, local_offset)
            if local_offset is None:
                raise zipfile.BadZipFile("a zip64 field without the offset it should hold")
        return flags, method, local_offset
    return None


def _zip64_offset(extra: bytes, usize: int, csize: int, offset: int) -> int | None:
    field = extra_fields(extra).get(_ZIP64_EXTRA, b"")
    # It holds, in this order, only those of the three that overflowed.
    values = iter(struct.unpack_from(f"<{len(field) // 8}Q", field))
    try:
        for value in (usize, csize):
            if value == 0xFFFFFFFF:
                next(values)
        return next(values) if offset == 0xFFFFFFFF else offset
    except StopIteration:
        return None


def _member_start(
    file: BinaryIO, flags: int, method: int, offset: int, name_length: int, limit: int
) -> bytes:
    if flags & _ENCRYPTED:
        raise zipfile.BadZipFile("an encrypted member")
    if method not in (_STORED, _DEFLATED):
        raise zipfile.BadZipFile(f"a member compressed by method {method}")
    file.seek(offset)
    header = file.read(_LOCAL.size)
    if len(header) < _LOCAL.size or not header.startswith(_LOCAL_SIGNATURE):
        raise zipfile.BadZipFile("a member that is not where the directory says")
    *_, local_name_length, extra_length = _LOCAL.unpack(header)
    if local_name_length != name_length:
        raise zipfile.BadZipFile("a member named otherwise in its own header")
    file.seek(offset + _LOCAL.size + name_length + extra_length)
    if method == _STORED:
        return file.read(limit)
    # Deflate hardly grows what it cannot shrink: `limit` bytes and its code tables hold them.
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    return inflate.decompress(file.read(limit + _DEFLATE_SLACK), limit)
