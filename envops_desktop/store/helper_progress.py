"""How far the helpers of an operation (its helper processes, or its pool's threads) have
come through the work they were handed, shared with the operation as they go, and the
operation's word to stop.

A helper handed back a batch's result only once the whole batch was done, and the
operation counted its progress from those results alone: the backup or restore of a single
8 GiB disk image showed 0 % for the seconds it took (minutes for 200 GiB), and its Cancel
waited for the file to end. The loops that read or write a large content count each chunk
here (`advanced`); the operation reads the sum while it waits (`under_way`) and asks its
helpers to stop (`stop`), which they do at their next chunk.
"""

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar

from envops_desktop.domain.errors import OperationCancelledError
from envops_desktop.domain.progress import CancelToken, ProgressMeter

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

J = TypeVar("J")
R = TypeVar("R")


class Share(Protocol):
    """What the helpers of one operation count into, and look at to know whether to stop."""

    @property
    def stopped(self) -> bool: ...

    def add(self, nbytes: int) -> None: ...


class WorkShare:
    """Made by an operation for its helper processes, and handed to each as it starts
    (`join`): the bytes they have counted of the work they have not handed back, and
    whether to stop."""

    def __init__(self, context: "BaseContext") -> None:
        self._counted = context.Value("q", 0)  # one lock for the helpers that add to it
        self._stop = context.RawValue("b", 0)  # one writer: the operation

    def under_way(self) -> int:
        """The bytes the helpers have counted so far of the batches they are working on."""
        return int(self._counted.get_obj().value)  # a read needs no lock

    def stop(self) -> None:
        """Ask the helpers to stop: each raises OperationCancelledError at its next chunk."""
        self._stop.value = 1

    @property
    def stopped(self) -> bool:
        return bool(self._stop.value)

    def add(self, nbytes: int) -> None:
        with self._counted.get_lock():
            self._counted.value += nbytes


class ThreadShare:
    """A WorkShare for work on threads of this process. With `cancel`, it is stopped when
    that is; with `told`, each new count is handed to it at once as well, for work on the
    operation's own thread (a check of the store), which nothing waits on to look."""

    def __init__(
        self, cancel: CancelToken | None = None, told: Callable[[int], None] | None = None
    ) -> None:
        self._counted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cancel = cancel
        self._told = told

    def under_way(self) -> int:
        return self._counted

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or (self._cancel is not None and self._cancel.cancelled)

    def add(self, nbytes: int) -> None:
        with self._lock:
            self._counted += nbytes
            counted = self._counted
        if self._told is not None:
            self._told(counted)


class _Joined(threading.local):
    """The share this thread counts into, if any, and what it has counted of its work."""

    share: Share | None = None
    counted = 0


_joined = _Joined()


def join(share: Share) -> None:
    """In a helper (a helper process's thread, a pool's), as it starts: count into `share`
    from now on, and stop when it says."""
    _joined.share = share


@contextlib.contextmanager
def joined(share: Share) -> Iterator[None]:
    """This thread's work counted into `share` for the block, apart from what it counts
    before and after."""
    before = _joined.share, _joined.counted
    _joined.share, _joined.counted = share, 0
    try:
        yield
    finally:
        _joined.share, _joined.counted = before


def shown_on(
    meter: ProgressMeter, cancel: CancelToken | None, path: str = ""
) -> contextlib.AbstractContextManager[None]:
    """`joined` to a share that shows this thread's work on `meter` at once, as under way
    in `path`, and stops when `cancel` is set: for a large content read on the operation's
    own thread (Verify, a fetch from the team's store), which nothing waits on to look."""
    return joined(ThreadShare(cancel, functools.partial(meter.ahead, path=path)))


def advanced(nbytes: int) -> None:
    """`nbytes` more of a large content read or written; in a helper whose operation asked it
    to stop, raise OperationCancelledError instead. In a thread that joined no share (an
    operation's own), nothing: the operation counts that work as it ends."""
    share = _joined.share
    if share is None:
        return
    if share.stopped:
        raise OperationCancelledError()
    _joined.counted += nbytes
    share.add(nbytes)


def run_counted(work: Callable[[J], R], item: J) -> R:
    """In a helper: `work(item)`, unless its operation asked it to stop; what it counted is
    taken back as it ends, since from then on its result counts it."""
    share = _joined.share
    if share is None:
        return work(item)
    if share.stopped:
        raise OperationCancelledError()
    try:
        return work(item)
    finally:
        if _joined.counted:
            share.add(-_joined.counted)
            _joined.counted = 0


@contextlib.contextmanager
def stopped_on_error(share: "WorkShare | ThreadShare") -> Iterator[None]:
    """Stop the helpers counting into `share` if the block fails, before whatever waits for
    them: each stops at its next chunk instead of finishing its batch (a cancelled restore
    of a 200 GiB image waited minutes)."""
    try:
        yield
    except BaseException:
        share.stop()
        raise
