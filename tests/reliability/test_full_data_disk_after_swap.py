"""The data disk fills up at the worst moment: right after the new configuration is swapped in.

The outcome the restore reports must be the outcome on disk, and the next start must agree.
"""

import contextlib
import errno
import os

import pytest

from envops_desktop.domain.enums import EnvironmentStatus
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.service import EnvOpsService
from envops_desktop.service import restore as restore_module
from tests.disks import needs_root_to_mount, small_disk
from tests.trees import describe_tree, make_config_tree, mess_up


def _fill(folder) -> None:
    with open(folder / "filler", "wb") as out:
        try:
            while True:
                out.write(bytes(1 << 16))
                out.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


@contextlib.contextmanager
def _service(data):
    service = EnvOpsService(data)
    try:
        yield service
    finally:
        service.close()  # before the small disk is unmounted


@needs_root_to_mount
@pytest.mark.parametrize("moment", ["swapped", "applied"])
def test_a_data_disk_that_fills_after_the_swap_reports_what_is_on_disk(
    tmp_path, monkeypatch, moment
):
    config = tmp_path / "billing"
    make_config_tree(config)
    real_crash_point = restore_module.crash_point

    def fill_at(name: str) -> None:
        real_crash_point(name)
        if name == moment:
            _fill(data)

    with small_disk(tmp_path / "data", "6m") as data:
        with _service(data) as service:
            service.add_environment("billing", config, version="4.2.0")
            backup = service.create_backup("billing")
            mess_up(config)
            before = describe_tree(config)
            monkeypatch.setattr(restore_module, "crash_point", fill_at)
            with pytest.raises(OperationFailedError) as failed:
                service.restore_backup("billing", backup.id)
            monkeypatch.setattr(restore_module, "crash_point", real_crash_point)
        assert "full" in str(failed.value)
        assert "previous configuration of billing is back in place" in str(failed.value)
        assert describe_tree(config) == before

        os.unlink(data / "filler")
        with _service(data) as again:
            reports = again.recover_interrupted_operations()
            assert describe_tree(config) == before
            assert all(not report.rolled_forward for report in reports)
            assert again.get_environment("billing").status is EnvironmentStatus.UPDATE_FAILED
