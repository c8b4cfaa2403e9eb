"""What a team's shared store holds in its bucket, how each object is named and sealed.

Every object is sealed (`store/sealing.py`) with its kind as context, so one kind cannot be
passed off as another:
- `environments/<shared id>`: an environment's name and version when it was first shared.
  Its path belongs to each workstation: an environment of the same name here is mapped to it.
- `data/<pack id>`: parts of contents, each compressed and sealed on its own, so one part
  can be read by a ranged GET; `index/<pack id>`: where each part lies, written after the
  pack, so an index never names a part that is not stored.
- `manifests/<backup id>`: a backup's list of files, as its workstation stores it.
- `backups/<backup id>`: the backup's record, written last and only if absent: a backup is
  in the store only once everything it needs is.
- `events/<event id>`: what changed since, appended and never rewritten (a backup deleted
  or pinned, an environment's version, retention rule or schedule changed, by whom), so that two
  workstations never overwrite each other; the time of each is its object's Last-Modified,
  the server's.
- `activity/<workstation>-<n>`: an activity entry of a shared environment, one object each,
  so that every workstation's log says who restored what, where and when.
- `generations/<shared id>/<n>-<restore id>`: the restores of an environment, in order
  (`team_locks.py`).
- `slots/<keyed hash of environment and time>`: a scheduled backup's slot, created by the
  one workstation that takes it (`team_locks.claim_slot`).
- `locks/…`, `running/…`, `prune/…`: locks and leases (`store/leases.py`), backups running
  and garbage collection's marks (`store_prune.py`).

Every object name is random, and every object is sealed: whoever reads the bucket without
the key learns the number and sizes of objects, nothing of what they hold.
"""

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from envops_desktop.domain.ids import new_id
from envops_desktop.service.context import ServiceContext
from envops_desktop.store.bucket_objects import BucketObjects, ObjectExistsError
from envops_desktop.store.manifest_codec import read_manifest
from envops_desktop.store.sealing import MasterKey

INDEX, MANIFEST, BACKUP, ENVIRONMENT, EVENT, ACTIVITY, SLOT = (
    b"index",
    b"manifest",
    b"backup",
    b"environment",
    b"event",
    b"activity",
    b"slot",
)
BACKUP_DELETED = "backup-deleted"
# Small objects read at once.
_READING = 8
VERSION_CHANGED = "version-changed"
# Settings shared as events, the newest winning: a backup pinned or unpinned (its value
# true or false), an environment's retention rule (its JSON).
PIN_SET = "pin-set"
RETENTION_SET = "retention-set"
SCHEDULE_SET = "schedule-set"  # the rule's JSON, or null: off


@dataclass(frozen=True)
class StoreEvent:
    """One event of the store, as read from it."""

    name: str
    kind: str
    subject: str  # the backup deleted, or the environment (its shared id) whose version changed
    by: str
    at: datetime  # the server's time when it was written
    version: str | None = None  # the environment's new version
    value: str | None = None  # a setting's new value, as JSON

    @property
    def order(self) -> str:
        """Sorts events by when the server took them, then by name (the server's times are
        whole seconds; names begin with their writer's time)."""
        return f"{self.at.isoformat()} {self.name}"


def manifest_object(backup_id: str) -> str:
    return f"manifests/{backup_id}"


def read_sealed(objects: BucketObjects, key: MasterKey, name: str, context: bytes) -> Any:
    """An object's JSON, unsealed."""
    return json.loads(key.open(objects.get(name).data or b"", context))


def create(objects: BucketObjects, name: str, data: bytes) -> None:
    """Write an immutable object unless it is there already (another workstation's, or
    this one's from a sync that was interrupted)."""
    with contextlib.suppress(ObjectExistsError):
        objects.put(name, data, create_only=True)


def as_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def refresh_indexes(ctx: ServiceContext, objects: BucketObjects, key: MasterKey) -> set[str]:
    """Bring the cache of the store's index up to date: read the indexes of packs new here,
    and forget the packs garbage collection freed. Returns the packs the store indexes."""
    from concurrent.futures import ThreadPoolExecutor

    known = ctx.shared.known_packs()
    listed = {name.removeprefix("index/") for name in objects.keys("index/")}
    new = sorted(listed - known)
    # Several requests in flight: one at a time, reading the indexes of a 1 GiB store took
    # 0.2 s (profiled) of a restore on a workstation new to it, before its first byte.
    with ThreadPoolExecutor(_READING, thread_name_prefix="envops-index") as pool:
        indexes = list(
            pool.map(lambda pack: read_sealed(objects, key, f"index/{pack}", INDEX), new)
        )
    with ctx.db.transaction():  # one commit, not one per pack, once all are read
        for pack, parts in zip(new, indexes, strict=True):
            ctx.shared.add_pack(
                pack, [(sha, part, pack, at, length) for sha, part, at, length in parts]
            )
    ctx.shared.forget_packs(known - listed)
    return listed


def backup_records(
    objects: BucketObjects, key: MasterKey, known: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Every backup record in the store, by backup id; those in `known` are not read again
    (a record never changes)."""
    known = known or {}
    found = {}
    for name in objects.keys("backups/"):
        backup_id = name.removeprefix("backups/")
        found[backup_id] = known.get(backup_id) or read_sealed(objects, key, name, BACKUP)
    return found


def contents_of(objects: BucketObjects, key: MasterKey, record: dict[str, Any]) -> set[str]:
    """The contents (SHA-256) a backup in the store needs."""
    body = key.open(objects.get(manifest_object(record["id"])).data or b"", MANIFEST)
    return {row[5] for row in read_manifest(body, record["manifest"]) if row[5]}


def events(
    objects: BucketObjects, key: MasterKey, skip: set[str] | None = None
) -> list[StoreEvent]:
    """The store's events, oldest first, but those in `skip` (read before)."""
    found = []
    for name in objects.keys("events/"):
        if skip and name in skip:
            continue
        fetched = objects.get(name)
        document = json.loads(key.open(fetched.data or b"", EVENT))
        found.append(
            StoreEvent(
                name,
                document["kind"],
                document.get("backup") or document.get("environment", ""),
                document["by"],
                fetched.last_modified,
                document.get("version"),
                document.get("value"),
            )
        )
    return found


def tell_deleted(objects: BucketObjects, key: MasterKey, backup_id: str, by: str) -> str:
    """Append the event that `backup_id` was deleted; return its name."""
    return _tell(objects, key, backup_id, {"kind": BACKUP_DELETED, "backup": backup_id, "by": by})


def tell_version(
    objects: BucketObjects, key: MasterKey, shared_id: str, version: str, by: str
) -> str:
    """Append the event that the environment `shared_id` is now at `version`; return its
    name."""
    document = {"kind": VERSION_CHANGED, "environment": shared_id, "version": version, "by": by}
    return _tell(objects, key, shared_id, document)


def tell_setting(
    objects: BucketObjects, key: MasterKey, kind: str, subject: str, value: str, by: str
) -> str:
    """Append the event that a setting (`PIN_SET` of the backup `subject`, `RETENTION_SET`
    of the environment `subject`, its shared id) is now `value`; return its name."""
    field = "backup" if kind == PIN_SET else "environment"
    return _tell(objects, key, subject, {"kind": kind, field: subject, "value": value, "by": by})


def _tell(objects: BucketObjects, key: MasterKey, subject: str, document: dict[str, str]) -> str:
    name = f"events/{new_id()}-{subject}"
    create(objects, name, key.seal(as_json(document), EVENT))
    return name
