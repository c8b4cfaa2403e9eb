"""Where an environment's version comes from: its version file when it has one."""

import codecs
import os
import re
import stat
from pathlib import Path

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import InvalidInputError, OperationFailedError
from envops_desktop.domain.excludes import Excludes
from envops_desktop.domain.models import Environment

MAX_VERSION_LENGTH = 100
# Enough of a version file for its first line: a version's characters, up to 4 bytes each.
VERSION_HEAD_BYTES = 4 * (MAX_VERSION_LENGTH + 1) + 2
# What a tree may hold where an environment keeps its version: the file, or a link the
# version is read through once restored, as it is now.
VERSION_FILE_KINDS = (EntryKind.FILE, EntryKind.SYMLINK)


def read_version_file(root: Path, relative: str) -> str:
    """The first line of the version file, stripped; a clear error if it cannot be read."""
    path = root / relative
    try:
        # Not blocking: a named pipe would hold the open until something wrote to it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OperationFailedError(
                    f"The version file {path} is not a regular file (a pipe, a device or a "
                    "socket); give a file that holds the version."
                )
            head = os.read(fd, VERSION_HEAD_BYTES)
        finally:
            os.close(fd)
    except FileNotFoundError as error:
        raise OperationFailedError(f"The version file {path} does not exist.") from error
    except OSError as error:
        raise OperationFailedError(f"The version file {path} cannot be read: {error}.") from error
    return version_in(head, str(path))


def version_in(head: bytes, where: str) -> str:
    """The version that a version file's first `VERSION_HEAD_BYTES` hold: its first line,
    stripped. `where` names the file in the refusal of one that holds none."""
    # Not final: a character cut at the end of `head` is left out, not an error.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise OperationFailedError(f"The version file {where} cannot be read: {error}.") from error
    line = re.split("\r\n|\r|\n", text, maxsplit=1)[0][: MAX_VERSION_LENGTH + 1].strip()
    if not line:
        raise OperationFailedError(f"The version file {where} is empty.")
    if not is_printable(line):
        raise OperationFailedError(
            f"The version file {where} holds control characters; a version is printable text."
        )
    return line


def is_printable(text: str) -> bool:
    """No control characters: a name or version shown in a table or log cannot forge a line."""
    return not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def short_printable(text: str, what: str, limit: int) -> str:
    """`text` without the spaces around it, refused unless it is 1 to `limit` printable
    characters; `what` names it in the refusal ("A version")."""
    text = text.strip()
    if not text or len(text) > limit or not is_printable(text):
        raise InvalidInputError(f"{what} must be 1 to {limit} printable characters.")
    return text


def current_version(env: Environment) -> str:
    """The version the environment runs now (re-read from its version file if it has one)."""
    if env.version_file is None:
        return env.version
    return read_version_file(Path(env.path), env.version_file)


def version_file_written(env: Environment, only: list[str] | None = None) -> str | None:
    """Where `env` keeps its version, when a tree put in its folder (`only` those paths)
    writes it; None when it keeps none there, or the folder's own is left as it is (excluded,
    or not among `only`)."""
    where = env.version_file
    if where is None or Excludes(env.excludes).covers(where, is_dir=False):
        return None
    if only is not None and not any(where == p or where.startswith(f"{p}/") for p in only):
        return None
    return where


def without_version_file(env: Environment, source: str, done: str, aside: str = "") -> str:
    """Why a tree (`source`) that holds nothing where `env` keeps its version is refused:
    once `done`, the environment could not tell which version it runs."""
    return (
        f"{source} holds no {env.version_file}{aside}, the file {env.name} keeps its version "
        f"in: once {done}, {env.name} could not tell which version it runs. Nothing was changed."
    )
