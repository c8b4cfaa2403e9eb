"""The thread pool of small operations: results in order, and an error stops the rest."""

import threading
import time

import pytest

from envops_desktop.service.context import POOL_SIZE
from envops_desktop.service.parallel import parallel_map


def _pool_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("test-pool")]


def test_results_come_in_the_order_of_the_items_though_later_ones_finish_first():
    def slow_for_early_items(item: int) -> int:
        time.sleep(0.002 * (20 - item))
        return item * item

    assert list(parallel_map(slow_for_early_items, range(20), "test-pool")) == [
        i * i for i in range(20)
    ]
    assert _pool_threads() == []


def test_first_error_reaches_the_caller_and_the_items_not_started_are_never_run():
    started: list[int] = []

    def fails_on_the_fifth(item: int) -> int:
        started.append(item)
        if item == 5:
            raise ValueError("disk image unreadable")
        time.sleep(0.001)
        return item

    results = []
    with pytest.raises(ValueError, match="disk image unreadable"):
        for result in parallel_map(fails_on_the_fifth, range(1000), "test-pool"):
            results.append(result)
    assert results == [0, 1, 2, 3, 4]
    # Only the window in flight when the error came back was ever started.
    assert len(started) <= 5 + POOL_SIZE * 8
    assert _pool_threads() == []


def test_caller_stopping_early_leaves_no_thread_behind():
    mapped = parallel_map(lambda item: item, range(1000), "test-pool")
    assert next(mapped) == 0
    mapped.close()
    assert _pool_threads() == []
