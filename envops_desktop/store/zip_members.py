"""Reading a zip entry's content straight from its body, inflated and checked by ISA-L.

`zipfile` inflates with zlib and checks the CRC with zlib's CRC-32; on the 1 GiB tree's
configuration file that was most of an upload (5.8 s, 3 s of it inflating). ISA-L, which
already deflates exports, inflates the same bodies faster and runs its CRC-32 4.5 times as
fast. Everything `zipfile` checks is checked here too: the local header's signature and name,
the body's length, the content's size and CRC-32, and no more output than the header declares.
"""

import struct
import zipfile
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from isal import isal_zlib

from envops_desktop.domain.in_steps import let_go_in_steps
from envops_desktop.store.zip_bodies import DEFLATED, STORED

_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")  # as zipfile.structFileHeader
_LOCAL_MAGIC = b"PK\x03\x04"
_ENCRYPTED = 0x1
_UNREADABLE_FLAGS = _ENCRYPTED | 0x20 | 0x40  # also patched data and strong encryption
_UTF8_NAME = 0x800

# What reading a damaged body raises: zipfile's own error, or ISA-L's for a broken stream.
BODY_ERRORS = (zipfile.BadZipFile, isal_zlib.error)


class ZipDirectory(zipfile.ZipFile):
    """A `ZipFile` that lets go of its directory a part at a time as it closes.

    Its `ZipInfo`s, 200,000 of them for a configuration file of that many files, were freed
    in one call as its last reference went, which held the GIL, and the window, 40-70 ms.
    """

    def close(self) -> None:
        super().close()
        let_go_in_steps(self.NameToInfo)
        let_go_in_steps(self.filelist)


class ZipMember(NamedTuple):
    """What reading one entry needs of the zip's directory.

    A plain tuple, not the `ZipInfo`: an import hands one per file to a helper process, and
    pickling 20,000 `ZipInfo`s took 0.12 s of the thread that keeps the helpers fed, these
    0.02 s.
    """

    name: str  # as the central directory spells it, which the local header must repeat
    header_offset: int
    compress_type: int
    flag_bits: int
    compress_size: int
    file_size: int
    crc: int

    @classmethod
    def of(cls, info: zipfile.ZipInfo) -> "ZipMember":
        return cls(
            info.orig_filename,
            info.header_offset,
            info.compress_type,
            info.flag_bits,
            info.compress_size,
            info.file_size,
            info.CRC,
        )


def readable_here(member: ZipMember) -> bool:
    """Whether `member_chunks` reads this entry (stored or deflated, not encrypted)."""
    return member.compress_type in (STORED, DEFLATED) and not member.flag_bits & _UNREADABLE_FLAGS


class UnreadableEntryError(Exception):
    """An entry encrypted, or compressed by a method nothing here can read."""


def member_chunks(archive: BinaryIO, member: ZipMember, chunk: int) -> Iterator[bytes]:
    """The entry's content, at most `chunk` bytes at a time, verified against its headers.

    Raises `zipfile.BadZipFile` (or ISA-L's error) where the body turns out to be damaged.
    """
    _seek_to_body(archive, member)
    inflate = isal_zlib.decompressobj(-15) if member.compress_type == DEFLATED else None
    left = member.compress_size
    pending = b""
    produced = 0
    crc = 0
    while inflate is None or not inflate.eof:
        if not pending and left:
            pending = archive.read(min(chunk, left))
            if not pending:
                raise zipfile.BadZipFile("the archive ends inside this entry")
            left -= len(pending)
        if inflate is None:
            if not pending:
                break
            out, pending = pending, b""
        else:
            # Bounded output per call, so a small body cannot expand all at once; with the
            # input used up, calls with none drain what the inflater still holds.
            out = inflate.decompress(pending, chunk)
            pending = inflate.unconsumed_tail
            if not (out or pending or left or inflate.eof):
                raise zipfile.BadZipFile("its compressed data ends too soon")
        produced += len(out)
        if produced > member.file_size:
            raise zipfile.BadZipFile("it holds more bytes than its header says")
        if out:
            crc = isal_zlib.crc32(out, crc)
            yield out
    if produced != member.file_size or crc != member.crc:
        raise zipfile.BadZipFile("Bad CRC-32")


def _seek_to_body(archive: BinaryIO, member: ZipMember) -> None:
    archive.seek(member.header_offset)
    header = archive.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("Truncated file header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_MAGIC:
        raise zipfile.BadZipFile("Bad magic number for file header")
    name = archive.read(fields[9])
    # The same entry named differently in the two headers is how some archives smuggle
    # content past a check of the directory; zipfile refuses it, and so does this.
    encoding = "utf-8" if fields[2] & _UTF8_NAME else "cp437"
    if name.decode(encoding, errors="replace") != member.name:
        raise zipfile.BadZipFile("its name differs between the zip's two headers")
    archive.seek(fields[10], 1)
