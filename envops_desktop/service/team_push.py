"""Putting a backup made here in the team's store: its contents, sealed in parts gathered
into packs (the zstd frames the store here keeps, as they are, where it keeps them), then
its list of files, and last its record, once all it names is up."""

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import zstandard

from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment, has_content
from envops_desktop.domain.progress import CancelToken, Progress, ProgressCallback, ProgressMeter
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.shared_layout import (
    BACKUP,
    ENVIRONMENT,
    INDEX,
    MANIFEST,
    as_json,
    create,
    manifest_object,
)
from envops_desktop.service.store_prune import packs_not_to_rely_on
from envops_desktop.store.blob_bodies import FRAME_BYTES, ZSTD_LEVEL
from envops_desktop.store.bucket_objects import REQUESTS_IN_FLIGHT, BucketObjects
from envops_desktop.store.leases import KeptLease
from envops_desktop.store.sealed_contents import seal_part
from envops_desktop.store.sealing import MasterKey
from envops_desktop.store.shared_records import SharedPart
from envops_desktop.store.timestamps import to_text

# A content is sealed in parts of at most this much, so neither side ever holds more of a
# large file in memory; parts are gathered into packs of about this size, one object each.
PART_BYTES = FRAME_BYTES
PACK_BYTES = 16 << 20


def share_environment(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    env: Environment,
    shared: dict[str, dict[str, Any]],
) -> str:
    """The store's id of the environment named as `env` is (among `shared`, the store's
    environments), made in the store first if it has none of that name."""
    for shared_id, document in shared.items():
        if document["name"].casefold() == env.name.casefold():
            return shared_id
    document = {"name": env.name, "version": env.version, "by": ctx.user_at_host}
    create(objects, f"environments/{env.id}", key.seal(as_json(document), ENVIRONMENT))
    shared[env.id] = document
    return env.id


def push_backup(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    shared_id: str,
    backup: Backup,
    registration: KeptLease,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    """Put `backup` in the store as a backup of the environment `shared_id`: the contents
    `ctx.shared` does not know there, its list of files, and last its record."""
    entries = list(ctx.backups.entries(backup.id))
    sizes = {e.sha256: e.size for e in entries if has_content(e) and e.sha256}
    known = ctx.shared.parts_of_many(sizes)
    missing = [sha for sha in sorted(sizes) if not whole(known.get(sha), sizes[sha])]
    _send(ctx, objects, key, missing, sizes, progress, cancel)
    # Content the store held when this workstation last looked is confirmed before the
    # backup names it: sent again if a garbage collection has marked or freed its pack.
    # Why that, with the registration, is enough: `store_prune.py`.
    sent = set(missing)
    relied = {sha: {part[2] for part in parts} for sha, parts in known.items() if sha not in sent}
    unsafe = packs_not_to_rely_on(objects, key, set().union(*relied.values()))
    _send(
        ctx,
        objects,
        key,
        sorted(sha for sha, packs in relied.items() if packs & unsafe),
        sizes,
        progress,
        cancel,
    )
    manifest_name, body = ctx.backups.manifest_of(backup.id)
    create(objects, manifest_object(backup.id), key.seal(body, MANIFEST))
    record = {
        "id": backup.id,
        "environment": shared_id,
        "name": backup.name,
        "created_at": to_text(backup.created_at),
        "version": backup.version,
        "created_by": backup.created_by,
        "origin": backup.origin.value,
        "file_count": backup.file_count,
        "total_bytes": backup.total_bytes,
        "skipped": backup.skipped,
        "root_mode": backup.root_mode,
        "root_mtime_ns": backup.root_mtime_ns,
        "root_meta": backup.root_meta,
        "changed_while_read": backup.changed_while_read,
        "made_on": backup.made_on or ctx.user_at_host,
        "manifest": manifest_name,
    }
    progress(Progress("sharing", 0, 0, backup.name))
    cancel.raise_if_cancelled()  # the last moment at which it is not in the store yet
    registration.check()  # its registration lost, a garbage collection may be freeing
    create(objects, f"backups/{backup.id}", key.seal(as_json(record), BACKUP))


def whole(parts: list[SharedPart] | None, size: int) -> bool:
    """Whether `parts` are all the parts of a content of `size` bytes. A sync cut off
    between two packs leaves a large content's first parts in the store (their pack and
    index up) and its last ones nowhere: a backup that took it as there was damaged."""
    expected = max(1, -(-size // PART_BYTES))
    return parts is not None and [part[1] for part in parts] == list(range(expected))


def _send(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    shas: list[str],
    sizes: dict[str, int],
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    """Upload the contents `shas` into new packs, in parts: each the zstd frame the local
    store keeps it in, as it is, where it keeps one; compressed here otherwise."""
    if not shas:
        return
    meter = ProgressMeter(progress, "uploading", sum(sizes[sha] for sha in shas))
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    with _PackWriter(ctx, objects, key) as packs:
        for sha in shas:
            with ctx.blobs.stored_frames(sha) as stored:
                frames = stored if stored is not None else _compressed_parts(ctx, sha, compressor)
                for part, (frame, size) in enumerate(frames):
                    cancel.raise_if_cancelled()
                    packs.add(sha, part, frame)
                    meter.advance(size, sha)
    meter.finish()


def _compressed_parts(
    ctx: ServiceContext, sha: str, compressor: zstandard.ZstdCompressor
) -> Iterator[tuple[bytes, int]]:
    """A content the local store keeps uncompressed (or in one frame of all of it), as zstd
    frames of at most PART_BYTES of it each, with their sizes."""
    with ctx.blobs.open(sha) as content:
        chunk = content.read(PART_BYTES)
        yield compressor.compress(chunk), len(chunk)
        while len(chunk) == PART_BYTES:
            chunk = content.read(PART_BYTES)
            if chunk:
                yield compressor.compress(chunk), len(chunk)


class _PackWriter:
    """Gathers sealed parts into packs: each pack's object first, then its index.

    Packs go up on threads of their own, a few at a time, while the next one is filled:
    one request at a time left the network idle while parts were compressed and sealed,
    and the CPU idle while a pack went up. All are up when the block ends, and only then
    does the caller record the backup that names them.
    """

    def __init__(self, ctx: ServiceContext, objects: BucketObjects, key: MasterKey) -> None:
        self._ctx, self._objects, self._key = ctx, objects, key
        self._buffer = bytearray()
        self._parts: list[tuple[str, int, int, int]] = []
        self._uploads = ThreadPoolExecutor(REQUESTS_IN_FLIGHT, thread_name_prefix="envops-upload")
        self._pending: deque[Future[None]] = deque()

    def __enter__(self) -> "_PackWriter":
        return self

    def __exit__(self, kind: object, *_rest: object) -> None:
        try:
            if kind is None:
                self._flush()
                while self._pending:
                    self._pending.popleft().result()
        finally:
            for future in self._pending:
                future.cancel()
            self._uploads.shutdown(wait=True)

    def add(self, sha: str, part: int, frame: bytes) -> None:
        """Add part `part` of content `sha`, a zstd frame."""
        # Sealed with the content's name as context: a part moved to another content's
        # place in an index fails to open.
        sealed = seal_part(self._key, sha, frame)
        self._parts.append((sha, part, len(self._buffer), len(sealed)))
        self._buffer += sealed
        if len(self._buffer) >= PACK_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._parts:
            return
        pack = new_id() + os.urandom(4).hex()
        parts: list[SharedPart] = [(sha, part, pack, at, n) for sha, part, at, n in self._parts]
        index = self._key.seal(as_json(self._parts), INDEX)
        self._pending.append(
            self._uploads.submit(self._upload, pack, bytes(self._buffer), index, parts)
        )
        self._buffer = bytearray()
        self._parts = []
        while len(self._pending) > REQUESTS_IN_FLIGHT:  # memory stays a few packs' worth
            self._pending.popleft().result()

    def _upload(self, pack: str, data: bytes, index: bytes, parts: list[SharedPart]) -> None:
        self._objects.put(f"data/{pack}", data, create_only=True)
        self._objects.put(f"index/{pack}", index, create_only=True)
        self._ctx.shared.add_pack(pack, parts)
