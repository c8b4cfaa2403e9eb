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
            fd = os.open(self._folder / self._name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY)
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
