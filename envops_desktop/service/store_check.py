"""Checking that every blob a backup needs is present and holds what its name promises."""

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

    @property
    def healthy(self) -> bool:
        return not self.missing and not self.damaged and not self.damaged_manifests


def check_store(ctx: ServiceContext) -> StoreReport:
    report = StoreReport()
    referenced = ctx.backups.referenced_blobs(report.damaged_manifests)
    for sha in sorted(referenced):
        report.checked += 1
        if not ctx.blobs.has(sha):
            report.missing.append(sha)
        elif not ctx.blobs.verify(sha):
            report.damaged.append(sha)
    report.unreferenced = sum(1 for sha in ctx.blobs.all_blobs() if sha not in referenced)
    return report
