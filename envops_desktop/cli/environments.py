"""`envops env`: add, list, show, update and remove environments."""

import argparse
import sys
from datetime import datetime
from pathlib import Path

from envops_desktop.cli.output import columns, jsonable, local_time, print_result
from envops_desktop.cli.prompts import UsageError, confirm
from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService
from envops_desktop.terminal_progress import TerminalProgressBar


def _restore_commands(
    args: argparse.Namespace, blank_clears: bool
) -> dict[str, RestoreCommand | None]:
    """The pre- and post-restore commands given (by "pre" and "post"); a blank one gives
    None (no command) where `blank_clears`, and is refused elsewhere."""
    given = {}
    for when in ("pre", "post"):
        text = getattr(args, f"{when}_restore_command")
        if text is None:
            continue
        if not text.strip() and not blank_clears:
            raise InvalidInputError(f"The {when}-restore command is empty.")
        timeout = getattr(args, f"{when}_restore_timeout")
        given[when] = RestoreCommand.from_text(text, timeout, when) if text.strip() else None
    return given


def _field_text(field: object, as_json: object) -> str:
    """One field of `env show` as a person reads it: a command as the line it runs, not the
    dict of its JSON, a list as its items, a time in this computer's zone."""
    if isinstance(field, RestoreCommand):
        return f"{field.line} (timeout {field.timeout_seconds:g} s)"
    if isinstance(field, tuple | list):
        return ", ".join(map(str, field)) or "none"
    if isinstance(field, datetime):
        return local_time(field)
    return "none" if as_json is None else str(as_json)


def _environment_lines(service: EnvOpsService) -> str:
    return columns(
        ("NAME", "STATUS", "VERSION", "PATH"),
        [(e.name, e.status.value, e.version, e.path) for e in service.list_environments()],
    )


def run_env(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops env add|list|show|update|remove`."""
    action = args.env_command
    if action == "add":
        commands = _restore_commands(args, blank_clears=False)
        env = service.add_environment(
            args.name,
            Path(args.path),
            args.env_version,
            args.version_file,
            commands.get("post"),
            commands.get("pre"),
        )
        print(f"Added {env.name} ({env.path}) at version {env.version}.")
        if (obstacle := service.restore_obstacle(env.id)) is not None:
            print(
                f"envops: note: restores into {env.name} will be refused: {obstacle}",
                file=sys.stderr,
            )
    elif action == "list":
        service.read_versions()  # the database holds what they said when last read
        print_result(service.list_environments(), args.json, lambda: _environment_lines(service))
    elif action == "show":
        service.read_versions(args.name)
        env = service.get_environment(args.name)
        print_result(
            env,
            args.json,
            lambda: "\n".join(
                f"{key}: {_field_text(getattr(env, key), value)}"
                for key, value in dict(jsonable(env)).items()
            ),
        )
    elif action == "update":
        commands = _restore_commands(args, blank_clears=True)
        if (
            args.env_version is None
            and args.exclude is None
            and args.allow_links_out is None
            and not commands
        ):
            raise UsageError(
                "Give --version V, --exclude PATTERN…, --allow-links-out, or a "
                "--pre-restore-command or --post-restore-command."
            )
        if args.env_version is not None:
            env = service.update_environment_version(args.name, args.env_version)
            print(f"{env.name} now runs version {env.version}.")
        if args.exclude is not None:
            env = service.set_excludes(args.name, args.exclude)
            excluded = ", ".join(env.excludes) or "nothing"
            print(f"{env.name} excludes {excluded} from its backups and restores.")
        for when, command in commands.items():
            env = service.set_restore_command(args.name, when, command)
            said = command.line if command else "nothing"
            print(f"{env.name} runs {said} {when}-restore.")
        if args.allow_links_out is not None:
            env = service.allow_links_out(args.name, args.allow_links_out)
            allows = "takes in" if env.allow_links_out else "refuses"
            print(f"{env.name} {allows} teammates' backups with links leading out of it.")
    elif action == "remove":
        env = service.get_environment(args.name)
        confirm(args, f"Removing {env.name} deletes its backups (its folder stays).")
        # A bar, but not `long_operation`'s Ctrl-C: the removal is not cancelled part way,
        # and a Ctrl-C stops it as before, its backups' records kept or gone together.
        bar = TerminalProgressBar()
        try:
            service.remove_environment(env.name, bar)
        finally:
            bar.close()
        print(f"Removed {env.name}; {env.path} was left as it is.")
