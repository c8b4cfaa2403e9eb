"""`envops backup`: create, list, delete, recover, pin and export backups."""

import argparse
from pathlib import Path

from envops_desktop.cli.output import columns, local_time, long_operation, print_result
from envops_desktop.cli.prompts import confirm, file_passphrase
from envops_desktop.domain.paths import name_on_one_line
from envops_desktop.domain.wording import counted
from envops_desktop.service import EnvOpsService


def run_backup(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops backup create|list|delete|recover|empty-bin|pin|unpin|export`."""
    action = args.backup_command
    if action == "create":
        with long_operation() as (bar, cancel):
            backup = service.create_backup(args.environment, args.name, progress=bar, cancel=cancel)
        print_result(
            backup,
            args.json,
            lambda: (
                f"Created backup {backup.id} ({backup.name}): "
                f"{counted(backup.file_count, 'file')}, {counted(backup.total_bytes, 'byte')}."
                + "".join(f"\nNot backed up: {name_on_one_line(note)}" for note in backup.skipped)
            ),
        )
    elif action == "list":
        backups = (
            service.deleted_backups(args.environment)
            if args.deleted
            else service.list_backups(args.environment)
        )
        print_result(
            backups,
            args.json,
            lambda: columns(
                ("ID", "CREATED", "VERSION", "ORIGIN", "FILES", "BY", "NAME"),
                [
                    (
                        b.id,
                        local_time(b.created_at, seconds=False),
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
        confirm(args, "Emptying Deleted frees its backups for good.")
        freed = service.empty_bin()
        print(f"Freed {counted(len(freed), 'backup')} from Deleted.")
    elif action in ("pin", "unpin"):
        pinned = service.pin_backup(args.backup_id, action == "pin")
        kept = "is kept whatever retention says" if pinned.pinned else "follows retention again"
        print(f"{pinned.name} ({pinned.id}) {kept}.")
    elif action == "export":
        destination = Path(args.file)
        passphrase = file_passphrase(destination, twice=True) if args.encrypt else None
        with long_operation() as (bar, cancel):
            path = service.export_backup(args.backup_id, destination, bar, cancel, passphrase)
        sealed = ", protected by its passphrase" if passphrase else ""
        print(f"Exported backup {args.backup_id} to {path}{sealed}.")
