"""A blob's body: the bytes of one content as stored, zstd-compressed where that pays.

Both the store and an import's helpers encode and decode bodies with these, on whatever
thread they run; each thread keeps its own zstd contexts.
"""

import errno
import functools
import hashlib
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from envops_desktop.store.file_metadata import ZEROS, may_have_holes
from envops_desktop.store.file_reads import open_regular_file
from envops_desktop.store.helper_progress import advanced

CHUNK = 1 << 20
SMALL_FILE = 4 << 20  # read whole: fewer syscalls, one buffer for hash and compression
# A large content is compressed in frames of this much, each stating its size, so that a
# shared store can send each frame as one part as it is (`service/sharing.py`): with one
# frame for the whole file, a push spent most of its time decompressing and compressing again.
FRAME_BYTES = 16 << 20
ZSTD_LEVEL = 3
_WORTH_IT = 0.9  # keep the compressed form only when it saves at least a tenth
_PROBE = 64 << 10
_FRAME_HEADER_MAX = 18  # bytes: magic number, descriptor, window, dictionary, content size

_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    # zstd contexts are not thread-safe; one per pool thread is reused across files.
    comp = getattr(_local, "compressor", None)
    if comp is None:
        comp = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return comp


def decompressor() -> zstandard.ZstdDecompressor:
    dec = getattr(_local, "decompressor", None)
    if dec is None:
        dec = _local.decompressor = zstandard.ZstdDecompressor()
    return dec


def sha256_of_file(path: Path) -> str:
    """Hash a regular file (`open_regular_file`) in large chunks."""
    fd, status = open_regular_file(path)
    try:
        reader = HashingReader(fd, status)
        for _chunk in reader.chunks(first_read(fd, status.st_size, CHUNK)):
            pass
    finally:
        os.close(fd)
    return reader.digest.hexdigest()


def first_read(fd: int, size: int, most: int) -> bytes:
    """Up to `most` bytes from the start of the file open at `fd`, whose size was `size`
    when stat said so. It asks for one byte more than that, so a file that grew since shows
    it, but not for `most` at once: a read allocates what it asks for, and a 4 MiB buffer
    for each small file cost 12 of the 74 µs a backup spent on it (page faults).

    On the descriptor, not a file object: making and closing one (with a status of its
    own) was 2-3 of the 9-10 µs a backup's helper took to read a small file."""
    want = min(size + 1, most)
    data = os.read(fd, want)
    if want < most and len(data) == want:  # it grew: read on, as far as `most`
        data += os.read(fd, most - want)
    return data


def small_body(data: bytes) -> tuple[bytes, bool]:
    """A small content's blob body, compressed only when that saves a tenth; and whether it is."""
    if len(data) <= 2 * _PROBE:
        return kept_body(data, _compressor().compress(data)) if data else (data, False)
    # Compressing incompressible bytes (media, archives, keys) costs as much CPU as text and
    # saves nothing, so the first 64 KiB tell which kind a file is. The frame goes on from
    # there instead of starting again: a sample compressed on its own was a sixth of the
    # compression work of a first backup of the 400 MiB tree (its files over 128 KiB are
    # mostly text, which was compressed twice over its first 64 KiB).
    view = memoryview(data)
    frame = _compressor().compressobj(size=len(data))
    head = frame.compress(view[:_PROBE]) + frame.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    if len(head) >= _PROBE * _WORTH_IT:
        return data, False
    return kept_body(data, head + frame.compress(view[_PROBE:]) + frame.flush())


def kept_body(data: bytes, packed: bytes) -> tuple[bytes, bool]:
    """Of a content and a zstd frame of it (made here or elsewhere), the body to keep: the
    frame where it saves a tenth, else the content as it is; and whether it is the frame."""
    return (packed, True) if len(packed) < len(data) * _WORTH_IT else (data, False)


class SizeChangedError(ValueError):
    """A stream encoded as `size` bytes long turned out longer or shorter: what was written
    is not a body, and the caller reads the content again or refuses it."""


def encode_chunks(chunks: Iterator[bytes], out: BinaryIO, size: int | None = None) -> bool:
    """Write a stream as a blob body; returns whether the body is zstd-compressed.

    A stream of one chunk (a small file) is kept compressed only when that saves a tenth.
    Longer streams are always compressed: zstd stores incompressible blocks raw at little
    cost, and large files are often mixed (an image whose second half is text), which a
    decision taken on the first chunk alone gets wrong.

    Given the stream's `size` (an archive member's, which cannot change while it is read),
    each chunk is compressed as it comes; a stream of another length raises
    SizeChangedError at its end. Without it, a frame's chunks are held until its size is
    known: a backup's file may change while it is read, and its status's size was tried
    for this and dropped (bench/profiling_findings.md, 2026-12-02).
    """
    first = next(chunks, b"")
    rest = next(chunks, b"")
    if not rest:
        if size is not None and len(first) != size:
            raise SizeChangedError(f"{len(first)} bytes where {size} were expected")
        body, compressed = small_body(first)
        out.write(body)
        return compressed
    if size is not None:
        _write_frames_as_read(out, itertools.chain((first, rest), chunks), size)
        return True
    pending: list[bytes] = [first, rest]
    held = len(first) + len(rest)
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= FRAME_BYTES:
            pending, held = _write_frame(out, pending, FRAME_BYTES), held - FRAME_BYTES
    if held:
        _write_frame(out, pending, held)
    return True


def _write_frames_as_read(out: BinaryIO, chunks: Iterator[bytes], size: int) -> None:
    # The frames `_write_frame` makes of a stream this long, each chunk compressed as it
    # comes: holding a frame's 16 MiB of chunks first was 16 MiB more in each helper, at
    # the peak of an import of the 1 GiB tree (230 MiB, now 194). A frame's leading zeros
    # are only counted until data comes (then compressed, from ZEROS), so that a frame of
    # zeros alone is written as `_zero_frame`, as `_write_frame` writes it.
    frame = None  # the frame under way, once it holds data
    framing = False
    frame_size = left_in_frame = zeros_held = 0
    unframed = size
    for chunk in chunks:
        at = 0
        while at < len(chunk):
            if not framing:
                if not unframed:
                    raise SizeChangedError(f"more than the {size} bytes expected")
                frame_size = left_in_frame = min(FRAME_BYTES, unframed)
                unframed -= frame_size
                framing, frame, zeros_held = True, None, 0
            whole = at == 0 and len(chunk) <= left_in_frame
            piece = chunk if whole else chunk[at : at + left_in_frame]  # a copy at an edge
            if frame is None and not _zeros(piece):
                frame = _frame_after_zeros(out, frame_size, zeros_held)
            if frame is None:
                zeros_held += len(piece)
            else:
                out.write(frame.compress(piece))
            left_in_frame -= len(piece)
            at += len(piece)
            if not left_in_frame:
                if frame is None and frame_size == FRAME_BYTES:
                    out.write(_zero_frame())
                else:
                    if frame is None:  # a short last frame of zeros
                        frame = _frame_after_zeros(out, frame_size, zeros_held)
                    out.write(frame.flush())
                framing = False
    if framing or unframed:
        raise SizeChangedError(f"fewer than the {size} bytes expected")


def _frame_after_zeros(out: BinaryIO, size: int, zeros: int) -> "zstandard.ZstdCompressionObj":
    """A frame of `size` bytes begun, its first `zeros` bytes (all zeros) compressed."""
    frame = _compressor().compressobj(size=size)
    for at in range(0, zeros, len(ZEROS)):
        out.write(frame.compress(ZEROS[: min(len(ZEROS), zeros - at)]))
    return frame


def _write_frame(out: BinaryIO, pending: list[bytes], size: int) -> list[bytes]:
    """Write the first `size` bytes of `pending` as one frame stating its size; return the
    chunks left over. Fed a chunk at a time, not joined first: joining a frame's 16 MiB,
    and holding its compressed copy whole, took 60 MiB in each helper."""
    pieces, left = [], size
    for index, chunk in enumerate(pending):
        if len(chunk) >= left:
            pieces.append(chunk[:left] if len(chunk) > left else chunk)
            rest = ([chunk[left:]] if len(chunk) > left else []) + pending[index + 1 :]
            break
        pieces.append(chunk)
        left -= len(chunk)
    else:
        raise AssertionError("fewer bytes pending than the frame holds")
    # A disk image's holes, a preallocated file: compressing 16 MiB of zeros took a third of
    # the work of backing up an 8 GiB image (hashing them the rest). A piece of data fails
    # the comparison at its first byte that is not zero, which costs next to nothing.
    if size == FRAME_BYTES and all(_zeros(piece) for piece in pieces):
        out.write(_zero_frame())
        return rest
    frame = _compressor().compressobj(size=size)
    for piece in pieces:
        out.write(frame.compress(piece))
    out.write(frame.flush())
    return rest


def _zeros(piece: bytes) -> bool:
    # A MiB at a time, as bytes: a memoryview compares a byte at a time, 30 times slower.
    step = len(ZEROS)
    return all(
        piece[at : at + step] == ZEROS[: min(step, len(piece) - at)]
        for at in range(0, len(piece), step)
    )


@functools.cache
def _zero_frame() -> bytes:
    """The frame `_write_frame` makes of FRAME_BYTES of zeros, made once a process."""
    frame = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj(size=FRAME_BYTES)
    parts = [frame.compress(ZEROS) for _ in range(FRAME_BYTES // len(ZEROS))]
    return b"".join(parts) + frame.flush()


def frames_of(body: "bytes | memoryview") -> list[tuple[memoryview, int]] | None:
    """A compressed body's zstd frames with the size of content each holds, when every one
    states a size of at most FRAME_BYTES; None for a body not made of such frames (one
    compressed whole by an earlier version, or damaged).

    Only headers are read: a frame ends after its last block (RFC 8878, section 3.1.1).
    """
    view = memoryview(body)
    found = []
    at = 0
    while at < len(view):
        try:
            header = view[at : at + _FRAME_HEADER_MAX]
            parameters = zstandard.get_frame_parameters(header)
            end = at + zstandard.frame_header_size(header)
        except zstandard.ZstdError:
            return None
        size = parameters.content_size
        if size > FRAME_BYTES:  # also when the frame does not say (CONTENTSIZE_UNKNOWN)
            return None
        last = False
        while not last:
            if end + 3 > len(view):
                return None
            block = int.from_bytes(view[end : end + 3], "little")
            last, kind = bool(block & 1), (block >> 1) & 3
            if kind == 3:  # reserved: not a block any zstd writes
                return None
            end += 3 + (1 if kind == 1 else block >> 3)  # an RLE block holds one byte
        end += 4 if parameters.has_checksum else 0
        if end > len(view):
            return None
        found.append((view[at:end], size))
        at = end
    return found


class HashingReader:
    """Reads the file open at a descriptor in chunks, hashing and counting every byte it
    hands out. A sparse file's holes are handed out as zeros without being read: on this
    machine's ext4 the kernel took 6 ms to read a MiB of hole (filling the page cache with
    zeros), a minute for an 8 GiB disk image of 8 KiB of data, where hashing its zeros
    takes five seconds."""

    def __init__(self, fd: int, status: os.stat_result) -> None:
        self._fd = fd
        self._sparse = may_have_holes(status) and hasattr(os, "SEEK_DATA")
        self.digest = hashlib.sha256()
        self.size = 0

    def chunks(self, first: bytes) -> Iterator[bytes]:
        """The file's bytes from its start, of which `first` were read already."""
        chunk = first
        while chunk:
            self.digest.update(chunk)
            self.size += len(chunk)
            advanced(len(chunk))
            yield chunk
            chunk = self._next_chunk()

    def _next_chunk(self) -> bytes:
        at = self.size  # where the descriptor stands
        if not self._sparse:
            return os.read(self._fd, CHUNK)
        try:
            data_at = os.lseek(self._fd, at, os.SEEK_DATA)
            hole_at = os.lseek(self._fd, data_at, os.SEEK_HOLE)
        except OSError as error:
            if error.errno != errno.ENXIO:  # not told by this filesystem: read it all
                self._sparse = False
                os.lseek(self._fd, at, os.SEEK_SET)
                return os.read(self._fd, CHUNK)
            data_at = hole_at = os.fstat(self._fd).st_size  # no data past `at`
        if data_at > at:
            hole = min(data_at - at, CHUNK)
            os.lseek(self._fd, at + hole, os.SEEK_SET)
            return ZEROS[:hole]  # the chunk itself, not a copy, when it is all of it
        os.lseek(self._fd, at, os.SEEK_SET)
        # Up to the next hole only: a database file with a hole punched in each 16 KiB page
        # read three times as much hole as data.
        return os.read(self._fd, min(hole_at - at, CHUNK) if hole_at > at else CHUNK)


def decoded_chunks(raw: BinaryIO, compressed: bool) -> Iterator[bytes]:
    if not compressed:
        while chunk := raw.read(CHUNK):
            yield chunk
        return
    body = raw.read(SMALL_FILE)
    if len(body) < SMALL_FILE and _holds_at_most(body, SMALL_FILE):
        yield decoded(body, compressed)  # a small content: one call decodes it
        return
    raw.seek(0)
    # Across frames: a content pulled from a shared store is its parts' frames, one after
    # another, kept as they came (`service/sharing.py`).
    with decompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True) as reader:
        while chunk := reader.read(CHUNK):
            yield chunk


def _holds_at_most(body: bytes, size: int) -> bool:
    """Whether a compressed body's frames state they hold at most `size` bytes in all. A
    small body may hold a great deal: 270 KiB of frames held an 8 GiB disk image's zeros,
    which one call decoded whole into memory."""
    frames = frames_of(body)
    return frames is not None and sum(held for _frame, held in frames) <= size


def write_all(out: BinaryIO | int, data: bytes) -> None:
    """Write all of `data` to an unbuffered file or a file descriptor, however many calls
    that takes."""
    write = functools.partial(os.write, out) if isinstance(out, int) else out.write
    view = memoryview(data)
    while view:
        view = view[write(view) :]


def decoded(body: bytes, compressed: bool) -> bytes:
    """The content of a body stored whole (raises `zstandard.ZstdError` if it does not
    decode)."""
    return (
        decompressor().decompressobj(read_across_frames=True).decompress(body)
        if compressed
        else body
    )
