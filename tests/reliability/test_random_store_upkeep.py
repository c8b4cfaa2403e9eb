"""Backups taken between random edits, then deleted, brought back from Deleted, freed with
the bin, collected, restored, and repaired after a list of files is damaged, in a random
order: each backup still held restores as the tree was when it was taken, and the store
stays whole with nothing left over.

Seeded, so a failure names the seed that makes it again; rsync, comparing contents, is the
judge.
"""

import random

import pytest

from tests.reliability.test_random_edits import (
    devices_excluded,
    edit_at_random,
    small_tree_of_every_kind,
)
from tests.store_view import flipped_bit, tamper_with_manifest
from tests.trees import needs_rsync, rsync_differences, snapshot

pytestmark = [pytest.mark.reliability, needs_rsync]

_STEPS = [
    "edit", "edit", "backup", "backup", "delete", "recover", "bin", "gc", "restore", "damage"
]  # fmt: skip


def _differences(snapshot, folder) -> list[str]:
    devices = devices_excluded(snapshot, folder)
    return rsync_differences(snapshot, folder, "--delete", "-c", *devices)


@pytest.mark.parametrize("seed", range(30))
def test_backups_deletes_bins_gc_and_restores_keep_every_backup_whole(service, tmp_path, seed):
    rng = random.Random(seed)
    root = small_tree_of_every_kind(tmp_path / "srv" / "mail")
    service.add_environment("mail", root, version="1.0")
    snaps, story = {}, []
    for step in range(14):
        op = rng.choice(_STEPS)
        live = [b.id for b in service.list_backups("mail")]
        deleted = [b.id for b in service.deleted_backups("mail")]
        story.append(op)
        if op == "edit":
            story.append(edit_at_random(root, rng, rng.randint(1, 3)))
        elif op == "backup":
            backup = service.create_backup("mail")
            snaps[backup.id] = snapshot(root, tmp_path / f"snap{step}")
        elif op == "delete" and live:
            service.delete_backup(rng.choice(live))
        elif op == "recover" and deleted:
            service.recover_backup(rng.choice(deleted))
        elif op == "bin":
            for gone in service.empty_bin():
                snaps.pop(gone.id, None)
        elif op == "gc":
            service.collect_garbage(False)
        elif op == "restore" and live:
            chosen = rng.choice(live)
            service.restore_backup("mail", chosen)
            assert _differences(snaps[chosen], root) == [], story
        elif op == "damage" and live + deleted:
            # Every backup of the damaged list goes with the repair, whichever it was.
            damaged = rng.choice(live + deleted)
            tamper_with_manifest(tmp_path / "data", flipped_bit, of_backup=damaged)
            repair = service.repair_store(service.check_store())
            gone = {b.id for b in repair.deleted}
            assert damaged in gone, story
            for backup_id in gone:
                snaps.pop(backup_id)
            left = {b.id for b in service.list_backups("mail") + service.deleted_backups("mail")}
            assert not gone & left, story
    report = service.check_store()
    assert report.healthy, (story, report)
    for backup in service.list_backups("mail"):
        written = service.restore_to_folder(backup.id, tmp_path / f"out-{backup.id}")
        assert _differences(snaps[backup.id], written) == [], (story, backup.id)
    service.collect_garbage(False)
    assert service.check_store().unreferenced == 0, story
