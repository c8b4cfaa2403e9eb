"""Connecting a data folder to a team's shared store in an S3-compatible bucket.

The bucket holds `config` (the store's id, sealed with its master key) and `keys/<id>` (the
master key, wrapped by a passphrase; one per passphrase). Connecting proves first that the
server refuses a second create-only write and a write on a stale ETag: the environment locks
are built on those refusals, and a server that ignored them would let two workstations
restore one environment at once.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from envops_desktop.domain.errors import (
    EnvOpsError,
    InvalidInputError,
    OperationFailedError,
    WrongPassphraseError,
)
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.shared_store import SharedStoreSettings
from envops_desktop.service.context import SHARED_STORE_SETTINGS
from envops_desktop.store.bucket_objects import (
    BucketObjects,
    ObjectExistsError,
    StaleObjectError,
)
from envops_desktop.store.leases import LEASE_SECONDS
from envops_desktop.store.sealing import (
    MasterKey,
    WrappedKey,
    unwrap,
    wrap,
)

SETTINGS_NAME = SHARED_STORE_SETTINGS
STORE_FORMAT = 1
_CONFIG_CONTEXT = b"config"


class UnsafeStoreError(OperationFailedError):
    """The server does not enforce conditional writes, so no lock there would hold."""


@dataclass(frozen=True)
class StoreCheck:
    """What `check_conditional_writes` found, in the order it tried."""

    where: str
    create_only_refused: bool
    stale_etag_refused: bool

    @property
    def safe(self) -> bool:
        return self.create_only_refused and self.stale_etag_refused


@dataclass(frozen=True)
class OpenedStore:
    """A shared store unlocked on this workstation."""

    settings: SharedStoreSettings
    objects: BucketObjects
    key: MasterKey
    created: bool  # this workstation made the store just now
    # How long a lock outlives a holder that stopped renewing it, by the server's clock: the
    # store's, so that every workstation judges every lock alike.
    lease_seconds: float = LEASE_SECONDS


def objects_of(settings: SharedStoreSettings) -> BucketObjects:
    return BucketObjects(settings.bucket, settings.prefix, settings.endpoint, settings.region)


def check_conditional_writes(objects: BucketObjects) -> StoreCheck:
    """Write a probe twice with If-None-Match: * and once on a stale ETag; both later writes
    must be refused. The probe is removed afterwards."""
    probe = f"probes/{new_id()}"
    objects.put(probe, b"probe", create_only=True)
    try:
        try:
            objects.put(probe, b"second", create_only=True)
            create_only_refused = False
        except ObjectExistsError:
            create_only_refused = True
        try:
            objects.put(probe, b"third", if_match='"00000000000000000000000000000000"')
            stale_refused = False
        except StaleObjectError:
            stale_refused = True
    finally:
        objects.delete(probe)
    return StoreCheck(objects.where, create_only_refused, stale_refused)


def prove_conditional_writes(objects: BucketObjects) -> StoreCheck:
    """`check_conditional_writes`, refusing a server that does not enforce them."""
    check = check_conditional_writes(objects)
    if not check.safe:
        ignored = "If-None-Match" if not check.create_only_refused else "If-Match"
        raise UnsafeStoreError(
            f"{check.where} ignores {ignored} on writes, so a lock there would always succeed "
            "and two workstations could restore one environment at once; EnvOps will not "
            "share a store on it."
        )
    return check


def open_store(
    settings: SharedStoreSettings,
    passphrase: str,
    created_by: str,
    create: bool = True,
    lease_seconds: float = LEASE_SECONDS,
) -> OpenedStore:
    """Unlock the store in the bucket with `passphrase`; with `create`, check the server
    first and make the store there when the prefix holds none, its locks leased for
    `lease_seconds`. (A store already connected
    was checked when it was; `envops store check` checks it again, at a cost of four
    requests that every sync and restore need not pay.)"""
    if not passphrase:
        raise InvalidInputError("A shared store needs a passphrase.")
    objects = objects_of(settings)
    if create:
        prove_conditional_writes(objects)
    created = False
    if objects.head("config") is None:
        if not create:
            raise OperationFailedError(f"There is no EnvOps store in {objects.where}.")
        created = _create(objects, passphrase, created_by, lease_seconds)
    key = _unlock(objects, passphrase)
    config = json.loads(key.open(objects.get("config").data or b"", _CONFIG_CONTEXT))
    if config.get("format") != STORE_FORMAT:
        raise OperationFailedError(
            f"The store in {objects.where} is of format {config.get('format')}; this EnvOps "
            f"reads format {STORE_FORMAT}. Update EnvOps."
        )
    opened = settings.model_copy(update={"store_id": config["store_id"]})
    seconds = float(config.get("lease_seconds", LEASE_SECONDS))
    return OpenedStore(opened, objects, key, created, seconds)


def _create(objects: BucketObjects, passphrase: str, created_by: str, lease_seconds: float) -> bool:
    """Make a store at the prefix; False when another workstation made one meanwhile."""
    master = MasterKey.new()
    key_name = f"keys/{new_id()}"
    objects.put(
        key_name,
        wrap(master, passphrase, created_by).model_dump_json().encode(),
        create_only=True,
    )
    config = {
        "format": STORE_FORMAT,
        "store_id": new_id(),
        "created_by": created_by,
        "lease_seconds": lease_seconds,
    }
    try:
        objects.put(
            "config", master.seal(json.dumps(config).encode(), _CONFIG_CONTEXT), create_only=True
        )
    except ObjectExistsError:
        objects.delete(key_name)  # the other store's keys unlock it, not this one
        return False
    return True


def _unlock(objects: BucketObjects, passphrase: str) -> MasterKey:
    damaged = []
    for name in objects.keys("keys/"):
        try:
            return unwrap(WrappedKey.model_validate_json(objects.get(name).data or b""), passphrase)
        except WrongPassphraseError:
            continue
        except ValueError:  # not a key's JSON (or its base64 cut short): a bare traceback
            damaged.append(name)
    said = f"The passphrase does not unlock the store in {objects.where}."
    if damaged:  # the one it would have unlocked, perhaps
        are = "is" if len(damaged) == 1 else "are"
        said += f" {', '.join(damaged)} there {are} damaged, and could not be tried."
    raise WrongPassphraseError(said)


def load_settings(data_dir: Path) -> SharedStoreSettings | None:
    """The data folder's shared store, or None when it uses only its own folder."""
    path = data_dir / SETTINGS_NAME
    try:
        return SharedStoreSettings.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise EnvOpsError(f"{path} is damaged ({error}); run envops store use again.") from error


def save_settings(data_dir: Path, settings: SharedStoreSettings) -> None:
    """Keep `settings` in the data folder, replaced whole or not at all."""
    path = data_dir / SETTINGS_NAME
    partial = path.with_name(path.name + ".part")
    partial.write_text(settings.model_dump_json(indent=1))
    os.replace(partial, path)
