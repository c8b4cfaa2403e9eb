"""`envops verify` and `envops gc`: the store checked against its hashes, and freed of
what no backup needs."""

import argparse
import json

from envops_desktop.cli.output import long_operation, print_result
from envops_desktop.domain.errors import (
    EnvOpsError,
    OperationCancelledError,
)
from envops_desktop.domain.wording import counted
from envops_desktop.service import EnvOpsService
from envops_desktop.service.store_check import StoreProblem, StoreReport
from envops_desktop.service.store_repair import StoreRepair


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
    verb = "Would free" if garbage.dry_run else "Freed"
    print_result(
        garbage.__dict__,
        args.json,
        lambda: (
            f"{verb} {counted(len(garbage.blobs), 'stored file')} no backup needs "
            f"({counted(garbage.bytes, 'byte')})."
        ),
    )


def run_verify(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops verify`: every stored file against its hash, and with --repair the lost
    ones forgotten, so that the next backups store them again."""
    with long_operation() as (bar, cancel):
        report = service.check_store(bar, cancel)
        # The problems before the repair, which deletes the backups a damaged list names.
        problems = service.store_problems(report)
        repair = service.repair_store(report, bar, cancel) if args.repair else StoreRepair()
    if args.json:
        needed = service.where_needed(report.missing + report.damaged)
        print(json.dumps({**report.__dict__, "forgotten": repair.forgotten, "needed_by": {
            sha: [{"backup_id": b.id, "path": path} for b, path in where]
            for sha, where in needed.items()
        }, "deleted": [
            {"backup_id": b.id, "name": b.name, "environment_id": b.environment_id}
            for b in repair.deleted
        ]}, indent=2))  # fmt: skip
    else:
        environments = {env.id: env.name for env in service.list_environments()}
        print("\n".join(_verify_lines(report, problems, repair, args.repair, environments)))
    if not report.healthy:
        raise EnvOpsError("The store has missing or damaged files; see above.")


def _verify_lines(
    report: StoreReport,
    problems: list[StoreProblem],
    repair: StoreRepair,
    repairing: bool,
    environments: dict[str, str],
) -> list[str]:
    summary = (
        f"{counted(report.checked, 'stored file')} checked: {len(report.missing)} missing, "
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
        summary += f" {lists} cannot be restored, and while kept, gc frees nothing."
    if repair.forgotten:
        summary += (
            f" Forgot the {len(repair.forgotten)} missing or damaged: the next backup of each"
            " environment stores again those its folder still holds, which makes whole every"
            " backup that needs them."
        )
    if repair.deleted:
        names = ", ".join(
            f"{b.name} of {environments.get(b.environment_id, '?')}" for b in repair.deleted
        )
        summary += (
            f" Deleted the backups whose list of files was damaged ({names}): what only they"
            " held is freed."
        )
        if repair.from_team_store:
            summary += (
                f" The team's store holds {len(repair.from_team_store)} of them, whole: the next"
                " sync takes them in again."
            )
    repairs = []
    if report.missing or report.damaged:
        repairs.append(
            "forgets each stored file that cannot be trusted, so that the next backup of each"
            " environment stores again those the folders still hold"
        )
    if report.damaged_manifests:
        repairs.append("deletes each backup whose list of files is damaged")
    if repairs and not repairing:
        summary += f" envops verify --repair {', and '.join(repairs)}."
    return [
        *(f"{p.kind}: {p.name}" + (f" ({p.needed_by})" if p.needed_by else "") for p in problems),
        summary,
    ]
