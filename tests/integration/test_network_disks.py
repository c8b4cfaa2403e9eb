"""An environment's folder on a network disk whose server has gone away, as an sshfs disk's
is once its connection drops, or on a disk that fails: each command that needs the folder
says so in one sentence that names the folder and what to check, and changes nothing."""

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from envops_desktop.cli import main
from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EnvironmentStatus
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service import EnvOpsService, folder_reach
from envops_desktop.store.timestamps import utc_now
from tests.disks import (
    disk_failing_every_look,
    needs_root_to_mount,
    network_disk_gone,
    network_disk_not_answering,
)
from tests.reliability.scenario import build_scenario
from tests.trees import make_config_tree

pytestmark = needs_root_to_mount
GONE = (
    "Transport endpoint is not connected. If it is on a network or removable disk, check "
    "that the disk is still mounted and its server answers."
)


def _backed_up(data: Path, name: str, folder: Path, **how) -> str:
    """`folder` registered in `data` as `name` (`how`: its version or version file) and
    backed up once: the backup's id."""
    service = EnvOpsService(data)
    try:
        service.add_environment(name, folder, **how)
        return service.create_backup(name).id
    finally:
        service.close()


@pytest.fixture
def billing_on_a_network_disk_gone(tmp_path):
    """billing, backed up and exported while its network disk answered; the disk gone now."""
    folder = tmp_path / "share" / "billing"
    make_config_tree(folder)
    data = tmp_path / "data"
    backup = _backed_up(data, "billing", folder, version="4.2.0")
    exported = ["backup", "export", backup, str(tmp_path / "billing.envops")]
    assert main(["--data-dir", str(data), *exported]) == 0
    with network_disk_gone(tmp_path / "share"):
        yield data, folder, backup


def _state(data: Path) -> tuple:
    service = EnvOpsService(data)
    try:
        env = service.get_environment("billing")
        backups = [b.id for b in service.list_backups("billing")]
        return env.status, env.version, env.last_restored_backup_id, backups
    finally:
        service.close()


@pytest.mark.parametrize(
    ("command", "ends"),
    [
        (["backup", "create", "billing"], ""),
        (["restore", "billing", "{backup}", "--yes"], " Nothing was changed."),
        (["restore", "billing", "{backup}", "--dry-run"], " Nothing was changed."),
        (["import", "billing", "{file}", "--yes"], " Nothing was changed."),
        (["diff", "{backup}", "live"], ""),
        (["env", "add", "billing-again", "--path", "{folder}", "--version", "1"], ""),
    ],
    ids=["backup", "restore", "dry-run", "import", "diff", "env-add"],
)
def test_a_command_on_a_folder_whose_network_disk_is_gone_says_so_and_changes_nothing(
    billing_on_a_network_disk_gone, tmp_path, capsys, command, ends
):
    data, folder, backup = billing_on_a_network_disk_gone
    before = _state(data)
    argv = [
        part.format(backup=backup, file=tmp_path / "billing.envops", folder=folder)
        for part in command
    ]

    code = main(["--data-dir", str(data), *argv])

    said = capsys.readouterr().err
    assert code == 1
    assert said == f"envops: Cannot reach {folder}: {GONE}{ends}\n"
    assert _state(data) == before
    assert before[0] is EnvironmentStatus.READY


def test_a_backup_that_found_its_network_disk_gone_is_in_the_activity_log(
    billing_on_a_network_disk_gone,
):
    # A scheduled backup fails with nobody watching: the log is where it is found.
    data, folder, _backup = billing_on_a_network_disk_gone
    assert main(["--data-dir", str(data), "backup", "create", "billing"]) == 1

    service = EnvOpsService(data)
    try:
        newest = service.activity("billing", limit=1)[0]
    finally:
        service.close()
    assert newest.action is ActivityAction.BACKUP_FAILED
    assert newest.detail == f"Cannot reach {folder}: {GONE}"


def test_a_version_file_on_a_network_disk_gone_is_named_with_what_to_check(tmp_path, capsys):
    # Its folder answers; the file it keeps its version in is a link onto the disk gone.
    shared = tmp_path / "share" / "versions"
    shared.mkdir(parents=True)
    (shared / "billing").write_text("4.2.0\n")
    folder = tmp_path / "billing"
    make_config_tree(folder)
    (folder / "VERSION").unlink(missing_ok=True)
    (folder / "VERSION").symlink_to(shared / "billing")
    data = tmp_path / "data"
    backup = _backed_up(data, "billing", folder, version_file="VERSION")

    with network_disk_gone(tmp_path / "share"):
        code = main(["--data-dir", str(data), "restore", "billing", backup, "--yes"])

    assert code == 1
    assert capsys.readouterr().err == (
        f"envops: The version file {folder / 'VERSION'} cannot be read: {GONE}\n"
    )


def test_a_restore_to_a_removable_disk_gone_names_it(
    billing_on_a_network_disk_gone, tmp_path, capsys
):
    data, _folder, backup = billing_on_a_network_disk_gone
    disk = tmp_path / "share"

    code = main(["--data-dir", str(data), "restore", "billing", backup, "--to", str(disk)])

    assert code == 1
    assert capsys.readouterr().err == f"envops: Cannot reach {disk}: {GONE} Nothing was written.\n"


@pytest.mark.parametrize(
    ("command", "ends"),
    [
        (["backup", "create", "billing"], " No backup was recorded."),
        (["diff", "{backup}", "live"], ""),
    ],
    ids=["backup", "diff"],
)
def test_a_network_disk_gone_inside_the_folder_is_named_by_what_reads_the_folder(
    tmp_path, capsys, command, ends
):
    # A share of secrets mounted inside the configuration folder, its server gone.
    folder = tmp_path / "billing"
    make_config_tree(folder)
    data = tmp_path / "data"
    backup = _backed_up(data, "billing", folder, version="4.2.0")

    with network_disk_gone(folder / "secrets"):
        code = main(["--data-dir", str(data), *(part.format(backup=backup) for part in command)])

    assert code == 1
    assert capsys.readouterr().err == f"envops: Could not read secrets in billing: {GONE}{ends}\n"


def test_a_disk_failing_under_the_folder_or_inside_it_is_named_with_what_it_said(tmp_path, capsys):
    shop = tmp_path / "failing" / "shop"
    make_config_tree(shop)
    billing = tmp_path / "billing"
    make_config_tree(billing)
    data = tmp_path / "data"
    backup = _backed_up(data, "shop", shop, version="1.0")
    _backed_up(data, "billing", billing, version="4.2.0")
    failed = "Input/output error. If it is on a network or removable disk, check that the disk "

    with disk_failing_every_look(tmp_path / "failing"), disk_failing_every_look(billing / "certs"):
        restore = main(["--data-dir", str(data), "restore", "shop", backup, "--yes"])
        said_of_shop = capsys.readouterr().err
        back_up = main(["--data-dir", str(data), "backup", "create", "billing"])
        said_of_billing = capsys.readouterr().err

    assert (restore, back_up) == (1, 1)
    assert said_of_shop.startswith(f"envops: Cannot reach {shop}: {failed}")
    assert said_of_billing.startswith(f"envops: Could not read certs in billing: {failed}")


@pytest.mark.parametrize(
    "command",
    [
        ["backup", "create", "billing"],
        ["restore", "billing", "{backup}", "--yes"],
        ["restore", "billing", "{backup}", "--dry-run"],
        ["diff", "{backup}", "live"],
    ],
    ids=["backup", "restore", "dry-run", "diff"],
)
def test_a_command_on_a_folder_whose_network_disk_hangs_gives_up_after_the_wait(
    tmp_path, capsys, monkeypatch, command
):
    # It waited as long as the disk did: for ever, deaf to Ctrl+C, as an NFS hard mount is.
    monkeypatch.setattr(folder_reach, "ANSWER_SECONDS", 1.0)
    folder = tmp_path / "share" / "billing"  # its version in a file there, read first
    make_config_tree(folder)
    data = tmp_path / "data"
    backup = _backed_up(data, "billing", folder, version_file="VERSION")

    with network_disk_not_answering(tmp_path / "share"):
        started = time.monotonic()
        code = main(["--data-dir", str(data), *(part.format(backup=backup) for part in command)])
        took = time.monotonic() - started

    assert code == 1
    assert capsys.readouterr().err.startswith(
        f"envops: {folder} did not answer within 1 s: if it is on a network disk, check that "
        "its server answers."
    )
    assert took < 10


def test_scheduled_backups_go_on_past_an_environment_whose_disk_hangs(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(folder_reach, "ANSWER_SECONDS", 1.0)
    hung = tmp_path / "share" / "billing"  # its version in a file there
    make_config_tree(hung)
    shop = tmp_path / "shop"
    make_config_tree(shop)
    data = tmp_path / "data"
    two_hours_ago = EnvOpsService(data, clock=lambda: utc_now() - timedelta(hours=2, minutes=1))
    every_two_hours = ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=2)
    two_hours_ago.add_environment("billing", hung, version_file="VERSION")
    two_hours_ago.add_environment("shop", shop, version="1.0")
    for name in ("billing", "shop"):
        two_hours_ago.set_schedule(name, every_two_hours)
    two_hours_ago.close()

    with network_disk_not_answering(tmp_path / "share"):
        code = main(["--data-dir", str(data), "schedule", "run"])

    service = EnvOpsService(data)
    try:
        shop_backups = service.list_backups("shop")
        billing = service.schedule("billing")
    finally:
        service.close()
    assert code == 1
    assert capsys.readouterr().err == "envops: The scheduled backup of billing failed.\n"
    assert [b.origin for b in shop_backups] == [BackupOrigin.SCHEDULED]
    assert billing.overdue
    assert billing.last_detail == (
        f"{hung} did not answer within 1 s: if it is on a network disk, check that its "
        "server answers."
    )


def test_a_restore_interrupted_on_a_disk_that_now_hangs_holds_no_other_command(
    tmp_path, capsys, monkeypatch
):
    # Every command puts interrupted restores right first: it waited for billing's disk for
    # ever, whatever environment it was for.
    monkeypatch.setattr(folder_reach, "ANSWER_SECONDS", 1.0)
    scenario = build_scenario(tmp_path)
    killed = scenario.restore_process(scenario.messed, crash_at="swapped")
    killed.communicate(timeout=60)
    shop = tmp_path / "shop"
    make_config_tree(shop)
    _backed_up(scenario.data_dir, "shop", shop, version="1.0")

    with network_disk_not_answering(tmp_path / "envs") as give_up:
        watchdog = threading.Timer(10, give_up)  # the old code's wait, ended for the test
        watchdog.start()
        started = time.monotonic()
        code = main(["--data-dir", str(scenario.data_dir), "backup", "create", "shop"])
        took = time.monotonic() - started
        watchdog.cancel()
    billing = _state(scenario.data_dir)[0]

    assert code == 0
    assert took < 10
    assert capsys.readouterr().err == (
        f"envops: recovered billing: the interrupted restore waits for its folder: "
        f"{tmp_path / 'envs'} did not answer within 1 s: if it is on a network disk, check "
        "that its server answers; EnvOps will try again at the next start or restore of it\n"
    )
    assert billing is EnvironmentStatus.UPDATE_FAILED
    assert scenario.state() == "messed"  # the disk answers again: nothing was changed there
