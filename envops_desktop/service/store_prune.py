"""Garbage collection in a team's shared store, and the registration of running backups.

Why a backup running on another workstation never loses a content to a collection, as with
`restic prune`; each step is enforced where it says:

1. A backup (a sync's push) registers itself as `running/<id>`, a lease it renews, before
   it looks at what the store holds, and keeps it until its record is written. It checks the
   registration right before writing the record, and stops if it lost it (`sharing._push`).
2. A collection holds the store's lock `locks/store`, so one runs at a time. It works out
   which packs no backup needs, writes that list as its marks (`prune/<id>`), and notes the
   server's time M of that write (`prune`).
3. It waits until every registration that began at or before M (by the server's clock, to
   the second: a tie counts as before) has ended or lapsed, and until a grace period (the
   store's lease time) has passed since M. Then it reads the backups' records again and
   frees only packs that are marked *and* still needed by none (`prune`, `_wait_for_backups`).
4. A backup that relies on a content it did not send (its cache says the store has it)
   confirms, before writing its record, that the content's pack is neither marked nor gone,
   and sends the content again if it is (`packs_not_to_rely_on`).

Take a backup B and a marking at M. If B registered at or before M, the collection waits
for B: B's record, written before its registration ends, is read in step 3, and what it
needs is kept; had B died, it wrote no record and needs nothing; had B been paused past its
lease, its check in step 1 stops it before writing. If B registered after M, its
confirmation in step 4 reads the marks (written before B registered, and the server lists
an object once its write is answered), so B relies on no marked pack, and a collection
frees no pack it did not mark. A later collection marks after B registered, and waits for
B. The grace period covers a server whose listings lag behind its writes by less than it.

Backups in the recycle bin count as needed: a deleted backup is freed, with its record and
list of files, only once its deletion event is older than the bin's days, by the server.
"""

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from envops_desktop.domain.ids import new_id
from envops_desktop.domain.progress import CancelToken, Progress, ProgressCallback
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.shared_layout import (
    BACKUP_DELETED,
    as_json,
    backup_records,
    contents_of,
    events,
    manifest_object,
    read_sealed,
    refresh_indexes,
)
from envops_desktop.service.shared_store import OpenedStore
from envops_desktop.store import leases
from envops_desktop.store.bucket_objects import BucketObjects, ObjectMissingError
from envops_desktop.store.sealing import MasterKey

MARKS = "prune/"
RUNNING = "running/"
STORE_LOCK = "locks/store"
_MARKS_CONTEXT = b"marks"
# How often a collection looks at the backups it waits for.
_POLL_SECONDS = 1.0


@dataclass
class PruneReport:
    """What a collection in the shared store freed, or would free."""

    dry_run: bool = False
    packs: int = 0
    bytes: int = 0
    backups: list[str] = field(default_factory=list)  # freed for good: out of the bin
    waited_for: list[str] = field(default_factory=list)  # "bob@desk" with backups running
    slots: int = 0  # scheduled slots' claims older than the bin's days, removed

    def summary(self) -> str:
        verb = "Would free" if self.dry_run else "Freed"
        said = f"{verb} {self.packs} packs ({self.bytes / 2**20:.1f} MiB)"
        if self.backups:
            said += f" and {len(self.backups)} deleted backups: " + ", ".join(self.backups)
        said += "."
        if self.waited_for:
            said += " Waited for the backups of " + ", ".join(self.waited_for) + " to finish."
        return said


def _holder(ctx: ServiceContext, doing: str) -> leases.Holder:
    user, _, host = ctx.user_at_host.partition("@")
    return leases.Holder(user, host, os.getpid(), doing)


@contextlib.contextmanager
def running_backup(ctx: ServiceContext, store: OpenedStore) -> Iterator[leases.KeptLease]:
    """Register a backup as running in the store for the block (step 1 above); yields the
    registration, whose `check` the backup calls right before writing its record."""
    name = f"{RUNNING}{new_id()}{os.urandom(4).hex()}"
    lease = leases.acquire(
        store.objects,
        store.key,
        name,
        "the shared store",
        _holder(ctx, "backed up"),
        store.lease_seconds,
    )
    with leases.KeptLease(store.objects, store.key, lease) as kept:
        yield kept


def packs_not_to_rely_on(objects: BucketObjects, key: MasterKey, packs: set[str]) -> set[str]:
    """Of `packs`, those a backup must not rely on (step 4 above): marked by a collection
    under way, or gone."""
    if not packs:
        return set()
    marked: set[str] = set()
    for name in objects.keys(MARKS):
        with contextlib.suppress(ObjectMissingError):  # that collection just finished
            marked.update(read_sealed(objects, key, name, _MARKS_CONTEXT)["packs"])
    present = {name.removeprefix("data/") for name in objects.keys("data/")}
    return {pack for pack in packs if pack in marked or pack not in present}


def prune(
    ctx: ServiceContext,
    store: OpenedStore,
    bin_days: float,
    progress: ProgressCallback,
    cancel: CancelToken,
    dry_run: bool = False,
) -> PruneReport:
    """Free the packs no backup in the store needs, the backups deleted more than `bin_days`
    ago and the scheduled slots' claims as old; with `dry_run`, only say what that would
    free."""
    objects, key = store.objects, store.key
    report = PruneReport(dry_run=dry_run)
    lease = leases.acquire(
        objects,
        key,
        STORE_LOCK,
        "the shared store",
        _holder(ctx, "pruned"),
        store.lease_seconds,
    )
    with leases.KeptLease(objects, key, lease) as kept:
        for name in objects.keys(MARKS):  # a collection that died left them
            objects.delete(name)
        # Read once each: records and lists of files never change.
        records = backup_records(objects, key)
        needs: dict[str, set[str]] = {}
        cutoff = objects.server_time() - timedelta(days=bin_days)
        freed = _out_of_the_bin(objects, key, cutoff, records)
        unneeded = _unneeded_packs(ctx, objects, key, records, freed, needs)
        sizes = ctx.shared.pack_sizes()
        if dry_run:
            report.packs = len(unneeded)
            report.bytes = sum(sizes.get(pack, 0) for pack in unneeded)
            report.backups = sorted(freed.values())
            return report
        marks = f"{MARKS}{new_id()}"
        marked_at = objects.put(
            marks, key.seal(as_json({"packs": sorted(unneeded)}), _MARKS_CONTEXT), create_only=True
        ).server_time
        try:
            report.waited_for = _wait_for_backups(
                objects, key, marked_at, store.lease_seconds, kept, progress, cancel
            )
            records = backup_records(objects, key, records)  # those recorded meanwhile
            unneeded &= _unneeded_packs(ctx, objects, key, records, freed, needs)
            sizes = ctx.shared.pack_sizes()
            for count, pack in enumerate(sorted(unneeded)):
                if count % 100 == 0:
                    cancel.raise_if_cancelled()
                    kept.check()  # the fencing token: a collection that lost its lock stops
                # The index first: no workstation learns of a pack that is about to go.
                objects.delete(f"index/{pack}")
                objects.delete(f"data/{pack}")
                report.packs += 1
                report.bytes += sizes.get(pack, 0)
            ctx.shared.forget_packs(unneeded)
            for backup_id, name in freed.items():
                kept.check()
                objects.delete(manifest_object(backup_id))
                objects.delete(f"backups/{backup_id}")
                report.backups.append(name)
            # A slot's claim matters only while a workstation may still take that slot.
            for name, written in objects.listing("slots/"):
                if written < cutoff:
                    objects.delete(name)
                    report.slots += 1
        finally:
            with contextlib.suppress(Exception):  # unreachable: the next collection clears it
                objects.delete(marks)
    return report


def _out_of_the_bin(
    objects: BucketObjects,
    key: MasterKey,
    deleted_before: datetime,
    records: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """The backups deleted before `deleted_before` whose records are still in the store,
    by id, with their names."""
    ids = {
        event.subject
        for event in events(objects, key)
        if event.kind == BACKUP_DELETED and event.at <= deleted_before
    }
    return {backup_id: records[backup_id]["name"] for backup_id in ids if backup_id in records}


def _unneeded_packs(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    records: dict[str, dict[str, Any]],
    freed: dict[str, str],
    needs: dict[str, set[str]],
) -> set[str]:
    """The packs in the store of which no backup among `records` but those `freed` needs a
    part (`needs` keeps each backup's contents once read). A pack with no index (its upload
    was cut off between the two) is needed by none."""
    refresh_indexes(ctx, objects, key)
    needed: set[str] = set()
    for backup_id, record in records.items():
        if backup_id in freed:
            continue
        if backup_id not in needs:
            needs[backup_id] = contents_of(objects, key, record)
        needed |= needs[backup_id]
    holding = ctx.shared.contents_by_pack()
    return {
        pack
        for pack in (name.removeprefix("data/") for name in objects.keys("data/"))
        if not holding.get(pack, set()) & needed
    }


def _wait_for_backups(
    objects: BucketObjects,
    key: MasterKey,
    marked_at: datetime,
    grace_seconds: float,
    kept: leases.KeptLease,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> list[str]:
    """Wait (step 3 above) until every backup registered at or before `marked_at` has ended
    or lapsed, and the grace period has passed; return whose backups were waited for."""
    waited: set[str] = set()
    tie = timedelta(seconds=1)  # Last-Modified and Date are to the second
    while True:
        cancel.raise_if_cancelled()
        kept.check()
        running = []
        for name in objects.keys(RUNNING):
            held = leases.read_lock(objects, key, name)
            if held is not None and not held.lapsed and held.since <= marked_at + tie:
                running.append(f"{held.holder.user}@{held.holder.host}")
        waited.update(running)
        if not running and objects.server_time() >= marked_at + timedelta(seconds=grace_seconds):
            return sorted(waited)
        progress(Progress("waiting for backups", 0, 0, ", ".join(sorted(set(running)))))
        time.sleep(_POLL_SECONDS)
