"""Questions asked at the terminal: confirmations (with what a restore would change) and
passphrases."""

import argparse
import os
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

from envops_desktop.cli.output import WORKING_OUT, long_operation
from envops_desktop.domain.changes import TreeChanges
from envops_desktop.domain.errors import PreviewOutOfDateError
from envops_desktop.domain.models import Environment
from envops_desktop.domain.progress import CancelToken
from envops_desktop.service import EnvOpsService
from envops_desktop.terminal_progress import TerminalProgressBar

# A configuration file's passphrase, for unattended exports and imports (the shared store's
# is ENVOPS_PASSPHRASE: a file mailed to a colleague should not need the store's).
FILE_PASSPHRASE = "ENVOPS_FILE_PASSPHRASE"


class UsageError(Exception):
    """A command given in a way it cannot run (exit code 2)."""


def confirm(args: argparse.Namespace, question: str) -> None:
    """Go on if the user answers yes to `question` (or passed --yes); else UsageError."""
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
    """`confirm`, with what the restore would change in the question when there is one
    to ask: `preview` gives it, and the whole restore's changes, which are returned for the
    restore to refuse if the folder changes before the answer (None with --yes: nothing
    was shown). `check` first refuses what the restore would refuse anyway (another
    version): the user is not asked a question whose answer could change nothing."""
    if args.yes or not sys.stdin.isatty():
        confirm(args, question)  # passes with --yes, else refuses: no terminal to ask at
        return None
    check()
    with long_operation(WORKING_OUT) as (_bar, cancel):
        shown, whole = preview(cancel)
    confirm(args, f"{question} It changes: {shown.summary} (--dry-run lists them).")
    return whole


def confirmed_in_date(
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
            with long_operation() as (bar, cancel):
                return apply(previewed, bar, cancel)
        except PreviewOutOfDateError as out_of_date:
            print(f"envops: {out_of_date}", file=sys.stderr)


def unlock_if_shared(service: EnvOpsService, passphrase_file: Path | None) -> None:
    """Unlock the shared store, where there is one and its passphrase is given, so that a
    restore of a shared environment can take its lock there."""
    settings = service.shared_store()
    if settings is None:
        return
    from envops_desktop.service.passphrases import passphrase_for

    passphrase = passphrase_for(settings.url, passphrase_file)
    if passphrase:
        service.unlock_shared_store(passphrase)


def file_passphrase(path: Path, twice: bool) -> str:
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


def ask_passphrase(url: str) -> str:
    """The shared store's passphrase, asked at the terminal (refused without one)."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"{url} needs its passphrase: set ENVOPS_PASSPHRASE or pass --passphrase-file."
        )
    return _typed(f"Passphrase of {url}: ", hidden=True)
