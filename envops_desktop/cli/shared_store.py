"""`envops store`: a store shared with the team in an S3 bucket."""

import argparse
import sys
from contextlib import suppress

from envops_desktop.cli.output import long_operation, print_result
from envops_desktop.cli.prompts import ask_passphrase, unlock_if_shared
from envops_desktop.domain.errors import EnvOpsError, NotFoundError, WrongPassphraseError
from envops_desktop.service import EnvOpsService


def run_store(service: EnvOpsService, args: argparse.Namespace) -> None:
    """`envops store use|copy|sync|prune|check`."""
    from envops_desktop.service.passphrases import passphrase_for, remember_passphrase

    if args.store_command == "use":
        url = args.url.rstrip("/")
        service.check_store_address(url, args.endpoint, args.region)
        passphrase = passphrase_for(url, args.passphrase_file) or ask_passphrase(url)
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
        passphrase = passphrase_for(url, args.passphrase_file) or ask_passphrase(url)
        if args.to:  # backups taken in from the connected store may keep their files there
            with suppress(WrongPassphraseError):
                unlock_if_shared(service, args.passphrase_file)
        with long_operation() as (bar, cancel):
            copied = service.copy_store(
                url, passphrase, args.endpoint, args.region, bar, cancel, back=not args.to
            )
        print_result(copied, args.json, copied.summary)
        return
    settings = service.shared_store()
    passphrase = passphrase_for(settings.url, args.passphrase_file) if settings else None
    if args.store_command in ("sync", "prune") and settings is None:
        raise NotFoundError(
            "This data folder uses no shared store; connect one with envops store use."
        )
    if args.store_command == "sync":
        assert settings is not None
        with long_operation() as (bar, cancel):
            report = service.sync_shared_store(
                passphrase or ask_passphrase(settings.url), bar, cancel
            )
        print_result(report, args.json, report.summary)
        if report.refused:  # all else was done; a script still learns that this was not
            raise EnvOpsError(
                f"{len(report.refused)} of the team's backups were not taken in; see above."
            )
        return
    if args.store_command == "prune":
        assert settings is not None
        with long_operation() as (bar, cancel):
            pruned = service.prune_shared_store(
                passphrase or ask_passphrase(settings.url),
                args.bin_days,
                args.dry_run,
                bar,
                cancel,
            )
        print_result(pruned, args.json, pruned.summary)
        return
    check = service.check_shared_store(passphrase)
    report = {
        "where": check.where,
        "create_only_refused": check.create_only_refused,
        "stale_etag_refused": check.stale_etag_refused,
        "unlocked": passphrase is not None,
    }
    print_result(
        report,
        args.json,
        lambda: (
            f"{check.where}: conditional writes are enforced"
            + ("; the passphrase unlocks the store." if passphrase else ".")
        ),
    )
