"""Checking that every blob a backup needs is present and holds what its name promises.

A content of a backup taken in from the team's store may be there only (`team_restore.py`):
it is counted as such, not as missing; `envops store copy --to` reads it back from there.
"""

from dataclasses import dataclass, field

from envops_desktop.domain.models import Backup
from envops_desktop.domain.paths import name_on_one_line
from envops_desktop.domain.progress import (
    CancelToken,
    ProgressCallback,
    ProgressMeter,
    ignore_progress,
)
from envops_desktop.domain.wording import counted
from envops_desktop.service.context import ServiceContext
from envops_desktop.store.helper_progress import run_counted, shown_on

# The phase of reading every backup's list of files, to know what the backups need.
READING_BACKUPS = "reading backups"


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


def check_store(
    ctx: ServiceContext,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> StoreReport:
    """Read every blob a backup needs back, in the order of their names; it changes nothing,
    so a cancel just stops."""
    report = StoreReport()
    referenced = needed_contents(ctx, report.damaged_manifests, progress, cancel)
    lacking = ctx.blobs.lacking(referenced)
    elsewhere = ctx.shared.parts_of_many(lacking).keys()
    held = sum(size for sha, size in referenced.items() if sha not in lacking)
    meter = ProgressMeter(progress, "verifying", held)
    # Counted as it is read, so that a content of many GiB shows how far it has come, and a
    # cancel stops it there.
    with shown_on(meter, cancel):
        for sha in sorted(referenced):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if sha in elsewhere:
                report.in_team_store += 1
                continue
            report.checked += 1
            if sha in lacking:
                report.missing.append(sha)
                continue
            if not run_counted(ctx.blobs.verify, sha):
                report.damaged.append(sha)
            meter.advance(referenced[sha])
    meter.finish()
    report.unreferenced = sum(1 for sha in ctx.blobs.all_blobs() if sha not in referenced)
    return report


def needed_contents(
    ctx: ServiceContext,
    damaged: list[str] | None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, int]:
    """Every content some backup needs, with its size (`referenced_blobs`): every backup's
    list of files read, which for many large backups is long enough to show and to stop."""
    meter = ProgressMeter(progress, READING_BACKUPS, ctx.backups.manifest_bytes())

    def read(size: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        meter.advance(size)

    needed = ctx.backups.referenced_blobs(damaged, read)
    meter.finish()
    return needed


@dataclass(frozen=True)
class StoreProblem:
    """A stored content, or a backup's list of files, that a check found missing or
    damaged, and what needs it."""

    kind: str  # "missing", "damaged" or "damaged manifest"
    name: str  # its sha256
    # "app.yaml in nightly of billing, and 2 more backups"; "" when nothing names it
    needed_by: str


def store_problems(
    report: StoreReport,
    needed: dict[str, list[tuple[Backup, str]]],
    lists_of: dict[str, list[Backup]],
    environment_names: dict[str, str],
) -> list[StoreProblem]:
    """Each content `report` found missing or damaged, with a file and a backup that hold
    it (`needed`), then each damaged list of files, with the backups it is the list of
    (`lists_of`). A backup is named with its environment (by id, `environment_names`):
    every environment may have its "nightly"."""

    def others(more: int) -> str:
        return f", and {counted(more, 'more backup')}" if more else ""

    def backup_name(backup: Backup) -> str:
        environment = environment_names.get(backup.environment_id)
        return f"{backup.name} of {environment}" if environment else backup.name

    def content(kind: str, sha: str) -> StoreProblem:
        where = needed.get(sha)
        if not where:
            return StoreProblem(kind, sha, "")
        (backup, path), more = where[0], len(where) - 1
        needed_by = f"{name_on_one_line(path)} in {backup_name(backup)}{others(more)}"
        return StoreProblem(kind, sha, needed_by)

    def manifest(name: str) -> StoreProblem:
        backups = lists_of.get(name)
        needed_by = f"{backup_name(backups[0])}{others(len(backups) - 1)}" if backups else ""
        return StoreProblem("damaged manifest", name, needed_by)

    return (
        [content("missing", sha) for sha in report.missing]
        + [content("damaged", sha) for sha in report.damaged]
        + [manifest(name) for name in report.damaged_manifests]
    )
