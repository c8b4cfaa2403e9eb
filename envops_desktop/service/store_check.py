"""Checking that every blob a backup needs is present and holds what its name promises.

A content of a backup taken in from the team's store may be there only (`team_restore.py`):
it is counted as such, not as missing; `envops store copy --to` reads it back from there.
"""

from dataclasses import dataclass, field

from envops_desktop.service.context import ServiceContext


@dataclass
class StoreReport:
    """The outcome of `envops verify`."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    damaged_manifests: list[str] = field(default_factory=list)
    unreferenced: int = 0
    in_team_store: int = 0  # contents of backups from elsewhere, kept in the team's store only

    @property
    def healthy(self) -> bool:
        return not self.missing and not self.damaged and not self.damaged_manifests


def check_store(ctx: ServiceContext) -> StoreReport:
    report = StoreReport()
    referenced = ctx.backups.referenced_blobs(report.damaged_manifests)
    lacking = ctx.blobs.lacking(referenced)
    elsewhere = ctx.shared.parts_of_many(lacking).keys()
    for sha in sorted(referenced):
        if sha in elsewhere:
            report.in_team_store += 1
            continue
        report.checked += 1
        if sha in lacking:
            report.missing.append(sha)
        elif not ctx.blobs.verify(sha):
            report.damaged.append(sha)
    report.unreferenced = sum(1 for sha in ctx.blobs.all_blobs() if sha not in referenced)
    return report
