"""Reading an environment's folder: every entry as it is, never through a link."""

import os

import pytest

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.excludes import Excludes
from envops_desktop.service import scanning
from envops_desktop.service.scanning import scan_tree
from tests.meanwhile import once_listed
from tests.trees import make_config_tree, make_tree_of_every_kind


def test_scan_by_folder_descriptor_finds_what_a_scandir_scan_finds(tmp_path, monkeypatch):
    # Linux and macOS read each folder through its descriptor; Windows through scandir.
    # Both must see the same tree, or a backup made on one would not match on the other.
    root = tmp_path / "env"
    make_config_tree(root, files=30)
    os.mkfifo(root / "control.fifo")
    by_descriptor = scan_tree(root)
    monkeypatch.setattr(scanning, "_BY_DESCRIPTOR", False)
    by_scandir = scan_tree(root)

    assert sorted(by_descriptor.files) == sorted(by_scandir.files)
    assert sorted(by_descriptor.others) == sorted(by_scandir.others)
    assert by_descriptor.skipped == by_scandir.skipped == []
    assert "control.fifo" in {e.path for e in by_descriptor.others}
    assert {e.path: e.target for e in by_descriptor.others if e.target} == {
        "db.ini": "conf.d/database.ini",
        "plugins/enabled/audit.so": "../audit.so",
    }
    assert len(by_descriptor.files) == 37


def test_folder_swapped_for_a_link_while_scanning_is_refused_not_followed(tmp_path, monkeypatch):
    root = tmp_path / "env"
    make_config_tree(root)
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "shadow").write_text("not part of the environment")

    def swap_conf_d_for_a_link() -> None:  # conf.d was listed as a folder; now it is a link
        os.rename(root / "conf.d", tmp_path / "conf.d.old")
        os.symlink(outside, root / "conf.d")

    once_listed(monkeypatch, root, swap_conf_d_for_a_link)
    with pytest.raises(OperationFailedError, match="changed while it was being read"):
        scan_tree(root)


@pytest.mark.skipif(not scanning._BY_DESCRIPTOR, reason="statuses here come with the listing")
def test_a_file_gone_between_listing_and_status_is_passed_over_if_excluded_or_asked(
    tmp_path, monkeypatch
):
    root = tmp_path / "env"
    make_config_tree(root)
    (root / "app.pid").write_text("42\n")  # a service's, excluded: it comes and goes
    lstat = os.lstat

    def gone_first(name, *args, **kwargs):
        if name in ("app.pid", "app.yaml"):
            os.unlink(name, dir_fd=kwargs.get("dir_fd"))
        return lstat(name, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", gone_first)
    scan = scan_tree(root, Excludes(["*.pid", "app.yaml"]))
    assert "app.pid" not in scan.files.paths
    (root / "app.pid").write_text("43\n")
    (root / "app.yaml").write_text("server: {}\n")

    with pytest.raises(OperationFailedError, match="changed while it was being read"):
        scan_tree(root, Excludes(["*.pid"]))  # app.yaml is not excluded

    # A backup asks to pass over what is removed, and names it.
    (root / "app.pid").write_text("44\n")
    (root / "app.yaml").write_text("server: {}\n")
    scan = scan_tree(root, Excludes(["*.pid"]), pass_over_removed=True)
    assert scan.removed == ["app.yaml"]
    assert "app.yaml" not in scan.files.paths and "VERSION" in scan.files.paths


def test_environment_folder_that_is_itself_a_link_is_followed(tmp_path):
    # The environment's own path may be a link (a release symlink); only what is inside is
    # never followed.
    make_config_tree(tmp_path / "release-4.2")
    os.symlink(tmp_path / "release-4.2", tmp_path / "current")
    assert len(scan_tree(tmp_path / "current").files) == 7


def test_files_come_out_in_path_order_with_no_sort_of_them_all(tmp_path):
    # A folder `a` holds paths that sort after `a-b` and `a.conf` but before `a0`: the scan
    # walks folders depth first and must still hand the files over in path order, the
    # order of a manifest, which a backup writes as it reads.
    root = tmp_path / "env"
    for relative in ["a/z.conf", "a/b/c.conf", "a-b", "a.conf", "a0", "a b/x", "A", "ä/y", "a/!"]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)
    paths = [file[0] for file in scan_tree(root).files]
    assert paths == sorted(paths)
    assert len(paths) == 9


def test_how_much_a_folder_holds_is_counted_at_every_depth_and_never_through_a_link(tmp_path):
    root = tmp_path / "env"
    make_config_tree(root)  # 14 entries
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for number in range(50):
        (outside / f"{number}.conf").write_text("not in the environment\n")
    os.symlink(outside, root / "linked")  # the 15th; what it points to is not counted
    entries = sum(len(names) + len(files) for _, names, files in os.walk(root))

    assert entries == 15
    assert scanning.holds_at_most(root, 15)
    assert not scanning.holds_at_most(root, 14)
    assert scanning.holds_at_most(tmp_path / "empty-or-gone", 0)


def test_a_quick_scan_with_its_file_xattrs_read_after_finds_what_a_full_scan_finds(tmp_path):
    # A backup scans quickly first and reads files' xattrs only when the tree is not one it
    # has seen: the two steps together must record what one full scan records.
    root = tmp_path / "env"
    make_tree_of_every_kind(root, as_root=os.geteuid() == 0)
    os.setxattr(root / "app.yaml", "user.origin", b"deploy-42")
    os.setxattr(root / "conf.d" / "main.cf", "user.linked", b"thrice")  # hardlinked
    full = scan_tree(root)
    quick = scan_tree(root, file_xattrs=False)
    # A hardlinked or sparse file's metadata is read at once; every other file's later.
    assert sum("xattrs" in (m or {}) for m in quick.files.metas) == 3
    quick.read_file_xattrs()

    assert list(quick.files) == list(full.files)
    assert quick.files.metas == full.files.metas
    assert quick.others == full.others and quick.root_meta == full.root_meta
    assert sum("xattrs" in (m or {}) for m in full.files.metas) == 6


def test_a_digest_is_only_taken_of_a_quick_scan(tmp_path):
    make_config_tree(tmp_path / "env")
    with pytest.raises(ValueError, match="quick scan"):
        scan_tree(tmp_path / "env").digest()
