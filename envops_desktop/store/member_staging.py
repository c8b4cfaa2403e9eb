"""Staging the files of an uploaded configuration file: inflate, check, keep the new content.

Runs in the helper processes of a big upload (or pool threads of a small one), so it imports
only the blob layer: no pydantic, no manifest. Each file is checked against the size and
SHA-256 its manifest entry declares before its content is kept.
"""

import contextlib
import hashlib
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from envops_desktop.domain.errors import InvalidConfigurationFileError
from envops_desktop.store.blob_bodies import CHUNK, SizeChangedError, encode_chunks, write_all
from envops_desktop.store.file_writes import writing_new_file
from envops_desktop.store.helper_progress import advanced
from envops_desktop.store.zip_members import (
    BODY_ERRORS,
    UnreadableEntryError,
    ZipDirectory,
    ZipMember,
    member_chunks,
    readable_here,
)

# Where an import in one pass writes a file as it is checked: path, mode and mtime_ns.
NewFile = tuple[str, int, int]
# One file of an upload: its path in the manifest, declared SHA-256 and size, whether this
# file is the one to keep the content (the store lacks it), its zip entry, and the new file
# to write it to as well (None when it is only staged).
MemberJob = tuple[str, str, int, bool, ZipMember, NewFile | None]


def refused(archive: Path | str, problem: str) -> InvalidConfigurationFileError:
    """The one sentence that refuses a configuration file, naming what is wrong."""
    return InvalidConfigurationFileError(f"{Path(archive).name} was refused: {problem}.")


# What reading a body raises where it is damaged: zipfile's and ISA-L's errors, zlib's,
# lzma's, an end too soon, and bz2's OSError, the only one here with no errno (one with an
# errno is the disk's, not the file's).
_DAMAGED_BODY = (*BODY_ERRORS, zlib.error, lzma.LZMAError, EOFError, OSError)


@contextlib.contextmanager
def reading_body(archive: Path | str, path: str) -> Iterator[None]:
    """Refuse the file, in one sentence, where the body of its entry `path` cannot be read."""
    try:
        yield
    except (UnreadableEntryError, NotImplementedError) as error:
        raise refused(
            archive, f"the file {path!r} is encrypted or compressed in a way EnvOps cannot read"
        ) from error
    except _DAMAGED_BODY as error:
        if getattr(error, "errno", None) is not None:
            raise
        raise refused(archive, f"the file {path!r} is damaged or truncated ({error})") from error


class _Archive:
    """One batch's view of the zip: a plain handle, and zipfile only for rare methods."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the batch
        self._zip: zipfile.ZipFile | None = None
        self._by_offset: dict[int, zipfile.ZipInfo] = {}

    def chunks(self, member: ZipMember) -> Iterator[bytes]:
        if readable_here(member):
            return member_chunks(self.raw, member, CHUNK)
        return self._chunks_by_zipfile(member)

    def _chunks_by_zipfile(self, member: ZipMember) -> Iterator[bytes]:
        if self._zip is None:  # reading the zip's directory costs; only when needed
            self._zip = ZipDirectory(self.path)
            self._by_offset = {info.header_offset: info for info in self._zip.infolist()}
        try:
            stream = self._zip.open(self._by_offset[member.header_offset])
        except (RuntimeError, NotImplementedError) as error:  # zipfile's words for these two
            raise UnreadableEntryError from error
        with stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    def close(self) -> None:
        self.raw.close()
        if self._zip is not None:
            self._zip.close()


def stage_members(archive: str, stage_dir: str, jobs: list[MemberJob]) -> list[bool | None]:
    """Check each file and keep the content of those marked to keep, as `stage_dir/<sha256>`;
    write it out as a new file too where the job names one.

    Returns per file whether its kept content is zstd-compressed, or None where nothing was
    kept. Raises the refusal of the first file that is damaged or does not match.
    """
    source = _Archive(archive)
    try:
        return [_stage(source, stage_dir, *job) for job in jobs]
    finally:
        source.close()


def _stage(
    source: _Archive,
    stage_dir: str,
    path: str,
    sha: str,
    size: int,
    keep: bool,
    member: ZipMember,
    new_file: NewFile | None,
) -> bool | None:
    digest = hashlib.sha256()
    count = 0

    def checked(out: BinaryIO | None) -> Iterator[bytes]:
        """The file's content, counted, hashed and written out to `out` as it is read."""
        nonlocal count
        for chunk in source.chunks(member):
            count += len(chunk)
            if count > size:
                raise refused(source.path, f"the file {path!r} holds more than its declared size")
            digest.update(chunk)
            if out is not None:
                write_all(out, chunk)
            advanced(len(chunk))
            yield chunk

    # Nothing is cleaned up on a refusal here: the upload's whole stage folder is discarded,
    # and so is the tree of an import in one pass.
    provisional = os.path.join(stage_dir, sha + ".part")
    compressed = None
    with reading_body(source.path, path), contextlib.ExitStack() as files:
        out = None if new_file is None else files.enter_context(writing_new_file(*new_file))
        content = checked(out)
        if keep:
            body = files.enter_context(open(provisional, "wb"))
            # Shorter than declared: refused below, as not matching its checksum.
            with contextlib.suppress(SizeChangedError):
                compressed = encode_chunks(content, body, size)
        else:
            for _ in content:
                pass
    if count != size or digest.hexdigest() != sha:
        raise refused(source.path, f"the file {path!r} does not match its checksum in the manifest")
    if keep:
        os.replace(provisional, os.path.join(stage_dir, sha))
    return compressed
