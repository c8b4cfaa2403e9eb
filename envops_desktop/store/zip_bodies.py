"""Compressing files' contents into zip entry bodies, apart from the zip that will hold them.

An export deflates in helper processes, one batch of files per task; the zip itself is then
written by one process, copying the finished bodies in order.
"""

import struct
import zlib
from typing import BinaryIO

from envops_desktop.store.blobs import CHUNK, BlobStore, pays_to_compress

# Measured here (zlib, one core, this project's text): level 1 deflates 77 MiB/s to 31 %,
# level 3 49 MiB/s to 28 %: the export is a third faster for a tenth more bytes.
DEFLATE_LEVEL = 1
STORED = 0  # zipfile.ZIP_STORED
DEFLATED = 8  # zipfile.ZIP_DEFLATED
_STORED_BLOCK_MAX = 0xFFFF
_LAST_EMPTY_BLOCK = b"\x01\x00\x00\xff\xff"

# (compression method, CRC-32 of the content, length of the body written): what a zip's
# headers say about one entry.
ZipBody = tuple[int, int, int]


class StoringDeflater:
    """A raw deflate stream that keeps incompressible chunks as stored blocks.

    zlib spends as long failing to deflate random bytes as deflating text (40 MiB/s here), and
    large files are often half of each (a disk image). A chunk that a quick sample shows to be
    incompressible is written as deflate "stored" blocks instead: the stream is byte-aligned
    after a sync flush, and the compressor is started afresh after the stored bytes, so none of
    its back-references can reach across them into history it never saw.
    """

    def __init__(self) -> None:
        self._zlib: zlib._Compress | None = None

    def encode(self, chunk: bytes) -> bytes:
        if pays_to_compress(chunk):
            if self._zlib is None:
                self._zlib = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
            return self._zlib.compress(chunk)
        parts = [self._zlib.flush(zlib.Z_SYNC_FLUSH)] if self._zlib else []
        self._zlib = None
        view = memoryview(chunk)
        for start in range(0, len(view), _STORED_BLOCK_MAX):
            piece = view[start : start + _STORED_BLOCK_MAX]
            # Block header byte: not the last block, type 00 (stored); then LEN and its
            # one's complement, little-endian.
            parts.append(struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF))
            parts.append(bytes(piece))
        return b"".join(parts)

    def finish(self) -> bytes:
        return self._zlib.flush() if self._zlib else _LAST_EMPTY_BLOCK


def write_body(store: BlobStore, sha: str, out: BinaryIO) -> ZipBody:
    """Append blob `sha` to `out` as a zip entry body: deflated, or as it is if incompressible."""
    # Content the store found incompressible is stored as it is rather than deflated again.
    deflater = StoringDeflater() if store.is_compressed(sha) else None
    crc = 0
    written = 0
    with store.open(sha) as source:
        while chunk := source.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
            body = deflater.encode(chunk) if deflater else chunk
            out.write(body)
            written += len(body)
    if deflater:
        tail = deflater.finish()
        out.write(tail)
        written += len(tail)
    return (DEFLATED if deflater else STORED, crc, written)
