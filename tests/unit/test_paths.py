"""The path rules every manifest entry and zip member must pass."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envops_desktop.domain import paths
from envops_desktop.domain.paths import link_target_escapes, relative_path_problem


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "is empty"),
        ("../etc/passwd", "climbs out"),
        ("a/../../b", "climbs out"),
        ("/etc/passwd", "absolute"),
        ("a//b", "empty or '.'"),
        ("./a", "empty or '.'"),
        ("a\x00b", "NUL"),
    ],
)
def test_unsafe_paths_are_named(path, problem):
    assert problem in (relative_path_problem(path) or "")


@pytest.mark.parametrize("path", ["app.yaml", "conf.d/db.ini", "a/b/c/.hidden", "..hidden"])
def test_ordinary_paths_pass(path):
    assert relative_path_problem(path) is None


@pytest.mark.parametrize("path", ["scripts/run\\me.sh", "a:b", "C:/Windows", "c:"])
def test_a_backslash_or_a_colon_is_part_of_a_name_on_posix(path, monkeypatch):
    # Export writes such names from Linux trees; its own import must take them back.
    monkeypatch.setattr(paths, "_WINDOWS", False)
    assert relative_path_problem(path) is None
    assert not link_target_escapes("link", path)


@pytest.mark.parametrize("path", ["C:/Windows", "c:evil", "a\\..\\..\\b"])
def test_a_drive_or_a_backslash_is_refused_on_windows(path, monkeypatch):
    # There they name another disk, or climb out.
    monkeypatch.setattr(paths, "_WINDOWS", True)
    assert relative_path_problem(path) is not None
    assert link_target_escapes("link", path)


@pytest.mark.parametrize(
    ("link", "target", "escapes"),
    [
        ("a", "b", False),
        ("dir/a", "../b", False),
        ("dir/a", "../../b", True),
        ("a", "/etc/passwd", True),
        ("a", "C:/x", os.name == "nt"),  # on POSIX, a folder named C: beside the link
        ("a", "back\\slash", os.name == "nt"),
        ("a/b/c", "../../x/../../y", True),
        ("a", ".", False),
    ],
)
def test_link_targets_that_leave_the_root_are_spotted(link, target, escapes):
    assert link_target_escapes(link, target) is escapes


@given(st.lists(st.sampled_from(["a", "b", "..", ".", ""]), min_size=1, max_size=6))
def test_a_path_that_passes_never_climbs_out(parts):
    path = "/".join(parts)
    if relative_path_problem(path) is None:
        depth = 0
        for part in path.split("/"):
            depth += -1 if part == ".." else 1
            assert depth > 0


@pytest.mark.parametrize(
    ("environment", "backup", "name"),
    [
        ("billing", "nightly", "billing nightly.envops.zip"),
        ("billing", "Backup 2026-12-07 16:15", "billing Backup 2026-12-07 16-15.envops.zip"),
        ("eu/billing", 'v2 "final" <ok>?', "eu-billing v2 -final- -ok--.envops.zip"),
        ("a\\b|c*d", "nightly", "a-b-c-d nightly.envops.zip"),
        (".dotfiles", "nightly", "dotfiles nightly.envops.zip"),
    ],
)
def test_an_exports_file_name_holds_nothing_a_file_name_may_not_on_any_system(
    environment, backup, name
):
    assert paths.export_file_name(environment, backup) == name


def test_an_exports_file_name_of_two_long_names_in_a_wide_script_fits_in_one_name():
    name = paths.export_file_name("請求" * 50, "毎晩のバックアップ" * 11)
    assert name.endswith(".envops.zip") and name.startswith("請求請求")
    assert len(name.encode()) <= 255
