"""A data folder that is partly another user's (EnvOps run there once with sudo, say) is
refused at once, in a sentence that says how to give it back, instead of failing halfway
through an operation."""

import os

import pytest

from envops_desktop.cli import main
from envops_desktop.service import EnvOpsService
from tests.privileges import as_an_ordinary_user, given_to
from tests.trees import make_config_tree

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving files away needs root"
)


@needs_root
def test_lock_files_left_by_root_refuse_the_folder_before_a_backup_starts(
    tmp_path, monkeypatch, capsys
):
    data, config = tmp_path / "data", tmp_path / "billing"
    make_config_tree(config)
    service = EnvOpsService(data)
    service.add_environment("billing", config, version="1")
    service.create_backup("billing")  # as root: its lock files are root's
    service.close()
    given_to(data)
    os.lchown(data / "staging", 0, 0)
    os.lchown(data / "locks" / "blobs.lock", 0, 0)
    as_an_ordinary_user(monkeypatch)  # user 1000
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")

    assert main(["--data-dir", str(data), "backup", "create", "billing"]) == 1

    out, err = capsys.readouterr()
    assert err == (
        f"envops: Cannot use the data folder {data}: parts of it (locks/blobs.lock, staging) "
        "belong to another user, so alice may not write there (EnvOps was run there as that "
        f"user once, with sudo, say). Give it back with: sudo chown -R alice '{data}'. Or "
        "run EnvOps as that user, or choose another data folder.\n"
    )
    assert not out


@needs_root
def test_a_data_folder_that_is_all_the_users_own_is_used_as_ever(tmp_path, monkeypatch):
    data, config = tmp_path / "data", tmp_path / "billing"
    make_config_tree(config)
    EnvOpsService(data).close()
    given_to(data)
    given_to(config)
    as_an_ordinary_user(monkeypatch)

    service = EnvOpsService(data)
    service.add_environment("billing", config, version="1")
    assert service.create_backup("billing").file_count > 0
    service.close()
