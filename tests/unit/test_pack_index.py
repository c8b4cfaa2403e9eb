"""The pack index: where each packed content lies, kept small and exact."""

import hashlib
import sqlite3

from envops_desktop.store.database import DATABASE_NAME, Database
from envops_desktop.store.pack_index import PackedAt, PackIndex

_PACK_INDEX = (
    "packed_contents",
    "packed_contents_by_pack",
    "pack_files",
    "sqlite_autoindex_pack_files_1",
)


def _places(count: int, per_pack: int) -> list[tuple[str, PackedAt]]:
    """`count` contents laid out as a backup packs them, `per_pack` to a pack."""
    return [
        (
            hashlib.sha256(index.to_bytes(4, "little")).hexdigest(),
            PackedAt(f"{index // per_pack:032x}.pack", 1500 * (index % per_pack), 1500, True),
        )
        for index in range(count)
    ]


def test_a_packed_content_takes_under_120_bytes_of_the_pack_index(tmp_path):
    # A first backup of 200,000 small files records a row per content at its end, when
    # nothing else runs: with the sha256 as text and each pack by name, a content took 262
    # bytes of rows and by-pack index here (99 now), and recording them 1.1 s of a 7.4 s
    # backup.
    index = PackIndex(Database(tmp_path))
    index.record(_places(5000, per_pack=256))

    with sqlite3.connect(tmp_path / DATABASE_NAME) as conn:
        marks = ",".join("?" * len(_PACK_INDEX))
        query = f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})"
        used = conn.execute(query, _PACK_INDEX).fetchone()[0]
    assert used / 5000 < 120


def test_every_recorded_content_is_found_where_it_was_packed(tmp_path):
    index = PackIndex(Database(tmp_path))
    places = _places(1200, per_pack=500)
    index.record(places)

    assert index.locate_many([sha for sha, _ in places[:900]]) == dict(places[:900])
    assert index.locate(places[1100][0]) == places[1100][1]
    assert index.locate(hashlib.sha256(b"never packed").hexdigest()) is None
    assert sorted(index.all_blobs()) == sorted(sha for sha, _ in places)
    assert index.blobs_in(places[600][1].pack) == places[500:1000]
    assert index.packs_in_use() == {at.pack for _, at in places}


def test_a_content_recorded_twice_keeps_its_first_place(tmp_path):
    # Two backups may pack the same new content at once; the first recorded wins.
    index = PackIndex(Database(tmp_path))
    sha, first = _places(1, per_pack=1)[0]
    index.record([(sha, first)])
    index.record([(sha, first._replace(pack="ff" * 16 + ".pack", offset=0))])
    assert index.locate(sha) == first


def test_a_pack_whose_contents_are_all_forgotten_or_moved_is_no_longer_in_use(tmp_path):
    index = PackIndex(Database(tmp_path))
    places = _places(30, per_pack=10)  # three packs
    index.record(places)
    first, second, third = (places[at][1].pack for at in (0, 10, 20))

    assert index.forget(sha for sha, _ in places[:10]) == {first}
    moved = [(sha, at._replace(pack="ee" * 16 + ".pack")) for sha, at in places[10:20]]
    index.move(moved)

    assert index.packs_in_use() == {third, "ee" * 16 + ".pack"}
    assert index.blobs_in(second) == []
    assert index.blobs_in("ee" * 16 + ".pack") == moved
    assert index.locate(places[0][0]) is None
    with sqlite3.connect(tmp_path / DATABASE_NAME) as conn:
        named = {row[0] for row in conn.execute("SELECT name FROM pack_files")}
    assert named == {third, "ee" * 16 + ".pack"}
