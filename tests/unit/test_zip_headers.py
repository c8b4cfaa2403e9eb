"""A zip entry's extra fields, as untrusted bytes: a malformed field is passed over, never
a reason to fail, and what it would have said comes from the headers every entry has."""

import struct
import time
import zipfile

import pytest

from envops_desktop.store.zip_headers import headers_of

DOS_TIME = (2026, 1, 2, 3, 4, 6)
DOS_NS = int(time.mktime((*DOS_TIME, 0, 0, -1))) * 1_000_000_000


def _entry(extra: bytes, name: str = "app.yaml", system: int = 3) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, DOS_TIME)
    info.create_system, info.extra, info.external_attr = system, extra, 0o100644 << 16
    return info


@pytest.mark.parametrize(
    "extra",
    [
        struct.pack("<HH", 0x5455, 40) + b"\x01\x00",  # runs past the end
        struct.pack("<HHB", 0x5455, 1, 1),  # flags a time it does not hold
        struct.pack("<HHI", 0x000A, 4, 0),  # NTFS with no attribute in it
        struct.pack("<HHIHH", 0x000A, 12, 0, 1, 24) + bytes(4),  # its attribute cut short
        struct.pack("<HHBB", 0x7875, 2, 1, 9),  # an owner id longer than its field
        struct.pack("<HHBBQBB", 0x7875, 12, 1, 8, 1 << 40, 1, 0),  # an id over 32 bits
        b"\x01",  # not even a field's header
    ],
    ids=["past-end", "no-time", "empty-ntfs", "short-ntfs", "short-ux", "wide-ux", "stub"],
)
def test_a_malformed_extra_field_is_passed_over(extra):
    headers = headers_of(_entry(extra))

    assert headers.name == "app.yaml" and not headers.is_folder
    assert headers.mtime_ns == DOS_NS and headers.owners is None


def test_a_unicode_path_whose_checksum_does_not_match_the_name_is_not_taken():
    # Renamed by a tool that did not know the field: the name in the header is the one.
    # (Not flagged as UTF-8, its bytes are read as code page 437 by `zipfile`.)
    stale = struct.pack("<HHBI", 0x7075, 5 + 8, 1, 0) + b"old.yaml"
    info = _entry(stale, name="caf\u00e9.yaml".encode().decode("cp437"), system=3)

    assert headers_of(info).name == "caf\u00e9.yaml"
