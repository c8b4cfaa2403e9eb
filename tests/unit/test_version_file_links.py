"""Where an environment's version file leads once a tree is in its folder: the tree's links
are followed as the kernel would follow them after the restore, the rest as it is now."""

import os
from datetime import UTC, datetime
from pathlib import Path

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.models import Environment, TreeEntry
from envops_desktop.service.versions import version_file_in


def environment(folder: Path) -> Environment:
    now = datetime.now(UTC)
    return Environment(
        id="e1", name="test", path=str(folder), version="4.2.0", version_file="VERSION",
        created_at=now, updated_at=now,
    )  # fmt: skip


def file(path: str) -> TreeEntry:
    return TreeEntry(path, EntryKind.FILE, 0o644, 6, 0, "0" * 64, None)


def link(path: str, target: str) -> TreeEntry:
    return TreeEntry(path, EntryKind.SYMLINK, 0o777, 0, 0, None, target)


def test_a_link_that_climbs_out_by_the_folders_own_name_leads_back_into_the_tree(tmp_path):
    folder = tmp_path / "test"
    folder.mkdir()
    tree = [link("VERSION", "./../test//release/./VERSION"), file("release/VERSION")]

    assert version_file_in(environment(folder), "VERSION", tree) == tree[1]


def test_what_the_folder_holds_now_is_not_what_a_link_is_followed_through(tmp_path):
    folder = tmp_path / "test"
    (folder / "release").mkdir(parents=True)
    (folder / "release" / "VERSION").write_text("4.2.0\n")  # replaced by the restore
    tree = [link("VERSION", "release/VERSION")]

    assert version_file_in(environment(folder), "VERSION", tree) is None


def test_a_link_out_of_the_tree_is_followed_through_the_links_found_there(tmp_path):
    folder, opt = tmp_path / "test", tmp_path / "opt"
    folder.mkdir()
    (opt / "app-5.0.0").mkdir(parents=True)
    (opt / "app-5.0.0" / "VERSION").write_text("5.0.0\n")
    os.symlink("app-5.0.0", opt / "app")
    tree = [link("VERSION", f"{opt}/app/VERSION")]

    assert version_file_in(environment(folder), "VERSION", tree) == opt / "app-5.0.0" / "VERSION"
    assert version_file_in(environment(folder), "VERSION", [link("VERSION", "../nowhere")]) is None


def test_a_folder_or_a_link_that_leads_back_to_itself_is_no_version_file(tmp_path):
    folder = tmp_path / "test"
    folder.mkdir()
    assert version_file_in(environment(folder), "VERSION", [link("VERSION", ".")]) is None
    loop = [link("VERSION", "a"), link("a", "VERSION")]
    assert version_file_in(environment(folder), "VERSION", loop) is None
