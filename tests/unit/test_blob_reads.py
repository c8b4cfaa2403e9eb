"""Reading blobs a batch at a time, as a restore's or an export's helper does."""

import os
import stat

import pytest

from envops_desktop.store.blob_bodies import first_read
from envops_desktop.store.blobs import BlobStore, DamagedBlobError
from envops_desktop.store.database import Database
from tests.store_view import damage_blob


def test_a_batch_of_blobs_is_found_with_one_query_and_each_pack_opened_once(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    db = Database(data)
    store = BlobStore(data, db)
    contents = {f"setting{i}.conf": f"worker_threads = {i}\n".encode() * 40 for i in range(20)}
    contents["disk.img"] = os.urandom(5 << 20)  # large: a file of its own, not in the pack
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
    with store.packing() as pack:
        placed = [store.ingest(str(tmp_path / name), pack) for name in contents]
    store.record_packed((sha, at) for sha, _size, at, *_ in placed if at is not None)
    queries: list[str] = []
    db.connection().set_trace_callback(queries.append)
    opened: list[str] = []
    real_open = open
    monkeypatch.setattr(
        "builtins.open", lambda f, *a, **k: opened.append(str(f)) or real_open(f, *a, **k)
    )
    (tmp_path / "restored").mkdir()
    shas = [sha for sha, *_ in placed]
    with store.reading(shas):
        for sha, name in zip(shas, contents, strict=True):
            store.extract(sha, str(tmp_path / "restored" / name), 0o640, 10**18)
    assert [q for q in queries if "packed_contents" in q] == [queries[0]]
    assert len([path for path in opened if "packs" in path]) == 1
    for name, content in contents.items():
        assert (tmp_path / "restored" / name).read_bytes() == content
        restored = (tmp_path / "restored" / name).stat()
        assert (restored.st_mtime_ns, stat.S_IMODE(restored.st_mode)) == (10**18, 0o640)


def test_a_small_file_that_grew_since_its_stat_is_read_whole(tmp_path):
    grown = tmp_path / "app.conf"
    grown.write_bytes(b"listen = 8443\n" * 1000)
    said_before = 14 * 10  # what stat gave before the file grew

    with open(grown, "rb", buffering=0) as f:
        read = first_read(f.fileno(), said_before, 1 << 20)

    assert read == grown.read_bytes()


def test_a_large_file_is_read_no_further_than_asked(tmp_path):
    large = tmp_path / "disk.img"
    large.write_bytes(os.urandom(3 << 20))

    with open(large, "rb", buffering=0) as f:
        read = first_read(f.fileno(), 3 << 20, 1 << 20)

    assert read == large.read_bytes()[: 1 << 20]


def test_a_damaged_small_blob_is_refused_before_its_file_exists(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    store = BlobStore(data, Database(data))
    contents = {
        "app.conf": b"listen = 8443\n" * 200,  # packed compressed: damage stops it decoding
        "key.bin": os.urandom(300),  # packed as it is: damage makes it hash wrong
    }
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
    with store.packing() as pack:
        placed = [store.ingest(str(tmp_path / name), pack) for name in contents]
    store.record_packed((sha, at) for sha, _size, at, *_ in placed if at is not None)
    assert sorted(at.compressed for _sha, _size, at, *_ in placed) == [False, True]
    (tmp_path / "restored").mkdir()
    for (sha, *_), name in zip(placed, contents, strict=True):
        damage_blob(data, sha, b"bit rot")
        target = tmp_path / "restored" / name
        with pytest.raises(DamagedBlobError, match=sha), store.reading([sha]):
            store.extract(sha, str(target), 0o640, 10**18)
        assert not target.exists()
