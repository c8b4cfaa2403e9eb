"""Paging through the activity log in every order gives each entry once, in that order."""

import random

import pytest

from envops_desktop.domain.activity_query import ACTIVITY_COLUMNS, ActivityQuery
from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.models import ActivityEntry


@pytest.fixture
def logged(service, tmp_path):
    """Two environments and 120 entries with many ties in every column."""
    ids = []
    for name in ("billing", "search"):
        (tmp_path / name).mkdir()
        ids.append(service.add_environment(name, tmp_path / name, version="1").id)
    chance = random.Random(24)
    for n in range(120):
        environment_id = chance.choice(ids)
        service._ctx.activity.append(
            environment_id,
            "billing" if environment_id == ids[0] else "search",
            chance.choice([ActivityAction.BACKUP_CREATED, ActivityAction.RESTORE_FAILED]),
            chance.choice(["ops", "Ops", "érik", "admin"]),
            chance.choice([Outcome.SUCCESS, Outcome.FAILURE]),
            chance.choice(["", "nightly", f"entry {n}"]),
        )
    return ids


def every_page(service, query: ActivityQuery, size: int):
    pages, last = [], None
    while True:
        page = service.query_activity(query, last, size)
        pages.append(page)
        if len(page) < size:
            return pages
        last = page[-1]


def in_order(service, query: ActivityQuery) -> list[ActivityEntry]:
    """Every entry the query matches, sorted here: the order a page must follow."""

    def key(entry):
        if query.sort_column == "time":
            return entry.id
        value = getattr(entry, query.sort_column)
        return getattr(value, "value", value)

    expected = [
        e
        for e in service.query_activity(ActivityQuery(), None, 10_000)
        if query.environment_id in (None, e.environment_id)
        and (not query.search or query.search in e.detail)
    ]
    expected.sort(key=lambda e: -e.id)  # ties newest first, whichever the direction
    expected.sort(key=key, reverse=query.descending)
    return expected


def queries(logged, column: str, descending: bool) -> list[ActivityQuery]:
    """The whole log, one environment's and a search's, in that order."""
    return [
        ActivityQuery(sort_column=column, descending=descending),
        ActivityQuery(environment_id=logged[1], sort_column=column, descending=descending),
        ActivityQuery(search="nightly", sort_column=column, descending=descending),
    ]


@pytest.mark.parametrize("column", ACTIVITY_COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
def test_paging_a_sorted_log_gives_each_entry_once_in_order(service, logged, column, descending):
    for query in queries(logged, column, descending):
        expected = in_order(service, query)
        pages = every_page(service, query, 5)
        assert [e.id for page in pages for e in page] == [e.id for e in expected]
        assert all(len(page) == 5 for page in pages[:-1])


@pytest.mark.parametrize("column", ACTIVITY_COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
def test_an_entrys_position_is_where_the_sorted_log_shows_it(service, logged, column, descending):
    # Where a new entry goes among the rows the user has scrolled through.
    for query in queries(logged, column, descending):
        expected = in_order(service, query)
        for place, entry in enumerate(expected):
            assert service.activity_position(query, entry, 10_000) == place
        # Counting only the entries up to an id: those written later are not there yet.
        up_to = sorted(e.id for e in expected)[len(expected) // 2]
        older = [e for e in expected if e.id <= up_to]
        for place, entry in enumerate(older):
            assert service.activity_position(query, entry, up_to) == place


def test_a_read_of_the_log_given_up_stops_in_sqlite_and_leaves_the_next_one_be(service, logged):
    from envops_desktop.domain.errors import OperationCancelledError
    from envops_desktop.domain.progress import CancelToken

    with service._ctx.db.transaction() as conn:  # a log long enough to scan for a while
        conn.executemany(
            "INSERT INTO activity (time, environment_id, environment_name, action, user,"
            " outcome, detail) VALUES ('2026-01-01T00:00:00+00:00', ?, 'billing',"
            " 'backup created', 'ops', 'success', ?)",
            [(logged[0], f"entry {n}") for n in range(20_000)],
        )
    given_up = CancelToken()
    given_up.cancel()
    searched = ActivityQuery(search="no entry holds this")

    with pytest.raises(OperationCancelledError):
        service.query_activity(searched, None, 50, given_up)

    assert service.query_activity(searched, None, 50) == []
    assert len(service.query_activity(ActivityQuery(), None, 500, CancelToken())) == 500
