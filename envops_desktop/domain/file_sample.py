"""What a changes view shows of one version of a file: its start, and its size and SHA-256
taken over all of it (a diff shows at most a MiB; a hash of that MiB would name no file)."""

import hashlib
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class FileSample:
    """The first bytes of a file, up to what is shown, and the size and hash of the whole."""

    head: bytes
    size: int
    sha256: str

    @property
    def whole(self) -> bool:
        """Whether `head` is all of the file."""
        return len(self.head) == self.size


def sample_of(file: BinaryIO, limit: int) -> FileSample:
    """Read `file` to its end: its first `limit` bytes kept, all of it hashed."""
    head = file.read(limit)
    digest, size = hashlib.sha256(head), len(head)
    while chunk := file.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return FileSample(head, size, digest.hexdigest())
