"""Blobs of an uploaded configuration file, kept apart from the store until it is imported."""

import shutil
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from envops_desktop.store.blobs import BlobStore


class StagedBlobs:
    """A folder of blobs beside the store (same filesystem), moved in by rename on import."""

    def __init__(self, directory: Path, store: BlobStore) -> None:
        self.directory = directory
        self._store = store
        self._kept: dict[str, bool] = {}  # sha256 -> compressed
        self._claimed: set[str] = set()
        directory.mkdir(parents=True, exist_ok=True)

    def claim(self, sha: str) -> bool:
        """Whether this content is to be kept: True once per content the store lacks.

        Files are staged several at a time; claiming first, on one thread, keeps two files
        with the same content from writing the same blob.
        """
        if sha in self._claimed or self._store.has(sha):
            return False
        self._claimed.add(sha)
        return True

    def looking_up(self, shas: Sequence[str]) -> AbstractContextManager[None]:
        """Within it, `claim` finds these contents in the store with one query, not one each."""
        return self._store.reading(shas)

    def record(self, sha: str, compressed: bool) -> None:
        """Note a checked content written as `directory/<sha>`, to move into the store."""
        self._kept[sha] = compressed

    def move_into_store(self) -> None:
        for sha, compressed in self._kept.items():
            self._store.adopt(sha, self.directory / sha, compressed)
        self._kept.clear()

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
