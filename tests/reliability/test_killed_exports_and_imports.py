"""An export or an upload killed part-way leaves nothing behind once the next start is done."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envops_desktop.service import EnvOpsService
from tests.reliability.scenario import REPO, build_scenario

pytestmark = pytest.mark.reliability

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


def _paused(data_dir: Path, ready: Path, *args: str) -> subprocess.Popen:
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


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(60)


def _scratch(staging: Path, prefix: str) -> set[str]:
    return {p.name for p in staging.glob(prefix + "*") if p.is_dir()}


def test_the_next_start_removes_what_killed_exports_and_uploads_left_and_nothing_else(tmp_path):
    scenario = build_scenario(tmp_path, files=40)
    staging = scenario.data_dir / "staging"
    service = EnvOpsService(scenario.data_dir)
    exported = service.export_backup(scenario.messed, tmp_path / "messed.zip")
    service.close()
    destination = tmp_path / "exports" / "billing.zip"
    destination.parent.mkdir()

    export = _paused(
        scenario.data_dir, tmp_path / "export-ready", "export", scenario.original, str(destination)
    )
    upload = _paused(scenario.data_dir, tmp_path / "upload-ready", "upload", str(exported))
    killed_upload = _scratch(staging, "upload-")
    assert len(killed_upload) == 1 and _scratch(staging, "export-")
    _kill(export)
    _kill(upload)
    # Another window, its file uploaded and waiting for Import: alive, so left alone.
    waiting = _paused(scenario.data_dir, tmp_path / "waiting-ready", "upload", str(exported))
    try:
        waiting_upload = _scratch(staging, "upload-") - killed_upload
        assert [p.name for p in destination.parent.iterdir()] == ["billing.zip.part"]

        starting = EnvOpsService(scenario.data_dir)
        starting.recover_interrupted_operations()
        starting.close()

        assert list(destination.parent.iterdir()) == []
        assert _scratch(staging, "export-") == set()
        assert _scratch(staging, "upload-") == waiting_upload
    finally:
        _kill(waiting)
    starting = EnvOpsService(scenario.data_dir)
    starting.recover_interrupted_operations()
    starting.close()
    assert list(staging.iterdir()) == []


def test_a_restore_to_a_folder_killed_part_way_leaves_no_hidden_tree_after_the_next_start(
    tmp_path,
):
    scenario = build_scenario(tmp_path, files=40)
    beside = tmp_path / "old-configurations"
    beside.mkdir()
    restoring = _paused(
        scenario.data_dir,
        tmp_path / "ready",
        "to-folder",
        scenario.original,
        str(beside / "billing-then"),
    )
    [hidden] = beside.iterdir()
    assert hidden.name.startswith(".billing-then.envops-staging-") and any(hidden.iterdir())
    _kill(restoring)

    starting = EnvOpsService(scenario.data_dir)
    starting.recover_interrupted_operations()
    starting.close()

    assert list(beside.iterdir()) == []  # no half-written tree, hidden or not
    assert list((scenario.data_dir / "staging").iterdir()) == []
