"""The times EnvOps records: nanoseconds since the epoch, as a signed 64-bit integer holds
them (SQLite's integers, a scan's columns), from 1677-09-21 to 2262-04-11."""

from datetime import UTC, datetime, timedelta

EARLIEST_NS = -(1 << 63)
LATEST_NS = (1 << 63) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_A_YEAR = 31_556_952 * 1_000_000_000  # the Gregorian calendar's mean year


def recordable_ns(ns: int) -> int:
    """`ns`, or the nearest time EnvOps records: a file dated 2300 by a wrong clock or a
    damaged archive is kept, with that time instead of its own."""
    return EARLIEST_NS if ns < EARLIEST_NS else LATEST_NS if ns > LATEST_NS else ns


def unrecordable_note(ns: int) -> str:
    """What a backup says of an entry whose time `ns` lies outside what EnvOps records."""
    try:
        year = (_EPOCH + timedelta(microseconds=ns // 1000)).year
    except OverflowError:  # past what a date holds (9999)
        year = 1970 + ns // _NS_A_YEAR
    kept = _EPOCH + timedelta(microseconds=recordable_ns(ns) // 1000)
    bound = "after 2262, the latest" if ns > LATEST_NS else "before 1677, the earliest"
    return (
        f" (its modification time, in the year {year}, lies {bound} EnvOps keeps: a "
        f"restore gives it {kept:%Y-%m-%d %H:%M} UTC instead)"
    )
