"""Pools for per-file work that keep only a small window of tasks in flight.

Submitting one future per file for 20,000 files keeps 20,000 futures (and their locks) alive,
and the garbage collector's full passes over them stalled the GUI thread for up to 200 ms;
a bounded window keeps the heap small while every core stays busy.

Big operations run their batches in helper processes: hashing and zstd release the GIL, but
the Python between those calls (per file: open, stat, rename) does not, and with threads two
cores gave 1.2x one; with processes 1.6x. Small operations stay on threads, because starting
helpers costs more than it saves there.
"""

import functools
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, cast

from envops_desktop.domain.progress import CancelToken
from envops_desktop.service.context import POOL_SIZE
from envops_desktop.store.file_writes import flushing_in_background
from envops_desktop.store.helper_progress import (
    ThreadShare,
    WorkShare,
    join,
    run_counted,
    stopped_on_error,
)

T = TypeVar("T")
J = TypeVar("J")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# Below this much work (`workload`, in bytes), threads: a helper process costs ~0.1 s to start.
PROCESSES_FROM_BYTES = 64 << 20
# What a file costs a pool besides its bytes (opening, writing or reading, its metadata,
# closing: some 45 µs of Python and system calls), as the bytes that take as long. Weighed
# by bytes alone, 20,000 config files of 2 KiB (40 MB) ran on threads, under one GIL: their
# restore took 1.6-2.0 s on two cores where helpers took 0.9-1.2 s. Threads and helpers
# were level at about 5,000 such files, helpers ahead from 10,000.
FILE_COST_BYTES = 8 << 10
# Most files in a batch: on threads, enough to outweigh a task's overhead; in helper processes
# more, since each batch also pays for pickling, the pipe both ways and (for a backup) a pack
# file of its own. A first backup of 200,000 small files cost its helpers 53 us a file in
# batches of 64, 43 us in batches of 256; batches of 512 were no quicker and held 12 MiB
# more at its peak.
ITEMS_A_BATCH = 64
ITEMS_A_HELPERS_BATCH = 256
# What the fork server loads before it forks a helper: the blob module, and the S3 client
# too once a restore from a team's store is coming (`start_helpers_early`).
_PRELOAD = ["envops_desktop.store.blob_batches", "envops_desktop.helper_lifeline"]
_BUCKET_PRELOAD = "envops_desktop.store.bucket_preload"


# How far below the process that starts them helpers run while a window lives in it
# (`helpers_yield`). Level with the window, the two helpers of a 1 GiB first backup kept both
# cores of a two-core machine busy, and the window's thread, woken by its timers, waited in
# the kernel's run queue behind them: its worst event-loop stall over eight backups was
# 15-96 ms (median 51); with the helpers 10 steps down, 9-68 ms (median 35), the backups
# no slower (3.43-3.96 s against 3.48-3.88 s). The command line's helpers stay level with
# it: an operator waiting on a restore decides its priority (`nice envops ...`).
WINDOW_HELPERS_NICENESS = 10


class _Yielding:
    """How many windows want the helpers behind them."""

    count = 0


def helpers_yield(wanted: bool) -> None:
    """A window starts (True) or ends (False): while any lives in this process, helpers run
    `WINDOW_HELPERS_NICENESS` steps below it, so that its thread gets a core at once."""
    _Yielding.count += 1 if wanted else -1


def _helper_niceness() -> int:
    """How many steps below this process the helpers it starts now run."""
    return WINDOW_HELPERS_NICENESS if _Yielding.count > 0 else 0


def workload(total_bytes: int, files: int) -> int:
    """The size of per-file work on `files` files of `total_bytes` in all, in bytes: what
    `worth_processes` weighs."""
    return total_bytes + files * FILE_COST_BYTES


def worth_processes(load: int) -> bool:
    """Whether work of this size (`workload`) should run its batches in helper processes."""
    return load >= PROCESSES_FROM_BYTES


if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


def _process_context() -> "BaseContext":
    import multiprocessing

    # Never fork: the parent may be a Qt application with threads. A fork server started
    # with only the blob module loaded forks helpers in milliseconds; spawn elsewhere.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(_PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


def start_helpers_early(load: int, from_bucket: bool = False) -> None:
    """Start loading the helper processes of work this big (`workload`) now, while the caller
    prepares it.

    The fork server takes 0.2 s to start and load the blob module, and the pool waited for it
    after the caller's own preparation (an import's check of its file, 0.45 s); started here,
    it loads on the other core meanwhile. Spawned helpers (no fork server) start with the pool.
    Helpers that will fetch from a team's store (`from_bucket`) get the S3 client loaded
    too, unless the fork server is running already.
    """
    if not worth_processes(load):
        return
    if from_bucket and _BUCKET_PRELOAD not in _PRELOAD:
        _PRELOAD.append(_BUCKET_PRELOAD)
    if _process_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def parallel_map(
    work: Callable[[T], R],
    items: Iterable[T],
    name: str,
    in_flight_per_worker: int = 8,
    processes: bool = False,
    waiting: Callable[[int], None] | None = None,
) -> Iterator[R]:
    """Like map(), on a pool, results in input order; the first error cancels the rest.

    With `processes`, `work` and the items must be picklable (module-level functions).
    While it waits on the pool, `waiting` is called every tenth of a second or so with the
    bytes its helpers have counted (`helper_progress`) of items whose results are not out
    yet; an error it raises ends the map.
    """
    window = POOL_SIZE * in_flight_per_worker
    if not processes:
        yield from _thread_map(work, items, name, window, waiting)
        return
    # Imported here, not at start: concurrent.futures (with logging) and multiprocessing
    # cost the command line 45 ms, and a small or unchanged backup needs neither.
    from concurrent.futures import Future, ProcessPoolExecutor

    from envops_desktop.helper_lifeline import start_helper

    context = _process_context()
    share = WorkShare(context)
    # There each helper counts into `share`; on POSIX it also takes its priority, and ends
    # itself if this process is killed.
    with ProcessPoolExecutor(
        POOL_SIZE,
        mp_context=context,
        initializer=start_helper,
        initargs=(share, os.getpid(), _helper_niceness()),
    ) as pool:

        def submit(item: T, finished: Callable[[], None]) -> "Future[R]":
            future = pool.submit(run_counted, work, item)
            future.add_done_callback(lambda _future: finished())
            return future

        with stopped_on_error(share):
            yield from _in_order(submit, items, window, _told(waiting, share.under_way))


def _told(
    waiting: Callable[[int], None] | None, under_way: Callable[[], int]
) -> Callable[[], None]:
    """What `_in_order` calls while it waits: `waiting` told what is under way."""
    if waiting is None:
        return lambda: None
    return lambda: waiting(under_way())


class _Pending(Protocol[R_co]):
    """Work handed to a pool: a Future, or a task of the thread map."""

    def result(self) -> R_co: ...

    def cancel(self) -> object: ...

    def done(self) -> bool: ...


# How many windows of results may wait, done, behind one that is not: enough for the pool to
# work past a batch many times longer than the rest (a large file among small ones), while
# what waits stays bounded (a backup's batch gives a few tuples a file; a restore's, a count).
_HELD_PER_WINDOW = 4


# How often an operation waiting on its pool looks at how far the pool has come (and at
# whether it was cancelled), at most.
_LOOK_EVERY_SECONDS = 0.1


def _in_order(
    submit: Callable[[T, Callable[[], None]], _Pending[R]],
    items: Iterable[T],
    window: int,
    waiting: Callable[[], None],
) -> Iterator[R]:
    """Each item's result in order, with at most `window` items at work at once; `waiting`
    is called every `_LOOK_EVERY_SECONDS` while it waits for the pool.

    A slow item does not hold the others back: the pool goes on with later ones while its
    result is awaited, and theirs wait, up to `_HELD_PER_WINDOW` windows of them. Waiting
    for the first result before handing out more left a helper of a first backup of the
    400 MiB tree idle for 80-115 ms while its partner stored the tree's 50 MiB file.
    """
    free = threading.Semaphore(window)
    moved = threading.Event()  # an item finished
    pending: deque[_Pending[R]] = deque()
    most_held = window * _HELD_PER_WINDOW

    def finished() -> None:
        free.release()
        moved.set()

    def result_of_first() -> R:
        while not pending[0].done():
            moved.wait(_LOOK_EVERY_SECONDS)
            moved.clear()  # before `done()` is asked again, so no finish goes unseen
            waiting()
        return pending.popleft().result()

    try:
        for item in items:
            while pending and (pending[0].done() or len(pending) >= most_held):
                yield result_of_first()
            while not free.acquire(timeout=_LOOK_EVERY_SECONDS):
                waiting()
            pending.append(submit(item, finished))
        while pending:
            yield result_of_first()
    finally:
        for work in pending:
            work.cancel()


class _Task(Generic[T, R]):
    """One item of a thread map: run at most once, its result or error waited for in order."""

    def __init__(self, item: T, finished: Callable[[], None]) -> None:
        self.item = item
        self._finished = finished
        self._cancelled = False
        self._done = threading.Event()
        self._result: R | None = None
        self._error: BaseException | None = None

    def run(self, work: Callable[[T], R]) -> None:
        if not self._cancelled:
            try:
                self._result = work(self.item)
            except BaseException as error:  # handed to the caller by result()
                self._error = error
        self._done.set()
        self._finished()

    def cancel(self) -> None:
        self._cancelled = True  # a worker that has not started it yet skips it

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> R:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return cast(R, self._result)


class Background(Generic[R]):
    """`work()` on a thread of its own, from `start()` on; `result()` starts it if it was
    not started, waits for it and returns what it returned, or raises what it raised. Never
    started, it never runs: an operation that fails first leaves no thread behind."""

    def __init__(self, work: Callable[[], R], name: str) -> None:
        self._task: _Task[None, R] = _Task(None, lambda: None)
        self._thread = threading.Thread(
            target=self._task.run, args=(lambda _nothing: work(),), name=name, daemon=True
        )
        self._starting = threading.Lock()

    def start(self) -> None:
        with self._starting:
            if self._thread.ident is None:
                self._thread.start()

    def result(self) -> R:
        self.start()
        return self._task.result()


def _thread_map(
    work: Callable[[T], R],
    items: Iterable[T],
    name: str,
    window: int,
    waiting: Callable[[int], None] | None,
) -> Iterator[R]:
    # The same as a ThreadPoolExecutor, written out: importing concurrent.futures costs every
    # command that stores a few changed files 21 ms, 3 % of a 1 %-changed backup.
    tasks: queue.SimpleQueue[_Task[T, R] | None] = queue.SimpleQueue()
    share = ThreadShare()
    counted = functools.partial(run_counted, work)

    def worker() -> None:
        join(share)
        while (task := tasks.get()) is not None:
            task.run(counted)

    def submit(item: T, finished: Callable[[], None]) -> _Task[T, R]:
        task: _Task[T, R] = _Task(item, finished)
        tasks.put(task)
        return task

    threads = [
        threading.Thread(target=worker, name=f"{name}-{number}", daemon=True)
        for number in range(POOL_SIZE)
    ]
    for thread in threads:
        thread.start()
    try:
        with stopped_on_error(share):  # before the threads are waited for
            yield from _in_order(submit, items, window, _told(waiting, share.under_way))
    finally:
        for _ in threads:
            tasks.put(None)
        for thread in threads:
            thread.join()


def run_in_batches(
    work: Callable[[list[J]], R],
    items: Iterable[T],
    load: int,
    job: Callable[[T], J],
    size_of: Callable[[T], int],
    name: str,
    cancel: CancelToken,
    under_way: Callable[[int, T], None],
    durable: bool = True,
) -> Iterator[tuple[list[T], R]]:
    """Run `work` on batches of the items' jobs; yield each batch with its result, in order.

    The items are taken as the pool has room for them, so they may be produced on the way
    (a restore's manifest is read while its files are written). Big work (`load`, its
    `workload`) runs in helper processes; when what it writes must reach the disk
    (`durable`), it is flushed in the background meanwhile. While it waits for a batch,
    `under_way` is told the bytes its helpers have done of the batches not yet yielded and
    the last item of the first of them (what a progress bar names), and a cancel is seen
    at once, the helpers stopping at their next chunk.
    """
    big = worth_processes(load)
    # Helpers' batches are larger and fewer of them wait, so that as many files are in flight
    # either way (and held in memory: a restore's jobs name their files' metadata).
    max_items, per_worker = (ITEMS_A_HELPERS_BATCH, 2) if big else (ITEMS_A_BATCH, 8)
    in_flight: deque[list[T]] = deque()

    def jobs() -> Iterator[list[J]]:
        for batch in batched_by_size(items, size_of, max_items=max_items):
            in_flight.append(batch)
            yield [job(item) for item in batch]

    def waiting(done: int) -> None:
        cancel.raise_if_cancelled()
        if done and in_flight:
            under_way(done, in_flight[0][-1])

    with flushing_in_background(enabled=big and durable):
        for result in parallel_map(work, jobs(), name, per_worker, processes=big, waiting=waiting):
            cancel.raise_if_cancelled()
            yield in_flight.popleft(), result


def batched_by_size(
    items: Iterable[T],
    size_of: Callable[[T], int],
    max_bytes: int = 8 << 20,
    max_items: int = ITEMS_A_BATCH,
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
