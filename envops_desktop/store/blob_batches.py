"""Batches of blob work that run in helper processes (or pool threads) of a big operation.

Plain module-level functions of picklable arguments, importing nothing but the blob store,
so a helper process starts in milliseconds and holds no GUI or lock. A helper reads the
pack index through a database connection of its own.
"""

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.store.blobs import BlobStore, Ingested
from envops_desktop.store.database import Database
from envops_desktop.store.file_metadata import Applied
from envops_desktop.store.zip_bodies import ZipBody, write_body

if TYPE_CHECKING:
    from envops_desktop.store.sealing import MasterKey

# (sha256, target path, mode, mtime_ns, owner and attributes): one file of a restore.
Extraction = tuple[str, str, int, int, Applied]
# The same with the content's sealed parts as fetched from a team's store, or None for a
# content the store here holds.
FetchedExtraction = tuple[str, str, int, int, Applied, list[bytes] | None]

_stores: dict[str, BlobStore] = {}


def _store(data_dir: str) -> BlobStore:
    store = _stores.get(data_dir)
    if store is None:
        store = _stores[data_dir] = BlobStore(Path(data_dir), Database(Path(data_dir)))
    return store


def ingest_files(data_dir: str, sources: list[str]) -> list[Ingested]:
    """Store each file, the small ones into one new pack; per file what storing it gave."""
    store = _store(data_dir)
    with store.packing() as pack:
        return [store.ingest(source, pack) for source in sources]


def extract_files(data_dir: str, items: list[Extraction]) -> int:
    """Write each blob out as a new file; return the bytes written."""
    store = _store(data_dir)
    with store.reading([item[0] for item in items]):
        return sum(store.extract(*item) for item in items)


def extract_fetched_files(data_dir: str, key: "MasterKey", items: list[FetchedExtraction]) -> int:
    """Write each content out as a new file, from its sealed parts or from the store here;
    return the bytes written."""
    # Here, not at the top: the helpers of every restore load this module, few need this.
    from envops_desktop.store.sealed_contents import write_content

    store = _store(data_dir)
    here = [item[0] for item in items if item[5] is None]
    with store.reading(here):
        return sum(
            store.extract(*item[:5])
            if item[5] is None
            else write_content(key, item[0], item[5], *item[1:5])
            for item in items
        )


def deflate_blobs(data_dir: str, scratch: str, shas: list[str]) -> tuple[str, list[ZipBody]]:
    """Write the blobs' zip entry bodies back to back into a new file in `scratch`.

    Returns that file and each blob's body; one file per batch, not per blob, because creating
    files is what costs most on a busy disk.
    """
    store = _store(data_dir)
    fd, path = tempfile.mkstemp(suffix=".part", dir=scratch)
    with open(fd, "wb") as out, store.reading(shas):
        return path, [write_body(store, sha, out) for sha in shas]
