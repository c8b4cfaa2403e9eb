"""A configuration file's manifest validated a batch at a time, each let go once checked;
its members' names escaped from format version 2; its size limit on what it writes."""

import json
import threading
import zipfile
from pathlib import Path

import pytest

from envops_desktop.domain.configuration import (
    ESCAPED_NAMES_VERSION,
    FILES_PREFIX,
    PLAIN_NAMES_VERSION,
    ConfigurationManifest,
    ManifestEntry,
    format_version_for,
    member_name,
    path_of_member,
)
from envops_desktop.domain.errors import InvalidConfigurationFileError
from envops_desktop.store.configuration_reader import (
    check_configuration_file,
    check_converted,
    validated_entries,
)
from envops_desktop.store.zip_members import ZipMember
from tests.zips import dir_entry, file_entry, manifest, write_configuration


def _refusal(start, error, batch):
    first = error.errors()[0]
    return ValueError(f"entry {start + int(first['loc'][0])}: {batch[first['loc'][0]]['path']}")


def test_validation_lets_go_of_each_batch_of_the_parsed_manifest():
    # Held to the end beside the validated entries, the 1 GiB tree's parsed manifest took
    # 17 MiB at an import's peak.
    raw = [file_entry(f"conf.d/{number:05d}.conf", b"x") for number in range(1_234)]

    entries = validated_entries(raw, _refusal)

    assert [entry.path for entry in entries] == [f"conf.d/{n:05d}.conf" for n in range(1_234)]
    assert raw == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
@pytest.mark.parametrize("on_a_worker", [True, False], ids=["worker", "main-thread"])
def test_a_manifest_of_many_megabytes_is_read_whole_a_megabyte_at_a_time(
    tmp_path, monkeypatch, encoding, on_a_worker
):
    # Inflated in one call, the manifest of 200,000 files held the GIL, and the window,
    # 30 ms; decoded into one 67 MB string, 35-40 ms. A worker parses it as it is read, in
    # any encoding json.loads reads; the command line, on the main thread, in one call.
    folders = [dir_entry(f"{'folder-' * 30}é{number:05d}") for number in range(15_000)]
    document = json.dumps(manifest(folders), ensure_ascii=False).encode(encoding)
    path = write_configuration(tmp_path / "big.envops.zip", document, {})
    asked: list[int] = []
    read = zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda member, n=-1: asked.append(n) or read(member, n)
    )
    checked: list[ConfigurationManifest] = []

    def check() -> None:
        checked.append(check_configuration_file(path)[0])

    if on_a_worker:
        worker = threading.Thread(target=check)
        worker.start()
        worker.join()
    else:
        check()

    assert [entry.path for entry in checked[0].entries] == [entry["path"] for entry in folders]
    assert sum(asked) > 3 << 20
    assert 0 < max(asked) <= 1 << 20


def test_an_invalid_entry_far_down_the_list_is_named_by_its_place_in_it():
    raw = [dir_entry(f"folder{number:05d}") for number in range(1_234)]
    raw[1_101]["kind"] = "device"

    with pytest.raises(ValueError, match="entry 1101: folder01101"):
        validated_entries(raw, _refusal)


@pytest.mark.parametrize(
    "path",
    ["app.yaml", "conf.d/a b", "back\\slash", "\\xff", "caf\udce9", "d\udcff/x\\\\y", "é/\udc80"],
)
def test_a_member_name_of_version_2_reads_back_to_its_path_only(path):
    name = member_name(path, ESCAPED_NAMES_VERSION).removeprefix(FILES_PREFIX)
    name.encode("utf-8")  # every member name is UTF-8
    assert path_of_member(name) == path


@pytest.mark.parametrize("name", ["a\\q", "a\\", "\\x41", "\\xc3\\xa9", "\\x2e\\x2e/x"])
def test_a_member_name_escaped_otherwise_reads_back_to_nothing(name):
    # A backslash escaping nothing, a byte UTF-8 has a letter for, two spellings of "é".
    assert path_of_member(name) is None


_GIB = 1 << 30


def _checked_with_sizes(files: dict[str, tuple[int, dict | None]]) -> None:
    """Check a manifest of `files` (path: size read, meta) against members that declare
    those sizes: a sparse file's deflated a thousand times over, as zeros are, the others
    not at all."""
    entries, members = [], {}
    for path, (size, meta) in files.items():
        entry = {**file_entry(path, b""), "size": size, "meta": meta}
        entries.append(entry)
        if not (meta and "hardlink" in meta):
            packed = size // 1000 if meta else size
            members[path] = ZipMember(FILES_PREFIX + path, 0, 8, 0, packed, size, 0)
    checked = ConfigurationManifest.model_validate(manifest(entries))
    check_converted(Path("vm.zip"), checked, members, allow_external_links=False)


def test_a_sparse_file_read_as_more_than_the_size_limit_is_let_in_for_the_data_it_writes():
    # A VM image or lastlog of 200 GiB holding 4 MiB of data: its holes are written as holes.
    image = (200 * _GIB, {"data": [[0, 2 << 20], [100 * _GIB, 2 << 20]]})
    _checked_with_sizes({"disk.img": image})


def test_the_other_names_of_a_file_do_not_count_against_the_size_limit_again():
    data = 40 * _GIB
    _checked_with_sizes({"a.bin": (data, None), "b.bin": (data, {"hardlink": "a.bin"})})


def test_files_whose_data_is_more_than_the_size_limit_are_refused():
    half_full = (200 * _GIB, {"data": [[0, 33 * _GIB]]})
    with pytest.raises(InvalidConfigurationFileError, match="more than the limit of 64 GiB"):
        _checked_with_sizes({"a.img": half_full, "b.img": half_full})
    with pytest.raises(InvalidConfigurationFileError, match="more than the limit of 64 GiB"):
        _checked_with_sizes({"a.bin": (40 * _GIB, None), "b.bin": (40 * _GIB, None)})


def test_files_read_as_more_than_a_tib_are_refused_whatever_they_write():
    # Every byte is hashed, holes included: a 2 TiB image would take 20 minutes to check.
    image = (2 << 40, {"data": [[0, 4096]]})
    with pytest.raises(InvalidConfigurationFileError, match="more than the limit of 1024 GiB"):
        _checked_with_sizes({"disk.img": image})


def test_a_folder_whose_own_attribute_name_is_not_utf8_needs_the_escaped_names_format():
    # Only the folder itself had one: the file said version 1, whose JSON cannot hold it.
    plain = {"xattrs": {"user.note": "eA=="}}
    odd = {"xattrs": {"user.caf\udce9": "eA=="}}
    entries = [ManifestEntry.model_validate(file_entry("app.yaml", b"port: 1\n"))]
    assert format_version_for(entries, plain) == PLAIN_NAMES_VERSION
    assert format_version_for(entries, odd) == ESCAPED_NAMES_VERSION
