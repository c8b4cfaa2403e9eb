"""A content from the team's store written by a restore's helper: exact, or refused.

The seal keeps out whoever lacks the key; these are what a teammate's broken (or hostile)
client could still seal: parts that do not decode, do not add up to the content's name,
or come in the wrong order.
"""

import hashlib
import os
from pathlib import Path

import pytest
import zstandard

from envops_desktop.store.blobs import DamagedBlobError
from envops_desktop.store.sealed_contents import opened_parts, seal_part, write_content
from envops_desktop.store.sealing import DamagedObjectError, MasterKey

KEY = MasterKey.new()
MTIME_NS = 1_700_000_000_123_456_789


def _parts(data: bytes, part_bytes: int) -> list[bytes]:
    return [data[at : at + part_bytes] for at in range(0, len(data), part_bytes)]


def _sealed(sha: str, parts: list[bytes]) -> list[bytes]:
    compressor = zstandard.ZstdCompressor()
    return [seal_part(KEY, sha, compressor.compress(part)) for part in parts]


def _content(size: int) -> tuple[str, bytes]:
    # Half random, half text, as a configuration's binaries and files are.
    data = (os.urandom(size // 2) + b"listen = 0.0.0.0:8080\n" * (size // 44))[:size]
    return hashlib.sha256(data).hexdigest(), data


def test_a_content_of_several_large_parts_is_written_exactly_with_its_mode_and_time(
    tmp_path: Path,
):
    sha, data = _content(9 << 20)
    target = tmp_path / "firmware.bin"

    written = write_content(
        KEY, sha, _sealed(sha, _parts(data, 4 << 20)), str(target), 0o640, MTIME_NS
    )

    assert written == len(data)
    assert target.read_bytes() == data
    assert target.stat().st_mode & 0o7777 == 0o640
    assert target.stat().st_mtime_ns == MTIME_NS


def test_the_parts_a_store_copies_are_its_frames_and_their_bytes():
    sha, data = _content(3 << 20)
    sealed = _sealed(sha, _parts(data, 1 << 20))

    opened = list(opened_parts(KEY, sha, sealed))

    assert b"".join(part for _frame, part in opened) == data
    assert [zstandard.ZstdDecompressor().decompress(frame) for frame, _ in opened] == [
        part for _frame, part in opened
    ]


@pytest.mark.parametrize(
    "sealing, refusal",
    {
        "parts out of order": (
            lambda sha, data: _sealed(sha, _parts(data, 1 << 20))[::-1],
            "does not match its checksum",
        ),
        "a part missing": (
            lambda sha, data: _sealed(sha, _parts(data, 1 << 20))[:-1],
            "does not match its checksum",
        ),
        "other bytes under its name": (
            lambda sha, data: _sealed(sha, [data[:-1] + b"!"]),
            "does not match its checksum",
        ),
        "a part that is not zstd": (
            lambda sha, data: [KEY.seal(data[:100], b"blob" + sha.encode())],
            "does not decode",
        ),
    }.values(),
    ids=["parts out of order", "a part missing", "other bytes under its name", "not zstd"],
)
def test_a_content_that_does_not_add_up_to_its_name_is_refused(sealing, refusal, tmp_path):
    sha, data = _content(3 << 20)

    with pytest.raises(DamagedBlobError, match=refusal):
        write_content(KEY, sha, sealing(sha, data), str(tmp_path / "app.conf"), 0o644, MTIME_NS)
    with pytest.raises(DamagedObjectError, match=refusal):  # as a pull into the store reads it
        list(opened_parts(KEY, sha, sealing(sha, data)))
