"""`envops activity`: the log, and the list of changes a restore or an import kept."""

import argparse

from envops_desktop.cli.output import change_lines, columns, local_time, print_result
from envops_desktop.domain.errors import NotFoundError
from envops_desktop.service import EnvOpsService


def run_activity(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops activity`: the log, or the changes one entry kept."""
    if args.changes is not None:
        report = service.restore_report(args.changes)
        # Entries are never removed: past the last id, or below 1, there is none.
        if report is None and not 1 <= args.changes <= service.latest_activity_id():
            raise NotFoundError(
                f"There is no activity entry {args.changes} (envops activity lists the entries)."
            )
        if report is None:
            raise NotFoundError(
                f"Activity entry {args.changes} kept no list of changes: only a restore or an "
                "import that finished keeps one (envops activity lists the entries)."
            )
        print_result(report, args.json, lambda: change_lines(report))
        return
    entries = service.activity(args.environment, limit=args.limit)
    print_result(
        entries,
        args.json,
        lambda: columns(
            ("ID", "TIME", "ENVIRONMENT", "ACTION", "USER", "OUTCOME", "DETAIL"),
            [
                (
                    e.id,
                    local_time(e.time),
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
