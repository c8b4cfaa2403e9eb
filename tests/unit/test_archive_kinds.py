"""Telling a configuration file from an archive another tool made, by its zip directory and
its manifest's first bytes."""

import zipfile
from pathlib import Path

import pytest

from envops_desktop.store.archive_kinds import plain_archive_kind

ENVOPS_MANIFEST = b'{\n "format": "envops-configuration",\n "format_version": 1\n}'
WEB_MANIFEST = b'{"name": "Billing", "start_url": "/", "display": "standalone"}'


def _zip(path: Path, names: list[str], manifest: bytes = ENVOPS_MANIFEST, method: int = 8) -> Path:
    with zipfile.ZipFile(path, "w", method, allowZip64=True) as archive:
        for name in names:
            archive.writestr(name, manifest if name == "manifest.json" else b"x")
    return path


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("files", [3, 70_000], ids=["small", "zip64-directory"])
def test_a_zip_with_envops_manifest_at_its_top_is_a_configuration_file(tmp_path, files, method):
    # More than 65,535 entries: the count and the directory's place are in zip64 records.
    names = [f"config/conf{number}.ini" for number in range(files)] + ["manifest.json"]

    assert plain_archive_kind(_zip(tmp_path / "export.envops.zip", names, method=method)) is None


def test_a_zip_with_a_manifest_of_another_kind_at_its_top_is_a_plain_archive(tmp_path):
    # A web application's, say: manifest.json beside its index.html.
    names = ["manifest.json", "index.html", "config/app.yaml"]

    assert plain_archive_kind(_zip(tmp_path / "web.zip", names, WEB_MANIFEST)) == "zip"


@pytest.mark.parametrize(
    "manifest",
    [b"{not json", b"", b'{"format": "envops-configuration-2"}'],
    ids=["damaged", "empty", "other-format"],
)
def test_a_manifest_that_is_not_plainly_another_kind_is_refused_as_envops_own(tmp_path, manifest):
    # Left to the configuration file's reader, which says what is wrong with it.
    names = ["config/app.yaml", "manifest.json"]

    assert plain_archive_kind(_zip(tmp_path / "damaged.envops.zip", names, manifest)) is None


def test_a_zip_with_a_manifest_only_in_a_folder_is_a_plain_archive(tmp_path):
    names = ["app/manifest.json", "app/config.yaml", "xmanifest.json"]

    assert plain_archive_kind(_zip(tmp_path / "app.zip", names)) == "zip"


def test_a_zip_cut_short_is_left_to_be_refused_as_a_configuration_file(tmp_path):
    whole = _zip(tmp_path / "whole.zip", ["config/a.ini", "manifest.json"]).read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[:-10])

    assert plain_archive_kind(tmp_path / "cut.zip") is None


def test_a_configuration_file_whose_manifest_lies_past_4_gib_is_one(tmp_path, monkeypatch):
    # Past 4 GiB a record's sizes and offset are in its zip64 field: written so here by
    # lowering zipfile's limit, as a configuration file of 5 GiB has them.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 16)
    names = ["config/a.ini", "config/b.ini", "manifest.json"]
    archive = _zip(tmp_path / "big.envops.zip", names)
    with zipfile.ZipFile(archive) as written:  # as it would be past 4 GiB
        assert written.getinfo("manifest.json").extra.startswith(b"\x01\x00")
    web = _zip(tmp_path / "web.zip", names, WEB_MANIFEST)

    assert plain_archive_kind(archive) is None
    assert plain_archive_kind(web) == "zip"
