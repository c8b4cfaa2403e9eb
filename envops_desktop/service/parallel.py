"""A thread pool for per-file work that keeps only a small window of tasks in flight.

Submitting one future per file for 20,000 files keeps 20,000 futures (and their locks) alive,
and the garbage collector's full passes over them stalled the GUI thread for up to 200 ms;
a bounded window keeps the heap small while both cores stay busy (hashing, zstd and file I/O
release the GIL).
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from envops_desktop.service.context import POOL_SIZE

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    work: Callable[[T], R], items: Iterable[T], name: str, in_flight_per_worker: int = 8
) -> Iterator[R]:
    """Like map(), on a pool, results in input order; the first error cancels the rest."""
    window = POOL_SIZE * in_flight_per_worker
    with ThreadPoolExecutor(POOL_SIZE, thread_name_prefix=name) as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
