"""Where an environment's version comes from: its version file when it has one."""

import codecs
import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.errors import InvalidInputError, OperationFailedError
from envops_desktop.domain.excludes import Excludes
from envops_desktop.domain.models import Environment
from envops_desktop.domain.paths import is_utf8_text, shown
from envops_desktop.service.folder_reach import disk_gone_hint, is_folder

MAX_VERSION_LENGTH = 100
# Enough of a version file for its first line: a version's characters, up to 4 bytes each.
VERSION_HEAD_BYTES = 4 * (MAX_VERSION_LENGTH + 1) + 2
# As many links as the kernel follows in one path before it gives up (ELOOP).
MAX_LINKS_FOLLOWED = 40


class TreeItem(Protocol):
    """What the version rule reads of an entry of a tree (a backup's, or a file's manifest)."""

    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> EntryKind: ...
    @property
    def target(self) -> str | None: ...


Item = TypeVar("Item", bound=TreeItem)


def read_version_file(root: Path, relative: str) -> str:
    """The first line of the version file, stripped; a clear error if it cannot be read,
    or if the folder's disk has not answered a first look within its time (`is_folder`):
    a read on a disk that hangs waits for as long as the disk does."""
    is_folder(root)  # for what it raises; a folder not there is said of the file, below
    return read_version_at(root / relative)


def read_version_at(path: Path) -> str:
    """The first line of the version file at `path`, stripped (`read_version_file`)."""
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
        raise OperationFailedError(
            f"The version file {path} cannot be read: {error.strerror or error}."
            + disk_gone_hint(error)
        ) from error
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
    if not is_utf8_text(text):  # bytes of the command line
        raise InvalidInputError(
            f"{what} must be UTF-8 text: {shown(text)} holds bytes that are not, as a "
            "terminal set to another encoding sends them."
        )
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


def without_version_file(
    env: Environment, source: str, done: str, entries: Sequence[TreeItem], aside: str = ""
) -> str:
    """Why a tree (`source`, of `entries`) that holds nothing where `env` keeps its version
    is refused: once `done`, the environment could not tell which version it runs."""
    where = env.version_file
    links = (e.target for e in entries if e.path == where and e.kind is EntryKind.SYMLINK)
    link = next(links, None)
    held = (
        f"holds no {where}{aside}, the file {env.name} keeps its version in"
        if link is None
        else f"holds {where}, the file {env.name} keeps its version in, as a link to {link}, "
        f"which leads to no file{aside}"
    )
    return (
        f"{source} {held}: once {done}, {env.name} could not tell which version it runs. "
        "Nothing was changed."
    )


def version_file_in(env: Environment, where: str, entries: Sequence[Item]) -> Item | Path | None:
    """What reading `where` in `env`'s folder would read once it holds the tree of `entries`,
    its links followed as the kernel follows them: the tree's file (its entry), a file
    outside the tree (its path), or None when that is no file, so that `env` could not tell
    its version. A link may lead through folders that are links too, or out of the tree."""
    links = {e.path: e.target or "" for e in entries if e.kind is EntryKind.SYMLINK}
    root = os.path.realpath(env.path)
    landed = _where_read(root, where, links.get)
    if landed is None:  # a loop, which the kernel would refuse to read through
        return None
    inside = _inside(landed, root)
    if inside is None:
        return Path(landed) if os.path.isfile(landed) else None
    return next((e for e in entries if e.path == inside and e.kind is EntryKind.FILE), None)


def _where_read(root: str, where: str, link_in_tree: Callable[[str], str | None]) -> str | None:
    """The absolute path reading `where` (relative to `root`) lands on, with `root` holding
    a tree whose links are `link_in_tree` and everything outside it as it is now; None
    past `MAX_LINKS_FOLLOWED` links."""
    pending = where.split("/")[::-1]  # a stack of names still to walk
    current, followed = root, 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        inside = _inside(candidate, root)
        target = link_in_tree(inside) if inside is not None else _live_link(candidate)
        if target is None:
            current = candidate
            continue
        followed += 1
        if followed > MAX_LINKS_FOLLOWED:
            return None
        if target.startswith("/"):
            current = "/"
        pending.extend(target.split("/")[::-1])
    return current


def _inside(path: str, root: str) -> str | None:
    """`path` relative to `root` ("" for the folder itself), None when it is outside."""
    if path == root:
        return ""
    return path[len(root) + 1 :] if path.startswith(f"{root}/") else None


def _live_link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:  # not a link, or not there: the walk goes on as the kernel would
        return None


def version_read(
    found: Item | Path, head_of: Callable[[Item], bytes | None], source: str
) -> str | None:
    """What the version file `version_file_in` found says, the tree's read by `head_of`
    (`VERSION_HEAD_BYTES` of it); None when that content is not at hand."""
    if isinstance(found, Path):
        return read_version_at(found)
    head = head_of(found)
    return None if head is None else version_in(head, f"{found.path} in {source}")
