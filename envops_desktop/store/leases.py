"""One operation per environment across workstations: a lock object held by a lease.

An environment's lock is `locks/<environment id>` in the bucket (`locks/store` is the store's
own, which garbage collection takes; `running/<id>` registers a running backup), created only
if absent (If-None-Match: *) and renewed only if unchanged (If-Match on its ETag), so two
workstations can never both believe they hold it. Every time is the server's: a lease runs
from the lock's Last-Modified for its stated seconds and is judged expired against the `Date`
of the server's own answer, never against a workstation's clock, which may be minutes off.

A holder that cannot renew (the server is unreachable, or another took the lock over after
it expired) must not take its next irreversible step: `check` is its fencing token, called
right before the swap and before the journal's commit.
"""

import contextlib
import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from envops_desktop.domain.errors import EnvironmentBusyError, OperationFailedError
from envops_desktop.store.bucket_objects import (
    BucketObjects,
    ObjectExistsError,
    ObjectMissingError,
    StaleObjectError,
    Written,
)
from envops_desktop.store.sealing import MasterKey

LEASE_SECONDS = 60.0
_CONTEXT = b"lock"


class LeaseLostError(OperationFailedError):
    """This workstation no longer holds the environment's lock: it must stop, changing nothing."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as another workstation is told it."""

    user: str
    host: str
    pid: int
    doing: str  # "restored", "backed up": "billing is being restored by …"


@dataclass(frozen=True)
class Lease:
    """A lock this process holds, as of its last write."""

    name: str  # the lock's object in the bucket
    label: str  # what it locks, in words: "billing", "the shared store"
    holder: Holder
    etag: str
    since: datetime  # the server's time when it was first taken
    expires: datetime  # the server's time when it lapses unless renewed
    seconds: float = LEASE_SECONDS


def lock_name(environment_id: str) -> str:
    """The object that is an environment's lock."""
    return f"locks/{environment_id}"


def _body(key: MasterKey, holder: Holder, since: datetime | None, seconds: float) -> bytes:
    # `since` is unknown at the first write (the server's time comes with its answer): a
    # reader then takes the lock's Last-Modified, which that write set.
    document = {
        "user": holder.user,
        "host": holder.host,
        "pid": holder.pid,
        "doing": holder.doing,
        "since": since.isoformat() if since else None,
        "seconds": seconds,
    }
    return key.seal(json.dumps(document).encode(), _CONTEXT)


def acquire(
    objects: BucketObjects,
    key: MasterKey,
    name: str,
    label: str,
    holder: Holder,
    seconds: float = LEASE_SECONDS,
) -> Lease:
    """Take the lock `name`, or raise EnvironmentBusyError naming who holds `label`.

    A lock whose lease lapsed (its holder died, or lost the server) is taken over, again
    conditionally: of two workstations taking over at once, one wins.
    """
    try:
        written = objects.put(name, _body(key, holder, None, seconds), create_only=True)
        return _lease(name, label, holder, written, seconds)
    except ObjectExistsError:
        pass
    current = read_lock(objects, key, name)
    if current is None:  # released meanwhile
        return acquire(objects, key, name, label, holder, seconds)
    if current.server_time < current.lapses:
        held = current.holder
        raise EnvironmentBusyError(
            f"{label} is being {held.doing} by {held.user}@{held.host} "
            f"since {current.since.astimezone():%H:%M}."
        )
    try:
        written = objects.put(
            name,
            _body(key, holder, current.server_time, seconds),
            if_match=current.etag,
        )
    except StaleObjectError:
        raise EnvironmentBusyError(
            f"{label} was just taken by another workstation; try again shortly."
        ) from None
    return _lease(name, label, holder, written, seconds)


@dataclass(frozen=True)
class HeldLock:
    """A lock as another process reads it."""

    holder: Holder
    since: datetime  # the server's time when it was first taken
    lapses: datetime  # the server's time when it lapses unless renewed
    server_time: datetime  # the server's time when it was read
    etag: str

    @property
    def lapsed(self) -> bool:
        return self.server_time >= self.lapses


def read_lock(objects: BucketObjects, key: MasterKey, name: str) -> HeldLock | None:
    """The lock `name` as it is now, or None when nobody holds it."""
    try:
        current = objects.get(name)
    except ObjectMissingError:
        return None
    held = json.loads(key.open(current.data or b"", _CONTEXT))
    since = datetime.fromisoformat(held["since"]) if held["since"] else current.last_modified
    return HeldLock(
        Holder(held["user"], held["host"], int(held["pid"]), held["doing"]),
        since,
        current.last_modified + timedelta(seconds=float(held["seconds"])),
        current.server_time,
        current.etag,
    )


def _lease(name: str, label: str, holder: Holder, written: Written, seconds: float) -> Lease:
    return Lease(
        name,
        label,
        holder,
        written.etag,
        written.server_time,
        written.server_time + timedelta(seconds=seconds),
        seconds,
    )


def renew(objects: BucketObjects, key: MasterKey, lease: Lease) -> Lease:
    """The lease extended from now (the server's now); LeaseLostError if it was taken."""
    try:
        written = objects.put(
            lease.name,
            _body(key, lease.holder, lease.since, lease.seconds),
            if_match=lease.etag,
        )
    except StaleObjectError:
        raise LeaseLostError(_taken_over(lease)) from None
    return replace(
        lease, etag=written.etag, expires=written.server_time + timedelta(seconds=lease.seconds)
    )


def check(objects: BucketObjects, lease: Lease) -> None:
    """The fencing token: raise LeaseLostError unless the lock is still this lease's, and not
    lapsed by the server's clock."""
    current = objects.head(lease.name)
    if current is None or current.etag != lease.etag:
        raise LeaseLostError(_taken_over(lease))
    if current.server_time >= current.last_modified + timedelta(seconds=lease.seconds):
        raise LeaseLostError(
            f"This workstation's lock on {lease.label} lapsed (the store could not be reached "
            "to renew it); nothing more was changed."
        )


def _taken_over(lease: Lease) -> str:
    return f"Another workstation took the lock on {lease.label} over; nothing more was changed."


def release(objects: BucketObjects, lease: Lease) -> None:
    """Give the lock up, if it is still this lease's."""
    current = objects.head(lease.name)
    if current is not None and current.etag == lease.etag:
        objects.delete(lease.name)


@dataclass
class KeptLease:
    """A lease renewed on a thread of its own every third of its time, until released.

    `check()` raises LeaseLostError once a renewal failed or the lease lapsed: the holder
    calls it before each irreversible step.
    """

    objects: BucketObjects
    key: MasterKey
    lease: Lease
    _stop: threading.Event = field(default_factory=threading.Event)
    # A check reads the lease's ETag and then the server's: a renewal between the two would
    # look like a takeover, so the two never overlap.
    _turn: threading.Lock = field(default_factory=threading.Lock)
    _lost: BaseException | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> "KeptLease":
        self._thread = threading.Thread(
            target=self._keep, name=f"lease-{self.lease.name}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._lost is None:
            # Unreachable now: the lease lapses on its own.
            with contextlib.suppress(OperationFailedError):
                release(self.objects, self.lease)

    def _keep(self) -> None:
        while not self._stop.wait(self.lease.seconds / 3):
            with self._turn:
                try:
                    self.lease = renew(self.objects, self.key, self.lease)
                except OperationFailedError as error:  # lost, or the server is unreachable
                    self._lost = error
                    return

    def check(self) -> None:
        """Raise LeaseLostError unless this process still holds the lock, by the server."""
        with self._turn:
            if self._lost is not None:
                raise LeaseLostError(
                    f"This workstation lost its lock on {self.lease.label} ({self._lost}); "
                    "nothing more was changed."
                )
            check(self.objects, self.lease)
