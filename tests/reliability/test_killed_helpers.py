"""Helper processes end with the command that started them, however it ends."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads other processes in /proc (Linux)"
)


def _marked(mark: str) -> list[int]:
    """The processes whose environment carries `mark`: a command and all it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return found


def _helpers(mark: str) -> int:
    """How many of them are helpers at work: forked by the fork server, with its command."""
    forked = 0
    for pid in _marked(mark):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        forked += b"multiprocessing.forkserver" in command
    return forked - 1  # the fork server itself


def _until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@linux_only
def test_the_helpers_of_a_restore_killed_outright_end_with_it(tmp_path):
    tree = tmp_path / "billing"
    tree.mkdir()
    for n in range(12):  # 144 MiB: enough for helper processes, and a restore that lasts
        (tree / f"image{n}.bin").write_bytes(os.urandom(12 << 20))
    envops = [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(tmp_path / "data")]
    add = ["env", "add", "billing", "--path", str(tree), "--version", "1"]
    subprocess.run([*envops, *add], check=True, cwd=REPO, capture_output=True)
    subprocess.run([*envops, "backup", "create", "billing"], check=True, cwd=REPO)
    listed = subprocess.run(
        [*envops, "backup", "list", "billing", "--json"], check=True, cwd=REPO, capture_output=True
    )
    backup_id = json.loads(listed.stdout)[0]["id"]
    mark = f"ENVOPS_TEST_MARK={uuid.uuid4().hex}"
    restore = subprocess.Popen(
        [*envops, "restore", "billing", backup_id, "--yes", "--no-backup-first"],
        cwd=REPO,
        env={**os.environ, mark.split("=")[0]: mark.split("=")[1]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _until(lambda: _helpers(mark) > 0, 30), "no helper was started"
        assert restore.poll() is None  # still restoring: the helpers are at work
        restore.send_signal(signal.SIGKILL)  # as the OOM killer or kill -9 would
        restore.wait()

        assert _until(lambda: _marked(mark) == [], 15), f"left running: {_marked(mark)}"
    finally:
        for pid in _marked(mark):  # a failed test leaves nothing behind either
            os.kill(pid, signal.SIGKILL)
