"""Restoring a backup whose contents are in the team's store, straight from there.

A backup taken in from another workstation leaves its contents in the store (`sharing.py`).
Its restore writes each file as the store's packs come: whole packs are fetched a few ahead,
in the order the files need them (`PackReader`); each file's sealed parts go, with its name,
to the restore's helpers, which open, decompress, check and write it as they write a content
of the store here (`store/sealed_contents.py`). One pass, each content checked once, as
restic restores. A content of more than one part is written here as its parts come, so that
no job holds a large file whole; contents the store here holds are written from it. Unlike
a restore from the store here, the files' entries are held while it runs (as restic holds
its tree), to write them in the order of the packs.
"""

import functools
import os
from collections.abc import Iterator
from pathlib import Path

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import Backup, TreeEntry, has_content
from envops_desktop.domain.progress import CancelToken, ProgressMeter
from envops_desktop.service.context import POOL_SIZE, ServiceContext
from envops_desktop.service.materialize import explained_blob_errors, materialize, new_file_metadata
from envops_desktop.service.parallel import run_in_batches
from envops_desktop.service.restore import TreeWriter
from envops_desktop.service.shared_store import OpenedStore
from envops_desktop.service.sharing import PackReader
from envops_desktop.store.blob_batches import FetchedExtraction, extract_fetched_files
from envops_desktop.store.file_metadata import OWN_STORE
from envops_desktop.store.sealed_contents import write_content
from envops_desktop.store.sealing import MasterKey
from envops_desktop.store.shared_records import SharedPart

# Batches queued per helper: each carries up to 8 MiB of fetched contents, not names, so
# all of them together hold about 128 MiB; eight per helper on two cores kept the helpers
# busy while a large file is written (3.3–3.4 s of writing against 3.5 with two).
_IN_FLIGHT_PER_HELPER = max(2, 16 // POOL_SIZE)


def contents_elsewhere(ctx: ServiceContext, backup: Backup) -> set[str]:
    """The contents of `backup` that are not in the store here: those of a backup taken in
    from the team's store and not restored from here since."""
    if backup.made_on is None:  # made here: all its contents are here
        return set()
    return ctx.blobs.lacking(
        {e.sha256 for e in ctx.backups.entries(backup.id) if has_content(e) and e.sha256}
    )


def from_team_store(
    ctx: ServiceContext, store: OpenedStore, backup: Backup, elsewhere: set[str]
) -> TreeWriter:
    """The tree writer of a restore of `backup`, whose contents `elsewhere` are fetched from
    `store` as they are written."""
    entries = functools.partial(ctx.backups.entries, backup.id)

    def write(staging: Path, meter: ProgressMeter, cancel: CancelToken, flush: bool) -> None:
        parts = ctx.shared.parts_of_many(elsewhere)
        if len(parts) < len(elsewhere):
            lacking = next(e.path for e in entries() if e.sha256 in elsewhere - parts.keys())
            raise OperationFailedError(
                f"The team's store has no copy of {lacking} of {backup.name} any more."
            )
        wanted = [
            part for sha in sorted(parts, key=lambda sha: parts[sha][0][2:4]) for part in parts[sha]
        ]
        with (
            ctx.locks.blobs_in_use(),  # no deletion here frees a blob while it is read
            PackReader(ctx, store.objects, wanted) as reader,
            explained_blob_errors(entries),
        ):
            writer = _Writer(
                ctx, store.key, parts, reader, staging, backup.total_bytes, meter, cancel, flush
            )
            materialize(entries, staging, writer.write, OWN_STORE)
        meter.finish()

    return write


class _Writer:
    """Writes a restore's files, fetching the contents that are in the team's store."""

    def __init__(
        self,
        ctx: ServiceContext,
        key: MasterKey,
        parts: dict[str, list[SharedPart]],
        reader: PackReader,
        root: Path,
        total_bytes: int,
        meter: ProgressMeter,
        cancel: CancelToken,
        flush: bool,
    ) -> None:
        self._ctx, self._key, self._parts, self._reader = ctx, key, parts, reader
        self._top, self._total_bytes = str(root), total_bytes
        self._meter, self._cancel, self._flush = meter, cancel, flush

    def _sealed(self, sha: str) -> Iterator[bytes]:
        """Content `sha`'s sealed parts, each fetched as it is asked for."""
        return (self._reader.part(pack, at, n) for _sha, _part, pack, at, n in self._parts[sha])

    def _job(self, entry: TreeEntry) -> FetchedExtraction:
        sha = entry.sha256 or ""
        sealed = list(self._sealed(sha)) if sha in self._parts else None
        return (
            sha,
            os.path.join(self._top, entry.path),
            *new_file_metadata(entry, OWN_STORE),
            sealed,
        )

    def _one_part_or_here(self, files: Iterator[TreeEntry]) -> Iterator[TreeEntry]:
        """The files for the helpers; those whose content has several parts are written
        here, a part at a time, as they come."""
        for entry in files:
            parts = self._parts.get(entry.sha256 or "", ())
            if len(parts) <= 1:
                yield entry
                continue
            self._cancel.raise_if_cancelled()
            sha = entry.sha256 or ""
            mode, mtime_ns, applied = new_file_metadata(entry, OWN_STORE)
            target = os.path.join(self._top, entry.path)
            written = write_content(
                self._key, sha, self._sealed(sha), target, mode, mtime_ns, applied
            )
            self._meter.advance(written, entry.path)

    def _place(self, entry: TreeEntry) -> tuple[str, int]:
        # Where the content's first part lies in the team's store; a content here first.
        parts = self._parts.get(entry.sha256 or "")
        return (parts[0][2], parts[0][3]) if parts else ("", 0)

    def write(self, files: Iterator[TreeEntry]) -> None:
        # In the order their contents lie in the store's packs, so that each pack is fetched
        # once: in path order, packs were fetched again and again (257 s for the 1 GiB
        # tree). Listing them all first makes every folder (`materialize`): any order does.
        ordered = sorted(files, key=self._place)
        for batch, written in run_in_batches(
            functools.partial(extract_fetched_files, str(self._ctx.data_dir), self._key),
            self._one_part_or_here(iter(ordered)),
            self._total_bytes,
            self._job,
            lambda e: e.size,
            "envops-restore",
            self._cancel,
            durable=self._flush,
            in_flight_per_worker=_IN_FLIGHT_PER_HELPER,
        ):
            self._meter.advance(written, batch[-1].path)
