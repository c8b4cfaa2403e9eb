"""Two workstations sharing one store back up, sync, delete, recover, pin, restore (with a
backup first or not, refused at another version), export a backup and import it on the
other, apply retention, empty Deleted, collect garbage and verify, in a random order:
once each has synced twice, they hold the same backups with the same pins, every backup
restores on either as its tree was when it was taken, and both stores are whole.

Seeded, so a failure names the seed that makes it again; rsync, comparing contents, is the
judge. A backup from the other workstation restores as untrusted (no owners, special bits
or security attributes), so there only its names, links and contents are compared.
"""

import random

import pytest

from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.domain.errors import InvalidInputError, VersionMismatchError
from envops_desktop.domain.retention import RetentionRule
from envops_desktop.service import EnvOpsService
from tests.reliability.test_random_edits import (
    devices_excluded,
    edit_at_random,
    small_tree_of_every_kind,
)
from tests.trees import needs_rsync, rsync_differences, snapshot

pytestmark = [pytest.mark.reliability, needs_rsync]

PASSPHRASE = "one team, one passphrase"
_STEPS = [
    *("edit", "backup", "backup", "sync", "sync", "delete", "recover", "pin", "restore"),
    *("restore", "version", "export_import", "retention", "empty_bin", "gc", "verify"),
]


def _differences(snap, folder, trusted: bool) -> list[str]:
    devices = devices_excluded(snap, folder)
    if trusted:
        return rsync_differences(snap, folder, "--delete", "-c", *devices)
    # Names, kinds, links and contents only: -aHAX without modes, owners, times, ACLs or
    # xattrs.
    untrusted = ["--no-p", "--no-o", "--no-g", "--no-t", "--no-A", "--no-X"]
    return rsync_differences(snap, folder, "--delete", "-c", *untrusted, *devices)


def _trusted(backup, imported: set[str]) -> bool:
    """Made on this workstation from its own folder: restored with owners, modes and
    attributes; a teammate's or an imported file's restores as untrusted."""
    return backup.made_on is None and backup.id not in imported


def _new_backups(service: EnvOpsService, before: list[str]) -> list[str]:
    return [b.id for b in service.list_backups("mail") if b.id not in before]


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
    imported: set[str] = set()  # by an import, so restored as untrusted everywhere
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
                before = snapshot(tree, tmp_path / f"before{step}")
                if chosen.version != service.get_environment("mail").version:
                    with pytest.raises(VersionMismatchError):
                        service.restore_backup("mail", chosen.id, backup_first=True)
                    assert _differences(before, tree, True) == [], story
                    continue
                first = rng.random() < 0.5
                service.restore_backup("mail", chosen.id, backup_first=first)
                assert _differences(snaps[chosen.id], tree, _trusted(chosen, imported)) == []
                for taken in _new_backups(service, live):  # the backup first
                    snaps[taken] = before
            elif op == "version":
                service.update_environment_version("mail", rng.choice(["1.0", "2.0"]))
            elif op == "export_import" and live:
                chosen = service.get_backup(rng.choice(live))
                other = stations["b" if name == "a" else "a"]
                others_live = [b.id for b in other.list_backups("mail")]
                exported = service.export_backup(chosen.id, tmp_path / f"export{step}.zip")
                staged = other.stage_configuration_file(exported)
                other_tree = trees["b" if name == "a" else "a"]
                before = snapshot(other_tree, tmp_path / f"before{step}")
                try:
                    other.import_configuration("mail", staged, backup_first=True)
                except VersionMismatchError:
                    assert chosen.version != other.get_environment("mail").version, story
                    assert _differences(before, other_tree, True) == [], story
                    continue
                finally:
                    other.discard_staged_configuration(staged)
                assert _differences(snaps[chosen.id], other_tree, False) == [], story
                for taken in _new_backups(other, others_live):
                    if other.get_backup(taken).origin is BackupOrigin.IMPORTED:
                        snaps[taken] = snaps[chosen.id]
                        imported.add(taken)
                    else:
                        snaps[taken] = before
            elif op == "retention":
                rule = RetentionRule(before_restore_last=rng.randint(1, 2), manual_days=None)
                service.set_and_apply_retention("mail", rule)
            elif op == "empty_bin":
                service.empty_bin()
            elif op == "gc":
                service.collect_garbage()
            elif op == "verify":
                assert service.check_store().healthy, story
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
                trusted = _trusted(service.get_backup(backup_id), imported)
                assert _differences(snaps[backup_id], out, trusted) == [], (story, name)
            assert service.check_store().healthy, (story, name)
    finally:
        for service in stations.values():
            service.close()
