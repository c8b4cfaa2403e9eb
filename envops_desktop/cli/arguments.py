"""The command line's parser: each command's arguments, added only for the command given."""

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from envops_desktop import __version__
from envops_desktop.cli.prompts import FILE_PASSPHRASE
from envops_desktop.domain.recycle_bin import DEFAULT_BIN_DAYS


def build_parser(arguments: Sequence[str] = ()) -> argparse.ArgumentParser:
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


def _how_many(text: str) -> int:
    """A count of entries to show, 1 or more: SQLite reads a negative limit as none at all,
    so `--limit -5` listed the whole log."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count of 1 or more")
    return count


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
    export.add_argument(
        "file",
        type=_given_path,
        help="the file to write, or a folder to write it in (named for the environment and "
        "the backup, never over another file)",
    )
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
        help="restore only these paths (a folder with all it holds), relative to the "
        "environment's folder (or, in a folder inside it, to the folder you are in); the rest "
        "stays as it is",
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
    activity.add_argument("--limit", type=_how_many, default=50, metavar="N")
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
        "still holds it stores it again, and delete each backup whose list of files is damaged",
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


def _dry_run(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--dry-run", action="store_true", help=help_text)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON: what it would change (with --dry-run), or what it changed",
    )


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
