"""`envops verify` and `envops gc`: the store checked against its hashes, and freed of
what no backup needs."""

import argparse
import json

from envops_desktop.cli.output import long_operation, print_result
from envops_desktop.domain.errors import (
    EnvOpsError,
    OperationCancelledError,
)
from envops_desktop.service import EnvOpsService
from envops_desktop.service.store_check import StoreProblem, StoreReport


def run_gc(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops gc`: free what no backup needs, the expired Deleted first."""
    with long_operation() as (bar, cancel):
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
    print_result(
        garbage.__dict__,
        args.json,
        lambda: (
            f"{verb} {len(garbage.blobs)} stored files no backup needs ({garbage.bytes} bytes)."
        ),
    )


def run_verify(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops verify`: every stored file against its hash, and with --repair the lost
    ones forgotten, so that the next backups store them again."""
    with long_operation() as (bar, cancel):
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
    if report.unreferenced and not report.damaged_manifests:
        summary += (
            " Unreferenced files belong to no backup (left by an operation that did not"
            " finish); envops gc frees them."
        )
    if report.damaged_manifests:
        lists = (
            "A backup's list of files is damaged: it"
            if len(report.damaged_manifests) == 1
            else f"The lists of files of {len(report.damaged_manifests)} backups are damaged: they"
        )
        summary += (
            f" {lists} cannot be restored and no repair mends them. Delete each (envops backup"
            " delete ID, its id from envops backup list), then envops backup empty-bin: that"
            " frees what only they held, and gc works again."
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
