"""An export or an upload killed part-way leaves nothing behind once the next start is done."""

from pathlib import Path

import pytest

from envops_desktop.service import EnvOpsService
from tests.reliability.scenario import build_scenario, kill, paused_at_first_progress

pytestmark = pytest.mark.reliability


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

    export = paused_at_first_progress(
        scenario.data_dir, tmp_path / "export-ready", "export", scenario.original, str(destination)
    )
    upload = paused_at_first_progress(
        scenario.data_dir, tmp_path / "upload-ready", "upload", str(exported)
    )
    killed_upload = _scratch(staging, "upload-")
    assert len(killed_upload) == 1 and _scratch(staging, "export-")
    kill(export)
    kill(upload)
    # Another window, its file uploaded and waiting for Import: alive, so left alone.
    waiting = paused_at_first_progress(
        scenario.data_dir, tmp_path / "waiting-ready", "upload", str(exported)
    )
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
        kill(waiting)
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
    restoring = paused_at_first_progress(
        scenario.data_dir,
        tmp_path / "ready",
        "to-folder",
        scenario.original,
        str(beside / "billing-then"),
    )
    [hidden] = beside.iterdir()
    assert hidden.name.startswith(".billing-then.envops-staging-") and any(hidden.iterdir())
    kill(restoring)

    starting = EnvOpsService(scenario.data_dir)
    starting.recover_interrupted_operations()
    starting.close()

    assert list(beside.iterdir()) == []  # no half-written tree, hidden or not
    assert list((scenario.data_dir / "staging").iterdir()) == []
