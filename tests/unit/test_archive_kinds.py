"""Telling a configuration file from an archive another tool made, by its zip directory."""

import zipfile
from pathlib import Path

import pytest

from envops_desktop.store.plain_archives import plain_archive_kind


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
        for name in names:
            archive.writestr(name, b"x")
    return path


@pytest.mark.parametrize("files", [3, 70_000], ids=["small", "zip64-directory"])
def test_a_zip_with_a_top_level_manifest_is_a_configuration_file(tmp_path, files):
    # More than 65,535 entries: the count and the directory's place are in zip64 records.
    names = [f"files/conf{number}.ini" for number in range(files)] + ["manifest.json"]

    assert plain_archive_kind(_zip(tmp_path / "export.envops.zip", names)) is None


def test_a_zip_with_a_manifest_only_in_a_folder_is_a_plain_archive(tmp_path):
    names = ["app/manifest.json", "app/config.yaml", "xmanifest.json"]

    assert plain_archive_kind(_zip(tmp_path / "app.zip", names)) == "zip"


def test_a_zip_cut_short_is_left_to_be_refused_as_a_configuration_file(tmp_path):
    whole = _zip(tmp_path / "whole.zip", ["files/a.ini", "manifest.json"]).read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[:-10])

    assert plain_archive_kind(tmp_path / "cut.zip") is None
