"""The content-addressed blob store: each distinct file content once, named by its sha256.

Large contents are files of their own. Small ones, most of a configuration tree, are appended
to pack files, one per batch of a backup, and the `packed_blobs` table says where each lies:
creating a file costs 150-350 us on a busy ext4 volume, and a 1 KiB file in a file of its own
wastes three quarters of a 4 KiB block.
"""

import contextlib
import hashlib
import io
import os
import shutil
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import zstandard

from envops_desktop.store.database import Database
from envops_desktop.store.pack_index import PackedAt, PackIndex

CHUNK = 1 << 20
SMALL_FILE = 4 << 20  # read whole: fewer syscalls, one buffer for hash and compression
ZSTD_LEVEL = 3
_WORTH_IT = 0.9  # keep the compressed form only when it saves at least a tenth
_PROBE = 64 << 10
_ZST = ".zst"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
# Mode and times set through the open file where the OS allows: two path lookups fewer per
# restored file.
_META_BY_FD = os.chmod in os.supports_fd and os.utime in os.supports_fd

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


def sha256_of_file(path: Path) -> str:
    """Hash a file in large chunks."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pays_to_compress(data: bytes) -> bool:
    """Whether compressing `data` is worth the CPU, judged on a sample of it."""
    # Compressing incompressible bytes (media, archives, keys) costs as much CPU as text and
    # saves nothing; a 64 KiB sample tells which kind a file is for a thirtieth of the work.
    if len(data) <= 2 * _PROBE:
        return True
    sample = data[:_PROBE]
    return len(_compressor().compress(sample)) < len(sample) * _WORTH_IT


def small_body(data: bytes) -> tuple[bytes, bool]:
    """A small content's blob body, compressed only when that saves a tenth; and whether it is."""
    if data and _pays_to_compress(data):
        packed = _compressor().compress(data)
        if len(packed) < len(data) * _WORTH_IT:
            return packed, True
    return data, False


def encode_chunks(chunks: Iterator[bytes], out: BinaryIO) -> bool:
    """Write a stream as a blob body; returns whether the body is zstd-compressed.

    A stream of one chunk (a small file) is kept compressed only when that saves a tenth.
    Longer streams are always compressed: zstd stores incompressible blocks raw at little
    cost, and large files are often mixed (an image whose second half is text), which a
    decision taken on the first chunk alone gets wrong.
    """
    first = next(chunks, b"")
    rest = next(chunks, b"")
    if not rest:
        body, compressed = small_body(first)
        out.write(body)
        return compressed
    with _compressor().stream_writer(out, closefd=False) as writer:
        writer.write(first)
        writer.write(rest)
        for chunk in chunks:
            writer.write(chunk)
    return True


class MissingBlobError(FileNotFoundError):
    """A backup refers to content the store no longer holds."""


class DamagedBlobError(ValueError):
    """A blob's bytes do not decode, or do not hash to its name."""


class _HashingReader:
    """Reads a file in chunks, hashing and counting every byte it hands out."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.digest = hashlib.sha256()
        self.size = 0

    def chunks(self, first: bytes) -> Iterator[bytes]:
        chunk = first
        while chunk:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk
            chunk = self._f.read(CHUNK)


def sync_to_disk() -> None:
    """Flush written data to the disk before a step that must find it there after a power cut."""
    if hasattr(os, "sync"):
        os.sync()


# Past this many files, one sync of everything costs less than flushing each on its own.
_FLUSH_ONE_BY_ONE = 256


def flush_files(paths: Collection[Path]) -> None:
    """`sync_to_disk` for these files and the folders naming them only, when they are few.

    An import that writes its tree while it stores the content must flush the content before
    recording it, but not the gigabyte of tree beside it: that waits for the disk later.
    """
    if not hasattr(os, "sync"):
        return
    if len(paths) > _FLUSH_ONE_BY_ONE:
        os.sync()
        return
    # The folders too, and theirs: a blob's folder may be new (`objects/ab/`).
    folders = {folder for p in paths for folder in (p.parent, p.parent.parent)}
    for path in [*paths, *folders]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _decoded_chunks(raw: BinaryIO, compressed: bool) -> Iterator[bytes]:
    if not compressed:
        while chunk := raw.read(CHUNK):
            yield chunk
        return
    body = raw.read(SMALL_FILE)
    if len(body) < SMALL_FILE:  # small blob: one call decodes it, frame size known or not
        yield from _decoded_body(body, compressed)
        return
    raw.seek(0)
    with _decompressor().stream_reader(raw, read_size=CHUNK) as reader:
        while chunk := reader.read(CHUNK):
            yield chunk


def write_all(out: BinaryIO, data: bytes) -> None:
    """Write all of `data` to an unbuffered file, however many calls that takes."""
    view = memoryview(data)
    while view:
        view = view[out.write(view) :]


def _decoded_body(body: bytes, compressed: bool) -> Iterator[bytes]:
    # A generator, so that a body that does not decode fails where the caller reads it.
    yield _decompressor().decompressobj().decompress(body) if compressed else body


@contextlib.contextmanager
def flushing_in_background(enabled: bool = True, interval: float = 0.5) -> Iterator[None]:
    """Write data back to disk while more is being written, so the closing sync is short.

    Linux starts writing back only once a tenth of memory is dirty, so the 600 MB a backup
    writes would otherwise all wait for its final sync: two seconds of disk time after the CPU
    work instead of during it.
    """
    if not enabled or not hasattr(os, "sync"):
        yield
        return
    stop = threading.Event()

    def flush() -> None:
        while not stop.wait(interval):
            os.sync()

    flusher = threading.Thread(target=flush, name="envops-flush", daemon=True)
    flusher.start()
    try:
        yield
    finally:
        stop.set()
        flusher.join()


class PackWriter:
    """One pack file, filled by one batch of a backup; created on its first blob."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._file: BinaryIO | None = None
        self._name = ""
        self._offset = 0
        self.placed: dict[str, PackedAt] = {}

    def append(self, sha: str, body: bytes, compressed: bool) -> PackedAt:
        if self._file is None:
            self._name = f"{uuid.uuid4().hex}.pack"
            fd = os.open(self._folder / self._name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY)
            # Unbuffered: every blob is in the kernel's hands once appended, ready for the sync
            # that comes before the backup is recorded.
            self._file = open(fd, "wb", buffering=0)  # noqa: SIM115 - closed by close()
        write_all(self._file, body)
        at = PackedAt(self._name, self._offset, len(body), compressed)
        self._offset += len(body)
        self.placed[sha] = at
        return at

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


# What storing one file gave: its sha256, its size as read, and where its blob was packed
# (None when the content was already stored, or is large and has a file of its own).
Ingested = tuple[str, int, PackedAt | None]


def _body_at(pack: BinaryIO, at: PackedAt) -> Iterator[bytes]:
    pack.seek(at.offset)
    return _decoded_body(pack.read(at.length), at.compressed)


def _set_mode_and_times(file: int | str, mode: int, mtime_ns: int) -> None:
    os.chmod(file, mode)
    os.utime(file, ns=(mtime_ns, mtime_ns))


@contextlib.contextmanager
def writing_new_file(target: str, mode: int, mtime_ns: int) -> Iterator[BinaryIO]:
    """A file created for writing (unbuffered) that gets `mode` and `mtime_ns` once written.

    O_EXCL|O_NOFOLLOW: never written through a link or over something already there.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
    with open(os.open(target, flags, 0o600), "wb", buffering=0) as out:
        yield out
        if _META_BY_FD:
            _set_mode_and_times(out.fileno(), mode, mtime_ns)
    if not _META_BY_FD:  # Windows: by path, once the file is closed
        _set_mode_and_times(target, mode, mtime_ns)


class _ReadBatch:
    """What a batch of reads shares: its blobs' places in packs, and the packs, opened once."""

    def __init__(self, shas: Sequence[str], packed: dict[str, PackedAt]) -> None:
        # Every blob of the batch, with None for those not packed (they have files of their own).
        self.located: dict[str, PackedAt | None] = dict.fromkeys(shas) | packed
        self._packs: dict[str, BinaryIO] = {}
        self._open = contextlib.ExitStack()

    def pack(self, path: str) -> BinaryIO:
        pack = self._packs.get(path)
        if pack is None:
            opened = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the batch
            pack = self._packs[path] = self._open.enter_context(opened)
        return pack

    def close(self) -> None:
        self._open.close()


class BlobStore:
    """Blobs in `objects/`: large ones at `ab/abcdef…` (raw) or `…​.zst` (zstd), written
    atomically by rename; small ones in `packs/`, found through the pack index."""

    def __init__(self, data_dir: Path, db: Database) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "objects"
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._packs = self.root / "packs"
        self._packs.mkdir(exist_ok=True)
        self._index = PackIndex(db)
        self._reads = threading.local()  # the thread's current read batch, if any

    def _loose_names(self, sha: str) -> tuple[str, str]:
        # Where a blob with a file of its own lies: compressed, or as it is. Strings, not
        # pathlib: a backup of 200,000 small files asks for every one.
        base = os.path.join(self.root, sha[:2], sha)
        return base + _ZST, base

    def _batch(self) -> _ReadBatch | None:
        return getattr(self._reads, "batch", None)

    @contextlib.contextmanager
    def reading(self, shas: Sequence[str]) -> Iterator[None]:
        """Within it, this thread finds the blobs `shas` through one query of the pack index
        and opens each of their packs once, instead of once per blob."""
        batch = _ReadBatch(shas, self._index.locate_many(shas))
        self._reads.batch = batch
        try:
            yield
        finally:
            self._reads.batch = None
            batch.close()

    def locate(self, sha: str) -> PackedAt | Path | None:
        """Where blob `sha` lies: its place in a pack, its own file, or None if not stored."""
        # The pack index is asked first: most blobs are small, and one query costs less than
        # the two failed lookups of a loose file.
        batch = self._batch()
        at = batch.located[sha] if batch and sha in batch.located else self._index.locate(sha)
        if at is not None:
            return at
        for candidate in self._loose_names(sha):
            if os.path.exists(candidate):
                return Path(candidate)
        return None

    def has(self, sha: str) -> bool:
        return self.locate(sha) is not None

    def all_blobs(self) -> Iterator[str]:
        for prefix in self.root.iterdir():
            if len(prefix.name) == 2 and prefix.is_dir():
                for blob in prefix.iterdir():
                    yield blob.name.removesuffix(_ZST)
        yield from self._index.all_blobs()

    def is_compressed(self, sha: str) -> bool:
        where = self.locate(sha)
        if isinstance(where, PackedAt):
            return where.compressed
        return where is not None and where.suffix == _ZST

    @contextlib.contextmanager
    def packing(self) -> Iterator[PackWriter]:
        """A pack for one batch of `ingest` calls."""
        pack = PackWriter(self._packs)
        try:
            yield pack
        finally:
            pack.close()

    def record_packed(self, placed: Iterable[tuple[str, PackedAt]]) -> None:
        """Make packed blobs part of the store (in the caller's transaction, after a sync)."""
        self._index.record(placed)

    def ingest(self, source: str, pack: PackWriter) -> Ingested:
        """Store a file's content: small content into `pack`, large into a file of its own.

        One read pass: the name is the hash of exactly the bytes stored, even if the file
        changes while it is read (its size is then the size read, not the size scanned).
        """
        fd = os.open(source, os.O_RDONLY | _NOFOLLOW | _BINARY)
        with open(fd, "rb", buffering=0) as f:
            first = f.read(SMALL_FILE)
            if len(first) < SMALL_FILE:
                sha = hashlib.sha256(first).hexdigest()
                if sha in pack.placed or self.has(sha):
                    return sha, len(first), None
                return sha, len(first), pack.append(sha, *small_body(first))
            reader = _HashingReader(f)
            tmp = self._tmp_path("ingest")
            try:
                with open(tmp, "wb") as out:
                    compressed = encode_chunks(reader.chunks(first), out)
                sha = reader.digest.hexdigest()
                self.adopt(sha, tmp, compressed)
            finally:
                tmp.unlink(missing_ok=True)
            return sha, reader.size, None

    def _found(self, sha: str) -> PackedAt | Path:
        where = self.locate(sha)
        if where is None:
            raise MissingBlobError(f"blob {sha} is missing from the store")
        return where

    def _packed_body(self, at: PackedAt) -> Iterator[bytes]:
        path = os.path.join(self._packs, at.pack)
        batch = self._batch()
        if batch is not None:
            return _body_at(batch.pack(path), at)
        with open(path, "rb", buffering=0) as pack:
            return _body_at(pack, at)

    @contextlib.contextmanager
    def _content(self, sha: str) -> Iterator[Iterator[bytes]]:
        # The blob's original bytes in chunks, from its pack or from its own file.
        where = self._found(sha)
        if isinstance(where, PackedAt):
            yield self._packed_body(where)
            return
        with open(where, "rb", buffering=0) as raw:
            yield _decoded_chunks(raw, where.suffix == _ZST)

    def extract(self, sha: str, target: str, mode: int, mtime_ns: int) -> int:
        """Write blob `sha` as a new file `target` (never through a link), verifying its hash."""
        digest = hashlib.sha256()
        size = 0
        with self._content(sha) as chunks, writing_new_file(target, mode, mtime_ns) as out:
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    write_all(out, chunk)
            except zstandard.ZstdError as error:
                raise DamagedBlobError(f"blob {sha} does not decode: {error}") from None
        if digest.hexdigest() != sha:
            raise DamagedBlobError(f"blob {sha} does not match its checksum")
        return size

    def adopt(self, sha: str, staged: Path, compressed: bool) -> Path | None:
        """Move a blob written elsewhere on this filesystem (an import's staging) into place;
        return the file of its own it now has (None: it was already stored, packed)."""
        where = self.locate(sha)
        if where is not None:
            staged.unlink(missing_ok=True)
            return where if isinstance(where, Path) else None
        compressed_name, raw_name = self._loose_names(sha)
        final = Path(compressed_name if compressed else raw_name)
        final.parent.mkdir(exist_ok=True)
        os.replace(staged, final)
        return final

    def _tmp_path(self, name: str) -> Path:
        # One folder per writer: two processes creating files in one folder queue on its
        # lock (measured: 20,000 files each took 3.5 s that way, 0.8 s in folders of their own).
        # Made again each time, not remembered: another process sweeps the scratch folder
        # whenever no writer holds the blobs, and a writer's thread id outlives that.
        folder = self._tmp / f"{os.getpid()}-{threading.get_ident()}"
        folder.mkdir(exist_ok=True)
        return folder / f"{name}.part"

    @contextlib.contextmanager
    def open(self, sha: str) -> Iterator[BinaryIO]:
        """A readable stream of the blob's original bytes."""
        where = self._found(sha)
        if isinstance(where, PackedAt):
            yield io.BytesIO(b"".join(self._packed_body(where)))
            return
        with open(where, "rb") as raw:
            if where.suffix == _ZST:
                with _decompressor().stream_reader(raw, read_size=CHUNK) as reader:
                    yield reader  # type: ignore[misc]
            else:
                yield raw

    def verify(self, sha: str) -> bool:
        """Re-hash a blob and say whether it still holds what its name promises."""
        digest = hashlib.sha256()
        try:
            with self._content(sha) as chunks:
                for chunk in chunks:
                    digest.update(chunk)
        except (OSError, zstandard.ZstdError):
            return False
        return digest.hexdigest() == sha

    def delete(self, shas: Iterable[str]) -> None:
        """Remove blobs no backup needs (while nothing else reads or writes blobs).

        A pack goes once none of its blobs is needed; one that is more than half dead is
        rewritten with only its live blobs, so deleting backups gives the disk space back.
        """
        shas = list(shas)
        for sha in shas:
            for candidate in self._loose_names(sha):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(candidate)
        for pack in self._index.forget(shas):
            self._compact(pack)

    def _compact(self, pack: str) -> None:
        old = self._packs / pack
        live = self._index.blobs_in(pack)
        if live and 2 * sum(at.length for _sha, at in live) >= old.stat().st_size:
            return
        if live:
            with self.packing() as fresh, open(old, "rb") as source:
                for sha, at in live:
                    source.seek(at.offset)
                    fresh.append(sha, source.read(at.length), at.compressed)
            # The copies must be on disk before the index points at them; a crash before the
            # move leaves the fresh pack without rows, after it the old one: either is swept.
            sync_to_disk()
            self._index.move(fresh.placed.items())
        old.unlink(missing_ok=True)

    def clear_temporary(self) -> None:
        """Drop half-written blobs and packs of backups that never finished (only when no
        writer is running)."""
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(exist_ok=True)
        in_use = self._index.packs_in_use()
        for pack in self._packs.iterdir():
            if pack.name not in in_use:
                pack.unlink(missing_ok=True)
