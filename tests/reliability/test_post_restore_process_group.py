"""A post-restore command outlives a restore killed while it ran; recovery must end it."""

import signal
import time

from tests.reliability.scenario import build_scenario


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            return stat_file.read().rpartition(b")")[2].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def test_a_post_restore_command_is_ended_when_its_killed_restore_is_rolled_back(tmp_path):
    pids = tmp_path / "pids"
    # The command and a child it starts (as a service restart would), both still running.
    # Written only by the restore under test, not by the restores that build the scenario.
    waiting = f"[ -e {tmp_path}/go ] || exit 0; sleep 60 & echo $$ $! > {pids}; wait"
    scenario = build_scenario(tmp_path, post_restore_argv=["sh", "-c", waiting])
    (tmp_path / "go").touch()
    restore = scenario.restore_process(scenario.messed)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text().strip()):
        assert time.monotonic() < deadline and restore.poll() is None, restore.stderr.read()
        time.sleep(0.05)
    command, child = map(int, pids.read_text().split())
    restore.send_signal(signal.SIGKILL)
    restore.wait()
    assert _alive(command) and _alive(child)  # killing envops alone leaves them running

    recovered = scenario.cli_process(["env", "list"])
    assert recovered.wait(timeout=60) == 0, recovered.stderr.read()

    deadline = time.monotonic() + 10
    while (_alive(command) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(command) and not _alive(child)
    assert scenario.state() == "original"  # rolled back under a command that is gone
