"""Batches of blob work that run in helper processes (or pool threads) of a big operation.

Plain module-level functions of picklable arguments, importing nothing but the blob store,
so a helper process starts in milliseconds and holds no GUI, database or lock.
"""

import tempfile
from pathlib import Path

from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.zip_bodies import ZipBody, write_body

# (sha256, target path, mode, mtime_ns): one file of a restore.
Extraction = tuple[str, str, int, int]

_stores: dict[str, BlobStore] = {}


def _store(objects_root: str) -> BlobStore:
    store = _stores.get(objects_root)
    if store is None:
        store = _stores[objects_root] = BlobStore(Path(objects_root))
    return store


def ingest_files(objects_root: str, sources: list[str]) -> list[tuple[str, int, bool]]:
    """Store each file; per file its sha256, size as read and whether its blob is new."""
    store = _store(objects_root)
    return [store.ingest(source) for source in sources]


def extract_files(objects_root: str, items: list[Extraction]) -> int:
    """Write each blob out as a new file; return the bytes written."""
    store = _store(objects_root)
    return sum(store.extract(*item) for item in items)


def deflate_blobs(objects_root: str, scratch: str, shas: list[str]) -> tuple[str, list[ZipBody]]:
    """Write the blobs' zip entry bodies back to back into a new file in `scratch`.

    Returns that file and each blob's body; one file per batch, not per blob, because creating
    files is what costs most on a busy disk.
    """
    store = _store(objects_root)
    fd, path = tempfile.mkstemp(suffix=".part", dir=scratch)
    with open(fd, "wb") as out:
        return path, [write_body(store, sha, out) for sha in shas]
