"""Blobs of an uploaded configuration file, kept apart from the store until it is imported."""

import shutil
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from envops_desktop.store.blobs import BlobStore, encode_chunks


class StagedBlobs:
    """A folder of blobs beside the store (same filesystem), moved in by rename on import."""

    def __init__(self, directory: Path, store: BlobStore) -> None:
        self.directory = directory
        self._store = store
        self._kept: dict[str, bool] = {}  # sha256 -> compressed
        directory.mkdir(parents=True, exist_ok=True)

    def wants(self, sha: str) -> bool:
        """False when the store or this stage already holds the content."""
        return sha not in self._kept and not self._store.has(sha)

    def looking_up(self, shas: Sequence[str]) -> AbstractContextManager[None]:
        """Within it, `wants` finds these contents in the store with one query, not one each."""
        return self._store.reading(shas)

    def write(self, chunks: Iterator[bytes], sha: str) -> Path:
        """Write a stream as a provisional blob; `keep` it once its hash is confirmed."""
        part = self.directory / f"{sha}.part"
        with open(part, "wb") as out:
            compressed = encode_chunks(chunks, out)
        return part.rename(part.with_suffix(".zst" if compressed else ".raw"))

    def keep(self, provisional: Path, sha: str) -> None:
        self._kept[sha] = provisional.suffix == ".zst"
        provisional.rename(self.directory / sha)

    def move_into_store(self) -> None:
        for sha, compressed in self._kept.items():
            self._store.adopt(sha, self.directory / sha, compressed)
        self._kept.clear()

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
