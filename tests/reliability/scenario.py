"""A data dir with two backups of one environment, and a restore run in a killable process."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService
from tests.trees import describe_tree, make_config_tree, mess_up

REPO = Path(__file__).parents[2]


@dataclass
class Scenario:
    """Backups `original` and `messed` of the environment `billing`, whose tree is `original`."""

    data_dir: Path
    target: Path
    original: str
    messed: str
    trees: dict[str, dict]

    def state(self) -> str | None:
        """Which backup the environment's tree now equals, byte for byte (None: neither)."""
        now = describe_tree(self.target)
        for name, tree in self.trees.items():
            if _without_root_times(now) == _without_root_times(tree):
                return name
        return None

    def restore_process(self, backup_id: str, crash_at: str | None = None) -> subprocess.Popen:
        return self.cli_process(["restore", "billing", backup_id, "--yes"], crash_at)

    def cli_process(self, args: list[str], crash_at: str | None = None) -> subprocess.Popen:
        """`envops` on this data dir in a process of its own, to be killed at `crash_at`."""
        return envops_process(self.data_dir, args, crash_at)


def envops_process(
    data_dir: Path, args: list[str], crash_at: str | None = None
) -> subprocess.Popen:
    """`envops` on `data_dir` in a process of its own, to be killed at `crash_at`."""
    env = dict(os.environ)
    env.pop("ENVOPS_CRASH_AT", None)
    if crash_at:
        env["ENVOPS_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(data_dir), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _without_root_times(tree: dict) -> dict:
    return {path: value for path, value in tree.items() if path != "."}


def build_scenario(
    root: Path,
    files: int = 0,
    post_restore_seconds: float | None = None,
    post_restore_argv: list[str] | None = None,
) -> Scenario:
    target = root / "envs" / "billing"
    make_config_tree(target, files=files)
    service = EnvOpsService(root / "data")
    command = None
    if post_restore_seconds is not None:
        command = RestoreCommand(
            argv=[sys.executable, "-c", f"import time; time.sleep({post_restore_seconds})"]
        )
    if post_restore_argv is not None:
        command = RestoreCommand(argv=post_restore_argv, timeout_seconds=120)
    service.add_environment("billing", target, version="4.2.0", post_restore_command=command)
    trees = {"original": describe_tree(target)}
    original = service.create_backup("billing", name="original").id
    mess_up(target)
    for index in range(0, files, 3):
        generated = target / "generated" / f"group{index % 10}" / f"file{index}.conf"
        generated.write_bytes(b"changed by a bad deployment")
    trees["messed"] = describe_tree(target)
    messed = service.create_backup("billing", name="messed").id
    service.restore_backup("billing", original)
    service.close()
    return Scenario(root / "data", target, original, messed, trees)


# Runs one export, upload or restore to a folder on the data folder, and stops for good at
# its first progress, its scratch (an export's `.part`, the folder's hidden tree) written:
# a process a test can kill mid-way.
_PAUSED_AT_FIRST_PROGRESS = """
import sys, time
from pathlib import Path
from envops_desktop.service import EnvOpsService

data_dir, ready, what, *rest = sys.argv[1:]
service = EnvOpsService(Path(data_dir), settle_later=True)

def pause(progress):
    if progress.done:
        Path(ready).touch()
        time.sleep(3600)

if what == "export":
    service.export_backup(rest[0], Path(rest[1]), progress=pause)
elif what == "to-folder":
    service.restore_to_folder(rest[0], Path(rest[1]), progress=pause)
else:
    service.stage_configuration_file(Path(rest[0]), progress=pause)
"""


def paused_at_first_progress(data_dir: Path, ready: Path, *args: str) -> subprocess.Popen:
    """`_PAUSED_AT_FIRST_PROGRESS` on `data_dir` with `args`, once it has got under way."""
    process = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_AT_FIRST_PROGRESS, str(data_dir), str(ready), *args],
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None, "it ended before it got under way"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process


def kill(process: subprocess.Popen) -> None:
    """Kill `process` outright, as a power cut or `kill -9` would, and wait for its end."""
    process.send_signal(signal.SIGKILL)
    process.wait(60)
