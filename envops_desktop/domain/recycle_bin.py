"""The recycle bin's rule: how long a deleted backup stays in Deleted, recoverable, before
its content is freed (here and, for a shared backup, in the team's store)."""

DEFAULT_BIN_DAYS = 7.0
