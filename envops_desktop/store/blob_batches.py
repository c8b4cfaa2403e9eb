"""Batches of blob work that run in helper processes (or pool threads) of a big operation.

Plain module-level functions of picklable arguments, importing nothing but the blob store,
so a helper process starts in milliseconds and holds no GUI or lock. A helper reads the
pack index through a database connection of its own.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.store.blobs import BlobStore, Ingested
from envops_desktop.store.database import Database
from envops_desktop.store.file_metadata import Applied
from envops_desktop.store.zip_bodies import ZipBody, write_body

if TYPE_CHECKING:
    from envops_desktop.store.bucket_objects import BucketAddress, Credentials
    from envops_desktop.store.sealing import MasterKey

# (sha256, target path, mode, mtime_ns, owner and attributes): one file of a restore.
Extraction = tuple[str, str, int, int, Applied]
# Where a part of a content lies in a team's store: (pack, offset, length).
PartPlace = tuple[str, int, int]
# Files a helper of a restore from a team's store writes in one go: those whose contents
# start in one pack, named first, which it fetches whole (a content's parts elsewhere it
# fetches one by one); or, with no pack named, a file whose content's parts it fetches one
# by one, or the store here holds (no parts).
TeamJob = tuple[str | None, list[tuple[Extraction, list[PartPlace] | None]]]

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
        return store.ingest_all(sources, pack)


def extract_files(data_dir: str, items: list[Extraction]) -> int:
    """Write each blob out as a new file; return the bytes written."""
    store = _store(data_dir)
    with store.reading([item[0] for item in items]):
        return sum(store.extract(*item) for item in items)


def extract_team_files(
    data_dir: str,
    key: "MasterKey",
    bucket: "BucketAddress",
    credentials: "Credentials | None",
    jobs: list[TeamJob],
) -> int:
    """Write each file of the jobs as a new file, its content fetched from the team's store
    at `bucket` with `credentials` (or read from the store here); return the bytes written.

    The helper fetches what it writes, as restic's restore workers do: passed from the
    restore's own process, every byte crossed a pipe, and that process, downloading and
    feeding both helpers under one GIL, left them waiting.
    """
    # Here, not at the top: the helpers of every restore load this module, few need these.
    from envops_desktop.store.bucket_objects import objects_at
    from envops_desktop.store.sealed_contents import part_of_pack, write_content

    store, objects = _store(data_dir), objects_at(bucket, credentials)
    here = [item[0] for _pack, items in jobs for item, parts in items if parts is None]
    written = 0
    with store.reading(here):
        for pack, items in jobs:
            whole = (objects.get(f"data/{pack}").data or b"") if pack else b""
            for item, parts in items:
                if parts is None:
                    written += store.extract(*item)
                    continue
                sealed = (
                    part_of_pack(whole, place)
                    if place[0] == pack
                    else objects.get_range(f"data/{place[0]}", place[1], place[2])
                    for place in parts
                )
                written += write_content(key, item[0], sealed, *item[1:])
    return written


def deflate_blobs(data_dir: str, scratch: str, shas: list[str]) -> tuple[str, list[ZipBody]]:
    """Write the blobs' zip entry bodies back to back into a new file in `scratch`.

    Returns that file and each blob's body; one file per batch, not per blob, because creating
    files is what costs most on a busy disk.
    """
    import tempfile  # here: only exports use it, and with `random` it took 3 ms of each start

    store = _store(data_dir)
    fd, path = tempfile.mkstemp(suffix=".part", dir=scratch)
    with open(fd, "wb") as out, store.reading(shas):
        return path, [write_body(store, sha, out) for sha in shas]
