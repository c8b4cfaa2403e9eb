"""Pools for per-file work that keep only a small window of tasks in flight.

Submitting one future per file for 20,000 files keeps 20,000 futures (and their locks) alive,
and the garbage collector's full passes over them stalled the GUI thread for up to 200 ms;
a bounded window keeps the heap small while every core stays busy.

Big operations run their batches in helper processes: hashing and zstd release the GIL, but
the Python between those calls (per file: open, stat, rename) does not, and with threads two
cores gave 1.2x one; with processes 1.6x. Small operations stay on threads, because starting
helpers costs more than it saves there.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from envops_desktop.domain.progress import CancelToken
from envops_desktop.service.context import POOL_SIZE
from envops_desktop.store.blobs import flushing_in_background

T = TypeVar("T")
J = TypeVar("J")
R = TypeVar("R")

# Below this many bytes of work, threads: a helper process costs ~0.1 s to start.
PROCESSES_FROM_BYTES = 64 << 20
_HELPER_MODULE = "envops_desktop.store.blob_batches"


def worth_processes(total_bytes: int) -> bool:
    """Whether an operation on this many bytes should run its batches in helper processes."""
    return total_bytes >= PROCESSES_FROM_BYTES


if TYPE_CHECKING:
    from concurrent.futures import Executor, Future
    from multiprocessing.context import BaseContext


def _process_context() -> "BaseContext":
    import multiprocessing

    # Never fork: the parent may be a Qt application with threads. A fork server started
    # with only the blob module loaded forks helpers in milliseconds; spawn elsewhere.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([_HELPER_MODULE])
        return context
    return multiprocessing.get_context("spawn")


def _executor(name: str, processes: bool) -> "Executor":
    # Pools and processes are imported here, not at start: concurrent.futures (with logging)
    # and multiprocessing cost the command line 45 ms, and an unchanged backup needs neither.
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if processes:
        return ProcessPoolExecutor(POOL_SIZE, mp_context=_process_context())
    return ThreadPoolExecutor(POOL_SIZE, thread_name_prefix=name)


def parallel_map(
    work: Callable[[T], R],
    items: Iterable[T],
    name: str,
    in_flight_per_worker: int = 8,
    processes: bool = False,
) -> Iterator[R]:
    """Like map(), on a pool, results in input order; the first error cancels the rest.

    With `processes`, `work` and the items must be picklable (module-level functions).
    """
    window = POOL_SIZE * in_flight_per_worker
    with _executor(name, processes) as pool:
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


def run_in_batches(
    work: Callable[[list[J]], R],
    items: Sequence[T],
    job: Callable[[T], J],
    size_of: Callable[[T], int],
    name: str,
    cancel: CancelToken,
    durable: bool = True,
) -> Iterator[tuple[list[T], R]]:
    """Run `work` on batches of the items' jobs; yield each batch with its result, in order.

    Big work runs in helper processes; when what it writes must reach the disk (`durable`),
    it is flushed in the background meanwhile.
    """
    batches = list(batched_by_size(items, size_of))
    big = worth_processes(sum(size_of(item) for item in items))
    jobs = ([job(item) for item in batch] for batch in batches)
    with flushing_in_background(enabled=big and durable):
        results = parallel_map(work, jobs, name, processes=big)
        for batch, result in zip(batches, results, strict=True):
            cancel.raise_if_cancelled()
            yield batch, result


def batched_by_size(
    items: Iterable[T], size_of: Callable[[T], int], max_bytes: int = 8 << 20, max_items: int = 64
) -> Iterator[list[T]]:
    """Group small items so each task carries enough work to outweigh its overhead."""
    batch: list[T] = []
    batch_bytes = 0
    for item in items:
        batch.append(item)
        batch_bytes += size_of(item)
        if batch_bytes >= max_bytes or len(batch) >= max_items:
            yield batch
            batch, batch_bytes = [], 0
    if batch:
        yield batch
