"""A configuration file's manifest validated a batch at a time, each let go once checked;
its members' names escaped from format version 2."""

import pytest

from envops_desktop.domain.configuration import (
    ESCAPED_NAMES_VERSION,
    FILES_PREFIX,
    member_name,
    path_of_member,
)
from envops_desktop.store.configuration_reader import validated_entries
from tests.zips import dir_entry, file_entry


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
