"""The content-addressed blob store: each distinct file content once, named by its sha256."""

import contextlib
import hashlib
import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

CHUNK = 1 << 20
SMALL_FILE = 4 << 20  # read whole: fewer syscalls, one buffer for hash and compression
ZSTD_LEVEL = 3
_WORTH_IT = 0.9  # keep the compressed form only when it saves at least a tenth
_ZST = ".zst"

_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    # zstd contexts are not thread-safe; one per pool thread is reused across files.
    comp = getattr(_local, "compressor", None)
    if comp is None:
        comp = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec = getattr(_local, "decompressor", None)
    if dec is None:
        dec = _local.decompressor = zstandard.ZstdDecompressor()
    return dec


def sha256_of_file(path: Path, on_chunk: Callable[[int], None] | None = None) -> str:
    """Hash a file in large chunks, reporting each chunk's size."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    return digest.hexdigest()


def pack_chunks(chunks: Iterator[bytes], out: BinaryIO) -> bool:
    """Write a stream as a blob body, zstd-compressed when its first chunk shows that pays.

    Returns whether the body is compressed.
    """
    first = next(chunks, b"")
    packed_first = _compressor().compress(first) if first else b""
    compressible = bool(first) and len(packed_first) < len(first) * _WORTH_IT
    if not compressible:
        out.write(first)
        for chunk in chunks:
            out.write(chunk)
        return False
    rest = next(chunks, b"")
    if not rest:  # the whole stream was one chunk: its compressed form is ready
        out.write(packed_first)
        return True
    chunks = itertools.chain((rest,), chunks)
    with _compressor().stream_writer(out, closefd=False) as writer:
        writer.write(first)
        for chunk in chunks:
            writer.write(chunk)
    return True


class MissingBlobError(FileNotFoundError):
    """A backup refers to content the store no longer holds."""


def sync_to_disk() -> None:
    """Flush written data to the disk before a step that must find it there after a power cut."""
    if hasattr(os, "sync"):
        os.sync()


class BlobStore:
    """Blobs live at `objects/ab/abcdef…` (raw) or `…​.zst` (zstd), written atomically by rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _base(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def _existing(self, sha: str) -> Path | None:
        base = self._base(sha)
        for candidate in (base.with_name(sha + _ZST), base):
            if candidate.exists():
                return candidate
        return None

    def has(self, sha: str) -> bool:
        return self._existing(sha) is not None

    def all_blobs(self) -> Iterator[str]:
        for prefix in self.root.iterdir():
            if len(prefix.name) == 2 and prefix.is_dir():
                for blob in prefix.iterdir():
                    yield blob.name.removesuffix(_ZST)

    def is_compressed(self, sha: str) -> bool:
        path = self._existing(sha)
        return path is not None and path.suffix == _ZST

    def put_bytes(self, sha: str, data: bytes) -> bool:
        """Store `data` under `sha` unless present; return True if a new blob was written."""
        if self.has(sha):
            return False
        self._publish(sha, lambda out: pack_chunks(iter((data,)), out))
        return True

    def put_file(self, sha: str, source: Path, on_chunk: Callable[[int], None]) -> bool:
        """Store a large file's content (already hashed as `sha`) by streaming it."""
        if self.has(sha):
            return False

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as f:
                while chunk := f.read(CHUNK):
                    on_chunk(len(chunk))
                    yield chunk

        self._publish(sha, lambda out: pack_chunks(chunks(), out))
        return True

    def adopt(self, sha: str, staged: Path, compressed: bool) -> None:
        """Move a blob written elsewhere on this filesystem (an import's staging) into place."""
        if self.has(sha):
            staged.unlink(missing_ok=True)
            return
        final = self._base(sha)
        if compressed:
            final = final.with_name(sha + _ZST)
        final.parent.mkdir(exist_ok=True)
        os.replace(staged, final)

    def _publish(self, sha: str, write: Callable[[BinaryIO], bool]) -> None:
        tmp = self._tmp / f"{sha}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            with open(tmp, "wb") as out:
                compressed = write(out)
            self.adopt(sha, tmp, compressed)
        finally:
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def open(self, sha: str) -> Iterator[BinaryIO]:
        """A readable stream of the blob's original bytes."""
        path = self._existing(sha)
        if path is None:
            raise MissingBlobError(f"blob {sha} is missing from the store")
        with open(path, "rb") as raw:
            if path.suffix == _ZST:
                with _decompressor().stream_reader(raw, read_size=CHUNK) as reader:
                    yield reader  # type: ignore[misc]
            else:
                yield raw

    def verify(self, sha: str) -> bool:
        """Re-hash a blob and say whether it still holds what its name promises."""
        digest = hashlib.sha256()
        try:
            with self.open(sha) as stream:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
        except (OSError, zstandard.ZstdError):
            return False
        return digest.hexdigest() == sha

    def delete(self, sha: str) -> None:
        base = self._base(sha)
        for candidate in (base.with_name(sha + _ZST), base):
            candidate.unlink(missing_ok=True)

    def clear_temporary(self) -> None:
        """Drop half-written blobs left by a crash (only when no writer is running)."""
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(exist_ok=True)
