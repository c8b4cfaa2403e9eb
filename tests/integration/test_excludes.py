"""Excluded paths are not backed up, and a restore leaves them exactly as they are in the
live folder (owners, attributes, hardlinks and all), still in one swap."""

import os
import shutil
import subprocess

from envops_desktop.service import EnvOpsService
from tests.trees import make_config_tree, rsync_differences


def _live_logs(tree) -> None:
    logs = tree / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("line 1\n")
    os.link(logs / "app.log", logs / "app.log.1")
    os.setxattr(logs / "app.log", "user.rotated", b"no")
    os.chown(logs / "app.log", 65534, 65534)  # nobody: CI runs as root
    os.chmod(logs, 0o750)
    (tree / "conf.d" / "draft.tmp").write_text("half-written\n")


def test_excluded_paths_are_not_backed_up_and_a_restore_leaves_them_as_they_are(
    service: EnvOpsService, tmp_path
):
    tree = tmp_path / "billing"
    make_config_tree(tree, files=10)
    _live_logs(tree)
    service.add_environment("billing", tree, version="4.2.0")
    service.set_excludes("billing", ["logs/", "*.tmp"])
    made = service.create_backup("billing")
    assert not [
        e.path for e in service.backup_entries(made.id) if "logs" in e.path or ".tmp" in e.path
    ]
    backed_up = tmp_path / "as backed up"
    shutil.copytree(tree, backed_up, symlinks=True, ignore=shutil.ignore_patterns("logs", "*.tmp"))
    # After the backup: the configuration changes, and so do the excluded paths.
    (tree / "app.yaml").write_text("changed since\n")
    with open(tree / "logs" / "app.log", "a") as log:
        log.write("line 2\n")
    (tree / "logs" / "new.log").write_text("started after the backup\n")
    (tree / "conf.d" / "draft.tmp").write_text("still half-written\n")
    excluded_before = tmp_path / "excluded before"
    excluded_before.mkdir()
    subprocess.run(["rsync", "-aHAX", f"{tree}/logs/", f"{excluded_before}/logs/"], check=True)
    inode = os.stat(tree / "logs" / "app.log").st_ino

    service.restore_backup("billing", made.id)

    assert (tree / "app.yaml").read_text() != "changed since\n"
    assert rsync_differences(excluded_before / "logs", tree / "logs") == []
    assert os.stat(tree / "logs" / "app.log").st_ino == inode  # the very file a service writes
    assert os.stat(tree / "logs" / "app.log.1").st_ino == inode
    assert (tree / "conf.d" / "draft.tmp").read_text() == "still half-written\n"
    assert rsync_differences(backed_up, tree, "--exclude=logs/", "--exclude=*.tmp") == []


def test_a_backup_made_before_a_path_was_excluded_does_not_bring_it_back(
    service: EnvOpsService, tmp_path
):
    tree = tmp_path / "billing"
    make_config_tree(tree, files=5)
    _live_logs(tree)
    service.add_environment("billing", tree, version="4.2.0")
    older = service.create_backup("billing")  # holds logs/
    service.set_excludes("billing", ["logs/"])
    shutil.rmtree(tree / "logs")  # rotated away since

    service.restore_backup("billing", older.id)

    assert not (tree / "logs").exists()  # as the live folder had it


def test_env_update_sets_and_clears_excludes_from_the_command_line(tmp_path, capsys):
    from envops_desktop.cli import main

    tree = tmp_path / "billing"
    make_config_tree(tree, files=3)
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "env", "add", "billing", "--path", str(tree), "--version", "1"]) == 0
    assert main([*data, "env", "update", "billing", "--exclude", "logs/", "*.tmp"]) == 0
    assert "billing excludes logs/, *.tmp" in capsys.readouterr().out
    assert main([*data, "env", "update", "billing", "--exclude", "/etc/passwd"]) != 0
    assert main([*data, "env", "update", "billing", "--exclude"]) == 0
    assert "excludes nothing" in capsys.readouterr().out
