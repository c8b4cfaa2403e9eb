"""Export bodies: incompressible stretches are copied as stored blocks, the rest deflated."""

import os
import struct
import zlib

from envops_desktop.store.zip_bodies import StoringDeflater

TEXT = b"listen_address = 10.0.0.1\nworker_threads = 8\n" * 30_000


def inflate(body: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(body)


def test_random_chunk_is_copied_as_stored_blocks_not_deflated():
    data = os.urandom(1 << 20)
    body = StoringDeflater().encode(data)
    expected = b"".join(
        struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF) + piece
        for piece in (data[i : i + 0xFFFF] for i in range(0, len(data), 0xFFFF))
    )
    assert body == expected


def test_mixed_stream_inflates_to_exactly_what_went_in():
    chunks = [TEXT, os.urandom(1 << 20), TEXT, TEXT, os.urandom(300_000), TEXT]
    deflater = StoringDeflater()
    body = b"".join(deflater.encode(chunk) for chunk in chunks) + deflater.finish()
    assert inflate(body) == b"".join(chunks)
    assert len(body) < sum(map(len, chunks)) - 3 * len(TEXT)  # the text was deflated


def test_stream_ending_on_a_stored_chunk_is_closed_properly():
    deflater = StoringDeflater()
    data = os.urandom(500_000)
    body = deflater.encode(TEXT) + deflater.encode(data) + deflater.finish()
    decompressor = zlib.decompressobj(-15)
    assert decompressor.decompress(body) == TEXT + data
    assert decompressor.eof  # a final block ends the stream
