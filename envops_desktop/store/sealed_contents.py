"""Contents as a team's store keeps them: in parts, each a zstd frame sealed on its own.

A part is sealed with its content's name as context, so a part moved to another content's
place fails to open; decompressing every part and hashing the whole proves the content.
Plain functions of bytes: a restore's helper processes write contents fetched from the
store with them, and import nothing of the service.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator

import zstandard

from envops_desktop.store.blob_bodies import CHUNK, decompressor, write_all
from envops_desktop.store.blobs import DamagedBlobError
from envops_desktop.store.file_metadata import NOTHING, Applied
from envops_desktop.store.file_writes import writing_new_file
from envops_desktop.store.helper_progress import advanced
from envops_desktop.store.sealing import DamagedObjectError, MasterKey

# The seal's context of a content's parts, before the content's name.
CONTENT = b"blob"


def seal_part(key: MasterKey, sha: str, frame: bytes) -> bytes:
    """Part of content `sha`, a zstd frame, sealed for the store."""
    return key.seal(frame, CONTENT + sha.encode())


def part_of_pack(pack: bytes, place: tuple[str, int, int]) -> memoryview:
    """The sealed part at `place` (pack, offset, length) of `pack`'s bytes, not copied."""
    name, at, length = place
    if at + length > len(pack):
        raise DamagedObjectError(f"the pack {name} is shorter than its index says")
    return memoryview(pack)[at : at + length]


def opened_parts(
    key: MasterKey, sha: str, sealed_parts: Iterable[bytes | memoryview]
) -> Iterator[tuple[bytes, bytes]]:
    """Each of content `sha`'s parts as its zstd frame and the bytes that frame holds,
    opened and decompressed once; DamagedObjectError where a part fails to, or after the
    last if the whole does not hash to `sha`."""
    for frame, pieces in _opened(key, sha, sealed_parts, _whole):
        yield frame, b"".join(pieces)


def opened_pieces(
    key: MasterKey, sha: str, sealed_parts: Iterable[bytes | memoryview]
) -> Iterator[bytes]:
    """Content `sha`'s bytes, in pieces of at most a CHUNK decompressed as they are read
    (each hashed and written while it is still in the processor's cache, where a part of
    16 MiB decompressed whole was not); checked as `opened_parts` checks them."""
    for _frame, pieces in _opened(key, sha, sealed_parts, _in_pieces):
        yield from pieces


def _whole(frame: bytes) -> Iterator[bytes]:
    yield decompressor().decompress(frame)


def _in_pieces(frame: bytes) -> Iterator[bytes]:
    return decompressor().read_to_iter(frame, read_size=len(frame) or 1, write_size=CHUNK)


def _opened(
    key: MasterKey,
    sha: str,
    sealed_parts: Iterable[bytes | memoryview],
    decoded: Callable[[bytes], Iterator[bytes]],
) -> Iterator[tuple[bytes, Iterator[bytes]]]:
    # Each part's frame and its bytes as `decoded` gives them, all hashed on the way.
    digest = hashlib.sha256()
    for sealed in sealed_parts:
        frame = key.open(sealed, CONTENT + sha.encode())
        yield frame, _hashed(decoded(frame), digest)
    if digest.hexdigest() != sha:
        raise DamagedObjectError("its content does not match its checksum")


def _hashed(pieces: Iterator[bytes], digest: "hashlib._Hash") -> Iterator[bytes]:
    try:
        for piece in pieces:
            digest.update(piece)
            yield piece
    except zstandard.ZstdError as error:
        raise DamagedObjectError(f"a part does not decode ({error})") from None


def write_content(
    key: MasterKey,
    sha: str,
    sealed_parts: Iterable[bytes | memoryview],
    target: str,
    mode: int,
    mtime_ns: int,
    applied: Applied = NOTHING,
) -> int:
    """Write content `sha` from its sealed parts as a new file `target`, as the local
    store's `extract` writes one it holds: checked, never through a link, given `mode`,
    `mtime_ns` and the `applied` metadata. Returns the bytes written; DamagedBlobError if
    it fails its checks (what was written of it stays, for the caller to throw away)."""
    size = 0
    with writing_new_file(target, mode, mtime_ns, applied) as out:
        try:
            for piece in opened_pieces(key, sha, sealed_parts):
                write_all(out, piece)
                size += len(piece)
                advanced(len(piece))
        except DamagedObjectError as error:
            raise DamagedBlobError(f"blob {sha} in the team's store: {error}") from None
    return size
