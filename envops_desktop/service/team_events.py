"""What a team's workstations tell each other through the store beside backups: which
environment here is which of the store's (by name), the deletions, versions, pins,
retention rules and schedules set on each (as events, the newest by the server's clock
winning), and the activity log's entries."""

import json
from datetime import datetime
from typing import Any

from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.models import ActivityEntry, Environment
from envops_desktop.service import backups as backup_ops
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.shared_layout import (
    ACTIVITY,
    BACKUP_DELETED,
    ENVIRONMENT,
    PIN_SET,
    RETENTION_SET,
    SCHEDULE_SET,
    VERSION_CHANGED,
    StoreEvent,
    as_json,
    create,
    events,
    read_sealed,
    tell_deleted,
    tell_setting,
    tell_version,
)
from envops_desktop.store.bucket_objects import BucketObjects
from envops_desktop.store.sealing import MasterKey
from envops_desktop.store.timestamps import from_text, to_text

# Where a rule of an environment that is not here yet is kept: before its id in the store.
_NOT_HERE_YET = "store:"


def exchange_activity(ctx: ServiceContext, objects: BucketObjects, key: MasterKey) -> None:
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


def exchange_events(
    ctx: ServiceContext, objects: BucketObjects, key: MasterKey, deleted: list[str]
) -> None:
    """Append an event for each shared backup deleted here and each version, pin, retention
    rule and schedule changed here; then follow the store's new events: delete here each
    backup deleted elsewhere (its name added to `deleted`), and take each environment's
    newest version, rule and schedule and each backup's newest pin."""
    for backup_id in ctx.shared.deletions_to_tell():
        event = tell_deleted(objects, key, backup_id, ctx.user_at_host)
        ctx.shared.note_deleted(backup_id, event)
        ctx.shared.note_seen(event)
    tell_settings(ctx, objects, key)
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
                deleted.append(backup.name)
        elif event.kind == VERSION_CHANGED and not _follow_version(ctx, event):
            continue  # the environment is busy here: the next sync follows it
        elif event.kind in (PIN_SET, RETENTION_SET, SCHEDULE_SET):
            _follow_setting(ctx, event)
        ctx.shared.note_seen(event.name)


def tell_settings(ctx: ServiceContext, objects: BucketObjects, key: MasterKey) -> int:
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
    same setting was followed already. A pin of a backup not here yet is kept for the pull
    that takes it in (`sharing.py`); a rule of an environment not here yet, under the
    store's id of it, for `map_environment`."""
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


def map_environment(ctx: ServiceContext, env_id: str, shared_id: str) -> None:
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
    `map_environment`. False when the environment is busy."""
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
            map_environment(ctx, env_id, shared_id)
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
