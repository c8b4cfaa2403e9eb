"""The recycle bin on an injected clock: a deleted backup is recoverable byte for byte
until it has been in Deleted for the bin's days; only then is its content freed."""

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from envops_desktop.domain.errors import InvalidInputError, NotFoundError
from envops_desktop.domain.recycle_bin import DEFAULT_BIN_DAYS
from envops_desktop.service import EnvOpsService
from envops_desktop.store import backup_records
from tests.integration.test_schedules import Clock
from tests.store_view import stored_blobs
from tests.trees import make_config_tree, mess_up, rsync_differences


@pytest.fixture
def clock():
    return Clock(datetime(2026, 3, 1, 9, tzinfo=UTC))


@pytest.fixture
def service(tmp_path, clock):
    """billing, on a service whose time the test moves."""
    service = EnvOpsService(tmp_path / "data", clock=clock)
    make_config_tree(tmp_path / "billing", files=5)
    service.add_environment("billing", tmp_path / "billing", version="4.2.0")
    yield service
    service.close()


def test_a_deleted_backup_is_recovered_byte_for_byte(service, clock, tmp_path):
    tree = tmp_path / "billing"
    snapshot = tmp_path / "as backed up"
    made = service.create_backup("billing", name="golden")
    shutil.copytree(tree, snapshot, symlinks=True)
    service.delete_backup(made.id)
    with pytest.raises(NotFoundError, match="is in Deleted"):
        service.restore_backup("billing", made.id)
    clock.now += timedelta(days=DEFAULT_BIN_DAYS - 1)
    service.run_due_backups()  # what empties the bin of what expired
    mess_up(tree)

    service.recover_backup(made.id)
    service.restore_backup("billing", made.id)

    assert rsync_differences(snapshot, tree) == []
    assert service.deleted_backups("billing") == []
    with pytest.raises(InvalidInputError, match="not in Deleted"):
        service.recover_backup(made.id)


def test_content_is_freed_only_once_the_backup_has_been_in_deleted_for_the_bin_days(
    service, clock, tmp_path
):
    kept = service.create_backup("billing", name="kept")
    (tmp_path / "billing" / "only-in-doomed.txt").write_text("unique content 7\n")
    doomed = service.create_backup("billing", name="doomed")
    before = set(stored_blobs(tmp_path / "data"))
    service.delete_backup(doomed.id)

    clock.now += timedelta(days=DEFAULT_BIN_DAYS) - timedelta(minutes=1)
    service.run_due_backups()
    assert set(stored_blobs(tmp_path / "data")) == before
    assert [b.name for b in service.deleted_backups("billing")] == ["doomed"]

    clock.now += timedelta(minutes=2)
    service.run_due_backups()
    assert len(set(stored_blobs(tmp_path / "data"))) == len(before) - 1
    assert service.deleted_backups("billing") == []
    assert [b.id for b in service.list_backups("billing")] == [kept.id]
    assert service.check_store().healthy


def test_emptying_many_from_deleted_reads_each_kept_backup_once_and_frees_what_they_alone_used(
    service, tmp_path, monkeypatch
):
    kept = []
    for index in range(3):
        (tmp_path / "billing" / "app.yaml").write_text(f"kept {index}\n")
        kept.append(service.create_backup("billing", name=f"kept{index}"))
    doomed = []
    for index in range(4):
        (tmp_path / "billing" / f"only-in-doomed{index}.txt").write_text(f"unique {index}\n")
        doomed.append(service.create_backup("billing", name=f"doomed{index}"))
        service.delete_backup(doomed[-1].id)
    before = set(stored_blobs(tmp_path / "data"))
    reads = Counter()
    read = backup_records.read_manifest

    def counted(body: bytes, name: str, *more: object) -> object:
        reads.update([name])
        return read(body, name, *more)

    monkeypatch.setattr(backup_records, "read_manifest", counted)

    freed = service.empty_bin()

    assert sorted(b.name for b in freed) == [b.name for b in doomed]
    # One pass to find what they alone used, one for what earlier failures left: not one
    # of each for every backup emptied.
    assert max(reads.values()) <= 2
    assert len(set(stored_blobs(tmp_path / "data"))) == len(before) - len(doomed)
    details = [e.detail for e in service.activity("billing")[: len(doomed)]]
    assert all("deleted with 3 other backups: 4 stored files freed in all" in d for d in details)
    assert [b.id for b in service.list_backups("billing")] == [b.id for b in reversed(kept)]
    assert service.check_store().healthy


def test_the_bin_keeps_backups_for_the_days_the_data_folder_says(service, clock):
    service.set_bin_days(2)
    doomed = service.create_backup("billing", name="doomed")
    service.delete_backup(doomed.id)

    clock.now += timedelta(days=2, minutes=1)
    service.run_due_backups()

    assert service.deleted_backups("billing") == []
    with pytest.raises(InvalidInputError, match="1 to 365 days"):
        service.set_bin_days(0)
