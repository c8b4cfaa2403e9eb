"""Rules for the relative paths stored in manifests, shared by backups and configuration files."""

import os
import posixpath
import re
from collections.abc import Sequence

_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS = os.name == "nt"
# What Windows refuses in a file name (and `/` everywhere, `:` in macOS's Finder).
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_NAME_MAX = 255  # bytes in one name: ext4, XFS, Btrfs, APFS (NTFS: 255 UTF-16 units)


def relative_path_problem(path: str) -> str | None:
    """Say why `path` is not a safe relative POSIX path inside an environment, or None if it is."""
    if not path:
        return "is empty"
    if "\x00" in path:
        return "contains a NUL character"
    # Each a name like any other on POSIX, where a tree may hold `run\me.sh` or `a:b`:
    # export writes them, and its own import must take them back.
    if "\\" in path and _WINDOWS:
        return "contains a backslash, which Windows reads as a folder separator"
    if _DRIVE.match(path) and _WINDOWS:
        return "starts with a drive letter"
    if path.startswith("/"):
        return "is an absolute path"
    parts = path.split("/")
    if ".." in parts:
        return "climbs out of the environment with '..'"
    if "" in parts or "." in parts:  # not any() over the parts: twice per file of an import
        return "has an empty or '.' component"
    if not path.isascii() and not _spelled_as_its_bytes(path):
        # Two spellings of one name on disk (`\udcc3\udca9` and `é`) would pass as two paths.
        return "is not a name as this system spells its bytes"
    # Up to 63 characters are at most 252 bytes: only a longer path can hold a name that no
    # filesystem takes.
    if len(path) > _NAME_MAX // 4 and any(len(os.fsencode(part)) > _NAME_MAX for part in parts):
        return f"has a name longer than {_NAME_MAX} bytes, which no filesystem here takes"
    return None


def _spelled_as_its_bytes(path: str) -> bool:
    # A name read from disk holds its bytes that are not UTF-8 as lone surrogates, and no
    # others: any other string is a name no directory listing gives.
    try:
        return os.fsdecode(os.fsencode(path)) == path
    except UnicodeError:
        return False


def within(roots: Sequence[str], path: str) -> str:
    """`path`, given for a path inside a folder (relative to it, or absolute and inside it
    by one of its names `roots`, as a shell completes it), relative to the folder, its "."
    and empty components left out; anything else as it was, for `relative_path_problem` to
    name."""
    for folder in roots:
        folder = folder.rstrip("/") + "/"
        if path.startswith(folder) or path + "/" == folder:
            path = path[len(folder) :]
            break
    if path.startswith("/"):
        return path
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def from_where_you_stand(folder: str, where: str, path: str) -> str:
    """`path` as a shell at `where` means it: standing in a folder inside `folder`, a
    relative path starts there (as git takes it, and as the shell completes it),
    its leading ".." climbing towards the folder and never past it (left for
    `relative_path_problem` to name); anywhere else, or absolute, as it was."""
    here = within([folder], where)
    if not here or here.startswith("/") or path.startswith("/") or not path.strip():
        return path
    folders, rest = here.split("/"), path.split("/")
    while rest and rest[0] in ("", ".", ".."):
        if rest[0] == "..":
            if not folders:
                break
            folders.pop()
        rest.pop(0)
    return "/".join(folders + rest) or "."


def export_file_name(environment: str, backup: str) -> str:
    """The name a backup's configuration file is given when the user names only its folder
    (the Export dialog suggests it too): environment and backup, with a dash for each
    character a file name may not hold on Windows, macOS or Linux (a default backup name's
    `16:15` among them), never starting with a dot: such a file is carried from one computer
    to another."""
    suffix = ".envops.zip"
    # Not hidden in a file manager either: an environment may be named ".dotfiles".
    stem = _NOT_IN_FILE_NAMES.sub("-", f"{environment} {backup}").lstrip(".")
    # Names of 100 characters each, in a script of 3 bytes a character, are too long for one.
    room = _NAME_MAX - len(suffix)
    stem = stem.encode()[:room].decode(errors="ignore")
    return stem + suffix


def link_target_escapes(link_path: str, target: str) -> bool:
    """True when a symlink at `link_path` pointing to `target` resolves outside the root."""
    if target.startswith("/") or (_WINDOWS and (_DRIVE.match(target) or "\\" in target)):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link_path), target))
    return resolved == ".." or resolved.startswith("../")


def is_utf8_text(text: str) -> bool:
    """Whether `text` holds no byte that is not UTF-8 (which Python holds as a lone
    surrogate, from a name on disk, the command line or the environment): what the database,
    JSON of pydantic's and Qt take as text."""
    return text.isascii() or not any("\udc80" <= char <= "\udcff" for char in text)


def shown(text: str) -> str:
    """`text` with the bytes of any name in it that are not UTF-8 (which Python holds as lone
    surrogates) written as `\\x` escapes: fit for a message, a report or the database, which
    hold text only; never used to name a file."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# A name may hold any byte but "/": written as they are, a newline in one would start a
# line of its own, and an escape sequence would work the terminal.
_CONTROL_CHARACTERS = {code: f"\\x{code:02x}" for code in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\t"): "\\t",
    ord("\r"): "\\r",
}
# A backslash of the name doubled too, as `ls -b` does: a name holding "\\n" then reads
# apart from one holding a newline.
_NAME_ESCAPES = _CONTROL_CHARACTERS | {ord("\\"): "\\\\"}


def on_one_line(text: str) -> str:
    """`text` with its control characters written as escapes (`\\n`, `\\x1b`): fit for one
    line of a terminal, whatever a name in it holds."""
    return text.translate(_CONTROL_CHARACTERS)


def name_on_one_line(name: str) -> str:
    """A path as one line of a listing that reads back to that path only: its control
    characters written as escapes and its backslashes doubled."""
    return name.translate(_NAME_ESCAPES)
