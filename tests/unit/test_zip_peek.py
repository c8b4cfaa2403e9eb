"""Reading the start of one member of a zip without reading the whole zip's directory."""

import contextlib
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envops_desktop.store.zip_peek import member_start, read_member_start
from tests.process_io import COUNTED, io_count

MANIFEST = "manifest.json"
DOCUMENT = json.dumps({"environment_name": "billing", "entries": list(range(3000))}).encode()


def _zip(members: list[tuple[str, bytes]], **options: object) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True, **options) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _start(data: bytes, name: str = MANIFEST, limit: int = 4096) -> bytes | None:
    return read_member_start(io.BytesIO(data), name, limit)


def _bytes_read(path: Path, name: str) -> int:
    before = io_count("rchar")
    with open(path, "rb", buffering=0) as file:
        assert read_member_start(file, name, 4096) == DOCUMENT[:4096]
    return io_count("rchar") - before


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("where", ["last", "first", "among others"])
def test_the_start_of_a_member_is_what_zipfile_reads(compression, where):
    others = [(f"config/f{i}.conf", os.urandom(50)) for i in range(200)]
    at = {"last": len(others), "first": 0, "among others": 77}[where]
    members = [*others[:at], (MANIFEST, DOCUMENT), *others[at:]]
    data = _zip(members, compression=compression)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert _start(data) == archive.open(MANIFEST).read(4096)


@pytest.mark.skipif(not COUNTED, reason="Linux counts bytes read")
def test_a_manifest_written_last_is_found_reading_kilobytes_of_a_directory_of_megabytes(
    tmp_path,
):
    # As an export of 30,000 files: `zipfile` reads its whole directory to open it.
    path = tmp_path / "big.envops.zip"
    members = [(f"config/folder{i // 100}/file{i}.conf", b"x") for i in range(30_000)]
    path.write_bytes(_zip([*members, (MANIFEST, DOCUMENT)], compression=zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(path) as archive:
        directory = archive.start_dir
    assert path.stat().st_size - directory > 2_000_000

    assert _bytes_read(path, MANIFEST) < 16 * 1024


def test_a_member_past_four_gigabytes_is_found_through_its_zip64_field():
    data = _zip([("config/a.conf", b"a" * 100), (MANIFEST, DOCUMENT)])
    # The manifest's offset moved into a zip64 extra field, as a writer does past 4 GiB.
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(MANIFEST)
    entry = data.rindex(b"PK\x01\x02", 0, data.index(b"PK\x05\x06"))
    extra = struct.pack("<2HQ", 1, 8, info.header_offset)
    name_end = entry + 46 + len(MANIFEST)
    header = bytearray(data[entry:name_end])
    struct.pack_into("<H", header, 30, len(extra))  # its extra fields' length
    struct.pack_into("<L", header, 42, 0xFFFFFFFF)  # its local header's offset
    end = bytearray(data[name_end:])
    at = end.index(b"PK\x05\x06")
    struct.pack_into("<L", end, at + 12, struct.unpack_from("<L", end, at + 12)[0] + len(extra))
    rewritten = data[:entry] + bytes(header) + extra + bytes(end)
    assert zipfile.ZipFile(io.BytesIO(rewritten)).getinfo(MANIFEST).header_offset == (
        info.header_offset
    )

    assert _start(rewritten) == DOCUMENT[:4096]


def test_a_member_is_found_in_a_zip_with_a_comment_and_seventy_thousand_entries():
    # More than 65,535 entries: the count is in the zip64 end record only.
    members = [(f"c/{i}", b"") for i in range(70_000)]
    data = _zip([(MANIFEST, DOCUMENT), *members])
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.comment = b"made by hand"

    assert _start(buffer.getvalue()) == DOCUMENT[:4096]


@pytest.mark.parametrize(
    "members",
    [
        [("config/a.conf", b"a")],  # no manifest
        [("config/manifest.json", DOCUMENT)],  # a file of that name is not the manifest
        [("manifest.json.bak", DOCUMENT)],
    ],
)
def test_a_zip_without_the_member_gives_none(members):
    assert _start(_zip(members)) is None


def _encrypted() -> bytes:
    encrypted = bytearray(_zip([(MANIFEST, DOCUMENT)]))
    entry = encrypted.rindex(b"PK\x01\x02")
    encrypted[entry + 8] |= 1
    return bytes(encrypted)


def test_an_encrypted_or_otherwise_compressed_member_gives_none():
    bzip2 = _zip([(MANIFEST, DOCUMENT)], compression=zipfile.ZIP_BZIP2)

    assert _start(bzip2) is None
    assert _start(_encrypted()) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda whole: whole[:-10],  # its end record cut off
        lambda whole: whole[: whole.rindex(b"PK\x01\x02") - 5] + whole[-22:],  # its directory
        lambda _whole: _encrypted(),
        lambda _whole: _zip([(MANIFEST, DOCUMENT)], compression=zipfile.ZIP_BZIP2),
    ],
    ids=["cut-short", "directory-cut", "encrypted", "bzip2"],
)
def test_a_member_that_cannot_be_read_so_is_told_from_one_that_is_not_there(damage):
    # Telling a configuration file from another tool's zip needs the difference: a damaged
    # manifest is refused as EnvOps's own, in the reader's words.
    whole = _zip([("config/a.conf", b"a" * 300), (MANIFEST, DOCUMENT)])

    assert member_start(io.BytesIO(whole), MANIFEST, 64) == DOCUMENT[:64]
    assert member_start(io.BytesIO(whole), "config/b.conf", 64) is None
    with pytest.raises(zipfile.BadZipFile):
        member_start(io.BytesIO(damage(whole)), MANIFEST, 64)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_a_damaged_zip_gives_the_start_or_none_and_never_raises(data):
    original = _zip([("config/a.conf", b"a" * 300), (MANIFEST, DOCUMENT)])
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(damaged)))

    start = _start(bytes(damaged[:cut]))

    assert start is None or isinstance(start, bytes)
    with contextlib.suppress(zipfile.BadZipFile):  # the strict reader raises nothing else
        member_start(io.BytesIO(bytes(damaged[:cut])), MANIFEST, 4096)
