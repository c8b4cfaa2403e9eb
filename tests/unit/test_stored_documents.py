"""What a backup leaves in the database, manifests, hash caches and pack placements: read back
as written, a part at a time, in path order; earlier formats still read (manifests) or safely
empty (caches); a damaged cache is no cache."""

import hashlib
import json
import marshal
import tracemalloc

import orjson
import pytest
import zstandard

from envops_desktop.store.hash_caches import decode_cache, encode_cache, look_up
from envops_desktop.store.manifest_codec import (
    DamagedManifestError,
    encode_manifest,
    read_manifest,
)
from envops_desktop.store.pack_index import NewPlacements, PackedAt

SHA = "ab" * 32


def file_rows(count: int) -> list[tuple]:
    return [(f"conf.d/{n:06d}.ini", "file", 0o644, n, 10**18 + n, SHA, None) for n in range(count)]


def test_manifest_reads_back_in_path_order_across_many_parts():
    rows = file_rows(30_000)  # several MiB of text: more than one part of the reader
    rows.append(("conf.d", "dir", 0o755, 0, 10**18, None, None))
    rows.append(("conf.d/link", "symlink", 0o777, 0, 10**18, None, "000001.ini"))
    _, body = encode_manifest(reversed(rows))
    assert list(read_manifest(body)) == sorted(rows)


def test_manifest_path_with_a_line_break_stays_one_row():
    rows = [
        ("odd\nname.conf", "file", 0o644, 3, 5, SHA, None),
        ("z.conf", "file", 0o600, 1, 5, SHA, None),
    ]
    _, body = encode_manifest(rows)
    assert list(read_manifest(body)) == rows


def test_a_manifest_is_the_same_bytes_however_its_rows_are_encoded(monkeypatch):
    # Its name is its text's SHA-256: rows encoded in one call, then split, must give what
    # one call per row gave, whatever a name holds ("],[" too) and whatever nests in a row.
    odd = [
        ("a],[b.conf", "file", 0o644, 1, 5, SHA, None),  # the split's own marker, in a name
        ("acl.conf", "file", 0o640, 2, 5, SHA, {"xattrs": [["user.a", "AQ=="], ["user.b", ""]]}),
        ("é\n\t\u2028.conf", "file", 0o600, 3, 5, SHA, None),
    ]
    for rows in (file_rows(3_000), file_rows(500) + odd + file_rows(2)):
        name, body = encode_manifest(rows)
        text = b"".join(orjson.dumps(row) + b"\n" for row in sorted(rows))
        assert name == hashlib.sha256(text).hexdigest()
        assert list(read_manifest(body)) == sorted(rows)


def test_a_read_for_some_rows_decodes_those_that_may_be_them_and_still_checks_the_text():
    # A preview looks for a backup's hardlinked files, which most trees hardly have: rows
    # are decoded only where their line names a hardlink, in every part of the reader.
    rows = file_rows(30_000)
    linked = {"hardlink": "conf.d/000000.ini"}
    for n in (1, 9_999, 29_999):
        rows[n] = (*rows[n][:-1], None, linked)
    rows.append(("hardlink", "file", 0o644, 1, 5, SHA, None))  # a name alike, not a link
    rows.append(("\udcff.conf", "file", 0o644, 1, 5, SHA, None, linked))  # not UTF-8
    name, body = encode_manifest(rows)

    read = list(read_manifest(body, name, holding=b'"hardlink"'))

    wanted = [row for row in sorted(rows) if len(row) > 7 and row[7]]
    assert [row for row in read if len(row) > 7 and row[7]] == wanted
    assert len(wanted) == 4 and len(read) == 5  # and the file named like the key
    whole = zstandard.ZstdDecompressor().decompressobj().decompress(body)
    damaged = zstandard.ZstdCompressor().compress(whole.replace(b"000123.ini", b"000124.ini"))
    with pytest.raises(DamagedManifestError):
        list(read_manifest(damaged, name, holding=b'"hardlink"'))


def test_a_part_of_plain_rows_is_encoded_in_one_call(monkeypatch):
    from envops_desktop.store import manifest_codec

    calls = []
    dumps = orjson.dumps
    monkeypatch.setattr(manifest_codec.orjson, "dumps", lambda v: calls.append(1) or dumps(v))

    encode_manifest(file_rows(2_048))

    assert len(calls) == 2  # not one per row: 6 µs each, 1.2 s of 200,000 files


def test_manifest_of_the_first_format_is_still_read():
    rows = file_rows(3)
    body = zstandard.ZstdCompressor(level=1).compress(json.dumps([list(r) for r in rows]).encode())
    assert list(read_manifest(body)) == rows
    empty = zstandard.ZstdCompressor(level=1).compress(b"[]")
    assert list(read_manifest(empty)) == []


def test_reading_a_manifest_holds_one_part_at_a_time():
    _, body = encode_manifest(file_rows(100_000))
    tracemalloc.start()
    try:
        rows = read_manifest(body)
        first = next(rows)
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first[0] == "conf.d/000000.ini"
    # The whole document decoded at once takes about 40 MiB; one part, under 4.
    assert held < 4 << 20


def cache_rows(count: int) -> list[tuple]:
    return [
        (f"f{n:06d}", n, 10**18 + n, 1000 + n, f"{n:064x}", 10**18 + n, {"user.n": str(n)})
        for n in range(count)
    ]


def scanned_as(rows: list[tuple]) -> tuple[list[tuple], list[int]]:
    """The files of `rows` as a scan finds them unchanged, and their ctimes."""
    return [(p, size, mtime, inode, 0o644) for p, size, mtime, inode, *_ in rows], [
        row[5] for row in rows
    ]


def test_hash_cache_reads_back_as_written():
    rows = cache_rows(10_000)
    assert list(decode_cache(encode_cache(rows))) == rows


def test_hash_cache_cut_short_or_damaged_is_empty():
    body = encode_cache(cache_rows(10_000))
    assert list(decode_cache(body[:-3])) == []  # its checksum is cut off
    damaged = body[:100] + bytes(b ^ 0xFF for b in body[100:140]) + body[140:]
    assert list(decode_cache(damaged)) == []
    assert list(decode_cache(b"")) == []


def test_hash_cache_of_the_format_before_xattrs_reads_as_rows_that_do_not_know_them():
    rows = cache_rows(5)
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    part = marshal.dumps([row[:5] for row in rows], 2)
    older = compressor.compress(b"envops hash cache 3\n" + len(part).to_bytes(4, "little") + part)
    assert list(decode_cache(older)) == [(*row[:5], 0, None) for row in rows]


def test_hash_cache_lookup_matches_only_files_as_they_were_read():
    rows = cache_rows(5)
    scanned, ctimes = scanned_as(rows)
    scanned[1] = (scanned[1][0], 999, *scanned[1][2:])  # its size changed since
    scanned.insert(3, ("f000002a", 1, 1, 1, 0o644))  # new since
    ctimes.insert(3, 1)
    found = look_up(iter(rows), scanned, ctimes)
    assert found.shas == [rows[0][4], None, rows[2][4], None, rows[3][4], rows[4][4]]


def test_hash_cache_lookup_matches_a_file_only_at_the_ctime_it_was_read_at():
    # Edited in place with its size and mtime kept, a file moves only its ctime.
    rows = cache_rows(3)
    scanned, ctimes = scanned_as(rows)
    ctimes[1] += 1
    found = look_up(iter(rows), scanned, ctimes)
    assert found.shas == [rows[0][4], None, rows[2][4]]
    assert list(found.xattrs_as_cached) == [1, 0, 1]


def test_hash_cache_lookup_knows_the_xattrs_only_where_its_row_does():
    rows = cache_rows(4)
    rows[1] = (*rows[1][:6], {})  # it had none
    rows[2] = (*rows[2][:6], None)  # they were not read (a restore's row)
    rows[3] = (*rows[3][:5], 0, None)  # written before ctimes were kept
    scanned, ctimes = scanned_as(rows)
    ctimes[3] = 10**18 + 77  # matched on size, mtime and inode alone
    found = look_up(iter(rows), scanned, ctimes)
    assert found.shas == [row[4] for row in rows]
    assert list(found.xattrs_as_cached) == [1, 1, 0, 0]
    assert found.xattrs == {0: {"user.n": "0"}}


def test_hash_cache_lookup_takes_a_row_from_before_ctimes_only_as_the_newest_of_its_path():
    # The whole cache's row from before ctimes, then the recent part's for the file edited
    # in place, size and mtime kept: edited in place again, it matches neither.
    before = ("a", 1, 1, 1, "1" * 64, 0, None)
    recent = ("a", 1, 1, 1, "2" * 64, 5, {})
    assert look_up(iter([before, recent]), [("a", 1, 1, 1, 0o644)], [6]).shas == [None]
    assert look_up(iter([before]), [("a", 1, 1, 1, 0o644)], [6]).shas == ["1" * 64]


def test_hash_cache_lookup_takes_any_matching_row_of_a_path():
    # The whole cache's row and the recent part's for one path: the file matches either.
    older, newer = ("a", 1, 1, 1, "1" * 64, 1, None), ("a", 2, 2, 2, "2" * 64, 2, None)
    assert look_up(iter([older, newer]), [("a", 1, 1, 1, 0o644)], [1]).shas == ["1" * 64]
    assert look_up(iter([older, newer]), [("a", 2, 2, 2, 0o644)], [2]).shas == ["2" * 64]


def test_hash_cache_lookup_of_no_files_decodes_nothing():
    # A restore into an empty folder: decoding 200,000 rows for nothing held 30 MiB.
    def rows():
        raise AssertionError("the cache was read")
        yield

    assert look_up(rows(), [], []).shas == []


def test_new_placements_read_back_as_added_across_packs():
    added = [
        (f"{n:064x}", PackedAt(f"pack-{n // 3}", n * 4096, 4000 + n, n % 2 == 0)) for n in range(7)
    ]
    placements = NewPlacements()
    for sha, at in added:
        placements.add(sha, at)
    assert list(placements) == added
    placements.clear()
    assert list(placements) == []
