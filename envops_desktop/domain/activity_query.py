"""Which slice of the activity log to show, and in what order."""

from dataclasses import dataclass

# Columns of the log as shown, in display order: the names the store sorts by.
ACTIVITY_COLUMNS = ("time", "environment_name", "action", "user", "outcome", "detail")


@dataclass(frozen=True)
class ActivityQuery:
    """A filter, a search text and an order for paging through the activity log."""

    environment_id: str | None = None
    search: str = ""
    sort_column: str = "time"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.sort_column not in ACTIVITY_COLUMNS:
            raise ValueError(f"cannot sort the activity log by {self.sort_column!r}")

    @property
    def newest_first(self) -> bool:
        """The natural order, in which new entries simply go on top."""
        return self.sort_column == "time" and self.descending
