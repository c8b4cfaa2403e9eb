"""How long an environment's backups are kept: the rules the user sets."""

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

SCHEDULED_DAYS_CHOICES = (10, 20, 30, 60)
# Whatever the rules say, this many of an environment's newest backups stay: a run of failed
# backups, or a clock that jumps forward, must never empty its history.
ALWAYS_KEPT = 3


# The most backups or days a rule counts: as many as the Retention dialog's boxes take, so
# a rule set on the command line shows there as it is (27 years of days).
MAX_COUNT = 9999
_STORED = {"stored": True}


class RetentionRule(BaseModel):
    """Which backups retention keeps. A backup is kept when any rule keeps it; pinned
    backups and the newest `ALWAYS_KEPT` are always kept; backups made on another
    workstation are that workstation's to remove.

    - scheduled backups: for `scheduled_days` days and/or the last `scheduled_last` (both
      None: all of them);
    - "before restore" and "before import" backups: the last `before_restore_last`;
    - manual and imported backups: for `manual_days` days (None: always).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheduled_days: int | None = 30
    scheduled_last: int | None = None
    before_restore_last: int = 5
    manual_days: int | None = None

    @field_validator("scheduled_days")
    @classmethod
    def _offered(cls, days: int | None) -> int | None:
        if days is not None and days not in SCHEDULED_DAYS_CHOICES:
            choices = ", ".join(map(str, SCHEDULED_DAYS_CHOICES))
            raise ValueError(f"scheduled backups are kept for {choices} days")
        return days

    @field_validator("scheduled_last", "before_restore_last", "manual_days")
    @classmethod
    def _positive(cls, count: int | None, info: ValidationInfo) -> int | None:
        if count is not None and count > MAX_COUNT and info.context == _STORED:
            return MAX_COUNT  # kept by a version that took any count: no different in use
        if count is not None and not 1 <= count <= MAX_COUNT:
            raise ValueError(f"a count of backups or days is 1 to {MAX_COUNT}")
        return count

    @classmethod
    def stored(cls, text: str | bytes) -> "RetentionRule":
        """A rule as kept in the database or the team's store, by this or an older version."""
        return cls.model_validate_json(text, context=_STORED)

    def describe(self) -> str:
        """The rules in plain words."""
        scheduled = [
            f"for {self.scheduled_days} days" if self.scheduled_days else "",
            f"the last {self.scheduled_last}" if self.scheduled_last else "",
        ]
        kept = " and ".join(part for part in scheduled if part) or "all"
        manual = f"for {self.manual_days} days" if self.manual_days else "always"
        return (
            f"Scheduled backups: {kept}. Before restore or import: the last "
            f"{self.before_restore_last}. Manual and imported: {manual}. Pinned backups and "
            f"the newest {ALWAYS_KEPT} are always kept."
        )
