"""Pack files: many small blob bodies appended to one file, found through the pack index.

Creating a file costs 150-350 us on a busy ext4 volume, and a 1 KiB file in a file of its
own wastes three quarters of a 4 KiB block; one pack per batch of a backup costs neither.
"""

import contextlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from envops_desktop.store.blob_bodies import write_all
from envops_desktop.store.file_writes import BINARY
from envops_desktop.store.pack_index import PackedAt

# Appended blobs are written once they come to this much.
_WRITTEN_AT = 1 << 20


class PackWriter:
    """One pack file, filled by one batch of a backup; created when its first blobs are
    written.

    Blobs are written a megabyte at a time: one `write` per small blob was a tenth of what
    a first backup of 200,000 files cost its helpers. `flush` hands the rest to the kernel;
    a pack must be flushed before the sync that comes before its blobs are recorded.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._fd: int | None = None
        self._name = f"{uuid.uuid4().hex}.pack"
        self._offset = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.placed: dict[str, PackedAt] = {}

    def append(self, sha: str, body: bytes, compressed: bool) -> PackedAt:
        at = PackedAt(self._name, self._offset + self._pending_bytes, len(body), compressed)
        self._pending.append(body)
        self._pending_bytes += len(body)
        self.placed[sha] = at
        if self._pending_bytes >= _WRITTEN_AT:
            self.flush()
        return at

    def flush(self) -> None:
        """Write what was appended and is not written yet."""
        if not self._pending:
            return
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY
            # As a content stored alone is: data, not a program (the default is 0o777).
            self._fd = os.open(self._folder / self._name, flags, 0o644)
        write_all(self._fd, b"".join(self._pending))
        self._offset += self._pending_bytes
        self._pending, self._pending_bytes = [], 0

    def close(self) -> None:
        """Close the pack's file; what was not flushed is dropped."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def stored_body_at(pack: BinaryIO, at: PackedAt) -> bytes:
    """A packed blob's body as stored, compressed or not."""
    pack.seek(at.offset)
    return pack.read(at.length)


class ReadBatch:
    """What a batch of reads shares: its blobs' places in packs, and the packs, opened once."""

    def __init__(self, folder: str, shas: Sequence[str], packed: dict[str, PackedAt]) -> None:
        self._folder = folder  # where the packs lie
        # Every blob of the batch, with None for those not packed (they have files of their own).
        self.located: dict[str, PackedAt | None] = dict.fromkeys(shas) | packed
        self._packs: dict[str, BinaryIO] = {}
        self._open = contextlib.ExitStack()

    def pack(self, name: str) -> BinaryIO:
        pack = self._packs.get(name)
        if pack is None:
            path = os.path.join(self._folder, name)
            opened = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the batch
            pack = self._packs[name] = self._open.enter_context(opened)
        return pack

    def close(self) -> None:
        self._open.close()
