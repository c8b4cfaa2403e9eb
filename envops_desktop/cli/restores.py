"""`envops restore`, `envops import` and `envops diff`: what a restore would change, and
the restore."""

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.cli.output import (
    WORKING_OUT,
    change_lines,
    jsonable,
    long_operation,
    print_result,
)
from envops_desktop.cli.prompts import (
    UsageError,
    confirmed_in_date,
    file_passphrase,
    unlock_if_shared,
)
from envops_desktop.domain.activity_query import ActivityQuery
from envops_desktop.domain.changes import TreeChanges
from envops_desktop.domain.errors import (
    EnvOpsError,
    InvalidConfigurationFileError,
    InvalidInputError,
    NotFoundError,
    OperationFailedError,
    VersionMismatchError,
)
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.paths import from_where_you_stand, within
from envops_desktop.domain.progress import CancelToken
from envops_desktop.domain.wording import counted
from envops_desktop.service import EnvOpsService
from envops_desktop.service.backup_references import LIVE

if TYPE_CHECKING:
    from envops_desktop.service.configuration_files import CheckedConfigurationFile


def _diff_side(service: EnvOpsService, environment: str | None, side: str) -> str:
    """One side of `envops diff` as the id or "live" that `compare` takes."""
    if side == LIVE:
        return side
    if environment is not None:
        return service.find_backup(environment, side).id
    try:
        return service.get_backup(side).id
    except NotFoundError as error:
        raise NotFoundError(
            f"{error} (With --env ENV, diff takes latest or a backup's name as well.)"
        ) from None


def run_restore(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops restore`: into the environment, or into a new folder (`--to`)."""
    if service.shared_store() is not None:
        from envops_desktop.service.parallel import PROCESSES_FROM_BYTES, start_helpers_early

        # Its files may come from the bucket: the helpers load meanwhile.
        start_helpers_early(PROCESSES_FROM_BYTES, from_bucket=True)
    unlock_if_shared(service, args.passphrase_file)
    env = service.get_environment(args.environment)
    args.only = _as_typed_here(env, args.only)
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
        print_result(
            _written_to(backup, folder),
            args.json,
            lambda: (
                f"{backup.name} ({backup.version}) would be written to {folder}: "
                f"{counted(backup.file_count, 'file')}, {counted(backup.total_bytes, 'byte')}. "
                f"{env.name} stays as it is."
            ),
        )
        return
    if args.dry_run:
        service.check_restore(env.name, backup.id, args.source, args.only)
        with long_operation(WORKING_OUT) as (_bar, cancel):
            changes = service.preview_restore(env.name, backup.id, cancel, args.source, args.only)
        print_result(changes, args.json, lambda: change_lines(changes))
        return
    if args.to is not None and args.only:
        raise UsageError("--to writes the whole backup; leave out --only.")
    if args.to is not None:  # nothing is erased: no question, no backup first
        with long_operation() as (bar, cancel):
            folder = service.restore_to_folder(backup.id, args.to, bar, cancel)
        print_result(
            _written_to(backup, folder),
            args.json,
            lambda: f"{backup.name} ({backup.version}) was written to {folder}.",
        )
        return
    for caveat in service.restore_caveats(backup.id):
        print(f"envops: {caveat}", file=sys.stderr)  # even with --yes, in the log
    of_source = f" of {source.name}" if source.id != env.id else ""
    logged_before = service.latest_activity_id() if args.json else 0

    def preview(cancel: CancelToken) -> tuple[TreeChanges, TreeChanges]:
        # A selective restore is held to the whole one's changes, as in the window: a
        # path it leaves as it is may change meanwhile.
        whole = service.preview_restore(env.name, backup.id, cancel, args.source)
        if not args.only:
            return whole, whole
        chosen = service.preview_restore(env.name, backup.id, cancel, args.source, args.only)
        return chosen, whole

    env = confirmed_in_date(
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
    print_result(
        _changes_made(service, env, logged_before) if args.json else None,
        args.json,
        lambda: f"{env.name} was restored to {backup.name}{of_source} ({env.version}).",
    )


def _as_typed_here(env: Environment, only: list[str] | None) -> list[str] | None:
    """--only's paths as the shell in the current folder means them: `cd conf.d` then
    `--only nginx.conf` (or a name the shell completed there) is `conf.d/nginx.conf`.

    Told apart by the names alone, never by a look at the environment's folder: its disk
    may hang, which the service gives up on in a sentence, and this must not wait for."""
    if not only or all(path.startswith("/") for path in only):
        return only
    try:
        where = os.getcwd()  # with its links resolved
    except OSError:  # the folder one stands in was removed: nowhere inside the environment
        return only
    if within([env.path], where).startswith("/"):
        # The environment's path may hold a link: the shell's name for where it stands.
        where = os.environ.get("PWD", "")
        if within([env.path], where).startswith("/") or not _is_here(where):
            return only
    return [from_where_you_stand(env.path, where, path) for path in only]


def _is_here(folder: str) -> bool:
    """Whether `folder` is the current folder (a shell's $PWD, not a stale one inherited)."""
    try:
        return os.path.samefile(folder, ".")
    except OSError:
        return False


def _written_to(backup: Backup, folder: Path) -> dict[str, object]:
    """A restore to a folder, as --json prints it."""
    return {
        "backup": backup.id,
        "folder": str(folder),
        "files": backup.file_count,
        "bytes": backup.total_bytes,
    }


def _changes_made(
    service: EnvOpsService, env: Environment, logged_before: int
) -> TreeChanges | None:
    """What the restore or import of `env` that finished after entry `logged_before` of the
    activity log changed, as kept with its entry: the dry run's form, of what was done.
    (Every restore and import that finishes keeps it; the oldest since is this one's.)"""
    made = [
        entry
        for entry in service.activity_since(ActivityQuery(environment_id=env.id), logged_before)
        if entry.has_report
    ]
    return service.restore_report(made[-1].id) if made else None


def run_diff(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops diff`: two backups, or one and the folder now."""
    first, second = (
        _diff_side(service, args.environment, side) for side in (args.first, args.second)
    )
    with long_operation("comparing") as (_bar, cancel):
        changes = service.compare(first, second, cancel)
    print_result(changes, args.json, lambda: change_lines(changes))


def run_import(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops import`: a configuration file, or an archive another tool made."""
    unlock_if_shared(service, args.passphrase_file)
    env = service.get_environment(args.environment)
    source = Path(args.file)
    # A file that is plainly wrong is refused before the question; its files' contents
    # are checked as they are written.
    from envops_desktop.store.sealed_files import is_sealed

    passphrase = file_passphrase(source, twice=False) if is_sealed(source) else None
    with long_operation() as (bar, cancel):  # a plain archive is read whole, to hash it
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
        with long_operation(WORKING_OUT) as (_bar, cancel):
            changes = service.preview_import(env.name, checked, cancel)
        print_result(changes, args.json, lambda: change_lines(changes))
        return
    warning = replacement_warning(checked.file_name, checked.manifest.environment_name, env.name)
    logged_before = service.latest_activity_id() if args.json else 0
    if checked.manifest.environment_name != env.name:
        print(f"envops: {warning}", file=sys.stderr)  # even with --yes, in the log
    for caveat in checked.caveats:
        print(f"envops: {caveat}", file=sys.stderr)
    env = confirmed_in_date(
        args,
        warning,
        lambda cancel: (service.preview_import(env.name, checked, cancel),) * 2,
        lambda: service.check_import(env.name, checked, look_inside=False),
        lambda previewed, bar, cancel: service.import_configuration_file(
            env.name, checked, args.backup_first, bar, cancel, previewed
        ),
    )
    print_result(
        _changes_made(service, env, logged_before) if args.json else None,
        args.json,
        lambda: f"{env.name} was restored from {checked.file_name} ({env.version}).",
    )


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
                    with long_operation(WORKING_OUT) as (_bar, cancel):
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
            print_result(
                [
                    {"root_folder": folder}
                    | (
                        {"refused": str(c)}
                        if isinstance(c, EnvOpsError)
                        else {"changes": jsonable(c)}
                    )
                    for folder, _, c in shown
                ],
                args.json,
                lambda: "\n\n".join(
                    f"With --root-folder {folder} ({said}):\n"
                    + (f"refused: {c}" if isinstance(c, EnvOpsError) else change_lines(c))
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
