"""A data folder that is damaged, full, or created by several commands at once: a sentence
and an exit code, never a traceback."""

import contextlib
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envops_desktop.cli import main
from envops_desktop.service import EnvOpsService
from tests.disks import needs_root_to_mount, small_disk
from tests.trees import make_config_tree

REPO = Path(__file__).parents[2]


def test_a_damaged_database_header_is_a_sentence(tmp_path, capsys):
    EnvOpsService(tmp_path / "data").close()
    database = tmp_path / "data" / "envops.sqlite3"
    damaged = bytearray(database.read_bytes())
    damaged[:16] = b"not a sqlite db!"
    database.write_bytes(bytes(damaged))
    assert main(["--data-dir", str(tmp_path / "data"), "env", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("envops: ") and "is damaged" in err and err.count("\n") == 1
    assert database.read_bytes()[:16] == b"not a sqlite db!"  # changed nothing


def test_a_file_where_the_store_keeps_a_folder_is_named(tmp_path, capsys):
    # The sentence named the data folder itself as the file in the way.
    data = tmp_path / "data"
    EnvOpsService(data).close()
    shutil.rmtree(data / "objects" / "packs")
    (data / "objects" / "packs").write_text("a file where a folder was\n")

    assert main(["--data-dir", str(data), "env", "list"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"envops: Cannot open the data folder {data}: {data / 'objects' / 'packs'} is a file, "
        "not a folder. Choose another folder with --data-dir DIR or the ENVOPS_DATA_DIR "
        "variable.\n"
    )


@pytest.mark.parametrize("command", [["gc"], ["gc", "--dry-run"], ["verify"]])
def test_a_stored_contents_row_damaged_to_name_nothing_is_a_sentence(tmp_path, capsys, command):
    # SQLite does not notice every damaged page: one zeroed read back as rows whose hash was
    # NULL, and gc ended in an AttributeError traceback.
    config = tmp_path / "billing"
    make_config_tree(config, files=5)
    data = tmp_path / "data"
    service = EnvOpsService(data)
    service.add_environment("billing", config, version="1.0")
    service.create_backup("billing")
    service.close()
    with sqlite3.connect(data / "envops.sqlite3") as db:
        (first,) = db.execute("SELECT sha256 FROM packed_contents LIMIT 1").fetchone()
        db.execute("UPDATE packed_contents SET sha256 = x'00' WHERE sha256 = ?", (first,))

    assert main(["--data-dir", str(data), *command]) == 1
    err = capsys.readouterr().err
    assert err.startswith("envops: ") and err.count("\n") == 1
    assert "envops.sqlite3 is damaged (database disk image is malformed" in err


@needs_root_to_mount
def test_any_command_on_a_full_data_disk_is_a_sentence(tmp_path):
    with small_disk(tmp_path / "disk", "2m") as disk:
        subprocess.run(
            [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(disk / "data"),
             "env", "list"], check=True, capture_output=True, cwd=REPO,
        )  # fmt: skip
        (disk / "data" / "envops.sqlite3-wal").unlink(missing_ok=True)
        with open(disk / "filler", "wb", buffering=0) as filler:  # every last block
            while True:
                try:
                    filler.write(b"\0" * 4096)
                except OSError:
                    break
        result = subprocess.run(
            [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(disk / "data"),
             "env", "list"], capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("envops: ")


def test_clearing_scratch_keeps_the_scratch_folder_another_process_may_be_creating(tmp_path):
    service = EnvOpsService(tmp_path / "data")
    scratch = tmp_path / "data" / "objects" / "tmp"
    inode = scratch.stat().st_ino
    (scratch / "123-456").mkdir()
    (scratch / "123-456" / "half.part").write_bytes(b"half a blob")
    service.recover_interrupted_operations()
    assert scratch.stat().st_ino == inode  # the same folder: it never vanished
    assert list(scratch.iterdir()) == []
    service.close()


def test_several_first_commands_at_once_on_a_new_data_folder_all_work(tmp_path):
    for round_ in range(3):
        data = tmp_path / f"data{round_}"
        commands = []
        for index in range(6):
            env = tmp_path / f"env{round_}-{index}"
            make_config_tree(env)
            commands.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "envops_desktop.cli",
                        "--data-dir",
                        str(data),
                        "env",
                        "add",
                        f"e{index}",
                        "--path",
                        str(env),
                        "--version",
                        "1",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=REPO,
                )
            )
        for command in commands:
            _out, err = command.communicate(timeout=120)
            assert command.returncode == 0, err


_OPEN_AT = """
import sys, time
from pathlib import Path
from envops_desktop.store.database import Database
start = float(sys.argv[2])
while time.time() < start:  # all at the same instant: a process start is too uneven
    pass
Database(Path(sys.argv[1])).close()
"""


def test_processes_opening_a_new_data_folder_at_the_same_instant_all_open_it(tmp_path):
    # Each reads the new database's header, then asks to switch it to WAL; SQLite refused
    # all but one at once ("database is locked"), without waiting: 1 round in 6 failed.
    for round_ in range(12):
        data = tmp_path / f"data{round_}"
        data.mkdir()
        start = time.time() + 1.0
        opening = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT, str(data), str(start)],
                stderr=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
            for _ in range(8)
        ]
        for process in opening:
            _out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err


@contextlib.contextmanager
def leftovers_that_cannot_be_removed(tmp_path):
    """billing's restore of messed killed once in place, before its old tree was removed;
    something is mounted in that old tree for the block, so that it cannot be removed."""
    import signal

    from tests.reliability.scenario import build_scenario

    scenario = build_scenario(tmp_path)
    process = scenario.restore_process(scenario.messed, crash_at="flushing")
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    (previous,) = [p for p in scenario.target.parent.iterdir() if ".envops-previous-" in p.name]
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep").write_text("not EnvOps's\n")
    (previous / "mnt").mkdir()
    subprocess.run(
        ["mount", "--bind", str(tmp_path / "elsewhere"), str(previous / "mnt")], check=True
    )
    try:
        yield scenario
    finally:
        subprocess.run(["umount", str(previous / "mnt")], check=False)
    assert (tmp_path / "elsewhere" / "keep").read_text() == "not EnvOps's\n"


def _envops(scenario, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(scenario.data_dir),
         *args],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip


@needs_root_to_mount
def test_leftovers_that_cannot_be_removed_do_not_stop_other_environments(tmp_path):
    other = tmp_path / "envs" / "other"
    make_config_tree(other)
    with leftovers_that_cannot_be_removed(tmp_path) as scenario:
        service = EnvOpsService(scenario.data_dir)
        service.add_environment("other", other, version="1")
        service.close()
        for _ in range(2):  # every later command, not just the first
            result = _envops(scenario, "backup", "create", "other")
            assert result.returncode == 0, result.stderr
            assert "could not be cleaned up" in result.stderr
            assert "Traceback" not in result.stderr
    assert scenario.state() == "messed"


@needs_root_to_mount
def test_a_restore_over_leftovers_that_cannot_be_removed_is_refused_in_a_sentence(tmp_path):
    with leftovers_that_cannot_be_removed(tmp_path) as scenario:
        result = _envops(scenario, "restore", "billing", scenario.original, "--yes")

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "An earlier restore of billing was interrupted and could not be put right now" in (
        result.stderr
    )
    assert "so this one did not start" in result.stderr
    assert scenario.state() == "messed"
