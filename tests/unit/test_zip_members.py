"""Reading a configuration file's entries straight from their bodies: same bytes as zipfile,
and every damage zipfile would notice is noticed."""

import os
import zipfile
from pathlib import Path

import pytest

from envops_desktop.store.zip_members import (
    BODY_ERRORS,
    ZipDirectory,
    ZipMember,
    member_chunks,
    readable_here,
)

CHUNK = 64 << 10
CONTENTS = {
    "config/empty": b"",
    "config/app.yaml": b"server:\n  port: 8080\n",
    "config/big.log": b"GET /health 200 0.3ms\n" * 40_000,  # several chunks once inflated
    "config/key.bin": os.urandom(3 * CHUNK + 17),
}


def write_zip(path: Path, compression: int) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in CONTENTS.items():
            archive.writestr(name, data)
    return path


def read_all(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        chunks = list(member_chunks(raw, ZipMember.of(archive.getinfo(name)), CHUNK))
    assert all(len(chunk) <= CHUNK for chunk in chunks)
    return b"".join(chunks)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_every_entry_reads_back_exactly_as_zipfile_reads_it(tmp_path, compression):
    path = write_zip(tmp_path / "c.zip", compression)
    with zipfile.ZipFile(path) as archive:
        assert all(readable_here(ZipMember.of(info)) for info in archive.infolist())
        expected = {name: archive.read(name) for name in CONTENTS}
    assert {name: read_all(path, name) for name in CONTENTS} == expected == CONTENTS


def _damage(path: Path, name: str, offset_in_body: int) -> None:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_length = int.from_bytes(f.read(2), "little")
        extra_length = int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + name_length + extra_length + offset_in_body)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_flipped_byte_in_a_body_is_refused(tmp_path, compression):
    path = write_zip(tmp_path / "c.zip", compression)
    _damage(path, "config/key.bin", 1000)
    with pytest.raises(BODY_ERRORS):
        read_all(path, "config/key.bin")


def test_an_entry_named_differently_in_its_local_header_is_refused(tmp_path):
    path = write_zip(tmp_path / "c.zip", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo("config/app.yaml").header_offset
    data = bytearray(path.read_bytes())
    at = offset + 30 + len("config/")
    data[at : at + 3] = b"EVL"
    path.write_bytes(bytes(data))
    with pytest.raises(zipfile.BadZipFile, match="name differs"):
        read_all(path, "config/app.yaml")


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_an_archive_cut_inside_an_entry_is_refused(tmp_path, compression):
    path = write_zip(tmp_path / "c.zip", compression)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config/key.bin")
    with open(path, "rb") as raw:
        cut = tmp_path / "cut.bin"
        cut.write_bytes(raw.read(info.header_offset + 30 + len(info.filename) + 1000))
    with open(cut, "rb") as raw, pytest.raises(zipfile.BadZipFile, match="ends inside"):
        b"".join(member_chunks(raw, ZipMember.of(info), CHUNK))


def test_other_compression_methods_are_left_to_zipfile(tmp_path):
    path = write_zip(tmp_path / "c.zip", zipfile.ZIP_BZIP2)
    with zipfile.ZipFile(path) as archive:
        assert not any(readable_here(ZipMember.of(info)) for info in archive.infolist())


def test_a_zip_read_for_its_directory_lets_go_of_it_as_it_closes(tmp_path):
    # 200,000 `ZipInfo`s freed in one call as the last reference went held the window's
    # thread 40-70 ms; emptied a part at a time as the zip closes instead.
    with ZipDirectory(write_zip(tmp_path / "c.zip", zipfile.ZIP_DEFLATED)) as archive:
        assert sorted(info.filename for info in archive.infolist()) == sorted(CONTENTS)
        assert archive.read("config/app.yaml") == CONTENTS["config/app.yaml"]

    assert archive.infolist() == [] and archive.NameToInfo == {}
