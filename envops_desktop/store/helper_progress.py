"""How far the helper processes of an operation have come through the batches they work
on, shared with the operation as they go, and the operation's word to stop.

A helper hands back a batch's result only once the whole batch is done, and the operation
counted its progress from those results alone: the backup or restore of a single 8 GiB disk
image showed 0 % for the seconds it took (minutes for 200 GiB), and its Cancel waited for the
file to end. The loops that read or write a large content count each chunk here
(`advanced`); the operation reads the sum while it waits (`WorkShare.under_way`) and asks its
helpers to stop (`WorkShare.stop`), which they do at their next chunk.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from envops_desktop.domain.errors import OperationCancelledError

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

J = TypeVar("J")
R = TypeVar("R")


class WorkShare:
    """Made by an operation for its helpers, and handed to each as it starts (`join`): the
    bytes they have counted of the batches they have not handed back, and whether to stop."""

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


class _Helper:
    """This process's part, when it is a helper of an operation."""

    share: WorkShare | None = None
    counted = 0  # bytes counted of the batch it is working on


def join(share: WorkShare) -> None:
    """In a helper, as it starts: count into `share` from now on, and stop when it says."""
    _Helper.share = share


def advanced(nbytes: int) -> None:
    """`nbytes` more of a large content read or written; in a helper whose operation asked it
    to stop, raise OperationCancelledError instead. Elsewhere (the operation's own process,
    its threads), nothing: the operation counts that work as it ends."""
    share = _Helper.share
    if share is None:
        return
    if share.stopped:
        raise OperationCancelledError()
    _Helper.counted += nbytes
    share.add(nbytes)


def run_batch(work: Callable[[J], R], batch: J) -> R:
    """In a helper: `work(batch)`, unless its operation asked it to stop; what it counted is
    taken back as it ends, since from then on the batch's result counts it."""
    share = _Helper.share
    if share is not None and share.stopped:
        raise OperationCancelledError()
    try:
        return work(batch)
    finally:
        if share is not None and _Helper.counted:
            share.add(-_Helper.counted)
            _Helper.counted = 0
