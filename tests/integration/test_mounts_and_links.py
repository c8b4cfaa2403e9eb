"""Mounts inside an environment, environments registered through links, and the data folder:
never emptied, never half-restored, never chmodded from outside."""

import os
import subprocess
from pathlib import Path

import pytest

from envops_desktop.cli import main
from envops_desktop.domain.errors import InvalidInputError, OperationFailedError
from envops_desktop.service.mounts import mounts_inside
from envops_desktop.service.swap import remove_tree
from tests.disks import needs_root_to_mount
from tests.trees import describe_tree, make_config_tree, mess_up


@pytest.fixture
def bind_mount(tmp_path: Path):
    """Mount a folder of precious files at `where`, and unmount it afterwards, always."""

    def mount(source: Path, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(source), str(where)], check=True)

    yield mount
    # Wherever they are now: code that moves a mount aside with a folder takes it along.
    for where in reversed(mounts_inside(tmp_path)):
        subprocess.run(["umount", str(where)], check=False)


def _precious(tmp_path: Path) -> Path:
    source = tmp_path / "precious"
    source.mkdir()
    (source / "data.db").write_text("rows that live elsewhere\n")
    (source / "keys").mkdir(mode=0o750)
    return source


@needs_root_to_mount
def test_a_mount_inside_an_environment_is_found_even_on_the_same_filesystem(
    tmp_path, config_dir, bind_mount
):
    bind_mount(_precious(tmp_path), config_dir / "mnt")
    assert mounts_inside(config_dir) == [config_dir / "mnt"]
    assert mounts_inside(config_dir / "conf.d") == []


@needs_root_to_mount
def test_a_restore_into_an_environment_with_a_mount_is_refused_and_changes_nothing(
    service, environment, config_dir, tmp_path, bind_mount
):
    backup = service.create_backup("billing")
    source = _precious(tmp_path)
    mess_up(config_dir)
    bind_mount(source, config_dir / "mnt")
    before, precious = describe_tree(config_dir), describe_tree(source)
    with pytest.raises(OperationFailedError, match=r"mnt is a filesystem mounted inside billing"):
        service.restore_backup("billing", backup.id, backup_first=True)
    assert describe_tree(config_dir) == before
    assert describe_tree(source) == precious
    assert (source / "keys").stat().st_mode & 0o777 == 0o750
    assert [b.id for b in service.list_backups("billing")] == [backup.id]
    assert not [p for p in config_dir.parent.iterdir() if ".envops-" in p.name]


@needs_root_to_mount
@pytest.mark.parametrize("mounted", ["the folder itself", "a folder inside it"])
def test_adding_a_folder_restores_will_refuse_says_so_then_and_its_backups_work(
    tmp_path, bind_mount, capsys, mounted
):
    # A share mounted as the environment itself was added without a word, backed up for
    # months, and refused at the first restore, when it was needed.
    folder = tmp_path / "srv" / "share"
    make_config_tree(folder)
    if mounted == "the folder itself":
        bind_mount(folder, folder)
    else:
        bind_mount(_precious(tmp_path), folder / "db")
    data = ["--data-dir", str(tmp_path / "data")]
    add = [*data, "env", "add", "share", "--path", str(folder), "--version", "1"]

    added = main(add)
    out, err = capsys.readouterr()
    backed_up = main([*data, "backup", "create", "share"])
    mess_up(folder)
    before = describe_tree(folder)
    capsys.readouterr()
    restored = main([*data, "restore", "share", "latest", "--yes", "--no-backup-first"])
    refused = capsys.readouterr().err

    assert (added, backed_up, restored) == (0, 0, 1)
    assert out == f"Added share ({folder}) at version 1.\n"
    assert err.startswith("envops: note: restores into share will be refused: ")
    why = (  # a folder bound onto itself was not seen, and failed part-way as "busy"
        "register a folder inside it as the environment instead."
        if mounted == "the folder itself"
        else "Unmount it, or register a folder that holds no mount."
    )
    assert err.endswith(why + "\n")
    assert refused.startswith("envops: ") and why in refused
    assert describe_tree(folder) == before
    assert sorted(p.name for p in folder.parent.iterdir()) == ["share"]


def test_adding_a_folder_a_restore_can_swap_says_nothing_more(tmp_path, capsys):
    make_config_tree(tmp_path / "billing")
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "env", "add", "billing", "--path", str(tmp_path / "billing"),
                 "--version", "1"]) == 0  # fmt: skip
    assert capsys.readouterr().err == ""


@needs_root_to_mount
def test_a_backup_records_a_mount_point_as_an_empty_folder_and_says_so(
    service, environment, config_dir, tmp_path, bind_mount
):
    bind_mount(_precious(tmp_path), config_dir / "mnt")
    backup = service.create_backup("billing")
    paths = [entry.path for entry in service.backup_entries(backup.id)]
    assert "mnt" in paths and not [p for p in paths if p.startswith("mnt/")]
    assert backup.skipped == [
        "mnt (a mount point: recorded as an empty folder, its contents not backed up)"
    ]
    assert "mnt (a mount point" in service.activity("billing")[0].detail


@needs_root_to_mount
def test_removing_a_leftover_tree_never_deletes_across_a_mount(tmp_path, bind_mount):
    leftover = tmp_path / ".billing.envops-previous-x"
    make_config_tree(leftover)
    source = _precious(tmp_path)
    bind_mount(source, leftover / "mnt")
    precious = describe_tree(source)
    with pytest.raises(OSError, match="mounted inside"):
        remove_tree(leftover)
    assert describe_tree(source) == precious


def test_an_environment_added_through_a_link_is_its_real_folder(service, config_dir, tmp_path):
    link = tmp_path / "billing-link"
    link.symlink_to(config_dir)
    env = service.add_environment("billing", link, version="4.2.0")
    assert Path(env.path) == config_dir.resolve()
    original = describe_tree(config_dir)
    backup = service.create_backup("billing")
    mess_up(config_dir)
    service.restore_backup("billing", backup.id)
    assert link.is_symlink() and link.resolve() == config_dir.resolve()
    assert describe_tree(config_dir) == original  # the real folder is what was restored
    with pytest.raises(InvalidInputError, match="already the environment billing"):
        service.add_environment("again", link, version="4.2.0")
    with pytest.raises(InvalidInputError, match="already the environment billing"):
        service.add_environment("again", config_dir, version="4.2.0")


def test_an_environment_left_registered_through_a_link_is_refused_untouched(
    service, config_dir, tmp_path
):
    import sqlite3

    link = tmp_path / "billing-link"
    link.symlink_to(config_dir)
    service.add_environment("billing", config_dir, version="4.2.0")
    backup = service.create_backup("billing")
    # As registered before paths were resolved.
    with sqlite3.connect(tmp_path / "data" / "envops.sqlite3") as db:
        db.execute("UPDATE environments SET path = ?", (str(link),))
    mess_up(config_dir)
    before, parent_mode = describe_tree(config_dir), tmp_path.stat().st_mode
    with pytest.raises(OperationFailedError, match="is a link to"):
        service.restore_backup("billing", backup.id)
    assert link.is_symlink() and describe_tree(config_dir) == before
    assert tmp_path.stat().st_mode == parent_mode
    assert not [p for p in tmp_path.iterdir() if ".envops-" in p.name]


def test_removing_a_leftover_link_removes_the_link_only(tmp_path):
    target = tmp_path / "elsewhere"
    make_config_tree(target)
    leftover = tmp_path / "box" / ".link.envops-previous-x"
    leftover.parent.mkdir(mode=0o755)
    leftover.symlink_to(target)
    before = describe_tree(target)
    remove_tree(leftover)
    assert not os.path.lexists(leftover)
    assert describe_tree(target) == before
    assert leftover.parent.stat().st_mode & 0o777 == 0o755


def test_a_folder_inside_the_data_folder_is_refused(service, tmp_path):
    inside = tmp_path / "data" / "objects" / "mine"
    inside.mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="EnvOps's own data"):
        service.add_environment("sneaky", inside, version="1")
