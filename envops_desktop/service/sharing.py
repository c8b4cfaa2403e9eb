"""Sharing backups through a team's store: push what this workstation made, pull the rest.

The store's objects are described in `shared_layout.py`. A sync registers itself in the store
as a running backup first (`store_prune.running_backup`), so that garbage collection on
another workstation leaves what it is about to rely on alone.

A backup pulled from another workstation is as untrusted as a configuration file: its list
of files passes the same checks before it is recorded here, and a restore of it applies no
owners, special bits or security attributes (`restore.py`). Its contents stay in the store
until a restore writes them straight from there (`team_restore.py`), as restic's do: taking
them into the store here first, then writing them out again, made a restore elsewhere two
passes and 2.5× restic's. A data folder not connected to the store (`store copy --from`)
takes them in at once, each checked against its SHA-256 first.
"""

import json
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import zstandard

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, Outcome
from envops_desktop.domain.errors import InvalidConfigurationFileError, OperationFailedError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import ActivityEntry, Backup, Environment, has_content
from envops_desktop.domain.progress import (
    CancelToken,
    Progress,
    ProgressCallback,
    ProgressMeter,
)
from envops_desktop.service import backups as backup_ops
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.shared_layout import (
    ACTIVITY,
    BACKUP,
    BACKUP_DELETED,
    ENVIRONMENT,
    INDEX,
    MANIFEST,
    PIN_SET,
    RETENTION_SET,
    SCHEDULE_SET,
    VERSION_CHANGED,
    StoreEvent,
    as_json,
    create,
    events,
    manifest_object,
    read_sealed,
    refresh_indexes,
    tell_deleted,
    tell_setting,
    tell_version,
)
from envops_desktop.service.shared_store import OpenedStore
from envops_desktop.service.store_prune import packs_not_to_rely_on, running_backup
from envops_desktop.store.blob_bodies import FRAME_BYTES, SMALL_FILE, ZSTD_LEVEL, kept_body
from envops_desktop.store.bucket_objects import BucketObjects
from envops_desktop.store.file_metadata import UNTRUSTED, restricted, restricted_row
from envops_desktop.store.file_writes import sync_to_disk
from envops_desktop.store.leases import KeptLease
from envops_desktop.store.manifest_codec import encode_manifest, read_manifest
from envops_desktop.store.pack_index import PackedAt
from envops_desktop.store.sealed_contents import opened_parts, seal_part
from envops_desktop.store.sealing import DamagedObjectError, MasterKey
from envops_desktop.store.shared_records import SharedPart
from envops_desktop.store.timestamps import from_text, to_text

# A content is sealed in parts of at most this much, so neither side ever holds more of a
# large file in memory; parts are gathered into packs of about this size, one object each.
PART_BYTES = FRAME_BYTES
PACK_BYTES = 16 << 20
# Requests a transfer keeps in flight, as restic keeps several.
_IN_FLIGHT = 3
# Where a rule of an environment that is not here yet is kept: before its id in the store.
_NOT_HERE_YET = "store:"


@dataclass
class SyncReport:
    """What one sync did."""

    pushed: list[str] = field(default_factory=list)  # backups shared from here, by name
    pulled: list[str] = field(default_factory=list)  # backups taken in from elsewhere
    deleted: list[str] = field(default_factory=list)  # deleted here, as others deleted them
    unmapped: list[str] = field(default_factory=list)  # shared environments not here

    def summary(self) -> str:
        """What the sync did, in a sentence or two."""

        def backups(count: int) -> str:
            return "1 backup" if count == 1 else f"{count} backups"

        said = f"Shared {backups(len(self.pushed))}; took in {backups(len(self.pulled))}."
        if self.deleted:
            said += f" Deleted {backups(len(self.deleted))} the team deleted."
        if self.unmapped:
            said += (
                "\nIn the store but not here: "
                + ", ".join(self.unmapped)
                + " (add an environment of that name to map it to a folder here)."
            )
        return said


def sync(
    ctx: ServiceContext, store: OpenedStore, progress: ProgressCallback, cancel: CancelToken
) -> SyncReport:
    """Tell the store of the deletions and version changes made here and follow those made
    elsewhere; then share
    this workstation's backups and take in the others'. Pushing and pulling run under the
    blobs lock (no garbage collection here frees content a pulled backup is about to name)
    and registered in the store (none there frees content a push relies on)."""
    objects, key = store.objects, store.key
    report = SyncReport()
    # Mapped first, so that the events of an environment new here are followed at once.
    shared = shared_environments(objects, key)
    map_by_name(ctx, shared)
    _exchange_events(ctx, objects, key, report)
    with ctx.locks.blobs_in_use(), running_backup(ctx, store) as registration:
        refresh_indexes(ctx, objects, key)
        already = ctx.shared.shared_backups()
        for env in ctx.environments.all():
            for backup in reversed(ctx.backups.for_environment(env.id)):
                cancel.raise_if_cancelled()
                if backup.made_on is None and backup.id not in already:
                    _push(ctx, objects, key, env, backup, shared, registration, progress, cancel)
                    report.pushed.append(backup.name)
        skip = ctx.shared.shared_backups() | ctx.shared.deleted()
        mapped = {
            shared_id: env.id
            for env in ctx.environments.all()
            if (shared_id := ctx.shared.shared_id(env.id)) is not None
        }
        report.pulled, report.unmapped = take_in(
            ctx, objects, key, shared, mapped, skip, progress, cancel
        )
    # The pins, rules and schedules of what was shared just now; followed back at once, so
    # that this workstation counts a schedule's slots from the store's time of it as the
    # others do (from its own clock until the next sync, it claimed other slots than they).
    if _tell_settings(ctx, objects, key):
        _exchange_events(ctx, objects, key, report)
    _exchange_activity(ctx, objects, key)
    return report


@dataclass(frozen=True)
class Refused:
    """A backup of the store not taken in, and why, in a sentence."""

    name: str
    created_at: datetime
    why: str


@dataclass
class CaughtUp:
    """What catching up took in, and what it refused."""

    taken: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def catch_up(
    ctx: ServiceContext,
    store: OpenedStore,
    env: Environment,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> CaughtUp:
    """Follow the deletions, versions, pins, rules and schedules changed elsewhere, and take
    in the store's backups of `env` that are not here (their lists of files; their contents
    stay in the store): what a restore of a shared environment does first, so that its
    "latest" is the team's latest and a backup named by a teammate is found. A backup
    refused (its links lead out, say) is said, not fatal: the restore may want another."""
    objects, key = store.objects, store.key
    shared = shared_environments(objects, key)
    map_by_name(ctx, shared)
    _exchange_events(ctx, objects, key, SyncReport())
    shared_id = ctx.shared.shared_id(env.id)
    caught = CaughtUp()
    if shared_id is None:
        return caught
    # No registration as a running backup, as a sync's: no content is relied on here, and
    # a restore of a backup the team deletes meanwhile fails with nothing changed.
    with ctx.locks.blobs_in_use():
        refresh_indexes(ctx, objects, key)
        skip = ctx.shared.shared_backups() | ctx.shared.deleted()
        caught.taken, _ = take_in(
            ctx,
            objects,
            key,
            shared,
            {shared_id: env.id},
            skip,
            progress,
            cancel,
            refused=caught.refused,
        )
    return caught


def take_in(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    shared: dict[str, dict[str, Any]],
    mapped: dict[str, str],
    skip: set[str],
    progress: ProgressCallback,
    cancel: CancelToken,
    connected: bool = True,
    refused: "list[Refused] | None" = None,
) -> tuple[list[str], list[str]]:
    """Take in the store's backups of the environments here (`mapped`: by their ids in the
    store), but those in `skip` and those here already; each is noted as in the store when
    the data folder is `connected` to it, and its contents are left there (a restore fetches
    them), or else taken in now. With `refused`, a backup refused for what its list of files
    holds is noted there and the others are still taken in. Returns the names of the
    backups taken in, and of
    the store's environments (among `shared`) that have backups but are not here."""
    taken: list[str] = []
    unmapped: set[str] = set()
    last = _CheckedList("", False, {}, {}, "", b"")
    for name in objects.keys("backups/"):
        backup_id = name.removeprefix("backups/")
        if backup_id in skip or ctx.backups.by_id(backup_id) is not None:
            continue
        cancel.raise_if_cancelled()
        record = read_sealed(objects, key, name, BACKUP)
        env_id = mapped.get(record["environment"])
        if env_id is None:
            unmapped.add(shared.get(record["environment"], {}).get("name", "?"))
            continue
        try:
            last = _pull(ctx, objects, key, env_id, record, progress, cancel, connected, last)
        except InvalidConfigurationFileError as error:
            if refused is None:
                raise
            refused.append(Refused(record["name"], from_text(record["created_at"]), str(error)))
            continue
        taken.append(record["name"])
    return taken, sorted(unmapped)


def _exchange_activity(ctx: ServiceContext, objects: BucketObjects, key: MasterKey) -> None:
    """Send this workstation's activity entries of shared environments, each an object of
    its own, and take in the others' for the environments here, so that every workstation's
    log says who restored what, where and when."""
    seen = ctx.shared.seen("activity/")
    shared_ids = {
        env.id: shared_id
        for env in ctx.environments.all()
        if (shared_id := ctx.shared.shared_id(env.id)) is not None
    }
    # Named by a keyed hash of the workstation and data folder, and the entry's number here:
    # the same entry always has the same name, and the name tells nothing.
    here = key.address(f"{ctx.user_at_host} {ctx.data_dir}".encode())[:16]
    for entry in ctx.activity.made_here(set(shared_ids)):
        name = f"activity/{here}-{entry.id:012d}"
        if name in seen:
            continue
        document = {
            "environment": shared_ids[entry.environment_id or ""],
            "time": to_text(entry.time),
            "action": entry.action.value,
            "user": entry.user,
            "outcome": entry.outcome.value,
            "detail": entry.detail,
            "by": ctx.user_at_host,
        }
        create(objects, name, key.seal(as_json(document), ACTIVITY))
        ctx.shared.note_seen(name)
    names = {env.id: env.name for env in ctx.environments.all()}
    for name in objects.keys("activity/"):
        if name in seen or name.startswith(f"activity/{here}-"):
            continue
        document = read_sealed(objects, key, name, ACTIVITY)
        env_id = ctx.shared.environment_of(document["environment"])
        if env_id in names:
            try:
                entry = ActivityEntry(
                    id=0,
                    time=from_text(document["time"]),
                    environment_id=env_id,
                    environment_name=names[env_id],
                    action=ActivityAction(document["action"]),
                    user=document["by"],
                    outcome=Outcome(document["outcome"]),
                    detail=str(document["detail"]),
                )
            except ValueError:  # written by a later EnvOps: an action this one does not know
                pass
            else:
                ctx.activity.adopt(entry, document["by"])
        ctx.shared.note_seen(name)


def _exchange_events(
    ctx: ServiceContext, objects: BucketObjects, key: MasterKey, report: SyncReport
) -> None:
    """Append an event for each shared backup deleted here and each version, pin, retention
    rule and schedule changed here; then follow the store's new events: delete here each
    backup deleted elsewhere, and take each environment's newest version, rule and schedule
    and each backup's newest pin."""
    for backup_id in ctx.shared.deletions_to_tell():
        event = tell_deleted(objects, key, backup_id, ctx.user_at_host)
        ctx.shared.note_deleted(backup_id, event)
        ctx.shared.note_seen(event)
    _tell_settings(ctx, objects, key)
    for env_id, version in ctx.shared.versions_to_tell():
        shared_id = ctx.shared.shared_id(env_id)
        if shared_id is not None:
            # Read back below with the others: the newest by the server's clock wins.
            tell_version(objects, key, shared_id, version, ctx.user_at_host)
        ctx.shared.note_version_told(env_id, version)
    for event in events(objects, key, skip=ctx.shared.seen("events/")):
        if event.kind == BACKUP_DELETED:
            ctx.shared.note_deleted(event.subject, event.name)
            backup = ctx.backups.by_id(event.subject)
            env = ctx.environments.by_id(backup.environment_id) if backup else None
            if backup is not None and env is not None and backup.deleted_at is None:
                backup_ops.move_to_bin(ctx, env, backup, deleted_by=event.by)
                report.deleted.append(backup.name)
        elif event.kind == VERSION_CHANGED and not _follow_version(ctx, event):
            continue  # the environment is busy here: the next sync follows it
        elif event.kind in (PIN_SET, RETENTION_SET, SCHEDULE_SET):
            _follow_setting(ctx, event)
        ctx.shared.note_seen(event.name)


def _tell_settings(ctx: ServiceContext, objects: BucketObjects, key: MasterKey) -> int:
    """Append an event for each pin, retention rule and schedule set here, once its backup
    or environment is in the store (a sync tells them again after sharing what it shares).
    Read back with the others, so that the newest by the server's clock wins. Returns how
    many it told."""
    told = 0
    shared_backups = ctx.shared.shared_backups()
    for kind, subject, value in ctx.shared.settings_to_tell():
        if kind == PIN_SET:
            backup = ctx.backups.by_id(subject)
            if backup is not None and backup.id not in shared_backups and backup.made_on is None:
                continue  # not shared yet: told once it is
            if backup is not None:
                tell_setting(objects, key, kind, subject, value, ctx.user_at_host)
                told += 1
        else:
            shared_id = ctx.shared.shared_id(subject)
            if shared_id is None:
                continue  # not shared yet: told once it is
            tell_setting(objects, key, kind, shared_id, value, ctx.user_at_host)
            told += 1
        ctx.shared.note_setting_told(kind, subject, value)
    return told


def _follow_setting(ctx: ServiceContext, event: StoreEvent) -> None:
    """Take the pin, retention rule or schedule an event sets, unless a newer event of the
    same setting was followed already. A pin of a backup not here yet is kept for `_pull`;
    a rule of an environment not here yet, under the store's id of it, for `_map`."""
    subject = event.subject
    if event.kind != PIN_SET:  # an environment's, by its id in the store
        subject = ctx.shared.environment_of(event.subject) or _NOT_HERE_YET + event.subject
    if event.value is None or event.order <= ctx.shared.followed_setting(event.kind, subject)[0]:
        return
    if not subject.startswith(_NOT_HERE_YET):
        _apply_setting(ctx, event.kind, subject, event.value, event.at)
    ctx.shared.note_setting_followed(event.kind, subject, event.order, event.value)


def _apply_setting(ctx: ServiceContext, kind: str, subject: str, value: str, at: datetime) -> None:
    """Set here the pin (of backup `subject`), retention rule or schedule (of environment
    `subject`) that an event of the store, taken by the server at `at`, gives `value`."""
    if kind == PIN_SET:
        if ctx.backups.by_id(subject) is not None:
            ctx.backups.set_pinned(subject, json.loads(value))
    elif kind == RETENTION_SET:
        from envops_desktop.domain.retention import RetentionRule

        ctx.retention.set(subject, RetentionRule.stored(value))
    elif value == "null":
        ctx.schedules.turn_off(subject)
    else:
        from envops_desktop.domain.schedules import ScheduleRule

        # From when the store took it, on every workstation (the one that set it too), so
        # that all count the same slots and `claim_slot` gives each to one of them.
        rule = ScheduleRule.model_validate_json(value)
        ctx.schedules.set(subject, rule, enabled=True, since=at)


def _map(ctx: ServiceContext, env_id: str, shared_id: str) -> None:
    """Make the environment here the store's `shared_id`, and follow the rules and version
    the team set on it before it was here: their events were read (and not read again) by
    an earlier sync."""
    ctx.shared.map_environment(env_id, shared_id)
    for kind in (RETENTION_SET, SCHEDULE_SET):
        order, value = ctx.shared.followed_setting(kind, _NOT_HERE_YET + shared_id)
        if value is not None and order > ctx.shared.followed_setting(kind, env_id)[0]:
            # The order begins with the server's time of the event.
            _apply_setting(ctx, kind, env_id, value, datetime.fromisoformat(order.split()[0]))
            ctx.shared.note_setting_followed(kind, env_id, order, value)
    _version_from_before(ctx, env_id, shared_id)


def _version_from_before(ctx: ServiceContext, env_id: str, shared_id: str) -> None:
    """Take the newest version the team gave `shared_id` while it was not mapped here (kept
    by `_follow_version`), if the environment `env_id` has followed none newer since."""
    order, version = ctx.shared.followed_setting(VERSION_CHANGED, _NOT_HERE_YET + shared_id)
    env = ctx.environments.by_id(env_id)
    if version is not None and env is not None:
        _take_version(ctx, env, version, order)  # busy: the next sync tries again


def _follow_version(ctx: ServiceContext, event: StoreEvent) -> bool:
    """Take the version an event gives a shared environment here, unless a newer event was
    followed already or the environment reads its version from a file in its folder (the
    folder says what it runs). One not here yet keeps it, under the store's id of it, for
    `_map`. False when the environment is busy."""
    if event.version is None:
        return True
    env_id = ctx.shared.environment_of(event.subject)
    env = ctx.environments.by_id(env_id) if env_id else None
    if env is None:
        pending = _NOT_HERE_YET + event.subject
        if event.order > ctx.shared.followed_setting(VERSION_CHANGED, pending)[0]:
            ctx.shared.note_setting_followed(VERSION_CHANGED, pending, event.order, event.version)
        return True
    return _take_version(ctx, env, event.version, event.order)


def _take_version(ctx: ServiceContext, env: Environment, version: str, order: str) -> bool:
    """Give `env` the `version` of the team's event `order`, unless it followed a newer one;
    False when the environment is busy."""
    if order <= ctx.shared.newest_version_event(env.id):
        return True
    with ctx.locks.environment_if_free(env.id) as free:
        if not free:
            return False
        if env.version_file is None and env.version != version:
            # Said in the log by the entry the changing workstation shares, not again here.
            ctx.environments.update(env.id, version=version)
        ctx.shared.note_version_event(env.id, order)
    return True


def shared_environments(objects: BucketObjects, key: MasterKey) -> dict[str, dict[str, Any]]:
    return {
        name.removeprefix("environments/"): read_sealed(objects, key, name, ENVIRONMENT)
        for name in objects.keys("environments/")
    }


def map_by_name(ctx: ServiceContext, shared: dict[str, dict[str, Any]]) -> None:
    """An environment here that the store knows by name is that environment; its path stays
    this workstation's own."""
    for shared_id, env_id in same_names(ctx, shared).items():
        mapped = ctx.shared.shared_id(env_id)
        if mapped is None:
            _map(ctx, env_id, shared_id)
        elif mapped == shared_id:  # one that was busy when it was mapped
            _version_from_before(ctx, env_id, shared_id)


def same_names(ctx: ServiceContext, shared: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Of the store's environments (`shared`), those an environment here has the name of:
    their ids in the store, with the ids here."""
    by_name = {document["name"].casefold(): shared_id for shared_id, document in shared.items()}
    return {
        by_name[env.name.casefold()]: env.id
        for env in ctx.environments.all()
        if env.name.casefold() in by_name
    }


def _push(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    env: Environment,
    backup: Backup,
    shared: dict[str, dict[str, Any]],
    registration: KeptLease,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    shared_id = ctx.shared.shared_id(env.id)
    if shared_id is None:
        shared_id = share_environment(ctx, objects, key, env, shared)
        _map(ctx, env.id, shared_id)
    push_backup(ctx, objects, key, shared_id, backup, registration, progress, cancel)
    ctx.shared.mark_shared(backup.id)


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


def _pull(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    env_id: str,
    record: dict[str, Any],
    progress: ProgressCallback,
    cancel: CancelToken,
    connected: bool,
    last: "_CheckedList",
) -> "_CheckedList":
    """Take in one backup of the store; returns its list of files as checked, for the next
    backup, whose list is often the same (`last`: the one before's)."""
    made_on = str(record["made_on"])
    source = f"the backup {record['name']} from {made_on}"
    env = ctx.environments.by_id(env_id)
    allow = env is not None and env.allow_links_out
    same = last.name == record["manifest"] and last.allow_links_out == allow
    checked = last if same else _check_list(ctx, objects, key, record, allow)
    sizes, parts = checked.sizes, checked.parts
    placed: list[tuple[str, PackedAt]] = []
    meter = None
    if not connected:  # a connected data folder fetches them as a restore writes them
        meter = ProgressMeter(progress, "downloading", sum(sizes.values()))
        placed = _fetch_contents(ctx, objects, key, parts, sizes, source, meter, cancel)
    root_mode, root_meta = restricted(record["root_meta"], record["root_mode"] or 0, UNTRUSTED)
    backup = Backup(
        id=record["id"],
        environment_id=env_id,
        name=record["name"],
        created_at=from_text(record["created_at"]),
        version=record["version"],
        created_by=record["created_by"],
        origin=BackupOrigin(record["origin"]),
        file_count=record["file_count"],
        total_bytes=record["total_bytes"],
        skipped=list(record["skipped"]),
        root_mode=None if record["root_mode"] is None else root_mode,
        root_mtime_ns=record["root_mtime_ns"],
        root_meta=root_meta,
        changed_while_read=list(record["changed_while_read"]),
        made_on=made_on,
    )
    with ctx.db.transaction():
        ctx.blobs.record_packed(placed)
        ctx.backups.insert(backup, manifest=checked.kept_name, body=checked.kept_body)
        if connected:  # deleting it here then tells the team
            ctx.shared.mark_shared(backup.id)
        pinned = ctx.shared.followed_setting(PIN_SET, backup.id)[1]
        if pinned is not None:  # pinned elsewhere before it came here
            ctx.backups.set_pinned(backup.id, json.loads(pinned))
    if meter is not None:
        meter.finish()
    return checked


@dataclass(frozen=True)
class _CheckedList:
    """A backup's list of files from the store, checked, as it is kept here."""

    name: str  # the list's name in the store: its content's hash
    allow_links_out: bool  # checked allowing links that lead out of the folder
    sizes: dict[str, int]  # its contents, by SHA-256
    parts: dict[str, list[SharedPart]]  # where the store keeps them
    kept_name: str
    kept_body: bytes


def _check_list(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    record: dict[str, Any],
    allow_links_out: bool,
) -> _CheckedList:
    """A backup's list of files, read from the store and checked as a configuration file's
    list is: backups of an unchanged tree share one, checked once (two of a 20,000-file
    tree took 0.4 s to check twice)."""
    manifest_name = record["manifest"]
    body = key.open(objects.get(manifest_object(record["id"])).data or b"", MANIFEST)
    source = f"the backup {record['name']} from {record['made_on']}"
    rows = list(read_manifest(body, manifest_name))  # checked against its name as it decodes
    _check_untrusted(source, rows, allow_links_out)
    sizes = {row[5]: row[3] for row in rows if row[5] and not (row[7] or {}).get("hardlink")}
    parts = ctx.shared.parts_of_many(sizes)
    if any(
        not whole(parts.get(sha), size) and not ctx.blobs.has(sha) for sha, size in sizes.items()
    ):
        raise OperationFailedError(
            f"The shared store lacks a file of {source}; nothing of it was kept."
        )
    # Kept as a configuration file's would be: no owners, special bits or security
    # attributes, so that no restore of it here can apply them.
    kept_name, kept_body = encode_manifest(restricted_row(row, UNTRUSTED) for row in rows)
    return _CheckedList(manifest_name, allow_links_out, sizes, parts, kept_name, kept_body)


def _fetch_contents(
    ctx: ServiceContext,
    objects: BucketObjects,
    key: MasterKey,
    parts: dict[str, list[SharedPart]],
    sizes: dict[str, int],
    source: str,
    meter: ProgressMeter,
    cancel: CancelToken,
) -> list[tuple[str, PackedAt]]:
    """Take the contents of `parts` that are not here into the local store, each checked
    against its SHA-256 first, and flushed to the disk; the small ones' places in a new
    local pack, to record."""
    # In the order the parts lie in the packs, so that each pack is read once.
    missing = sorted(
        (sha for sha in parts if not ctx.blobs.has(sha)), key=lambda sha: parts[sha][0][2:4]
    )
    wanted = [part for sha in missing for part in parts[sha]]
    placed = []
    with PackReader(ctx, objects, wanted) as reader, ctx.blobs.packing() as pack:
        for sha in missing:
            cancel.raise_if_cancelled()
            if sizes[sha] < SMALL_FILE and len(parts[sha]) == 1:
                # Most of a configuration: packed here as it came, compressed once already.
                if sha not in pack.placed:
                    placed.append(
                        (sha, pack.append(sha, *_small(reader, key, sha, parts[sha][0], source)))
                    )
            else:
                fetched = _fetch(ctx, reader, key, sha, parts[sha], source)
                try:
                    ctx.blobs.adopt(sha, fetched, compressed=True)
                finally:
                    fetched.unlink(missing_ok=True)
            meter.advance(sizes[sha], sha)
    if missing:
        # On the disk before the caller records them, as a backup's are: after a power cut,
        # an index row or a file name with no bytes behind it reads as a damaged content,
        # and is never fetched again while the store here claims to hold it.
        sync_to_disk()
    return placed


def fetch_contents_of(
    ctx: ServiceContext,
    store: OpenedStore,
    lacking: set[str],
    sizes: dict[str, int],
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    """Take into the store here the contents `lacking` (of `sizes`), which the team's
    store holds, each checked first: for what reads them here, an export or a copy into
    another bucket. The caller holds no blobs lock."""
    parts = ctx.shared.parts_of_many(lacking)
    if len(parts) < len(lacking):
        raise OperationFailedError(
            f"The team's store has no copy of {len(lacking) - len(parts)} of the files any "
            "more; nothing was fetched."
        )
    meter = ProgressMeter(progress, "downloading", sum(sizes[sha] for sha in lacking))
    source = "a backup in the team's store"
    with ctx.locks.blobs_in_use():
        placed = _fetch_contents(ctx, store.objects, store.key, parts, sizes, source, meter, cancel)
        ctx.blobs.record_packed(placed)
    meter.finish()


def _check_untrusted(source: str, rows: list[tuple], allow_links_out: bool) -> None:
    """The checks a configuration file's list of files passes, for another workstation's."""
    from pydantic import TypeAdapter, ValidationError

    from envops_desktop.domain.configuration import ManifestEntry
    from envops_desktop.store.configuration_reader import check_entries
    from envops_desktop.store.member_staging import refused

    fields = ("path", "kind", "mode", "size", "mtime_ns", "sha256", "target", "meta")
    try:
        # One call for the whole list: a quarter less than one per entry.
        entries = TypeAdapter(list[ManifestEntry]).validate_python(
            [dict(zip(fields, row, strict=False)) for row in rows]
        )
    except ValidationError as error:
        raise refused(source, str(error.errors()[0]["msg"])) from None
    check_entries(source, entries, allow_external_links=allow_links_out)


def _small(
    reader: "PackReader", key: MasterKey, sha: str, part: SharedPart, source: str
) -> tuple[bytes, bool]:
    """A small content's body for a local pack, from its one part: the part's zstd frame
    as it is where that saves a tenth, as `small_body` would keep it; checked first."""
    _sha, _part, pack, at, length = part
    try:
        [(frame, data)] = opened_parts(key, sha, [reader.part(pack, at, length)])
    except DamagedObjectError as error:
        raise OperationFailedError(
            f"A file of {source} is damaged in the shared store; nothing of it was kept."
        ) from error
    return kept_body(data, frame)


def _fetch(
    ctx: ServiceContext,
    reader: "PackReader",
    key: MasterKey,
    sha: str,
    parts: list[SharedPart],
    source: str,
) -> Path:
    """A large content of the store as a blob body for the local store, in a scratch file
    beside it: its parts' zstd frames as they came, one after another, each decompressed
    once on the way to check the whole against its SHA-256."""
    scratch = ctx.staging_dir / f"download-{new_id()}"
    try:
        with open(scratch, "wb") as out:
            for frame in checked_frames(reader, key, sha, parts):
                out.write(frame)
    except DamagedObjectError as error:
        scratch.unlink(missing_ok=True)
        raise OperationFailedError(
            f"A file of {source} is damaged in the shared store; nothing of it was kept."
        ) from error
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return scratch


def checked_frames(
    reader: "PackReader", key: MasterKey, sha: str, parts: list[SharedPart]
) -> Iterator[bytes]:
    """A content's parts as the zstd frames they hold, each opened and decompressed once
    to check the whole against its SHA-256 (DamagedObjectError, after the last, if it
    fails)."""
    sealed = (reader.part(pack, at, length) for _sha, _part, pack, at, length in parts)
    return (frame for frame, _data in opened_parts(key, sha, sealed))


def packs_read_whole(ctx: ServiceContext, wanted: Iterable[SharedPart]) -> set[str]:
    """The packs of which a quarter or more is `wanted`: read in one GET rather than a ranged
    GET per part (2,000 small files took 2,000 ranged GETs, 9× restic's restore)."""
    sizes = ctx.shared.pack_sizes()
    totals: dict[str, int] = {}
    for _sha, _part, pack, _at, length in wanted:
        totals[pack] = totals.get(pack, 0) + length
    return {pack for pack, total in totals.items() if total * 4 >= sizes.get(pack, 0)}


class PackReader:
    """Reads parts of the store's packs: a whole pack in one GET where a quarter of it or
    more is wanted (`packs_read_whole`), one ranged GET per part otherwise. Whole packs
    are fetched a few ahead, in the order they will be read, on threads of their own; the
    last two read are kept."""

    def __init__(
        self, ctx: ServiceContext, objects: BucketObjects, wanted: list[SharedPart]
    ) -> None:
        """`wanted`: every part to be read, in the order it will be."""
        self._objects = objects
        self._whole = packs_read_whole(ctx, wanted)
        self._order = deque(dict.fromkeys(p[2] for p in wanted if p[2] in self._whole))
        self._fetching: dict[str, Future[bytes]] = {}
        self._downloads = ThreadPoolExecutor(_IN_FLIGHT, thread_name_prefix="envops-download")
        self._kept: dict[str, bytes] = {}

    def __enter__(self) -> "PackReader":
        return self

    def __exit__(self, *_exc: object) -> None:
        for future in self._fetching.values():
            future.cancel()
        self._downloads.shutdown(wait=True)

    def _fetch_ahead(self) -> None:
        while len(self._fetching) < _IN_FLIGHT and self._order:
            pack = self._order.popleft()
            if pack not in self._kept and pack not in self._fetching:
                self._fetching[pack] = self._downloads.submit(self._whole_pack, pack)

    def _whole_pack(self, pack: str) -> bytes:
        return self._objects.get(f"data/{pack}").data or b""

    def part(self, pack: str, at: int, length: int) -> bytes:
        if pack not in self._whole:
            return self._objects.get_range(f"data/{pack}", at, length)
        if pack not in self._kept:
            self._fetch_ahead()
            future = self._fetching.pop(pack, None)
            data = future.result() if future is not None else self._whole_pack(pack)
            if len(self._kept) >= 2:
                del self._kept[next(iter(self._kept))]
            self._kept[pack] = data
            self._fetch_ahead()
        data = self._kept[pack][at : at + length]
        if len(data) != length:
            raise DamagedObjectError(f"the pack {pack} is shorter than its index says")
        return data


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
        self._uploads = ThreadPoolExecutor(_IN_FLIGHT, thread_name_prefix="envops-upload")
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
        while len(self._pending) > _IN_FLIGHT:  # memory stays a few packs' worth
            self._pending.popleft().result()

    def _upload(self, pack: str, data: bytes, index: bytes, parts: list[SharedPart]) -> None:
        self._objects.put(f"data/{pack}", data, create_only=True)
        self._objects.put(f"index/{pack}", index, create_only=True)
        self._ctx.shared.add_pack(pack, parts)
