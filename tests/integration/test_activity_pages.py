"""Paging through the activity log in every order gives each entry once, in that order."""

import random

import pytest

from envops_desktop.domain.activity_query import ACTIVITY_COLUMNS, ActivityQuery
from envops_desktop.domain.enums import ActivityAction, Outcome


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


@pytest.mark.parametrize("column", ACTIVITY_COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
def test_paging_a_sorted_log_gives_each_entry_once_in_order(service, logged, column, descending):
    everything = service.query_activity(ActivityQuery(), None, 10_000)

    def key(entry):
        if column == "time":
            return entry.id
        value = getattr(entry, column)
        return getattr(value, "value", value)

    for query in (
        ActivityQuery(sort_column=column, descending=descending),
        ActivityQuery(environment_id=logged[1], sort_column=column, descending=descending),
        ActivityQuery(search="nightly", sort_column=column, descending=descending),
    ):
        expected = [
            e
            for e in everything
            if query.environment_id in (None, e.environment_id)
            and (not query.search or query.search in e.detail)
        ]
        expected.sort(key=lambda e: -e.id)  # ties newest first, whichever the direction
        expected.sort(key=key, reverse=descending)
        pages = every_page(service, query, 5)
        assert [e.id for page in pages for e in page] == [e.id for e in expected]
        assert all(len(page) == 5 for page in pages[:-1])
