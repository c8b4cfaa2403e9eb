"""One operation per environment across workstations: a lock object with a lease, timed by
the server's clock."""

import time

import pytest

from envops_desktop.domain.errors import EnvironmentBusyError
from envops_desktop.store import leases
from envops_desktop.store.bucket_objects import BucketObjects
from envops_desktop.store.leases import Holder, KeptLease, LeaseLostError
from envops_desktop.store.sealing import MasterKey

ALICE = Holder("alice", "ops-laptop", 4242, "restored")
BOB = Holder("bob", "ops-desktop", 1717, "restored")


@pytest.fixture
def store(bucket, s3_endpoint):
    """Two workstations' views of one store: same bucket and key, separate clients."""
    key = MasterKey.new()
    return (
        (BucketObjects(bucket, "team", s3_endpoint), key),
        (BucketObjects(bucket, "team", s3_endpoint), key),
    )


def test_a_second_workstation_is_told_who_holds_the_environment(store):
    (a, key), (b, _) = store
    lease = leases.acquire(a, key, "locks/env1", "billing", ALICE)
    with pytest.raises(EnvironmentBusyError) as busy:
        leases.acquire(b, key, "locks/env1", "billing", BOB)
    since = lease.since.astimezone()
    assert str(busy.value) == (
        f"billing is being restored by alice@ops-laptop since {since:%H:%M}."
    )
    assert busy.value.exit_code == 4
    leases.release(a, lease)
    leases.release(b, leases.acquire(b, key, "locks/env1", "billing", BOB))


def test_a_lease_whose_holder_died_is_taken_over_once_it_lapses_by_the_servers_clock(store):
    (a, key), (b, _) = store
    dead = leases.acquire(a, key, "locks/env1", "billing", ALICE, seconds=2)  # never renewed
    with pytest.raises(EnvironmentBusyError):
        leases.acquire(b, key, "locks/env1", "billing", BOB, seconds=2)
    deadline = time.monotonic() + 30
    while True:
        try:
            taken = leases.acquire(b, key, "locks/env1", "billing", BOB, seconds=30)
            break
        except EnvironmentBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.25)
    assert taken.since >= dead.since
    # The one that died comes back: it must find it lost the lock, before any step.
    with pytest.raises(LeaseLostError):
        leases.check(a, dead)
    with pytest.raises(LeaseLostError):
        leases.renew(a, key, dead)
    leases.release(a, dead)  # not its lock any more: left alone
    leases.check(b, taken)
    leases.release(b, taken)


def test_a_kept_lease_outlives_its_seconds_and_is_released_at_the_end(store):
    (a, key), (b, _) = store
    lease = leases.acquire(a, key, "locks/env1", "billing", ALICE, seconds=2)
    with KeptLease(a, key, lease) as kept:
        time.sleep(3.5)  # longer than the lease: only renewals keep it
        kept.check()
        with pytest.raises(EnvironmentBusyError):
            leases.acquire(b, key, "locks/env1", "billing", BOB)
    leases.release(b, leases.acquire(b, key, "locks/env1", "billing", BOB))


def test_a_holder_whose_renewals_fail_is_stopped_by_its_fencing_check(store):
    (a, key), (b, _) = store
    lease = leases.acquire(a, key, "locks/env1", "billing", ALICE, seconds=2)
    with KeptLease(a, key, lease) as kept:
        # Another workstation overwrites the lock (as one taking over a lapsed lease does).
        current = b.head("locks/env1")
        b.put("locks/env1", key.seal(b"{}", b"lock"), if_match=current.etag)
        deadline = time.monotonic() + 30
        with pytest.raises(LeaseLostError):
            while time.monotonic() < deadline:
                kept.check()
                time.sleep(0.1)


def test_a_lock_object_is_sealed(store, bucket, s3_endpoint):
    (a, key), _ = store
    lease = leases.acquire(a, key, "locks/env1", "billing", ALICE)
    data = a.get("locks/env1").data
    assert b"alice" not in data and b"ops-laptop" not in data
    leases.release(a, lease)


def test_a_holder_checking_while_its_lease_is_renewed_keeps_it(store):
    # A check that read the lease's ETag just before a renewal changed it once mistook the
    # renewal for a takeover, and a collection stopped "because another workstation took
    # the lock over" when none had.
    (a, key), _ = store
    lease = leases.acquire(a, key, "locks/env1", "billing", ALICE, seconds=1.5)
    with KeptLease(a, key, lease) as kept:
        deadline = time.monotonic() + 4
        renewed: set[str] = set()  # each renewal gives the lock a new ETag
        while time.monotonic() < deadline:
            kept.check()
            renewed.add(kept.lease.etag)
    assert len(renewed) >= 6
