"""Compressing files' contents into zip entry bodies, apart from the zip that will hold them.

An export deflates in helper processes, one batch of files per task; the zip itself is then
written by one process, copying the finished bodies in order.
"""

import hashlib
from typing import BinaryIO

import zstandard
from isal import isal_zlib

from envops_desktop.store.blob_bodies import CHUNK
from envops_desktop.store.blobs import BlobStore, DamagedBlobError
from envops_desktop.store.helper_progress import advanced

# Deflate comes from ISA-L (python-isal), whose streams any unzip reads. Measured here (one
# core, 64 MiB of this project's text): zlib level 1 104 MiB/s to 31.0 %, zlib-ng level 1
# 260 MiB/s to 40.7 %, ISA-L level 1 354 MiB/s to 30.4 %; on random bytes zlib 30 MiB/s, ISA-L
# 534 MiB/s (so random stretches of a disk image need no special case: copying them out as
# stored blocks by hand ran at 473 MiB/s). Its CRC-32 runs 7.6 GiB/s against zlib's 1.7.
DEFLATE_LEVEL = 1
STORED = 0  # zipfile.ZIP_STORED
DEFLATED = 8  # zipfile.ZIP_DEFLATED

# (compression method, CRC-32 of the content, length of the body written): what a zip's
# headers say about one entry.
ZipBody = tuple[int, int, int]


def write_body(store: BlobStore, sha: str, out: BinaryIO) -> ZipBody:
    """Append blob `sha` to `out` as a zip entry body: deflated, or as it is if incompressible."""
    # Content the store found incompressible is stored as it is rather than deflated again.
    deflate = (
        isal_zlib.compressobj(DEFLATE_LEVEL, isal_zlib.DEFLATED, -15)
        if store.is_compressed(sha)
        else None
    )
    crc = 0
    written = 0
    digest = hashlib.sha256()
    try:
        with store.open(sha) as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                crc = isal_zlib.crc32(chunk, crc)
                body = deflate.compress(chunk) if deflate else chunk
                out.write(body)
                written += len(body)
                advanced(len(chunk))
    except zstandard.ZstdError as error:
        raise DamagedBlobError.undecodable(sha, error) from None
    # An export is a copy someone will restore from: what it carries is checked as restores
    # check it, so damage in the store is named here, not found on another workstation.
    DamagedBlobError.check(sha, digest.hexdigest())
    if deflate:
        tail = deflate.flush()
        out.write(tail)
        written += len(tail)
    return (DEFLATED if deflate else STORED, crc, written)
