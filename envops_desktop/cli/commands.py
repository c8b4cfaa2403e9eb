"""One `envops` command run: its arguments parsed, the data folder opened, interrupted
restores put right, the command's handler run, and its errors turned into exit codes."""

import argparse
import codecs
import io
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from envops_desktop.cli.activity import run_activity
from envops_desktop.cli.arguments import build_parser
from envops_desktop.cli.backups import run_backup
from envops_desktop.cli.environments import run_env
from envops_desktop.cli.prompts import UsageError
from envops_desktop.cli.restores import run_diff, run_import, run_restore
from envops_desktop.cli.schedules import run_retention, run_schedule
from envops_desktop.cli.shared_store import run_store
from envops_desktop.cli.upkeep import run_gc, run_verify
from envops_desktop.data_dir import cannot_open, resolve_data_dir
from envops_desktop.domain.errors import EnvOpsError
from envops_desktop.domain.paths import is_utf8_text, shown
from envops_desktop.service import EnvOpsService
from envops_desktop.service.flushing import settle_in_background, settler_request

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a command ended by SIGPIPE


def _run(service: EnvOpsService, args: argparse.Namespace) -> None:
    {
        "env": run_env,
        "backup": run_backup,
        "restore": run_restore,
        "diff": run_diff,
        "import": run_import,
        "activity": run_activity,
        "store": run_store,
        "schedule": run_schedule,
        "retention": run_retention,
        "verify": run_verify,
        "gc": run_gc,
    }[args.command](service, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    _names_written_as_their_bytes()
    settling = settler_request(arguments)
    if settling is not None:
        return _settle(*settling)
    args = build_parser(arguments).parse_args(arguments)
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
    """Whether `error` came from writing the command's output (a full disk under
    `> out.json`): raised by a line of the command line's own modules, which make no other
    calls to the system that can fail, and not from the work below them."""
    innermost = error.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    return innermost is not None and os.path.dirname(innermost.tb_frame.f_code.co_filename) == (
        os.path.dirname(__file__)
    )


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
