"""The pools: results in order, an error stops the rest, big work's helpers start early."""

import functools
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from envops_desktop.domain.errors import OperationCancelledError
from envops_desktop.service.context import POOL_SIZE
from envops_desktop.service.parallel import (
    PROCESSES_FROM_BYTES,
    WINDOW_HELPERS_NICENESS,
    Background,
    helpers_yield,
    parallel_map,
    workload,
    worth_processes,
)
from envops_desktop.store.helper_progress import ThreadShare, advanced, joined, run_counted
from tests.spies import child_commands_after


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
    # Only what was in flight, or done and waiting behind the failed item, was ever started.
    assert len(started) <= 5 + 1 + POOL_SIZE * 8 * 4
    assert _pool_threads() == []


def _first_waits_for_the_rest(folder: str, later: int, item: int) -> int:
    """Item 0 waits (10 s at most) until `later` other items are done and gives how many
    were; each other item marks itself done. Module-level, for helper processes."""
    if item:
        Path(folder, str(item)).touch()
        return item
    deadline = time.monotonic() + 10
    while len(os.listdir(folder)) < later and time.monotonic() < deadline:
        time.sleep(0.005)
    return len(os.listdir(folder))


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "helpers"])
def test_a_slow_item_does_not_keep_the_pool_from_the_items_after_it(
    tmp_path: Path, processes: bool
):
    # A large file among small ones: the pool works on past it while it is stored, and the
    # results still come in order. Waiting for the first result before handing out more,
    # the pool stopped after `window` items and item 0 waited its whole 10 s.
    window = POOL_SIZE  # one item a worker
    later = 3 * window
    work = functools.partial(_first_waits_for_the_rest, str(tmp_path), later)
    results = list(parallel_map(work, range(later + 1), "test-pool", 1, processes=processes))
    assert results == [later, *range(1, later + 1)]  # item 0 saw every later one done


def test_caller_stopping_early_leaves_no_thread_behind():
    mapped = parallel_map(lambda item: item, range(1000), "test-pool")
    assert next(mapped) == 0
    mapped.close()
    assert _pool_threads() == []


def _children_after_starting_helpers_for(total_bytes: int) -> str:
    return child_commands_after(
        "from envops_desktop.service.parallel import start_helpers_early\n"
        "start_helpers_early(int(sys.argv[2]))",
        str(total_bytes),
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")
def test_big_work_starts_its_helpers_loading_before_it_is_handed_out():
    assert "forkserver" in _children_after_starting_helpers_for(PROCESSES_FROM_BYTES)
    assert "forkserver" not in _children_after_starting_helpers_for(PROCESSES_FROM_BYTES - 1)


def test_many_small_files_are_work_for_helpers_and_a_real_configuration_is_not():
    assert worth_processes(workload(40 << 20, 20_000))  # 20,000 config files of 2 KiB
    assert worth_processes(workload(0, 10_000))  # as many empty ones, half as many
    assert worth_processes(workload(PROCESSES_FROM_BYTES, 1))  # one large file
    assert not worth_processes(workload(5 << 20, 300))  # the size of most configurations
    assert not worth_processes(workload(20 << 20, 2_000))


def test_background_work_runs_only_once_started_and_its_result_waits_for_it():
    ran: list[str] = []
    never = Background(lambda: ran.append("never"), "test-background")
    later = Background(lambda: ran.append("later") or 42, "test-background")
    time.sleep(0.05)
    assert ran == []  # neither started: an operation failing first leaves no thread
    later.start()
    later.start()  # once only
    assert later.result() == 42
    assert ran == ["later"]
    assert Background(lambda: 7, "test-background").result() == 7  # result() starts it
    del never


def test_background_work_hands_its_error_to_whoever_waits_for_it():
    def fails() -> None:
        raise OSError("folder vanished")

    work = Background(fails, "test-background")
    work.start()
    with pytest.raises(OSError, match="folder vanished"):
        work.result()


def _helpers_niceness() -> set[int]:
    own_niceness = functools.partial(os.getpriority, os.PRIO_PROCESS)
    return set(parallel_map(own_niceness, [0] * 8, "test-pool", processes=True))


@pytest.mark.skipif(os.name != "posix", reason="niceness is POSIX's")
def test_helpers_run_level_with_a_command_and_below_a_window_while_one_lives():
    assert _helpers_niceness() == {os.nice(0)}
    helpers_yield(True)
    try:
        assert _helpers_niceness() == {min(19, os.nice(0) + WINDOW_HELPERS_NICENESS)}
    finally:
        helpers_yield(False)
    assert _helpers_niceness() == {os.nice(0)}


def _chunks_for_a_minute(_batch: int) -> int:
    """A helper's batch of one huge file: a MiB at a time for a minute, each counted."""
    for _ in range(6000):
        time.sleep(0.01)
        advanced(1 << 20)
    return 0


@pytest.mark.parametrize("processes", [True, False], ids=["helpers", "threads"])
def test_a_map_waiting_on_its_helpers_hears_how_far_they_are_and_a_stop_ends_them_at_once(
    processes,
):
    seen: list[int] = []

    def waiting(under_way: int) -> None:
        seen.append(under_way)
        if under_way >= 4 << 20:
            raise OperationCancelledError()

    started = time.monotonic()
    with pytest.raises(OperationCancelledError):
        list(parallel_map(_chunks_for_a_minute, [1, 2], "test-pool", 1, processes, waiting))

    assert time.monotonic() - started < 30  # its batches would have taken a minute
    assert seen == sorted(seen) and seen[-1] >= 4 << 20  # counted in the helpers, seen here


def test_a_map_waiting_on_a_slow_item_looks_in_as_it_waits():
    looks: list[int] = []

    def slow(item: int) -> int:
        time.sleep(0.6 if item == 0 else 0)
        return item

    assert list(parallel_map(slow, range(40), "test-pool", waiting=looks.append)) == list(range(40))
    assert len(looks) >= 3 and set(looks) == {0}  # on threads nothing counts


def test_work_counted_apart_on_a_thread_leaves_what_the_thread_counts_after_it_alone():
    outer, inner = ThreadShare(), ThreadShare()

    def with_a_part_counted_apart(_item: int) -> int:
        with joined(inner):  # a content fetched from a bucket, on the way
            advanced(5)
        advanced(3)
        return outer.under_way()

    with joined(outer):  # as a pool's thread joins its map's
        assert run_counted(with_a_part_counted_apart, 0) == 3
    assert outer.under_way() == 0  # its 3 taken back, and nothing of the other's
    assert inner.under_way() == 5
