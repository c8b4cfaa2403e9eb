"""Two workstations sharing one store back up, sync, delete, recover, pin and restore in a
random order: once each has synced twice, they hold the same backups with the same pins,
every backup restores on either as its tree was when it was taken, and both stores are
whole.

Seeded, so a failure names the seed that makes it again; rsync, comparing contents, is the
judge. A backup from the other workstation restores as untrusted (no owners, special bits
or security attributes), so there only its names, links and contents are compared.
"""

import random

import pytest

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.service import EnvOpsService
from tests.reliability.test_random_edits import (
    devices_excluded,
    edit_at_random,
    small_tree_of_every_kind,
)
from tests.trees import needs_rsync, rsync_differences, snapshot

pytestmark = [pytest.mark.reliability, needs_rsync]

PASSPHRASE = "one team, one passphrase"
_STEPS = ["edit", "backup", "backup", "sync", "sync", "delete", "recover", "pin", "restore"]


def _differences(snap, folder, trusted: bool) -> list[str]:
    devices = devices_excluded(snap, folder)
    if trusted:
        return rsync_differences(snap, folder, "--delete", "-c", *devices)
    # Names, kinds, links and contents only: -aHAX without modes, owners, times, ACLs or
    # xattrs.
    untrusted = ["--no-p", "--no-o", "--no-g", "--no-t", "--no-A", "--no-X"]
    return rsync_differences(snap, folder, "--delete", "-c", *untrusted, *devices)


@pytest.mark.parametrize("seed", range(4))
def test_two_workstations_in_a_random_order_agree_on_every_backup(
    bucket, s3_endpoint, tmp_path, seed
):
    rng = random.Random(seed)
    stations: dict[str, EnvOpsService] = {}
    trees = {}
    for name in "ab":
        service = stations[name] = EnvOpsService(tmp_path / name)
        service.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
        service.unlock_shared_store(PASSPHRASE)  # restores of the other's backups fetch
        trees[name] = small_tree_of_every_kind(tmp_path / f"on-{name}" / "mail")
        service.add_environment("mail", trees[name], version="1.0")
    snaps, story = {}, []
    try:
        for step in range(18):
            name = rng.choice("ab")
            service, tree = stations[name], trees[name]
            op = rng.choice(_STEPS)
            live = [b.id for b in service.list_backups("mail")]
            deleted = [b.id for b in service.deleted_backups("mail")]
            story.append(f"{name}:{op}")
            if op == "edit":
                story.append(edit_at_random(tree, rng, rng.randint(1, 3)))
            elif op == "backup":
                backup = service.create_backup("mail")
                snaps[backup.id] = snapshot(tree, tmp_path / f"snap{step}")
            elif op == "sync":
                service.sync_shared_store(PASSPHRASE)
            elif op == "delete" and live:
                service.delete_backup(rng.choice(live))
            elif op == "recover" and deleted:
                try:
                    service.recover_backup(rng.choice(deleted))
                except InvalidInputError as refused:  # the team was told: it stands
                    assert "deleted for the whole team" in str(refused), story
            elif op == "pin" and live:
                chosen = service.get_backup(rng.choice(live))
                service.pin_backup(chosen.id, not chosen.pinned)
            elif op == "restore" and live:
                chosen = service.get_backup(rng.choice(live))
                service.restore_backup("mail", chosen.id)
                trusted = chosen.made_on is None
                assert _differences(snaps[chosen.id], tree, trusted) == [], story
        for name in "abab":
            stations[name].sync_shared_store(PASSPHRASE)

        held = {
            name: {b.id: b.pinned for b in service.list_backups("mail")}
            for name, service in stations.items()
        }
        shared = set(held["a"]) & set(held["b"])
        # A backup made here and deleted before any sync never reached the store; every
        # other one is on both, pinned alike.
        for name, service in stations.items():
            for backup_id in set(held[name]) - shared:
                assert service.get_backup(backup_id).made_on is None, story
        assert {i: held["a"][i] for i in shared} == {i: held["b"][i] for i in shared}, story
        for name, service in stations.items():
            for backup_id in held[name]:
                out = tmp_path / f"out-{name}-{backup_id}"
                service.restore_to_folder(backup_id, out)
                trusted = service.get_backup(backup_id).made_on is None
                assert _differences(snaps[backup_id], out, trusted) == [], (story, name)
            assert service.check_store().healthy, (story, name)
    finally:
        for service in stations.values():
            service.close()
