"""Restoring a backup whose contents are in the team's store, straight from there.

A backup taken in from another workstation leaves its contents in the store (`sharing.py`).
Its restore hands the files to the restore's helpers in the order their contents lie in the
store's packs, a pack's worth at a time: each helper fetches that pack whole and opens,
decompresses, checks and writes every file whose content it holds, as restic's restore
workers do (`store/blob_batches.py`, `store/sealed_contents.py`). A content of several
parts, or in a pack of which little is wanted, is fetched part by part by the helper that
writes it; contents the store here holds are written from it. One pass, each content
checked once. Unlike a restore from the store here, the files' entries are held while it
runs (as restic holds its tree), to write them in the order of the packs.
"""

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import Backup, TreeEntry, has_content
from envops_desktop.domain.progress import CancelToken, ProgressMeter
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.materialize import explained_blob_errors, materialize, new_file_metadata
from envops_desktop.service.parallel import run_in_batches, workload
from envops_desktop.service.restore import TreeWriter
from envops_desktop.service.shared_store import OpenedStore
from envops_desktop.service.sharing import packs_read_whole
from envops_desktop.store.blob_batches import TeamJob, extract_team_files
from envops_desktop.store.bucket_objects import BucketAddress, Credentials
from envops_desktop.store.file_metadata import OWN_STORE
from envops_desktop.store.sealing import MasterKey
from envops_desktop.store.shared_records import SharedPart


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
        whole = packs_read_whole(ctx, (part for shared in parts.values() for part in shared))
        with (
            ctx.locks.blobs_in_use(),  # no deletion here frees a blob while it is read
            explained_blob_errors(entries),
        ):
            writer = _Writer(
                ctx,
                store.key,
                store.objects.address,
                # Resolved once: a restore outlasting temporary credentials fails, changing
                # nothing, and the next one resolves them again.
                store.objects.credentials(),
                parts,
                whole,
                staging,
                workload(backup.total_bytes, backup.file_count),
                meter,
                cancel,
                flush,
            )
            materialize(entries, staging, writer.write, OWN_STORE)
        meter.finish()

    return write


@dataclass(frozen=True, slots=True)
class _Unit:
    """Files a helper writes in one go: those whose contents start in `pack`, fetched
    whole; or one file whose content is fetched part by part, or is here (no pack)."""

    pack: str | None
    entries: list[TreeEntry]

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.entries)


class _Writer:
    """Writes a restore's files through helpers that fetch the contents from the team's
    store themselves."""

    def __init__(
        self,
        ctx: ServiceContext,
        key: MasterKey,
        bucket: BucketAddress,
        credentials: Credentials | None,
        parts: dict[str, list[SharedPart]],
        whole: set[str],
        root: Path,
        load: int,
        meter: ProgressMeter,
        cancel: CancelToken,
        flush: bool,
    ) -> None:
        self._ctx, self._key, self._bucket, self._credentials = ctx, key, bucket, credentials
        self._parts, self._whole = parts, whole
        self._top, self._load = str(root), load
        self._meter, self._cancel, self._flush = meter, cancel, flush

    def _place(self, entry: TreeEntry) -> tuple[str, int]:
        # Where the content's first part lies in the team's store; a content here first.
        parts = self._parts.get(entry.sha256 or "")
        return (parts[0][2], parts[0][3]) if parts else ("", 0)

    def _units(self, ordered: list[TreeEntry]) -> Iterator[_Unit]:
        """The files in units: each pack read whole is fetched once, by one helper, which
        writes every file whose content starts in it (the other parts of a large one it
        fetches as it goes)."""
        gathered: list[TreeEntry] = []
        gathered_pack = ""
        for entry in ordered:
            parts = self._parts.get(entry.sha256 or "")
            pack = parts[0][2] if parts and parts[0][2] in self._whole else None
            if pack is None:
                yield _Unit(None, [entry])
                continue
            if gathered and pack != gathered_pack:
                yield _Unit(gathered_pack, gathered)
                gathered = []
            gathered.append(entry)
            gathered_pack = pack
        if gathered:
            yield _Unit(gathered_pack, gathered)

    def _job(self, unit: _Unit) -> TeamJob:
        items = []
        for entry in unit.entries:
            sha = entry.sha256 or ""
            parts = self._parts.get(sha)
            extraction = (
                sha,
                os.path.join(self._top, entry.path),
                *new_file_metadata(entry, OWN_STORE),
            )
            places = [(pack, at, n) for _sha, _part, pack, at, n in parts] if parts else None
            items.append((extraction, places))
        return unit.pack, items

    def write(self, files: Iterator[TreeEntry]) -> None:
        # In the order their contents lie in the store's packs, so that each pack is fetched
        # once: in path order, packs were fetched again and again (257 s for the 1 GiB
        # tree). Listing them all first makes every folder (`materialize`): any order does.
        ordered = sorted(files, key=self._place)
        # The largest units first: the last pack of the store's order was often its largest
        # (79 MiB of the 1 GiB tree's 31 units), and one helper wrote it alone for up to
        # 0.8 s after the other had finished. Longest first keeps both busy to the end.
        units = sorted(self._units(ordered), key=lambda unit: unit.size, reverse=True)
        for batch, written in run_in_batches(
            functools.partial(
                extract_team_files,
                str(self._ctx.data_dir),
                self._key,
                self._bucket,
                self._credentials,
            ),
            units,
            self._load,
            self._job,
            lambda unit: unit.size,
            "envops-restore",
            self._cancel,
            lambda done, unit: self._meter.ahead(done, unit.entries[-1].path),
            durable=self._flush,
        ):
            self._meter.advance(written, batch[-1].entries[-1].path)
