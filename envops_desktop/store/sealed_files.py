"""Passphrase-protected configuration files: a configuration file sealed as a whole, safe to
mail, with the code that seals the shared store's objects (`sealing.py`).

Layout: a magic line; the length and JSON of a key of the file's own (`WrappedKey`: random,
wrapped by the passphrase with scrypt); then the zip in chunks of at most 1 MiB, each sealed
(AES-256-GCM) with its number and whether it is the last as context, so that chunks moved,
dropped or cut off fail to open, as a file cut short does.
"""

import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from envops_desktop.domain.errors import WrongPassphraseError
from envops_desktop.store.sealing import (
    DamagedObjectError,
    MasterKey,
    WrappedKey,
    unwrap,
    wrap,
)

MAGIC = b"ENVOPS SEALED CONFIGURATION 1\n"
SEALED_SUFFIX = ".sealed"
_CHUNK = 1 << 20
_LENGTH = struct.Struct(">I")
_SEALED_CHUNK_MAX = _CHUNK + 64  # a chunk's seal adds 29 bytes
_KEY_MAX = 4096


def is_sealed(path: Path) -> bool:
    """Whether `path` is a passphrase-protected configuration file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a pipe would hold this open until written to: the reader refuses it
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False  # the reader says why it cannot be read


def _context(number: int, last: bool) -> bytes:
    return b"configuration chunk" + struct.pack(">Q?", number, last)


def seal_file(
    source: BinaryIO, out: BinaryIO, passphrase: str, advance: Callable[[int], None]
) -> None:
    """Write `source` to `out` sealed with a key of its own, unlocked by `passphrase`."""
    key = MasterKey.new()
    wrapped = wrap(key, passphrase).model_dump_json().encode()
    out.write(MAGIC + _LENGTH.pack(len(wrapped)) + wrapped)
    chunk, number = source.read(_CHUNK), 0
    while True:
        following = source.read(_CHUNK)
        sealed = key.seal(chunk, _context(number, not following))
        out.write(_LENGTH.pack(len(sealed)) + sealed)
        advance(len(chunk))
        if not following:
            return
        chunk, number = following, number + 1


def unseal_file(
    source: Path, out: BinaryIO, passphrase: str, advance: Callable[[int], None]
) -> None:
    """Write the configuration file sealed in `source` to `out`; WrongPassphraseError when
    `passphrase` is not its, InvalidConfigurationFileError when it was damaged or cut off."""
    from envops_desktop.store.member_staging import refused

    with open(source, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise refused(source, "it is not a passphrase-protected configuration file")
        try:
            wrapped = WrappedKey.model_validate_json(f.read(_read_length(f, source, _KEY_MAX)))
        except ValidationError:
            raise refused(source, "its key is damaged") from None
        try:
            key = unwrap(wrapped, passphrase)
        except WrongPassphraseError:
            raise WrongPassphraseError(f"The passphrase does not unlock {source.name}.") from None
        size, number = os.fstat(f.fileno()).st_size, 0
        while True:
            if f.tell() >= size:
                raise refused(source, "it was cut short (its last part is missing)")
            length = _read_length(f, source, _SEALED_CHUNK_MAX)
            sealed = f.read(length)
            if len(sealed) < length:
                raise refused(source, "it was cut short (its last part is missing)")
            last = f.tell() >= size
            try:
                chunk = key.open(sealed, _context(number, last))
            except DamagedObjectError:
                raise refused(source, _why_not(key, sealed, number, last)) from None
            out.write(chunk)
            advance(len(chunk))
            if last:
                return
            number += 1


def _why_not(key: MasterKey, sealed: bytes, number: int, last: bool) -> str:
    """Why part `number` failed to open, in words."""
    if last:
        try:
            key.open(sealed, _context(number, False))
            return "it was cut short (its last part is missing)"
        except DamagedObjectError:
            pass
    return f"it was damaged or altered (part {number + 1} fails its check)"


def _read_length(f: BinaryIO, source: Path, most: int) -> int:
    from envops_desktop.store.member_staging import refused

    head = f.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise refused(source, "it was cut short")
    (length,) = _LENGTH.unpack(head)
    if length > most:
        raise refused(source, "it is damaged (a part is larger than any EnvOps writes)")
    return length
