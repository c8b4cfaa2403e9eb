"""Blobs of an uploaded configuration file, kept apart from the store until it is imported."""

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from envops_desktop.store.blob_bodies import CHUNK, decompressor
from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.file_writes import flush_files
from envops_desktop.store.owned_folders import OwnedFolder


class StagedBlobs:
    """A folder of blobs beside the store (same filesystem), moved in by rename on import."""

    def __init__(self, staging: Path, name: str, store: BlobStore) -> None:
        # Owned, so that a start after this process is killed removes it, and only then.
        self._folder = OwnedFolder(staging, name)
        self.directory = self._folder.directory
        self._store = store
        self._kept: dict[str, bool] = {}  # sha256 -> compressed
        self._claimed: set[str] = set()
        # Contents found stored in files of their own: one may have been put there moments
        # ago by a backup still running, not yet flushed.
        self._found_in_files: set[Path] = set()

    def claim(self, sha: str) -> bool:
        """Whether this content is to be kept: True once per content the store lacks.

        Files are staged several at a time; claiming first, on one thread, keeps two files
        with the same content from writing the same blob.
        """
        if sha in self._claimed:
            return False
        where = self._store.locate(sha)
        if isinstance(where, Path):
            self._found_in_files.add(where)
        if where is not None:
            return False
        self._claimed.add(sha)
        return True

    def holds(self, sha: str) -> bool:
        """Whether this content is kept here or in the store (now)."""
        return sha in self._kept or self._store.has(sha)

    def looking_up(self, shas: Sequence[str]) -> AbstractContextManager[None]:
        """Within it, `claim` and `holds` find these contents in the store with one query, not
        one each."""
        return self._store.reading(shas)

    def record(self, sha: str, compressed: bool) -> None:
        """Note a checked content written as `directory/<sha>`, to move into the store."""
        self._kept[sha] = compressed

    @contextlib.contextmanager
    def open(self, sha: str) -> Iterator[BinaryIO]:
        """A readable stream of a content kept here, or else in the store (the caller holds
        the store's blobs in use)."""
        compressed = self._kept.get(sha)
        if compressed is None:
            with self._store.reading([sha]), self._store.open(sha) as stored:
                yield stored
            return
        with open(self.directory / sha, "rb") as raw:
            if not compressed:
                yield raw
                return
            with decompressor().stream_reader(
                raw, read_size=CHUNK, read_across_frames=True
            ) as reader:
                yield reader  # type: ignore[misc]

    def move_into_store(self) -> None:
        """Move the kept contents into the store, and see that every content a record of
        this upload names is on disk (packed content is flushed before it is indexed)."""
        files = set(self._found_in_files)
        for sha, compressed in self._kept.items():
            adopted = self._store.adopt(sha, self.directory / sha, compressed)
            if adopted is not None:
                files.add(adopted)
        self._kept.clear()
        flush_files(files)

    def discard(self) -> None:
        self._folder.release()
