"""Batches of blob work that run in helper processes (or pool threads) of a big operation.

Plain module-level functions of picklable arguments, importing nothing but the blob store,
so a helper process starts in milliseconds and holds no GUI, database or lock.
"""

from pathlib import Path

from envops_desktop.store.blobs import BlobStore

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
