"""Registering, changing and forgetting environments (never their directories)."""

import json
import os
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.domain.enums import ActivityAction, EnvironmentStatus, Outcome
from envops_desktop.domain.errors import InvalidInputError, NotFoundError, OperationFailedError
from envops_desktop.domain.excludes import check_patterns
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Environment, RestoreCommand
from envops_desktop.domain.paths import is_utf8_text, relative_path_problem, shown
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ignore_progress
from envops_desktop.domain.wording import counted
from envops_desktop.service.backups import forget_backups, free_contents
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.folder_reach import is_folder
from envops_desktop.service.restore_commands import COMMAND_NAMES, command_output
from envops_desktop.service.versions import MAX_VERSION_LENGTH, read_version_file, short_printable
from envops_desktop.store.environment_records import command_columns
from envops_desktop.store.timestamps import utc_now

if TYPE_CHECKING:
    from envops_desktop.domain.schedules import ScheduleStatus

MAX_NAME_LENGTH = 100


def find_environment(ctx: ServiceContext, name_or_id: str) -> Environment:
    """The environment of that name (or id) as recorded; NotFoundError if there is none."""
    env = ctx.environments.by_name(name_or_id) or ctx.environments.by_id(name_or_id)
    if env is None:
        raise NotFoundError(f"There is no environment named {name_or_id}.")
    return env


def _check_name(ctx: ServiceContext, name: str) -> str:
    name = short_printable(name, "An environment name", MAX_NAME_LENGTH)
    if ctx.environments.by_name(name):
        raise InvalidInputError(f"An environment named {name} already exists.")
    return name


def _check_path(ctx: ServiceContext, path: Path) -> Path:
    """The real folder `path` names (links followed), if it may be an environment."""
    given = Path(os.path.abspath(path))
    if not is_folder(given):
        raise InvalidInputError(f"{given} is not an existing folder.")
    # Resolved once, here: a restore swaps the folder itself, and through a link it would
    # replace the link and leave the real configuration untouched.
    path = given.resolve()
    if not is_utf8_text(str(path)):
        # Its path is kept as text, in the database and in every view; text holds such a
        # byte only as an escape, which names another folder.
        raise InvalidInputError(
            f"{shown(str(path))} has a name that is not UTF-8 (\\x and two digits stand for "
            "each such byte); EnvOps keeps an environment's folder by a UTF-8 path. Rename "
            "the folder with that byte, then add it."
        )
    data = ctx.data_dir.resolve()
    if path == data or data.is_relative_to(path) or path.is_relative_to(data):
        raise InvalidInputError(
            f"{given} holds EnvOps's own data or lies inside it; choose another folder."
        )
    for other in ctx.environments.all():
        if Path(other.path).resolve() == path:
            raise InvalidInputError(f"{given} is already the environment {other.name}.")
    return path


def _check_version(version: str) -> str:
    return short_printable(version, "A version", MAX_VERSION_LENGTH)


def add_environment(
    ctx: ServiceContext,
    name: str,
    path: Path,
    version: str | None,
    version_file: str | None,
    post_restore_command: RestoreCommand | None,
    pre_restore_command: RestoreCommand | None = None,
    cancel: CancelToken | None = None,
) -> Environment:
    """Register a folder as an environment, once it is found fit; nothing is recorded if
    `cancel` is set by then (the window's Cancel, pressed while a network disk held the
    look at the folder)."""
    name = _check_name(ctx, name)
    path = _check_path(ctx, path)
    if (version is None) == (version_file is None):
        raise InvalidInputError("Give either a version or a version file, not both or neither.")
    if version_file is not None:
        problem = relative_path_problem(version_file)
        if problem:
            raise InvalidInputError(f"The version file path {version_file!r} {problem}.")
        try:
            version = read_version_file(path, version_file)
        except OperationFailedError as error:
            raise InvalidInputError(str(error)) from error
    assert version is not None
    if cancel is not None:
        cancel.raise_if_cancelled()
    now = utc_now()
    env = Environment(
        id=new_id(),
        name=name,
        path=str(path),
        version=_check_version(version),
        version_file=version_file,
        status=EnvironmentStatus.READY,
        post_restore_command=post_restore_command,
        pre_restore_command=pre_restore_command,
        created_at=now,
        updated_at=now,
    )
    with ctx.db.transaction():
        ctx.environments.insert(env)
        ctx.record(
            env,
            ActivityAction.ENVIRONMENT_ADDED,
            Outcome.SUCCESS,
            f"{path} at version {env.version}",
        )
    return env


def refresh_version(ctx: ServiceContext, env: Environment) -> Environment:
    """Re-read a version file so every view shows what the environment runs now."""
    if env.version_file is None or env.status is EnvironmentStatus.UPDATING:
        return env
    try:
        version = read_version_file(Path(env.path), env.version_file)
    except OperationFailedError:
        return env  # a vanished folder is reported when an operation needs it
    if version == env.version:
        return env
    ctx.environments.update(env.id, version=version)
    return replace(env, version=version)


def with_schedule(
    env: Environment, schedule: "ScheduleStatus | None", zone: tzinfo | None
) -> Environment:
    """`env` with its schedule's rule in words (its times' zone named where that is not
    `zone`, the local one) and whether a scheduled backup is overdue."""
    if schedule is None or not schedule.enabled or schedule.rule is None:
        return env
    return replace(env, schedule=schedule.rule.describe(zone), backup_overdue=schedule.overdue)


def set_excludes(ctx: ServiceContext, env: Environment, patterns: list[str]) -> Environment:
    """Exclude the paths `patterns` match from `env`'s backups and restores from now on."""
    checked = check_patterns(patterns)
    with ctx.db.transaction():
        ctx.environments.update(env.id, excludes=json.dumps(checked))
        ctx.record(
            env,
            ActivityAction.ENVIRONMENT_UPDATED,
            Outcome.SUCCESS,
            "excludes " + (", ".join(checked) if checked else "nothing"),
        )
    return replace(env, excludes=tuple(checked))


def set_restore_command(
    ctx: ServiceContext, env: Environment, when: str, command: RestoreCommand | None
) -> Environment:
    """Run `command` in `env`'s folder at every restore, `when` "pre" (before the swap) or
    "post" (after it); None: no command then."""
    with ctx.db.transaction():
        ctx.environments.update(env.id, **command_columns(f"{when}_restore", command))
        words = command.line if command else "none"
        ctx.record(
            env,
            ActivityAction.ENVIRONMENT_UPDATED,
            Outcome.SUCCESS,
            f"{when}-restore command {words}",
        )
    return replace(env, **{f"{when}_restore_command": command})


def allow_links_out(ctx: ServiceContext, env: Environment, allowed: bool) -> Environment:
    """Let teammates' backups of `env` hold links that lead out of its folder, or not."""
    with ctx.db.transaction():
        ctx.environments.update(env.id, allow_links_out=int(allowed))
        ctx.record(
            env,
            ActivityAction.ENVIRONMENT_UPDATED,
            Outcome.SUCCESS,
            ("allows" if allowed else "refuses") + " links leading out in teammates' backups",
        )
    return replace(env, allow_links_out=allowed)


def set_version(ctx: ServiceContext, env: Environment, version: str) -> Environment:
    if env.version_file is not None:
        raise InvalidInputError(
            f"{env.name} takes its version from {env.version_file}; change that file instead."
        )
    version = _check_version(version)
    with ctx.db.transaction():
        ctx.environments.update(env.id, version=version)
        if ctx.shared.shared_id(env.id) is not None:  # the team follows at the next sync
            ctx.shared.note_version_changed(env.id, version)
        ctx.record(
            env,
            ActivityAction.ENVIRONMENT_UPDATED,
            Outcome.SUCCESS,
            f"version {env.version} → {version}",
        )
    return replace(env, version=version)


def remove_environment(
    ctx: ServiceContext, env: Environment, progress: ProgressCallback = ignore_progress
) -> None:
    """Forget the environment and its backups; its directory is left exactly as it is."""
    with ctx.locks.environment(env.id, env.name):
        backups = ctx.backups.for_environment(env.id) + ctx.backups.for_environment(
            env.id, deleted=True
        )
        with ctx.locks.blobs_collecting():
            orphans = forget_backups(ctx, backups, progress)
            with ctx.db.transaction():
                ctx.environments.delete(env.id)
                ctx.activity.append(
                    None,
                    env.name,
                    ActivityAction.ENVIRONMENT_REMOVED,
                    ctx.user,
                    Outcome.SUCCESS,
                    f"{env.path} left untouched; {counted(len(backups), 'backup')} deleted",
                )
            free_contents(ctx, orphans, progress)
        for name in COMMAND_NAMES:
            command_output(ctx.data_dir, env.id, name).unlink(missing_ok=True)
