"""One operation per environment across the workstations that share a store.

An environment shared in a bucket may be one folder that several workstations reach (a
share path): its lock lives in the bucket (`store/leases.py`) as well as on this machine.
The lease is renewed while the operation runs, and its check is the operation's fencing
token, called right before the swap and before the journal's commit: a workstation that
lost its lease stops there, changing nothing more.

Each restore that reaches its swap first claims the environment's next generation in the
bucket, `generations/<shared id>/<n>-<restore id>`, created only if absent, and journals
it. A workstation killed after its swap recovers only if no later generation exists: one
that does means another workstation took the lock over and restored the folder since, and
rolling back or forward would undo that newer restore (`recovery.py`).

A scheduled backup of a shared environment is taken by one workstation per slot: each
follows the team's schedule from the time the store took it (`sharing.py`), so all compute
the same slots, and the first to create the slot's object in the bucket backs it up.
"""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.models import Environment
from envops_desktop.service.context import ServiceContext

if TYPE_CHECKING:  # the shared store's modules load only where one is used
    from envops_desktop.service.shared_store import OpenedStore
    from envops_desktop.store.bucket_objects import BucketObjects
    from envops_desktop.store.leases import KeptLease


@dataclass
class TeamLock:
    """A shared environment's lock in the store, held for one restore."""

    objects: "BucketObjects"
    shared_id: str
    kept: "KeptLease"

    def check(self) -> None:
        """The fencing token: raise LeaseLostError unless this workstation still holds it."""
        self.kept.check()

    def claim_generation(self, restore_id: str) -> str:
        """Claim the environment's next generation for the restore about to swap; the name
        of the object claimed, for the journal."""
        from envops_desktop.store.bucket_objects import ObjectExistsError
        from envops_desktop.store.leases import LeaseLostError

        self.check()
        latest = generations(self.objects, self.shared_id)
        number = generation_number(latest[-1]) + 1 if latest else 1
        name = f"{_prefix(self.shared_id)}{number:010d}-{restore_id}"
        try:
            self.objects.put(name, b"", create_only=True)
        except ObjectExistsError:  # only a holder of the lock claims, so it was taken over
            raise LeaseLostError(
                "Another workstation restored this environment meanwhile; nothing more was changed."
            ) from None
        return name


def _prefix(shared_id: str) -> str:
    return f"generations/{shared_id}/"


def generation_number(name: str) -> int:
    """The number in a generation's name."""
    return int(name.rsplit("/", 1)[1].split("-")[0])


def generations(objects: "BucketObjects", shared_id: str) -> list[str]:
    """The environment's generations in the store, oldest first (their names sort so)."""
    return sorted(objects.keys(_prefix(shared_id)))


def later_generations(objects: "BucketObjects", claimed: str) -> list[str]:
    """The generations claimed after `claimed`: restores by other workstations since."""
    shared_id = claimed.split("/")[1]
    return [name for name in generations(objects, shared_id) if name > claimed]


@contextlib.contextmanager
def team_lock(
    ctx: ServiceContext, opened: "OpenedStore | None", env: Environment, doing: str
) -> Iterator[TeamLock | None]:
    """Hold `env`'s lock in the shared store for the block, if it is shared (None for an
    environment that is this workstation's alone)."""
    shared_id = ctx.shared.shared_id(env.id)
    if shared_id is None:
        yield None
        return
    from envops_desktop.service.shared_store import load_settings
    from envops_desktop.store import leases

    if load_settings(ctx.data_dir) is None:  # the store was let go of
        yield None
        return
    if opened is None:
        raise InvalidInputError(
            f"{env.name} is shared with your team, and its lock is in the shared store, which "
            "needs its passphrase: sync with the team first (File → Sync with team), or set "
            "ENVOPS_PASSPHRASE or pass --passphrase-file to envops."
        )
    user, _, host = ctx.user_at_host.partition("@")
    holder = leases.Holder(user, host, os.getpid(), doing)
    lease = leases.acquire(
        opened.objects,
        opened.key,
        leases.lock_name(shared_id),
        env.name,
        holder,
        opened.lease_seconds,
    )
    with leases.KeptLease(opened.objects, opened.key, lease) as kept:
        yield TeamLock(opened.objects, shared_id, kept)


def claim_slot(opened: "OpenedStore", shared_id: str, slot: datetime, by: str) -> str | None:
    """Claim the environment `shared_id`'s scheduled slot at `slot` for this workstation
    (`by`, user@host): None when it is this one's now, else who took it first."""
    from envops_desktop.service.shared_layout import SLOT, as_json, read_sealed
    from envops_desktop.store.bucket_objects import ObjectExistsError

    # Named by a keyed hash: the bucket says nothing of when environments are backed up.
    name = "slots/" + opened.key.address(f"{shared_id} {slot.astimezone(UTC):%Y%m%dT%H%M}".encode())
    try:
        opened.objects.put(name, opened.key.seal(as_json({"by": by}), SLOT), create_only=True)
    except ObjectExistsError:
        return str(read_sealed(opened.objects, opened.key, name, SLOT)["by"])
    return None
