"""The `envops` command line: the same service as the desktop app, for scripts and terminals.

Exit codes: 0 ok, 1 failure, 2 usage, 3 version mismatch, 4 environment busy, 5 invalid
configuration file, 6 not found.
"""

import argparse
import codecs
import dataclasses
import io
import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout, suppress
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop import __version__
from envops_desktop.data_dir import cannot_open, resolve_data_dir
from envops_desktop.domain.changes import ChangeKind, TreeChanges
from envops_desktop.domain.errors import (
    EnvOpsError,
    InvalidConfigurationFileError,
    InvalidInputError,
    NotFoundError,
    OperationCancelledError,
    OperationFailedError,
    PreviewOutOfDateError,
    VersionMismatchError,
    WrongPassphraseError,
)
from envops_desktop.domain.models import Environment, RestoreCommand
from envops_desktop.domain.paths import is_utf8_text, name_on_one_line, shown
from envops_desktop.domain.progress import CancelToken, Progress
from envops_desktop.domain.recycle_bin import DEFAULT_BIN_DAYS
from envops_desktop.service import EnvOpsService
from envops_desktop.service.flushing import settle_in_background, settler_request
from envops_desktop.service.store_check import StoreProblem, StoreReport
from envops_desktop.terminal_progress import TerminalProgressBar

if TYPE_CHECKING:
    from envops_desktop.domain.schedules import ScheduleRule, ScheduleStatus
    from envops_desktop.service.configuration_files import CheckedConfigurationFile

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a command ended by SIGPIPE


# A configuration file's passphrase, for unattended exports and imports (the shared store's
# is ENVOPS_PASSPHRASE: a file mailed to a colleague should not need the store's).
FILE_PASSPHRASE = "ENVOPS_FILE_PASSPHRASE"


class UsageError(Exception):
    """A command given in a way it cannot run (exit code 2)."""


def _build_parser(arguments: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line's parser, with the arguments of the command `arguments` name (of every
    command if they name none it knows)."""
    parser = argparse.ArgumentParser(
        prog="envops", description="Back up and restore configuration environments."
    )
    parser.add_argument("--version", action="version", version=f"envops {__version__}")
    parser.add_argument("--data-dir", help="where EnvOps keeps its data")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    given = _command_in(arguments)
    for name, (help_text, add_arguments) in _COMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        if given in (name, None):
            add_arguments(command)
    return parser


def _command_in(arguments: Sequence[str]) -> str | None:
    """The command `arguments` name, found as argparse finds it; None if it is none of ours.

    Only that command's arguments are added: argparse makes a help formatter, asking the
    terminal its size, for every argument added, and looks for a translation of every
    parser's headings, which for all of them took 11-22 ms of every command's start."""
    words = iter(arguments)
    for word in words:
        if len(word) > 2 and "--data-dir".startswith(word):  # abbreviated as argparse allows
            next(words, None)  # its value
        elif not word.startswith("-"):
            return word if word in _COMMANDS else None
    return None


def _given_path(text: str) -> Path:
    """A path as given; an empty one is refused, where it would name the working folder:
    `--path "$DIR"` with DIR unset made whatever folder the script ran in an environment."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty (a variable left unset?)")
    return Path(text)


def _env_arguments(env: argparse.ArgumentParser) -> None:
    env_commands = env.add_subparsers(dest="env_command", required=True, metavar="ACTION")
    add = env_commands.add_parser("add", help="register a configuration directory")
    add.add_argument("name")
    add.add_argument("--path", required=True, type=_given_path, help="the configuration directory")
    version = add.add_mutually_exclusive_group(required=True)
    version.add_argument("--version", dest="env_version", help="the version it runs")
    version.add_argument("--version-file", help="a file inside it whose first line is the version")
    _restore_command_options(add)
    _with_json(env_commands.add_parser("list", help="list environments"))
    _with_json(env_commands.add_parser("show", help="show one environment")).add_argument("name")
    update = env_commands.add_parser("update", help="record the version an environment runs")
    update.add_argument("name")
    update.add_argument("--version", dest="env_version")
    update.add_argument(
        "--exclude",
        nargs="*",
        metavar="PATTERN",
        help="paths not backed up and left alone by restores, as .gitignore patterns "
        "(logs/, *.tmp, /build/, cache/**, !keep.log); none: exclude nothing",
    )
    _restore_command_options(update)
    update.add_argument(
        "--allow-links-out",
        action=argparse.BooleanOptionalAction,
        help="take in teammates' backups that hold links leading out of the folder "
        "(refused by default, as in a configuration file)",
    )
    remove = env_commands.add_parser("remove", help="forget an environment (its files stay)")
    remove.add_argument("name")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _backup_arguments(backup: argparse.ArgumentParser) -> None:
    backup_commands = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    create = backup_commands.add_parser("create", help="back up an environment")
    create.add_argument("environment")
    create.add_argument("--name")
    _with_json(create)
    listing = _with_json(backup_commands.add_parser("list", help="list backups"))
    listing.add_argument("environment")
    listing.add_argument("--deleted", action="store_true", help="those in Deleted instead")
    backup_commands.add_parser(
        "delete", help="move a backup to Deleted (its content is freed after the bin's days)"
    ).add_argument("backup_id")
    backup_commands.add_parser("recover", help="bring a backup back from Deleted").add_argument(
        "backup_id"
    )
    empty = backup_commands.add_parser("empty-bin", help="free every backup in Deleted now")
    empty.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    backup_commands.add_parser("pin", help="keep a backup whatever retention says").add_argument(
        "backup_id"
    )
    backup_commands.add_parser("unpin", help="let retention remove it again").add_argument(
        "backup_id"
    )
    export = backup_commands.add_parser("export", help="write a backup as a configuration file")
    export.add_argument("backup_id")
    export.add_argument("file", type=_given_path)
    export.add_argument(
        "--encrypt",
        action="store_true",
        help=f"protect the file with a passphrase ({FILE_PASSPHRASE} or asked twice), "
        "so that it is safe to mail",
    )


def _restore_arguments(restore: argparse.ArgumentParser) -> None:
    restore.add_argument("environment")
    restore.add_argument(
        "backup", metavar="BACKUP", help="latest, the backup's name, or the start of its id"
    )
    _confirmations(restore)
    _passphrase_options(restore)
    _dry_run(restore, "only say what the restore would change")
    restore.add_argument(
        "--only",
        nargs="+",
        metavar="PATH",
        help="restore only these paths (a folder with all it holds); the rest stays as it is",
    )
    restore.add_argument(
        "--to",
        type=_given_path,
        metavar="DIR",
        help="write the backup into a new folder instead, leaving the environment as it is",
    )
    restore.add_argument(
        "--from",
        dest="source",
        metavar="SOURCE_ENV",
        help="restore a backup of another environment (of the same version) into this one",
    )


def _diff_arguments(diff: argparse.ArgumentParser) -> None:
    _with_json(diff)
    diff.add_argument(
        "first", metavar="A", help="a backup: the start of its id; or live: B's folder as it is"
    )
    diff.add_argument(
        "second", metavar="B", help="another backup of the same environment, or live: its folder"
    )
    diff.add_argument(
        "--env",
        dest="environment",
        metavar="ENV",
        help="A and B are ENV's backups, named as restore names them: latest, a name or an id",
    )


def _import_arguments(imp: argparse.ArgumentParser) -> None:
    imp.add_argument("environment")
    imp.add_argument("file", type=_given_path)
    _dry_run(imp, "only say what the import would change")
    _confirmations(imp)
    _passphrase_options(imp)
    imp.add_argument(
        "--allow-external-links",
        action="store_true",
        help="accept links that point outside the environment",
    )
    imp.add_argument(
        "--version",
        dest="archive_version",
        metavar="V",
        help="for an archive made by another tool (zip, tar, tar.gz, tar.zst): the version "
        "of the configuration it holds, which it has no manifest to say",
    )
    imp.add_argument(
        "--root-folder",
        metavar="NAME",
        help="for such an archive holding a single folder: NAME (that folder) is the "
        "environment's folder, or . (the archive's top level) is",
    )
    imp.add_argument(
        "--keep-privileges",
        action="store_true",
        help="apply the file's owners, setuid/setgid/sticky bits and security and trusted "
        "attributes (otherwise its files belong to you, without them)",
    )


def _activity_arguments(activity: argparse.ArgumentParser) -> None:
    _with_json(activity)
    activity.add_argument("environment", nargs="?")
    activity.add_argument("--limit", type=int, default=50)
    activity.add_argument(
        "--changes",
        type=int,
        metavar="ID",
        help="what the restore or import of entry ID (the first column) changed",
    )


def _store_arguments(store: argparse.ArgumentParser) -> None:
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    use = store_commands.add_parser("use", help="connect this data folder to a shared store")
    use.add_argument("url", metavar="s3://BUCKET/PREFIX")
    use.add_argument("--endpoint", metavar="URL", help="the S3 server (MinIO, Ceph); AWS if none")
    use.add_argument("--region")
    use.add_argument(
        "--lease-seconds",
        type=float,
        metavar="S",
        help="for a new store: how long a lock outlives a workstation that stopped "
        "renewing it (default 60)",
    )
    _passphrase_options(use)
    use.add_argument(
        "--remember-passphrase",
        action="store_true",
        help="keep the passphrase in this system's keyring for later commands",
    )
    check = store_commands.add_parser(
        "check", help="prove the store's server enforces conditional writes (and unlock it)"
    )
    _passphrase_options(_with_json(check))
    sync = store_commands.add_parser(
        "sync", help="share the backups made here and take in the team's"
    )
    _passphrase_options(_with_json(sync))
    copy = store_commands.add_parser(
        "copy",
        help="copy this data folder's backups into a bucket, or a bucket's back, resumably "
        "and verified",
    )
    direction = copy.add_mutually_exclusive_group(required=True)
    direction.add_argument("--to", metavar="s3://BUCKET/PREFIX")
    direction.add_argument(
        "--from",
        dest="source",
        metavar="s3://BUCKET/PREFIX",
        help="the backups of the environments this data folder has (by name)",
    )
    copy.add_argument("--endpoint", metavar="URL", help="the S3 server (MinIO, Ceph); AWS if none")
    copy.add_argument("--region")
    _passphrase_options(_with_json(copy))
    prune = store_commands.add_parser(
        "prune",
        help="free what no backup in the shared store needs (safe while others back up)",
    )
    prune.add_argument(
        "--bin-days",
        type=float,
        default=DEFAULT_BIN_DAYS,
        metavar="N",
        help="free deleted backups only once deleted this many days ago "
        f"(default {DEFAULT_BIN_DAYS:g})",
    )
    prune.add_argument("--dry-run", action="store_true", help="only say what would be freed")
    _passphrase_options(_with_json(prune))


def _schedule_arguments(schedule: argparse.ArgumentParser) -> None:
    schedule_commands = schedule.add_subparsers(dest="schedule_command", required=True)
    set_schedule = schedule_commands.add_parser("set", help="set or stop a schedule")
    set_schedule.add_argument("environment")
    rule = set_schedule.add_mutually_exclusive_group(required=True)
    rule.add_argument("--every-hours", type=int, metavar="N", help="2, 4, 8, 12 or 24")
    rule.add_argument("--daily", metavar="HH:MM")
    rule.add_argument("--weekly", nargs=2, metavar=("DAY", "HH:MM"))
    rule.add_argument("--monthly", nargs=2, metavar=("DAY", "HH:MM"), help="DAY 1-31")
    rule.add_argument("--off", action="store_true")
    set_schedule.add_argument(
        "--time-zone",
        metavar="ZONE",
        help="the time zone of the times given, as Europe/Berlin (default: this computer's)",
    )
    show = _with_json(schedule_commands.add_parser("show", help="each schedule and its next run"))
    show.add_argument("environment", nargs="?")
    _with_json(schedule_commands.add_parser("run", help="take every due backup, then exit"))


def _retention_arguments(retention: argparse.ArgumentParser) -> None:
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    retention_show = _with_json(
        retention_commands.add_parser("show", help="the rule, and what it would remove now")
    )
    retention_show.add_argument("environment")
    retention_apply = _with_json(
        retention_commands.add_parser("apply", help="remove what the rule no longer keeps")
    )
    retention_apply.add_argument("environment")
    retention_apply.add_argument("--dry-run", action="store_true", help="only say what")
    retention_set = retention_commands.add_parser("set", help="change the rule")
    retention_set.add_argument("environment")
    retention_set.add_argument(
        "--scheduled-days", metavar="N", help="keep scheduled backups 10, 20, 30 or 60 days, or off"
    )
    retention_set.add_argument(
        "--scheduled-last", metavar="N", help="keep the last N scheduled backups, or off"
    )
    retention_set.add_argument(
        "--before-restore-last", type=int, metavar="N", help="keep the last N before restores"
    )
    retention_set.add_argument(
        "--manual-days", metavar="N", help="keep manual and imported backups N days, or off"
    )


def _verify_arguments(verify: argparse.ArgumentParser) -> None:
    _with_json(verify)
    verify.add_argument(
        "--repair",
        action="store_true",
        help="forget what is damaged or missing, so that the next backup of a folder that "
        "still holds it stores it again",
    )


def _gc_arguments(gc: argparse.ArgumentParser) -> None:
    _with_json(gc)
    gc.add_argument("--dry-run", action="store_true", help="only say what would be freed")


# Each command: its help, and what adds its arguments.
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "env": ("add, list, show, update or remove environments", _env_arguments),
    "backup": ("create, list, delete or export backups", _backup_arguments),
    "restore": ("restore an environment from a backup", _restore_arguments),
    "diff": ("what differs between two backups, or a backup and now", _diff_arguments),
    "import": ("restore an environment from a configuration file", _import_arguments),
    "activity": ("show the activity log", _activity_arguments),
    "store": ("share a store with your team in an S3 bucket", _store_arguments),
    "schedule": ("back environments up on a schedule", _schedule_arguments),
    "retention": ("which backups are kept, and for how long", _retention_arguments),
    "verify": ("check every stored file against its hash", _verify_arguments),
    "gc": ("free stored content no backup needs", _gc_arguments),
}


def _restore_command_options(parser: argparse.ArgumentParser) -> None:
    for when, what in (
        ("pre", "before each restore replaces the configuration (if it fails, nothing changes)"),
        ("post", "after each restore"),
    ):
        parser.add_argument(
            f"--{when}-restore-command",
            help=f'run in the directory {what}; with env update, "" for none',
        )
        parser.add_argument(
            f"--{when}-restore-timeout", type=float, default=300.0, metavar="SECONDS"
        )


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


def _dry_run(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--dry-run", action="store_true", help=help_text)
    parser.add_argument("--json", action="store_true", help="with --dry-run: print JSON")


def _with_json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _passphrase_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file",
        type=_given_path,
        metavar="FILE",
        help="read the store's passphrase from FILE's first line (else ENVOPS_PASSPHRASE, "
        "the keyring, or a prompt)",
    )


def _confirmations(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--backup-first",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="back up the current configuration first, as the window does (the default)",
    )


def _confirm(args: argparse.Namespace, question: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question} Pass --yes to confirm when not at a terminal.")
    answer = _typed(f"{question} Continue? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("Nothing was changed.")


def _typed(prompt: str, hidden: bool = False) -> str:
    """What the user typed at `prompt`, shown as typed or, `hidden`, not at all (a
    passphrase). Ctrl+D or Ctrl+C there is a no, said as one, where it ended the command
    with a traceback."""
    import getpass

    try:
        if hidden:
            return getpass.getpass(prompt)  # asked on the terminal itself
        # Asked where the other messages go: input() writes its prompt to stdout, so with
        # the output sent to a file the command waited on a question no one saw.
        with redirect_stdout(sys.stderr):
            return input(prompt)
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)  # ends the prompt's line
        raise UsageError("Nothing was changed.") from None
    except UnicodeDecodeError:  # a Latin-1 terminal's é, read under a UTF-8 locale
        raise UsageError(
            "What was typed is not UTF-8 text: the terminal is set to another encoding. "
            "Nothing was changed. Set it to UTF-8, or give a passphrase in its variable or file."
        ) from None


def _confirm_changes(
    args: argparse.Namespace,
    question: str,
    preview: Callable[[CancelToken], tuple[TreeChanges, TreeChanges]],
    check: Callable[[], None],
) -> TreeChanges | None:
    """`_confirm`, with what the restore would change in the question when there is one
    to ask: `preview` gives it, and the whole restore's changes, which are returned for the
    restore to refuse if the folder changes before the answer (None with --yes: nothing
    was shown). `check` first refuses what the restore would refuse anyway (another
    version): the user is not asked a question whose answer could change nothing."""
    if args.yes or not sys.stdin.isatty():
        _confirm(args, question)  # passes with --yes, else refuses: no terminal to ask at
        return None
    check()
    with _long_operation(_WORKING_OUT) as (_bar, cancel):
        shown, whole = preview(cancel)
    _confirm(args, f"{question} It changes: {shown.summary} (--dry-run lists them).")
    return whole


def _confirmed_in_date(
    args: argparse.Namespace,
    question: str,
    preview: Callable[[CancelToken], tuple[TreeChanges, TreeChanges]],
    check: Callable[[], None],
    apply: Callable[[TreeChanges | None, TerminalProgressBar, CancelToken], Environment],
) -> Environment:
    """`_confirm_changes`, then `apply` (a restore or an import, held to the changes shown).
    When the folder changed after the question, it says so and asks again with what would
    change now, as the window shows the new preview."""
    while True:
        previewed = _confirm_changes(args, question, preview, check)
        try:
            with _long_operation() as (bar, cancel):
                return apply(previewed, bar, cancel)
        except PreviewOutOfDateError as out_of_date:
            print(f"envops: {out_of_date}", file=sys.stderr)


def _print(value: object, as_json: bool, text: Callable[[], str]) -> None:
    if as_json:
        print(json.dumps(_jsonable(value), indent=2))
    else:
        print(text())


def _jsonable(value: object) -> object:
    if isinstance(value, TreeChanges):  # its own JSON, with its counts and summary
        return json.loads(value.to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # pydantic only when JSON is asked for: a backup need not pay for its import.
        from pydantic import TypeAdapter

        return TypeAdapter(type(value)).dump_python(value, mode="json")
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


# How often work that reports no progress of its own shows the time it has taken, and so
# how long it may take before it shows anything.
_TICK_SECONDS = 0.5
_WORKING_OUT = "working out the changes"


@contextmanager
def _long_operation(
    waiting: str | None = None,
) -> Iterator[tuple[TerminalProgressBar, CancelToken]]:
    """A progress bar, and Ctrl-C turned into a clean cancel that puts everything back.
    `waiting`: the work reports no progress (working out what would change), so the bar
    shows this phase and the time it has taken, once it takes longer than a moment."""
    bar, cancel = TerminalProgressBar(), CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    done = threading.Event()
    ticking = None
    if waiting is not None:
        ticking = threading.Thread(
            target=_tick, args=(bar, waiting, done), name="envops-ticking", daemon=True
        )
        ticking.start()
    try:
        yield bar, cancel
        if waiting is not None:
            # Work that changes nothing: a Ctrl-C that came as it got to its end stops it
            # too, rather than print what the user stopped waiting for.
            cancel.raise_if_cancelled()
    finally:
        done.set()
        if ticking is not None:
            ticking.join()
        signal.signal(signal.SIGINT, previous)
        bar.close()


def _tick(bar: TerminalProgressBar, phase: str, done: threading.Event) -> None:
    while not done.wait(_TICK_SECONDS):
        bar(Progress(phase, 0, 0))


def _columns(header: tuple[str, ...], rows: list[tuple[object, ...]], right: int = -1) -> str:
    """Lines of a table whose columns are as wide as their widest cell (the last unpadded),
    so that a long version or name does not push the rest of its row out of line."""
    cells = [header, *(tuple(str(cell) for cell in row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(
            [
                cell.rjust(width) if i == right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row[:-1], widths, strict=True))
            ]
            + [row[-1]]
        )
        for row in cells
    )


def _diff_side(service: EnvOpsService, environment: str | None, side: str) -> str:
    """One side of `envops diff` as the id or "live" that `compare` takes."""
    if side == "live":
        return side
    if environment is not None:
        return service.find_backup(environment, side).id
    try:
        return service.get_backup(side).id
    except NotFoundError as error:
        raise NotFoundError(
            f"{error} (With --env ENV, diff takes latest or a backup's name as well.)"
        ) from None


def _field_text(field: object, as_json: object) -> str:
    """One field of `env show` as a person reads it: a command as the line it runs, not the
    dict of its JSON, and a list as its items."""
    if isinstance(field, RestoreCommand):
        return f"{field.line} (timeout {field.timeout_seconds:g} s)"
    if isinstance(field, tuple | list):
        return ", ".join(map(str, field)) or "none"
    return "none" if as_json is None else str(as_json)


def _environment_lines(service: EnvOpsService) -> str:
    return _columns(
        ("NAME", "STATUS", "VERSION", "PATH"),
        [(e.name, e.status.value, e.version, e.path) for e in service.list_environments()],
    )


def _run(service: EnvOpsService, args: argparse.Namespace) -> None:
    command = args.command
    if command == "env":
        _run_env(service, args)
    elif command == "backup":
        _run_backup(service, args)
    elif command == "store":
        _run_store(service, args)
    elif command == "schedule":
        _run_schedule(service, args)
    elif command == "retention":
        _run_retention(service, args)
    elif command == "restore":
        if service.shared_store() is not None:
            from envops_desktop.service.parallel import PROCESSES_FROM_BYTES, start_helpers_early

            # Its files may come from the bucket: the helpers load meanwhile.
            start_helpers_early(PROCESSES_FROM_BYTES, from_bucket=True)
        _unlock_if_shared(service, args.passphrase_file)
        env = service.get_environment(args.environment)
        source = service.get_environment(args.source) if args.source else env
        # So that "latest" is the team's latest, and a backup a teammate names is found
        # (asked only of a shared store: the catch-up's code costs a small restore 70 ms).
        shared = service.shared_store() is not None
        refused = service.catch_up_with_team(source.name).refused if shared else []
        for refusal in refused:
            print(f"envops: {refusal.why}", file=sys.stderr)
        backup = service.backup_to_restore(env.name, args.backup, args.source)
        newer = sorted((r.created_at, r.name) for r in refused if r.created_at > backup.created_at)
        if args.backup == "latest" and newer:
            raise OperationFailedError(
                f"The team's latest backup of {source.name}, {newer[-1][1]}, was refused (see "
                "above); name the backup to restore instead. Nothing was changed."
            )
        if args.dry_run and args.to is not None:
            folder = service.check_restore_to_folder(backup.id, args.to)
            _print(
                {
                    "backup": backup.id,
                    "folder": str(folder),
                    "files": backup.file_count,
                    "bytes": backup.total_bytes,
                },
                args.json,
                lambda: (
                    f"{backup.name} ({backup.version}) would be written to {folder}: "
                    f"{backup.file_count} files, {backup.total_bytes} bytes. {env.name} "
                    "stays as it is."
                ),
            )
            return
        if args.dry_run:
            service.check_restore(env.name, backup.id, args.source, args.only)
            with _long_operation(_WORKING_OUT) as (_bar, cancel):
                changes = service.preview_restore(
                    env.name, backup.id, cancel, args.source, args.only
                )
            _print(changes, args.json, lambda: _change_lines(changes))
            return
        if args.to is not None and args.only:
            raise UsageError("--to writes the whole backup; leave out --only.")
        if args.to is not None:  # nothing is erased: no question, no backup first
            with _long_operation() as (bar, cancel):
                folder = service.restore_to_folder(backup.id, args.to, bar, cancel)
            print(f"{backup.name} ({backup.version}) was written to {folder}.")
            return
        for caveat in service.restore_caveats(backup.id):
            print(f"envops: {caveat}", file=sys.stderr)  # even with --yes, in the log
        of_source = f" of {source.name}" if source.id != env.id else ""

        def preview(cancel: CancelToken) -> tuple[TreeChanges, TreeChanges]:
            # A selective restore is held to the whole one's changes, as in the window: a
            # path it leaves as it is may change meanwhile.
            whole = service.preview_restore(env.name, backup.id, cancel, args.source)
            if not args.only:
                return whole, whole
            chosen = service.preview_restore(env.name, backup.id, cancel, args.source, args.only)
            return chosen, whole

        env = _confirmed_in_date(
            args,
            f"Restoring {backup.name}{of_source} erases the current configuration of {env.name}.",
            preview,
            lambda: service.check_restore(
                env.name, backup.id, args.source, args.only, look_inside=False
            ),
            lambda previewed, bar, cancel: service.restore_backup(
                env.name,
                backup.id,
                args.backup_first,
                bar,
                cancel,
                args.source,
                args.only,
                previewed,
            ),
        )
        print(f"{env.name} was restored to {backup.name}{of_source} ({env.version}).")
    elif command == "diff":
        first, second = (
            _diff_side(service, args.environment, side) for side in (args.first, args.second)
        )
        with _long_operation("comparing") as (_bar, cancel):
            changes = service.compare(first, second, cancel)
        _print(changes, args.json, lambda: _change_lines(changes))
    elif command == "import":
        _unlock_if_shared(service, args.passphrase_file)
        env = service.get_environment(args.environment)
        source = Path(args.file)
        # A file that is plainly wrong is refused before the question; its files' contents
        # are checked as they are written.
        from envops_desktop.store.sealed_files import is_sealed

        passphrase = _file_passphrase(source, twice=False) if is_sealed(source) else None
        with _long_operation() as (bar, cancel):  # a plain archive is read whole, to hash it
            checked = service.check_configuration_file(
                source, args.allow_external_links, args.keep_privileges, passphrase, bar, cancel
            )
        from envops_desktop.domain.configuration import replacement_warning  # pydantic: here

        if checked.plain is not None:
            answered = _answer_plain_archive(service, env, checked, args)
            if answered is None:  # a dry run that has shown both layouts
                return
            checked = answered
        elif args.archive_version is not None or args.root_folder is not None:
            raise UsageError(
                f"{source.name} is a configuration file, which names its own version and "
                "root; --version and --root-folder are for archives made by other tools."
            )
        if args.dry_run:
            service.check_import(env.name, checked)
            with _long_operation(_WORKING_OUT) as (_bar, cancel):
                changes = service.preview_import(env.name, checked, cancel)
            _print(changes, args.json, lambda: _change_lines(changes))
            return
        warning = replacement_warning(
            checked.file_name, checked.manifest.environment_name, env.name
        )
        if checked.manifest.environment_name != env.name:
            print(f"envops: {warning}", file=sys.stderr)  # even with --yes, in the log
        for caveat in checked.caveats:
            print(f"envops: {caveat}", file=sys.stderr)
        env = _confirmed_in_date(
            args,
            warning,
            lambda cancel: (service.preview_import(env.name, checked, cancel),) * 2,
            lambda: service.check_import(env.name, checked, look_inside=False),
            lambda previewed, bar, cancel: service.import_configuration_file(
                env.name, checked, args.backup_first, bar, cancel, previewed
            ),
        )
        print(f"{env.name} was restored from {checked.file_name} ({env.version}).")
    elif command == "activity" and args.changes is not None:
        report = service.restore_report(args.changes)
        if report is None:
            raise NotFoundError(
                f"Activity entry {args.changes} kept no list of changes: only a restore or an "
                "import that finished keeps one (envops activity lists the entries)."
            )
        _print(report, args.json, lambda: _change_lines(report))
    elif command == "activity":
        entries = service.activity(args.environment, limit=args.limit)
        _print(
            entries,
            args.json,
            lambda: _columns(
                ("ID", "TIME", "ENVIRONMENT", "ACTION", "USER", "OUTCOME", "DETAIL"),
                [
                    (
                        e.id,
                        f"{e.time.astimezone():%Y-%m-%d %H:%M:%S}",
                        e.environment_name,
                        e.action.value,
                        e.user,
                        e.outcome.value,
                        e.detail,
                    )
                    for e in entries
                ],
                right=0,
            ),
        )
    elif command == "gc":
        with _long_operation() as (bar, cancel):
            emptied = [] if args.dry_run else service.empty_bin(service.bin_days(), bar, cancel)
            try:
                garbage = service.collect_garbage(args.dry_run, bar, cancel)
            except OperationCancelledError as stopped:
                if not emptied:
                    raise
                which = "the backup" if len(emptied) == 1 else f"the {len(emptied)} backups"
                raise OperationCancelledError(
                    f"Stopped once {which} whose days in Deleted were up had been freed; "
                    "nothing else was freed."
                ) from stopped
        verb = "would free" if garbage.dry_run else "freed"
        _print(
            garbage.__dict__,
            args.json,
            lambda: (
                f"{verb} {len(garbage.blobs)} stored files no backup needs ({garbage.bytes} bytes)."
            ),
        )
    elif command == "verify":
        _run_verify(service, args)


def _run_verify(service: EnvOpsService, args: argparse.Namespace) -> None:
    with _long_operation() as (bar, cancel):
        report = service.check_store(bar, cancel)
        forgotten = service.repair_store(report, bar, cancel) if args.repair else []
    if args.json:
        needed = service.where_needed(report.missing + report.damaged)
        print(json.dumps({**report.__dict__, "forgotten": forgotten, "needed_by": {
            sha: [{"backup_id": b.id, "path": path} for b, path in where]
            for sha, where in needed.items()
        }}, indent=2))  # fmt: skip
    else:
        problems = service.store_problems(report)
        print("\n".join(_verify_lines(report, problems, forgotten, args.repair)))
    if not report.healthy:
        raise EnvOpsError("The store has missing or damaged files; see above.")


def _verify_lines(
    report: StoreReport,
    problems: list[StoreProblem],
    forgotten: list[str],
    repairing: bool,
) -> list[str]:
    summary = (
        f"{report.checked} stored files checked: {len(report.missing)} missing, "
        f"{len(report.damaged)} damaged, {report.unreferenced} unreferenced."
    )
    if report.in_team_store:
        summary += f" {report.in_team_store} more are in the team's store only."
    if report.unreferenced:
        summary += (
            " Unreferenced files belong to no backup (left by an operation that did not"
            " finish); envops gc frees them."
        )
    if forgotten:
        summary += (
            f" Forgot {len(forgotten)} of them: the next backup of each environment stores "
            "again those its folder still holds, which makes whole every backup that needs them."
        )
    elif (report.missing or report.damaged) and not repairing:
        summary += (
            " envops verify --repair, then a backup of each environment, stores again those "
            "the folders still hold."
        )
    return [
        *(f"{p.kind}: {p.name}" + (f" ({p.needed_by})" if p.needed_by else "") for p in problems),
        summary,
    ]


def _run_env(service: EnvOpsService, args: argparse.Namespace) -> None:
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
        _print(service.list_environments(), args.json, lambda: _environment_lines(service))
    elif action == "show":
        service.read_versions(args.name)
        env = service.get_environment(args.name)
        _print(
            env,
            args.json,
            lambda: "\n".join(
                f"{key}: {_field_text(getattr(env, key), value)}"
                for key, value in dict(_jsonable(env)).items()
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
        _confirm(args, f"Removing {env.name} deletes its backups (its folder stays).")
        service.remove_environment(env.name)
        print(f"Removed {env.name}; {env.path} was left as it is.")


def _run_backup(service: EnvOpsService, args: argparse.Namespace) -> None:
    action = args.backup_command
    if action == "create":
        with _long_operation() as (bar, cancel):
            backup = service.create_backup(args.environment, args.name, progress=bar, cancel=cancel)
        _print(
            backup,
            args.json,
            lambda: (
                f"Created backup {backup.id} ({backup.name}): {backup.file_count} files, "
                f"{backup.total_bytes} bytes."
                + "".join(f"\nNot backed up: {name_on_one_line(note)}" for note in backup.skipped)
            ),
        )
    elif action == "list":
        backups = (
            service.deleted_backups(args.environment)
            if args.deleted
            else service.list_backups(args.environment)
        )
        _print(
            backups,
            args.json,
            lambda: _columns(
                ("ID", "CREATED", "VERSION", "ORIGIN", "FILES", "BY", "NAME"),
                [
                    (
                        b.id,
                        f"{b.created_at.astimezone():%Y-%m-%d %H:%M}",
                        b.version,
                        b.origin.value,
                        b.file_count,
                        b.made_on or b.created_by,
                        b.name,
                    )
                    for b in backups
                ],
                right=4,
            ),
        )
    elif action == "delete":
        deleted = service.delete_backup(args.backup_id)
        print(
            f"Moved {deleted.name} ({deleted.id}) to Deleted; its content is freed after "
            f"{service.bin_days():g} days (envops backup recover {deleted.id} brings it back)."
        )
    elif action == "recover":
        recovered = service.recover_backup(args.backup_id)
        print(f"Recovered {recovered.name} ({recovered.id}).")
    elif action == "empty-bin":
        _confirm(args, "Emptying Deleted frees its backups for good.")
        freed = service.empty_bin()
        print(f"Freed {len(freed)} backups from Deleted.")
    elif action in ("pin", "unpin"):
        pinned = service.pin_backup(args.backup_id, action == "pin")
        kept = "is kept whatever retention says" if pinned.pinned else "follows retention again"
        print(f"{pinned.name} ({pinned.id}) {kept}.")
    elif action == "export":
        destination = Path(args.file)
        passphrase = _file_passphrase(destination, twice=True) if args.encrypt else None
        with _long_operation() as (bar, cancel):
            path = service.export_backup(args.backup_id, destination, bar, cancel, passphrase)
        sealed = ", protected by its passphrase" if passphrase else ""
        print(f"Exported backup {args.backup_id} to {path}{sealed}.")


def _run_store(service: EnvOpsService, args: argparse.Namespace) -> None:
    from envops_desktop.service.passphrases import passphrase_for, remember_passphrase

    if args.store_command == "use":
        url = args.url.rstrip("/")
        service.check_store_address(url, args.endpoint, args.region)
        passphrase = passphrase_for(url, args.passphrase_file) or _ask_passphrase(url)
        opened = service.use_shared_store(
            url, passphrase, args.endpoint, args.region, args.lease_seconds
        )
        if args.remember_passphrase and not remember_passphrase(url, passphrase):
            print("envops: this system has no keyring to keep the passphrase in", file=sys.stderr)
        made = "Made and connected" if opened.created else "Connected"
        print(f"{made} the shared store {opened.settings.url} ({opened.settings.store_id}).")
        return
    if args.store_command == "copy":
        url = (args.to or args.source).rstrip("/")
        service.check_store_address(url, args.endpoint, args.region)
        passphrase = passphrase_for(url, args.passphrase_file) or _ask_passphrase(url)
        if args.to:  # backups taken in from the connected store may keep their files there
            with suppress(WrongPassphraseError):
                _unlock_if_shared(service, args.passphrase_file)
        with _long_operation() as (bar, cancel):
            copied = service.copy_store(
                url, passphrase, args.endpoint, args.region, bar, cancel, back=not args.to
            )
        _print(copied, args.json, copied.summary)
        return
    settings = service.shared_store()
    passphrase = passphrase_for(settings.url, args.passphrase_file) if settings else None
    if args.store_command in ("sync", "prune") and settings is None:
        raise NotFoundError(
            "This data folder uses no shared store; connect one with envops store use."
        )
    if args.store_command == "sync":
        assert settings is not None
        with _long_operation() as (bar, cancel):
            report = service.sync_shared_store(
                passphrase or _ask_passphrase(settings.url), bar, cancel
            )
        _print(report, args.json, report.summary)
        return
    if args.store_command == "prune":
        assert settings is not None
        with _long_operation() as (bar, cancel):
            pruned = service.prune_shared_store(
                passphrase or _ask_passphrase(settings.url),
                args.bin_days,
                args.dry_run,
                bar,
                cancel,
            )
        _print(pruned, args.json, pruned.summary)
        return
    check = service.check_shared_store(passphrase)
    report = {
        "where": check.where,
        "create_only_refused": check.create_only_refused,
        "stale_etag_refused": check.stale_etag_refused,
        "unlocked": passphrase is not None,
    }
    _print(
        report,
        args.json,
        lambda: (
            f"{check.where}: conditional writes are enforced"
            + ("; the passphrase unlocks the store." if passphrase else ".")
        ),
    )


def _run_schedule(service: EnvOpsService, args: argparse.Namespace) -> None:
    if args.schedule_command == "set":
        status = service.set_schedule(args.environment, None if args.off else _rule(args))
        print(f"{status.environment}: {status.summary(service.now(), service.zone)}")
        return
    if args.schedule_command == "show":
        names = [args.environment] if args.environment else None
        envs = names or [e.name for e in service.list_environments()]
        statuses = [service.schedule(name) for name in envs]
        now = service.now()
        _print(
            [_with_summary(s, now, service.zone) for s in statuses],
            args.json,
            lambda: "\n".join(_schedule_line(s, now, service.zone) for s in statuses),
        )
        return
    with _long_operation() as (bar, cancel):
        runs = service.run_due_backups(bar, cancel)
    _print(
        runs,
        args.json,
        lambda: (
            "\n".join(f"{r.environment}: {r.outcome} ({r.detail})" for r in runs)
            or "No scheduled backup is due."
        ),
    )
    failed = [r.environment for r in runs if r.outcome == "failed"]
    if failed:
        raise OperationFailedError(f"The scheduled backup of {', '.join(failed)} failed.")


def _run_retention(service: EnvOpsService, args: argparse.Namespace) -> None:
    if args.retention_command == "set":
        from pydantic import ValidationError

        changes = {
            name: None if value == "off" else _count(value, name)
            for name in ("scheduled_days", "scheduled_last", "manual_days")
            if (value := getattr(args, name)) is not None
        }
        if args.before_restore_last is not None:
            changes["before_restore_last"] = args.before_restore_last
        current = service.retention(args.environment)
        try:
            rule = current.model_validate({**current.model_dump(), **changes})
        except ValidationError as error:
            problem = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
            raise UsageError(f"{problem}.") from None
        service.set_retention(args.environment, rule)
        print(rule.describe())
        return
    dry_run = args.retention_command == "show" or args.dry_run
    report = service.apply_retention(args.environment, dry_run=dry_run)
    _print(report, args.json, lambda: f"{report.rule.describe()}\n{report.summary()}")


def _count(value: str, name: str) -> int:
    if not value.isdigit():
        raise UsageError(f"--{name.replace('_', '-')} takes a number or off.")
    return int(value)


def _time_of_day(text: str) -> str:
    """`text` if it is a time on a clock, HH:MM; else a usage error that says so (pydantic's
    own words were "at: Input should be in a valid time format, hour value is outside
    expected range of 0-23")."""
    hours, colon, minutes = text.partition(":")
    if not (
        colon
        and hours.isdigit()
        and len(hours) <= 2
        and int(hours) < 24
        and minutes.isdigit()
        and len(minutes) == 2
        and int(minutes) < 60
    ):
        shown = text or '""'
        raise UsageError(f"{shown} is not a time of day: give HH:MM, from 00:00 to 23:59.")
    return f"{int(hours):02d}:{minutes}"


def _rule(args: argparse.Namespace) -> "ScheduleRule":
    """The rule `envops schedule set` was given."""
    from pydantic import ValidationError

    from envops_desktop.domain.schedules import WEEKDAYS, ScheduleRule

    if args.every_hours is not None:
        given: dict[str, object] = {"frequency": "every-hours", "hours": args.every_hours}
    elif args.daily is not None:
        given = {"frequency": "daily", "at": args.daily}
    elif args.weekly is not None:
        day, at = args.weekly
        names = [name.casefold() for name in WEEKDAYS]
        matches = [i for i, name in enumerate(names) if name.startswith(day.casefold()[:3])]
        if len(day) < 3 or len(matches) != 1 or not names[matches[0]].startswith(day.casefold()):
            raise UsageError(f"{day} is not a day of the week (Monday to Sunday).")
        given = {"frequency": "weekly", "weekday": matches[0], "at": at}
    else:
        day, at = args.monthly
        if not day.isdigit():
            raise UsageError(f"{day} is not a day of the month (1 to 31).")
        given = {"frequency": "monthly", "day": int(day), "at": at}
    if "at" in given:
        given["at"] = _time_of_day(str(given["at"]))
    if args.time_zone is not None:
        given["zone"] = args.time_zone
    try:
        return ScheduleRule.model_validate(given)
    except ValidationError as error:
        problem = error.errors()[0]
        where = " ".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        raise UsageError(f"{where + ': ' if where else ''}{message}.") from None


def _with_summary(status: "ScheduleStatus", now: datetime, zone: tzinfo | None) -> object:
    shown = _jsonable(status)
    assert isinstance(shown, dict)
    return {**shown, "summary": status.summary(now, zone)}


def _schedule_line(status: "ScheduleStatus", now: datetime, zone: tzinfo | None) -> str:
    line = f"{status.environment}: {status.summary(now, zone)}"
    if status.overdue:
        why = status.last_detail if status.last_outcome == "failed" else "a backup was missed"
        line += f" (overdue: {why})"
    return line


def _answer_plain_archive(
    service: EnvOpsService,
    env: Environment,
    checked: "CheckedConfigurationFile",
    args: argparse.Namespace,
) -> "CheckedConfigurationFile | None":
    """An archive with no manifest, with the version and root folder the command gives.
    A dry run that leaves the root folder open shows both layouts and returns None."""
    assert checked.plain is not None
    name, top = checked.file_name, checked.plain.top_folder
    if top is not None and args.root_folder is None:
        if args.dry_run:
            layouts = [(top, f"{top} as {env.name}'s folder"), (".", "the archive's top level")]
            shown: list[tuple[str, str, TreeChanges | EnvOpsError]] = []
            for folder, said in layouts:
                try:
                    layout = service.answer_plain_archive(
                        env.name, checked, args.archive_version, None if folder == "." else folder
                    )
                    service.check_import(env.name, layout)
                    with _long_operation(_WORKING_OUT) as (_bar, cancel):
                        shown.append(
                            (folder, said, service.preview_import(env.name, layout, cancel))
                        )
                except (
                    InvalidConfigurationFileError,
                    InvalidInputError,
                    VersionMismatchError,
                ) as refusal:
                    shown.append((folder, said, refusal))  # the other layout may do
            refusals = [r for _, _, r in shown if isinstance(r, EnvOpsError)]
            if len(refusals) == len(shown):
                raise refusals[0]
            _print(
                [
                    {"root_folder": folder}
                    | (
                        {"refused": str(c)}
                        if isinstance(c, EnvOpsError)
                        else {"changes": _jsonable(c)}
                    )
                    for folder, _, c in shown
                ],
                args.json,
                lambda: "\n\n".join(
                    f"With --root-folder {folder} ({said}):\n"
                    + (f"refused: {c}" if isinstance(c, EnvOpsError) else _change_lines(c))
                    for folder, said, c in shown
                ),
            )
            return None
        raise UsageError(
            f"{name} holds a single folder, {top}: pass --root-folder {top} to take that "
            f"folder as {env.name}'s folder, or --root-folder . for the archive's top level."
        )
    root = args.root_folder
    if root is not None and root.strip("/"):
        root = root.rstrip("/")  # "billing/", as a shell completes a folder's name
    answered = service.answer_plain_archive(
        env.name, checked, args.archive_version, None if root == "." else root
    )
    assert answered.plain is not None
    if answered.plain.version is None and not args.dry_run:
        raise UsageError(
            f"{name} has no manifest to say which version it holds; confirm it with "
            f"--version V ({env.name} is at {env.version})."
        )
    return answered


def _change_lines(changes: "TreeChanges") -> str:
    """One line per path ("modified, mtime  app.yaml  (120 B → 98 B)"), then the counts."""
    lines = []
    for change in changes.changes:
        kinds = ", ".join(kind.value for kind in change.kinds)
        sizes = ""
        if ChangeKind.MODIFIED in change.kinds:
            sizes = f"  ({change.size_before:,} B → {change.size_after:,} B)"
        lines.append(f"{kinds:24} {name_on_one_line(change.path)}{sizes}")
    lines.append(f"{changes.before} → {changes.after}: {changes.summary}.")
    return "\n".join(lines)


def _unlock_if_shared(service: EnvOpsService, passphrase_file: Path | None) -> None:
    """Unlock the shared store, where there is one and its passphrase is given, so that a
    restore of a shared environment can take its lock there."""
    settings = service.shared_store()
    if settings is None:
        return
    from envops_desktop.service.passphrases import passphrase_for

    passphrase = passphrase_for(settings.url, passphrase_file)
    if passphrase:
        service.unlock_shared_store(passphrase)


def _file_passphrase(path: Path, twice: bool) -> str:
    """A configuration file's passphrase: from ENVOPS_FILE_PASSPHRASE, or asked (`twice`,
    for a new file, so that a typing slip does not lock it for good)."""
    given = os.environ.get(FILE_PASSPHRASE)
    if given:
        return given
    if not sys.stdin.isatty():
        raise UsageError(
            f"{path.name} needs a passphrase: set {FILE_PASSPHRASE} or run envops in a terminal."
        )
    passphrase = _typed(f"Passphrase of {path.name}: ", hidden=True)
    if twice and _typed("The same passphrase again: ", hidden=True) != passphrase:
        raise UsageError("The two passphrases differ; nothing was written.")
    if not passphrase:
        raise UsageError("A passphrase cannot be empty.")
    return passphrase


def _ask_passphrase(url: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            f"{url} needs its passphrase: set ENVOPS_PASSPHRASE or pass --passphrase-file."
        )
    return _typed(f"Passphrase of {url}: ", hidden=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    _names_written_as_their_bytes()
    settling = settler_request(arguments)
    if settling is not None:
        return _settle(*settling)
    args = _build_parser(arguments).parse_args(arguments)
    if (undecodable := _not_utf8_text(args)) is not None:
        print(
            f"envops: {undecodable} is not UTF-8 text, as names, ids and versions are: a "
            "terminal set to another encoding sent bytes that are not (shown as \\x).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    data_dir = resolve_data_dir(args.data_dir)
    try:
        service = EnvOpsService(data_dir, settle_later=True)
    except OSError as error:
        print(f"envops: {cannot_open(data_dir, error)}", file=sys.stderr)
        return EXIT_FAILURE
    except EnvOpsError as error:  # a damaged database, a full disk
        print(f"envops: {error}", file=sys.stderr)
        return error.exit_code
    try:
        for report in service.recover_interrupted_operations():
            print(
                f"envops: recovered {report.environment_name}: {report.detail}",
                file=sys.stderr,
            )
        _run(service, args)
        if sys.stdout is not None:  # None when run with it closed (`>&-`): nothing to lose
            sys.stdout.flush()  # here, where a full disk under `> out.json` is caught below
    except UsageError as error:
        print(f"envops: {error}", file=sys.stderr)
        return EXIT_USAGE
    except EnvOpsError as error:
        print(f"envops: {error}", file=sys.stderr)
        return error.exit_code
    except sqlite3.DatabaseError as error:
        print(f"envops: {service.explain(error) or error}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a command killed by SIGPIPE does,
        # and keep Python's last flush of stdout from reporting the same pipe again.
        _drop_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:
        if not _raised_by_a_print(error):
            raise
        _drop_stdout()
        print(f"envops: could not write its output: {error.strerror or error}.", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        _settle_in_background(service)
        service.close()
    return 0


# Arguments that name files, or say what to do with them, hold any bytes a name may.
_ANY_BYTES = {
    "data_dir",
    "only",
    "exclude",
    "root_folder",
    "version_file",
    "pre_restore_command",
    "post_restore_command",
}


def _not_utf8_text(args: argparse.Namespace) -> str | None:
    """The first argument that is not UTF-8 text though it must be (an environment's or
    a backup's name, an id, a version, a time zone), as shown; None if there is none. Looked
    up as it is, such text ended in a UnicodeEncodeError from the database."""
    for dest, value in vars(args).items():
        if dest in _ANY_BYTES:
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not is_utf8_text(text):
                return shown(text)
    return None


def _raised_by_a_print(error: OSError) -> bool:
    """Whether `error` came from writing this module's output (a full disk under
    `> out.json`): raised by a line of this module itself, which makes no other calls
    to the system that can fail, and not from the work below it."""
    innermost = error.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    return innermost is not None and innermost.tb_frame.f_code.co_filename == __file__


def _drop_stdout() -> None:
    # What stdout still holds goes nowhere, so Python's last flush has nothing to report.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _names_written_as_their_bytes() -> None:
    """Under a desktop's locale (en_US.UTF-8, not C) Python writes stdout with errors
    "strict": a name that is not UTF-8 in a listing ended it in a UnicodeEncodeError. It is
    now written as its bytes under every UTF-8 locale, as under C and as `ls` writes it."""
    stdout = sys.stdout
    if isinstance(stdout, io.TextIOWrapper) and codecs.lookup(stdout.encoding).name == "utf-8":
        stdout.reconfigure(errors="surrogateescape")


def _settle(data_dir: Path, journal_ids: list[str]) -> int:
    """The detached settler a restore starts: wait for the disk, then settle those restores."""
    service = EnvOpsService(data_dir)
    try:
        service.settle_restores(journal_ids)
    finally:
        service.close()
    return 0


def _settle_in_background(service: EnvOpsService) -> None:
    unsettled = service.unsettled_restores()
    try:
        settle_in_background(service.data_dir, unsettled)
    except OSError:  # it could not be started: wait for the disk here instead
        service.settle_restores(unsettled)


if __name__ == "__main__":
    sys.exit(main())
