"""One operation per environment across the workstations that share a store.

An environment shared in a bucket may be one folder that several workstations reach (a
share path): its lock lives in the bucket (`store/leases.py`) as well as on this machine.
The lease is renewed while the operation runs, and its check is the operation's fencing
token, called right before the swap and before the journal's commit: a workstation that
lost its lease stops there, changing nothing more.
"""

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.models import Environment
from envops_desktop.service.context import ServiceContext

if TYPE_CHECKING:  # the shared store's modules load only where one is used
    from envops_desktop.service.shared_store import OpenedStore

Fence = Callable[[], None]


@contextlib.contextmanager
def team_lock(
    ctx: ServiceContext, opened: "OpenedStore | None", env: Environment, doing: str
) -> Iterator[Fence | None]:
    """Hold `env`'s lock in the shared store for the block, if it is shared; yields the
    fencing check (None for an environment that is this workstation's alone)."""
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
        yield kept.check
