"""Excluded paths are not backed up, and a restore leaves them exactly as they are in the
live folder (owners, attributes, hardlinks and all), still in one swap."""

import contextlib
import os
import shutil
import threading
from pathlib import Path

import pytest

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.excludes import Excludes
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService, left_alone
from envops_desktop.service import restore as restore_module
from tests.trees import make_config_tree, rsync_differences, snapshot


def _billing_with_logs(service: EnvOpsService, tmp_path: Path, files: int = 5) -> Path:
    """Environment billing: a configuration, with the logs and drafts a live one has."""
    tree = tmp_path / "billing"
    make_config_tree(tree, files=files)
    logs = tree / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("line 1\n")
    os.link(logs / "app.log", logs / "app.log.1")
    os.setxattr(logs / "app.log", "user.rotated", b"no")
    os.chown(logs / "app.log", 65534, 65534)  # nobody: CI runs as root
    os.chmod(logs, 0o750)
    (tree / "conf.d" / "draft.tmp").write_text("half-written\n")
    service.add_environment("billing", tree, version="4.2.0")
    return tree


def test_excluded_paths_are_not_backed_up_and_a_restore_leaves_them_as_they_are(
    service: EnvOpsService, tmp_path
):
    tree = _billing_with_logs(service, tmp_path, files=10)
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
    snapshot(tree / "logs", excluded_before / "logs")
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
    tree = _billing_with_logs(service, tmp_path)
    older = service.create_backup("billing")  # holds logs/
    service.set_excludes("billing", ["logs/"])
    shutil.rmtree(tree / "logs")  # rotated away since

    service.restore_backup("billing", older.id)

    assert not (tree / "logs").exists()  # as the live folder had it


def test_what_the_pre_restore_command_leaves_in_excluded_paths_is_what_the_restore_keeps(
    service: EnvOpsService, tmp_path
):
    tree = tmp_path / "billing"
    make_config_tree(tree, files=5)
    (tree / "logs").mkdir()
    (tree / "logs" / "app.log").write_text("before the restore\n")
    (tree / "state.json").write_text('{"jobs": 1}\n')
    service.add_environment("billing", tree, version="4.2.0")
    service.set_excludes("billing", ["logs/", "state.json"])
    made = service.create_backup("billing")
    (tree / "app.yaml").write_text("changed since\n")
    # Stopping the service rotates its log and saves its state by a rename, as services do.
    stop = "mv logs/app.log logs/app.log.1 && echo stopped > logs/app.log"
    stop += " && echo '{\"jobs\": 2}' > state.json.new && mv state.json.new state.json"
    service.set_restore_command("billing", "pre", RestoreCommand(argv=["sh", "-c", stop]))

    service.restore_backup("billing", made.id)

    assert (tree / "app.yaml").read_text() != "changed since\n"
    assert (tree / "logs" / "app.log.1").read_text() == "before the restore\n"
    assert (tree / "logs" / "app.log").read_text() == "stopped\n"
    assert (tree / "state.json").read_text() == '{"jobs": 2}\n'


def test_excluded_paths_removed_while_a_restore_carries_them_over_are_simply_gone(
    service: EnvOpsService, tmp_path, monkeypatch
):
    tree = _billing_with_logs(service, tmp_path)
    (tree / "app.lock").write_text("pid 42\n")
    (tree / "logs" / "rotated").mkdir()
    for name in ("a.log", "b.log", "c.log"):
        (tree / "logs" / "rotated" / name).write_text(name)
    service.set_excludes("billing", ["logs/", "*.lock", "*.tmp"])
    made = service.create_backup("billing")
    backed_up = tmp_path / "as backed up"
    shutil.copytree(tree, backed_up, symlinks=True)
    (tree / "app.yaml").write_text("changed since\n")
    carry = left_alone._carry

    def removed_as_it_is_reached(source: Path, destination: Path, *rest: object) -> None:
        # The service goes on meanwhile: it drops its lock file and a log rotation removes
        # a log, and a whole folder of them once the first of it is carried.
        if source.name in ("app.lock", "app.log.1"):
            source.unlink()
        elif source.parent.name == "rotated":
            shutil.rmtree(source.parent)
        carry(source, destination, *rest)

    monkeypatch.setattr(left_alone, "_carry", removed_as_it_is_reached)
    service.restore_backup("billing", made.id)

    assert not (tree / "app.lock").exists()
    assert not (tree / "logs" / "app.log.1").exists()
    assert not (tree / "logs" / "rotated").exists()
    assert (tree / "logs" / "app.log").read_text() == "line 1\n"
    assert (tree / "conf.d" / "draft.tmp").read_text() == "half-written\n"
    assert rsync_differences(backed_up, tree, "--exclude=logs/", "--exclude=*.lock") == []


def test_restores_go_through_while_a_service_rotates_its_excluded_logs(
    service: EnvOpsService, tmp_path
):
    tree = tmp_path / "billing"
    make_config_tree(tree, files=50)
    (tree / "logs").mkdir()
    service.add_environment("billing", tree, version="4.2.0")
    service.set_excludes("billing", ["logs/", "*.pid"])
    made = service.create_backup("billing")
    backed_up = tmp_path / "as backed up"
    shutil.copytree(tree, backed_up, symlinks=True)
    running = threading.Event()
    running.set()

    def rotate() -> None:  # as logrotate and a restarting service would, as fast as it can
        while running.is_set():
            with contextlib.suppress(OSError):  # its folder swapped away under it
                for n in range(3, 0, -1):
                    older = tree / "logs" / (f"app.log.{n - 1}" if n > 1 else "app.log")
                    if older.exists():
                        os.replace(older, tree / "logs" / f"app.log.{n}")
                (tree / "logs" / "app.log").write_text("started\n")
                pid = tree / "app.pid"
                pid.unlink() if pid.exists() else pid.write_text("42\n")

    rotating = threading.Thread(target=rotate)
    rotating.start()
    try:
        for attempt in range(8):
            (tree / "app.yaml").write_text(f"edited {attempt}\n")
            service.restore_backup("billing", made.id)
            differences = rsync_differences(
                backed_up, tree, "--exclude=logs/", "--exclude=*.pid", "--omit-dir-times"
            )
            assert differences == [], f"restore {attempt}"
    finally:
        running.clear()
        rotating.join()


@pytest.mark.parametrize("partial", [False, True], ids=["excluded", "not chosen"])
def test_what_a_service_writes_while_the_restore_swaps_is_kept(
    service: EnvOpsService, tmp_path, monkeypatch, partial
):
    tree = _billing_with_logs(service, tmp_path)
    service.set_excludes("billing", ["logs/"])
    made = service.create_backup("billing")
    (tree / "app.yaml").write_text("edited\n")
    swap_in = restore_module.swap_in

    def service_writes_then_swap(entry) -> None:
        # After the carry, before the swap: the last moment the old tree is the live one.
        (tree / "logs" / "app.log").write_text("line 1\nline 2\n")  # in place: carried
        (tree / "logs" / "worker-7.log").write_text("started\n")  # new
        (tree / "logs" / "2026-12").mkdir()
        (tree / "logs" / "2026-12" / "03.log").write_text("rotated\n")
        (tree / "conf.d" / "local.ini").write_text("[mine]\n")  # not chosen, if partial
        swap_in(entry)

    monkeypatch.setattr(restore_module, "swap_in", service_writes_then_swap)
    service.restore_backup("billing", made.id, only=["app.yaml"] if partial else None)

    assert (
        tree / "app.yaml"
    ).read_text() == "server:\n  port: 8443\n  workers: 8\nlog_level: info\n"
    assert (tree / "logs" / "app.log").read_text() == "line 1\nline 2\n"
    assert (tree / "logs" / "worker-7.log").read_text() == "started\n"
    assert (tree / "logs" / "2026-12" / "03.log").read_text() == "rotated\n"
    # A path the backup holds is the backup's; in a partial restore, the rest is as it is.
    assert (tree / "conf.d" / "local.ini").exists() is partial


def test_a_folder_removed_while_the_live_tree_is_listed_is_passed_over(tmp_path, monkeypatch):
    live, new_tree = tmp_path / "live", tmp_path / "new"
    (live / "run" / "workers").mkdir(parents=True)
    (live / "logs").mkdir()
    (live / "logs" / "app.log").write_text("line 1\n")
    new_tree.mkdir()
    scandir = os.scandir

    def removed_before_it_is_read(path):
        if isinstance(path, str) and path.rstrip("/") == str(live / "run"):
            shutil.rmtree(path)  # the service cleans up its run folder meanwhile
        return scandir(path)

    monkeypatch.setattr(os, "scandir", removed_before_it_is_read)
    lost = left_alone.carry_over(live, new_tree, Excludes(["logs/"])).lost

    assert lost == []
    assert not (live / "run").exists()
    assert (new_tree / "logs" / "app.log").read_text() == "line 1\n"


def test_a_report_names_as_lost_only_the_excluded_paths_still_there_when_it_reaches_them(
    tmp_path,
):
    live = tmp_path / "live"
    (live / "cache" / "logs").mkdir(parents=True)
    (live / "cache" / "logs" / "app.log").write_text("line 1\n")
    (live / "cache" / "app.lock").write_text("pid 42\n")
    listed = left_alone.excluded_by_folder(live, Excludes(["logs/", "*.lock"]))
    (live / "cache" / "app.lock").unlink()  # gone between the listing and the report

    lost = left_alone.with_all_they_hold(live, listed["cache"])

    assert lost == ["cache/logs", "cache/logs/app.log"]


def test_a_selective_restore_of_excluded_paths_alone_is_refused_and_changes_nothing(
    service: EnvOpsService, tmp_path
):
    tree = _billing_with_logs(service, tmp_path)
    made = service.create_backup("billing")  # holds logs/, excluded only since
    service.set_excludes("billing", ["logs/", "*.tmp"])
    (tree / "app.yaml").write_text("changed since\n")
    (tree / "logs" / "app.log").write_text("line 2\n")
    activity = service.activity("billing")

    for chosen in (["logs"], ["logs/app.log", f"{tree}/conf.d/draft.tmp"]):
        with pytest.raises(InvalidInputError, match="Only excluded paths were chosen"):
            service.restore_backup("billing", made.id, only=chosen)
    assert (tree / "app.yaml").read_text() == "changed since\n"
    assert service.activity("billing") == activity
    # Beside a path it brings back, an excluded one is left as it is, as in any restore.
    service.restore_backup("billing", made.id, only=["app.yaml", "logs/app.log"])

    assert (tree / "app.yaml").read_text() != "changed since\n"
    assert (tree / "logs" / "app.log").read_text() == "line 2\n"


def test_env_update_sets_and_clears_excludes_from_the_command_line(tmp_path, capsys):
    from envops_desktop.cli import main

    tree = tmp_path / "billing"
    make_config_tree(tree, files=3)
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "env", "add", "billing", "--path", str(tree), "--version", "1"]) == 0
    assert main([*data, "env", "update", "billing", "--exclude", "logs/", "*.tmp"]) == 0
    assert "billing excludes logs/, *.tmp" in capsys.readouterr().out
    assert main([*data, "env", "update", "billing", "--exclude", "../passwd"]) != 0
    assert main([*data, "env", "update", "billing", "--exclude"]) == 0
    assert "excludes nothing" in capsys.readouterr().out


def test_notes_among_the_patterns_exclude_nothing_and_are_not_named_as_excluded(
    service: EnvOpsService, tmp_path
):
    tree = _billing_with_logs(service, tmp_path)
    service.set_excludes("billing", ["# rotated by logrotate", "logs/", "  "])
    made = service.create_backup("billing")
    (tree / "logs" / "app.log").write_text("rotated since\n")

    service.restore_backup("billing", made.id)

    assert (tree / "logs" / "app.log").read_text() == "rotated since\n"
    assert (tree / "conf.d" / "draft.tmp").exists()  # the note excluded nothing
    detail = service.activity("billing")[0].detail
    assert "left as they were: logs/" in detail and "#" not in detail
