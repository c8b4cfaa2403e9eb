"""A store found damaged is repaired: what it cannot trust is forgotten, the next backup
stores again what the folder still holds, and every backup that needs it restores again."""

import pytest

from envops_desktop.domain.errors import NotFoundError, OperationFailedError
from envops_desktop.service.store_check import StoreReport
from envops_desktop.service.store_repair import StoreRepair
from tests.store_view import damage_blob, flipped_bit, tamper_with_manifest
from tests.trees import describe_tree, made_long_ago, mess_up


def _lose_every_pack(data) -> None:
    for pack in (data / "objects" / "packs").iterdir():
        pack.unlink()


def _make_every_pack_a_folder(data) -> None:
    # A damaged disk's repair left folders in their place: the store's repair then ended
    # in an IsADirectoryError as it took them away.
    for pack in (data / "objects" / "packs").iterdir():
        pack.unlink()
        (pack / "lost+found").mkdir(parents=True)


@pytest.mark.parametrize(
    "damage", ["bit rot in a stored file", "every pack file lost", "every pack file a folder"]
)
def test_after_verify_repair_the_next_backup_makes_every_older_backup_whole_again(
    service, environment, config_dir, tmp_path, settled, damage
):
    data = tmp_path / "data"
    made_long_ago(config_dir)  # so that the hash cache and the folder's digest serve
    as_backed_up = describe_tree(config_dir)
    first = service.create_backup("billing", name="first")
    app = next(e.sha256 for e in service.backup_entries(first.id) if e.path == "app.yaml")
    if damage == "bit rot in a stored file":
        damage_blob(data, app)
    elif damage == "every pack file lost":
        _lose_every_pack(data)
    else:
        _make_every_pack_a_folder(data)
    # Unrepaired, a backup of the unchanged folder trusts the stored copy: its hash cache
    # knows the file, and the folder's digest stands for the last backup.
    service.create_backup("billing", name="trusting")
    report = service.check_store()
    assert app in report.damaged

    assert app in service.repair_store(report).forgotten
    assert app in service.check_store().missing  # until a backup stores it again
    service.create_backup("billing", name="after the repair")

    assert service.check_store().healthy
    assert all(p.is_file() for p in (data / "objects" / "packs").iterdir())
    for backup in (first, service.find_backup("billing", "trusting")):
        mess_up(config_dir)
        service.restore_backup("billing", backup.id)
        assert describe_tree(config_dir) == as_backed_up


def test_a_repair_keeps_a_content_found_whole_on_a_second_look(service, environment, tmp_path):
    backup = service.create_backup("billing")
    app = next(e.sha256 for e in service.backup_entries(backup.id) if e.path == "app.yaml")
    # A read that failed once (a cable, a busy disk) and succeeds under the repair's lock.
    assert service.repair_store(StoreReport(checked=1, damaged=[app])) == StoreRepair()
    assert service.check_store().healthy


def test_a_damaged_file_no_longer_in_the_folder_stays_missing_and_is_named(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing", name="nightly")
    app = next(e.sha256 for e in service.backup_entries(backup.id) if e.path == "app.yaml")
    damage_blob(tmp_path / "data", app)
    (config_dir / "app.yaml").unlink()

    service.repair_store(service.check_store())
    service.create_backup("billing")

    report = service.check_store()
    assert report.missing == [app]
    ((needing, path),) = service.where_needed(report.missing)[app]
    assert (needing.name, path) == ("nightly", "app.yaml")


def test_repair_deletes_every_backup_of_a_damaged_list_and_the_store_frees_again(
    service, environment, config_dir, tmp_path
):
    golden = service.create_backup("billing", name="golden")
    as_in_golden = describe_tree(config_dir)
    (config_dir / "only-in-nightly.ini").write_bytes(b"[nightly]\n" * 5_000)
    nightly = service.create_backup("billing", name="nightly")
    # The unchanged folder's next backups share nightly's list, one of them in Deleted.
    again = service.create_backup("billing", name="nightly again")
    deleted = service.create_backup("billing", name="deleted")
    service.delete_backup(deleted.id)
    tamper_with_manifest(tmp_path / "data", flipped_bit, of_backup=nightly.id)
    report = service.check_store()
    assert len(report.damaged_manifests) == 1
    with pytest.raises(OperationFailedError, match="damaged"):
        service.collect_garbage()  # what the damaged list needs is unknown: nothing freed

    phases: list[str] = []
    repair = service.repair_store(report, lambda progress: phases.append(progress.phase))

    assert {b.name for b in repair.deleted} == {"nightly", "nightly again", "deleted"}
    assert "reading backups" in phases and phases[-1] == "freeing stored files"  # as it goes
    assert repair.forgotten == [] and repair.from_team_store == []
    for gone in (nightly, again, deleted):
        with pytest.raises(NotFoundError):
            service.get_backup(gone.id, deleted_too=True)
    after = service.check_store()
    assert after.healthy and after.unreferenced == 0  # what only they held was freed
    assert service.collect_garbage().blobs == []
    entry = next(e for e in service.activity("billing") if "nightly again" in e.detail)
    assert "its list of files was damaged" in entry.detail
    service.restore_backup("billing", golden.id)
    assert describe_tree(config_dir) == as_in_golden


def test_repair_keeps_a_backup_whose_list_reads_whole_on_a_second_look(
    service, environment, tmp_path
):
    backup = service.create_backup("billing", name="nightly")
    whole: list[bytes] = []

    def damaged_for_a_while(text: bytes, body: bytes) -> bytes:
        whole.append(body)
        return flipped_bit(text, body)

    tamper_with_manifest(tmp_path / "data", damaged_for_a_while)
    report = service.check_store()
    assert len(report.damaged_manifests) == 1
    # A read that failed once (a cable, a busy disk), and reads whole under the repair.
    tamper_with_manifest(tmp_path / "data", lambda _text, _body: whole[0])

    assert service.repair_store(report) == StoreRepair()
    assert service.get_backup(backup.id).name == "nightly"
