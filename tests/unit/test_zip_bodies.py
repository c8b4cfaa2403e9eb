"""Export bodies: what a zip's headers will say about each stored file, and the bytes behind it."""

import io
import os
import zlib
from pathlib import Path

import pytest

from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.zip_bodies import DEFLATED, STORED, write_body
from tests.store_view import open_store

TEXT = b"listen_address = 10.0.0.1\nworker_threads = 8\n" * 30_000


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    (tmp_path / "data").mkdir()
    return open_store(tmp_path / "data")


def store_content(store: BlobStore, source: Path, content: bytes) -> str:
    source.write_bytes(content)
    with store.packing() as pack:
        sha, _size, at, *_ = store.ingest(str(source), pack)
    if at is not None:
        store.record_packed([(sha, at)])
    return sha


def body_of(store: BlobStore, sha: str) -> tuple[int, int, bytes]:
    out = io.BytesIO()
    method, crc, written = write_body(store, sha, out)
    assert written == len(out.getvalue())
    return method, crc, out.getvalue()


def test_text_becomes_a_deflate_body_any_unzip_inflates(store, tmp_path):
    method, crc, body = body_of(store, store_content(store, tmp_path / "app.conf", TEXT))
    assert method == DEFLATED
    assert zlib.decompressobj(-15).decompress(body) == TEXT
    assert crc == zlib.crc32(TEXT)
    assert len(body) < len(TEXT) // 10


def test_disk_image_of_random_and_text_stretches_inflates_to_exactly_its_bytes(store, tmp_path):
    image = TEXT + os.urandom(5 << 20) + TEXT * 4 + os.urandom(300_000) + TEXT
    method, crc, body = body_of(store, store_content(store, tmp_path / "disk.img", image))
    assert method == DEFLATED
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(body) == image
    assert inflater.eof  # the stream is closed by a final block
    assert crc == zlib.crc32(image)
    assert len(body) < len(image) - 5 * len(TEXT)  # the text was deflated


def test_content_the_store_found_incompressible_is_stored_as_it_is(store, tmp_path):
    key = os.urandom(512 << 10)
    method, crc, body = body_of(store, store_content(store, tmp_path / "key.bin", key))
    assert (method, crc, body) == (STORED, zlib.crc32(key), key)
