"""Writing blobs while other processes share the store."""

import gc
import hashlib
import io
import os
import random
from typing import Any

import pytest
import zstandard

from envops_desktop.store import blob_bodies
from envops_desktop.store.blob_bodies import (
    CHUNK,
    FRAME_BYTES,
    ZSTD_LEVEL,
    SizeChangedError,
    encode_chunks,
    frames_of,
    write_all,
)
from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.database import Database
from envops_desktop.store.file_metadata import SparseWriter
from tests.process_io import COUNTED, io_count
from tests.store_view import open_store


def test_large_file_is_stored_after_another_process_swept_the_scratch_folder(tmp_path):
    # The app stays open for days; an `envops` command started meanwhile sweeps the store's
    # scratch folder while nothing is writing. The app's next large file must still go in.
    data = tmp_path / "data"
    data.mkdir()
    app, command_line = open_store(data), open_store(data)
    first, second = tmp_path / "disk-v1.img", tmp_path / "disk-v2.img"
    first.write_bytes(os.urandom(5 << 20))  # large: written through the scratch folder
    second.write_bytes(os.urandom(5 << 20))
    with app.packing() as pack:
        app.ingest(str(first), pack)
    command_line.clear_temporary()
    with app.packing() as pack:
        sha, size, *_ = app.ingest(str(second), pack)
    assert size == 5 << 20
    with app.open(sha) as stored:
        assert stored.read() == second.read_bytes()


def test_a_large_file_is_stored_in_frames_each_stating_its_size(tmp_path):
    # A shared store sends each frame as one part as it is; a frame of the whole file
    # would have to be decompressed and compressed again on every push.
    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data)
    content = os.urandom(9 << 20) + b"listen = 0.0.0.0:8080\n" * (1 << 20) + os.urandom(3 << 20)
    image = tmp_path / "mixed.img"
    image.write_bytes(content)
    with store.packing() as pack:
        sha, *_ = store.ingest(str(image), pack)

    with store.stored_frames(sha) as stored:
        frames = list(stored)

    assert [size for _, size in frames] == [FRAME_BYTES, FRAME_BYTES, len(content) % FRAME_BYTES]
    decompressor = zstandard.ZstdDecompressor()
    assert b"".join(decompressor.decompress(frame) for frame, _ in frames) == content


def test_a_body_not_made_of_sized_frames_is_not_cut_into_parts(tmp_path):
    # Compressed whole by an earlier version (one frame, its size unstated), or damaged:
    # a push then compresses the content again rather than send what it cannot vouch for.
    content = b"upstream backend = 10.0.0.7\n" * 100_000
    whole = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(whole, closefd=False) as writer:
        writer.write(content)
    sized = zstandard.ZstdCompressor().compress(content)

    assert frames_of(whole.getvalue()) is None
    assert frames_of(sized[:-3]) is None
    assert frames_of(b"not zstd at all") is None
    assert [size for _, size in frames_of(sized + sized) or []] == [len(content)] * 2


def _in_chunks(content: bytes) -> list[bytes]:
    return [content[at : at + CHUNK] for at in range(0, len(content), CHUNK)]


def test_a_stream_of_known_size_is_compressed_as_read_into_the_same_frames(tmp_path):
    # An import's member, whose size its archive states, is compressed a chunk at a time,
    # not held 16 MiB at a time; its frames are those of the held way, part for part.
    content = os.urandom(FRAME_BYTES + 5) + b"max_connections = 100\n" * (1 << 20)
    as_read, held = io.BytesIO(), io.BytesIO()

    assert encode_chunks(iter(_in_chunks(content)), as_read, len(content))
    assert encode_chunks(iter(_in_chunks(content)), held)

    sizes = [size for _, size in frames_of(as_read.getvalue()) or []]
    assert sizes == [size for _, size in frames_of(held.getvalue()) or []]
    assert sizes == [FRAME_BYTES, FRAME_BYTES, len(content) - 2 * FRAME_BYTES]
    decompressor = zstandard.ZstdDecompressor()
    frames = frames_of(as_read.getvalue()) or []
    assert b"".join(decompressor.decompress(frame) for frame, _ in frames) == content


@pytest.mark.parametrize("length", [(6 << 20) - 1, (6 << 20) + 1, FRAME_BYTES + 1, 100])
def test_a_stream_of_another_length_than_said_is_not_taken_for_a_body(length):
    content = b"x" * length
    with pytest.raises(SizeChangedError):
        encode_chunks(iter(_in_chunks(content)), io.BytesIO(), 6 << 20)


def test_a_batch_of_small_files_packs_only_new_contents_after_one_index_query(
    tmp_path, monkeypatch
):
    # A first backup of 200,000 small files asked the pack index once per file, a fifth of
    # its helpers' time, and looked twice per file for a file of its own; a batch asks once,
    # looks only in folders that hold such files, and still stores no content twice.
    data = tmp_path / "data"
    data.mkdir()
    db = Database(data)
    store = BlobStore(data, db)
    tree = tmp_path / "tree"
    tree.mkdir()
    contents = {
        "packed.conf": b"packed by an earlier backup\n",
        "loose.conf": b"stored as a file of its own by an import\n",
        "new.conf": b"new content\n",
        "same-as-new.conf": b"new content\n",
        "empty.conf": b"",
    }
    for name, content in contents.items():
        (tree / name).write_bytes(content)
    with store.packing() as earlier:
        store.ingest(str(tree / "packed.conf"), earlier)
    store.record_packed(earlier.placed.items())
    staged = tmp_path / "staged"
    staged.write_bytes(contents["loose.conf"])
    store.adopt(hashlib.sha256(contents["loose.conf"]).hexdigest(), staged, compressed=False)
    asked: list[str] = []
    db.connection().set_trace_callback(asked.append)
    looked_for: list[str] = []
    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: looked_for.append(p) or exists(p))

    with store.packing() as pack:
        ingested = store.ingest_all([(str(tree / name), None) for name in contents], pack)

    monkeypatch.undo()
    db.connection().set_trace_callback(None)
    holding = {folder.name for folder in (data / "objects").iterdir() if len(folder.name) == 2}
    assert looked_for
    assert {os.path.basename(os.path.dirname(path)) for path in looked_for} <= holding
    assert [sha for sha, *_ in ingested] == [
        hashlib.sha256(content).hexdigest() for content in contents.values()
    ]
    assert [at is not None for _, _, at, *_ in ingested] == [False, False, True, False, True]
    assert [size for _, size, *_ in ingested] == [len(c) for c in contents.values()]
    assert len([query for query in asked if "packed_contents" in query]) == 1


@pytest.mark.parametrize("put_there", ["a pipe", "a link to an endless device"])
def test_a_file_replaced_since_the_scan_is_taken_as_removed_without_waiting(tmp_path, put_there):
    # Between a backup's or a preview's scan and its read, a tool puts something else at
    # the path: opened as the file was, a pipe waits for a writer forever and a link to
    # /dev/zero reads forever. Both are taken as the file having gone, which a backup
    # leaves out and names, and a preview counts as a difference.
    from envops_desktop.store.blob_bodies import sha256_of_file
    from envops_desktop.store.blobs import REMOVED

    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data)
    path = tmp_path / "app.yaml"
    if put_there == "a pipe":
        os.mkfifo(path)
    else:
        os.symlink("/dev/zero", path)

    with store.packing() as pack:
        assert store.ingest(str(path), pack) == REMOVED
    with pytest.raises(FileNotFoundError) as gone:
        sha256_of_file(path)
    assert gone.value.filename == str(path)


class _CountingCompressor:
    """zstd's compressor, counting the bytes it is given to compress, in one call or a
    frame's."""

    def __init__(self) -> None:
        self.inner = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self.fed = 0

    def compress(self, data: bytes) -> bytes:
        self.fed += len(data)
        return self.inner.compress(data)

    def compressobj(self, size: int = -1) -> "_CountingFrame":
        return _CountingFrame(self, self.inner.compressobj(size=size))


class _CountingFrame:
    def __init__(self, counter: _CountingCompressor, frame: Any) -> None:  # zstd's, untyped
        self.counter, self.frame = counter, frame

    def compress(self, data: bytes) -> bytes:
        self.counter.fed += len(data)
        return self.frame.compress(data)

    def flush(self, mode: int = zstandard.COMPRESSOBJ_FLUSH_FINISH) -> bytes:
        return self.frame.flush(mode)


def test_a_text_file_over_128_kib_is_compressed_once_and_a_random_one_only_to_64_kib(
    monkeypatch,
):
    # Whether a file is worth compressing is judged on its first 64 KiB; compressing those
    # on their own first, then the whole file, was a sixth of a first backup's compression.
    counting = _CountingCompressor()
    monkeypatch.setattr(blob_bodies._local, "compressor", counting, raising=False)
    text = b"".join(f"listen_{n} = {n * 7919 % 65536}\n".encode() for n in range(40_000))
    noise = os.urandom(1 << 20)

    kept = io.BytesIO()
    assert encode_chunks(iter([text]), kept)
    assert counting.fed == len(text)
    body = kept.getvalue()
    assert len(body) < len(text) / 2
    assert [size for _frame, size in frames_of(body) or []] == [len(text)]
    assert zstandard.ZstdDecompressor().decompress(body) == text

    counting.fed = 0
    kept = io.BytesIO()
    assert not encode_chunks(iter([noise]), kept)
    assert counting.fed <= 64 << 10
    assert kept.getvalue() == noise


def test_a_frame_of_zeros_is_stored_without_compressing_them_again(tmp_path, monkeypatch):
    # A disk image's holes, or a file written out as zeros: compressing 16 MiB of zeros was
    # a third of the work of backing up an 8 GiB image.
    counting = _CountingCompressor()
    monkeypatch.setattr(blob_bodies._local, "compressor", counting, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data)
    written = os.urandom(1 << 20)
    for name, hole in (("sparse.img", True), ("zeroed.img", False)):
        image = tmp_path / name
        with open(image, "wb") as out:
            if hole:
                out.truncate(3 * FRAME_BYTES)
            else:
                out.write(bytes(3 * FRAME_BYTES))
            out.seek(FRAME_BYTES + 4096)  # inside the second frame
            out.write(written)
            out.seek(3 * FRAME_BYTES)
            out.write(b"tail\n")
        counting.fed = 0
        with store.packing() as pack:
            sha, *_ = store.ingest(str(image), pack)

        with store.stored_frames(sha) as stored:
            frames = list(stored)
        assert counting.fed == FRAME_BYTES + len(b"tail\n"), name  # the data's frame, the tail
        assert [size for _, size in frames] == [FRAME_BYTES] * 3 + [5]
        decompressor = zstandard.ZstdDecompressor()
        content = b"".join(decompressor.decompress(frame) for frame, _ in frames)
        assert content == image.read_bytes()
        assert hashlib.sha256(content).hexdigest() == sha


@pytest.mark.parametrize("chunk", [CHUNK, 3 << 20, 65_536 + 7])
def test_an_imports_frame_of_zeros_is_stored_without_compressing_them_again(monkeypatch, chunk):
    # An import compresses a member as it reads it, before knowing a frame is all zeros:
    # its leading zeros are only counted until data comes, then compressed from ZEROS.
    counting = _CountingCompressor()
    monkeypatch.setattr(blob_bodies._local, "compressor", counting, raising=False)
    data = os.urandom(1 << 20)
    content = (
        bytes(FRAME_BYTES)  # zeros alone
        + bytes(5 << 20)
        + data
        + bytes(FRAME_BYTES - (6 << 20))  # zeros, then data
        + bytes(FRAME_BYTES)
        + bytes(100)  # a last frame of zeros, short
    )
    pieces = [content[at : at + chunk] for at in range(0, len(content), chunk)]
    as_read, held = io.BytesIO(), io.BytesIO()

    assert encode_chunks(iter(pieces), as_read, len(content))
    fed_as_read, counting.fed = counting.fed, 0
    assert encode_chunks(iter(pieces), held)

    assert fed_as_read == counting.fed == FRAME_BYTES + 100
    frames = frames_of(as_read.getvalue()) or []
    assert [size for _, size in frames] == [FRAME_BYTES] * 3 + [100]
    decompressor = zstandard.ZstdDecompressor()
    assert b"".join(decompressor.decompress(frame) for frame, _ in frames) == content


@pytest.mark.skipif(not COUNTED, reason="Linux counts write calls")
def test_small_contents_go_into_their_pack_a_megabyte_at_a_time_and_read_back_whole(tmp_path):
    # One write per small content was a tenth of what a first backup of 200,000 small files
    # cost its helpers; written a megabyte at a time, each content must still lie where the
    # index says.
    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data)
    contents = [os.urandom(1000 + index % 700) for index in range(3000)]  # 4 MiB, incompressible
    sources = []
    for index, content in enumerate(contents):
        source = tmp_path / f"key{index}.pem"
        source.write_bytes(content)
        sources.append((str(source), None))

    gc.collect()  # earlier tests' databases, closed when collected, write as they close
    before = io_count("syscw")
    with store.packing() as pack:
        ingested = store.ingest_all(sources, pack)
    writes = io_count("syscw") - before

    store.record_packed(pack.placed.items())
    assert writes <= 5
    assert [sha for sha, *_ in ingested] == [hashlib.sha256(c).hexdigest() for c in contents]
    for (sha, *_), content in zip(ingested, contents, strict=True):
        with store.open(sha) as stored:
            assert stored.read() == content


def test_small_files_are_read_on_their_descriptors_with_no_file_object(tmp_path, monkeypatch):
    # A file object made and closed for each small file (with a status of its own) was 2-3
    # of the 9-10 µs a backup's helper took to read one.
    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data)
    contents = [f"setting_{index} = {index}\n".encode() * 20 for index in range(200)]
    sources = []
    for index, content in enumerate(contents):
        source = tmp_path / f"s{index}.conf"
        source.write_bytes(content)
        sources.append((str(source), None))
    made: list[object] = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: made.append(f) or real_open(f, *a, **k))

    with store.packing() as pack:
        ingested = store.ingest_all(sources, pack)
    store.record_packed(pack.placed.items())

    assert made == []
    for (sha, size, *_), content in zip(ingested, contents, strict=True):
        assert size == len(content)
        with store.open(sha) as stored:
            assert stored.read() == content


def test_a_file_changed_since_its_scan_is_stored_with_its_status_as_read(tmp_path):
    (tmp_path / "data").mkdir()
    store = open_store(tmp_path / "data")
    same, changed = tmp_path / "same.conf", tmp_path / "changed.conf"
    for path in (same, changed):
        path.write_bytes(b"port = 8443\n")
    scanned = {path: path.stat().st_ctime_ns for path in (same, changed)}
    changed.chmod(0o600)  # after its scan: its ctime moves

    with store.packing() as pack:
        ingested = store.ingest_all([(str(path), ns) for path, ns in scanned.items()], pack)

    assert ingested[0][5] is None
    as_read = ingested[1][5]
    assert as_read.mode == 0o600 and as_read.mtime_ns == changed.stat().st_mtime_ns
    assert (as_read.uid, as_read.gid, as_read.data) == (os.getuid(), os.getgid(), None)
    assert as_read.inode == changed.stat().st_ino
    # With no ctime to trust (changed within the tick of its scan), the status always comes.
    with store.packing() as pack:
        assert store.ingest(str(same), pack)[5].mtime_ns == same.stat().st_mtime_ns


def test_a_recorded_hole_that_holds_bytes_is_written_so_the_file_is_its_content(tmp_path):
    # Holes recorded of a file that changed as it was read may cover data the read got.
    content = b"head" + bytes(3 << 20) + b"data in a recorded hole" + bytes(100)
    with open(tmp_path / "restored.img", "wb", buffering=0) as out:
        sparse = SparseWriter(out, ((0, 4),))
        for at in range(0, len(content), 1 << 20):  # as a blob's chunks come
            write_all(sparse, content[at : at + (1 << 20)])  # as a restore writes
        sparse.finish()

    assert (tmp_path / "restored.img").read_bytes() == content
    assert (tmp_path / "restored.img").stat().st_blocks * 512 < 1 << 20  # the zeros, a hole


@pytest.mark.parametrize("seed", range(8))
def test_a_file_of_many_extents_is_written_exactly_whatever_its_chunks(tmp_path, seed):
    # Extents that end inside a chunk, at its edge, span several chunks or sit two to a
    # chunk, written in chunks of any size: each extent's bytes land where it says, and
    # every hole holds zeros (or the bytes a changing file had there).
    rng = random.Random(seed)
    size = rng.randrange(1, 6) << 20
    extents, at = [], rng.choice([0, rng.randrange(1 << 16)])
    while at < size:
        length = min(rng.choice([1, 4096, 5000, 1 << 20, (1 << 20) + 1, 3 << 20]), size - at)
        extents.append((at, length))
        at += length + rng.choice([1, 4096, 70_000, 1 << 20])
    content = bytearray(size)
    for offset, length in extents:
        content[offset : offset + length] = rng.randbytes(length)
    content[rng.randrange(size)] = 7  # in a hole, perhaps: written all the same

    with open(tmp_path / "restored.db", "wb", buffering=0) as out:
        sparse = SparseWriter(out, tuple(extents))
        written = 0
        while written < size:
            step = rng.choice([1, 4095, 1 << 20, (1 << 20) + 7, 2 << 20])
            write_all(sparse, bytes(content[written : written + step]))
            written += step
        sparse.finish()

    assert (tmp_path / "restored.db").read_bytes() == content
