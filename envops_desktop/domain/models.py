"""What the service stores and returns: frozen dataclasses.

Plain dataclasses rather than pydantic models: everything here is built by the service from
its own database or from input it has already checked, and leaving pydantic out of the import
path saves every command-line run about 130 ms (a third of an unchanged backup's budget).
pydantic stays at the boundaries: configuration files (`domain/configuration.py`) and the
command line's JSON output.
"""

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from envops_desktop.domain.enums import (
    ActivityAction,
    BackupOrigin,
    EntryKind,
    EnvironmentStatus,
    Outcome,
)
from envops_desktop.domain.errors import InvalidInputError

if TYPE_CHECKING:  # pydantic stays off the import path of a backup
    from envops_desktop.domain.configuration import ManifestEntry


@dataclass(frozen=True, kw_only=True)
class RestoreCommand:
    """A command run inside the environment around a restore: its pre-restore command before
    anything of it changes, its post-restore command once the new configuration is in."""

    argv: list[str]
    timeout_seconds: float = 300.0

    def __post_init__(self) -> None:
        _check_command(self.argv, self.timeout_seconds, "restore command")

    @classmethod
    def from_text(
        cls, text: str, timeout_seconds: float = 300.0, when: str = "post"
    ) -> "RestoreCommand":
        """A command line as a shell would split it, refused now if it cannot be split; the
        command run `when` ("pre" or "post") a restore, as its refusal names it."""
        name = f"{when}-restore command"
        try:
            argv = shlex.split(text)
        except ValueError as error:  # "No closing quotation", "No escaped character"
            raise InvalidInputError(
                f"The {name} {text!r} cannot be split into words: {str(error).lower()}."
            ) from None
        if (syntax := _read_by_a_shell_alone(text)) is not None:
            raise InvalidInputError(
                f"The {name} {text!r} holds {syntax!r}, which only a shell reads: the command "
                "runs as a program with its arguments, not in a shell. For a shell to run it, "
                f"write {shlex.join(['sh', '-c', text])}."
            )
        _check_command(argv, timeout_seconds, name)
        return cls(argv=argv, timeout_seconds=timeout_seconds)

    @property
    def line(self) -> str:
        """The command as a shell line that `from_text` splits back into `argv`."""
        return shlex.join(self.argv)


# Outside quotes, each begins an operator (`&&`, `;`, `2>&1`, `| tee`) that a shell acts on
# and a program given it as an argument does not: `systemctl stop app && sleep 1` would
# hand systemctl four units to stop.
_SHELL_OPERATORS = frozenset(";|&<>`")
_SHELL_VARIABLE = re.compile(r"\$(?:[A-Za-z_]\w*|\{[^}\s]*\}?|\()")


def _read_by_a_shell_alone(text: str) -> str | None:
    """The first thing in the command line `text` that a shell would act on and a program
    takes as it is written (an operator, a variable, a command substitution, a `~` for the
    home folder, a `#` comment), or None. What is quoted or escaped is meant as written:
    `sh -c "systemctl stop $SERVICE && sleep 1"` hands sh a line for it to read."""
    quote, index, word_start = "", 0, True
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                index += 1  # an escaped quote does not end the quote
        elif char == "\\":
            index += 2  # the next character is meant as written
            word_start = False
            continue
        elif char in "'\"":
            quote = char
        elif char == "$" and (variable := _SHELL_VARIABLE.match(text, index)):
            return variable.group()
        elif char in _SHELL_OPERATORS:
            end = index
            while end < len(text) and text[end] in _SHELL_OPERATORS:
                end += 1
            return text[index:end]
        elif char in "~#" and word_start:  # the home folder; a comment
            return char
        word_start = not quote and char.isspace()
        index += 1
    return None


# The longest a restore waits on its command: a day, as the Add environment dialog's box
# takes. A command that hangs holds the environment at Updating until then.
MAX_COMMAND_SECONDS = 86_400.0


def _check_command(argv: list[str], timeout_seconds: float, name: str) -> None:
    if not argv:
        raise InvalidInputError(f"The {name} is empty.")
    if not 0 < timeout_seconds <= MAX_COMMAND_SECONDS:  # NaN and infinity too
        raise InvalidInputError(
            f"The {name}'s timeout must be more than 0 seconds and at most "
            f"{MAX_COMMAND_SECONDS:g} (a day)."
        )


@dataclass(frozen=True, kw_only=True)
class Environment:
    """A named configuration directory this app keeps safe."""

    id: str
    name: str
    path: str
    version: str
    version_file: str | None = None
    status: EnvironmentStatus = EnvironmentStatus.READY
    post_restore_command: RestoreCommand | None = None
    # Run once the new configuration is written and before it replaces the old (to stop a
    # service that would read it half-way); if it fails, nothing is changed.
    pre_restore_command: RestoreCommand | None = None
    last_restored_backup_id: str | None = None
    last_backup_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    # Its schedule in a few words ("Every day at 02:00", "Off"), and whether a scheduled
    # backup failed or was missed: filled in where they are shown.
    schedule: str = "Off"
    backup_overdue: bool = False
    # Whether its folder differs from its last backup; None while unknown (being checked,
    # or no backup yet). Filled in by the window, which checks it on a worker.
    modified_since_backup: bool | None = None
    # Glob patterns of paths not backed up and left as they are by a restore (`excludes.py`).
    excludes: tuple[str, ...] = ()
    # Whether a teammate's backup may hold links that lead out of the folder (a copy of
    # /etc has many); refused otherwise, as a configuration file's are unless allowed.
    allow_links_out: bool = False


# A regular file as a scan found it: (path, size, mtime_ns, inode, mode); the first four are
# what the hash cache compares with what it knows.
ScannedFile = tuple[str, int, int, int, int]


class TreeEntry(NamedTuple):
    """One entry of a backup's tree as the engine handles it: the fields of `ManifestEntry`.

    A plain tuple: a 200,000-file backup held as `ManifestEntry` models took 207 MiB, as
    these 21 MiB, and the garbage collector stops tracking them.
    """

    path: str
    kind: EntryKind
    mode: int
    size: int
    mtime_ns: int
    sha256: str | None
    target: str | None
    # Owner, xattrs, hardlink and holes (`store.file_metadata.EntryMeta`); None in manifests
    # written before they were kept.
    meta: dict[str, object] | None = None


def is_hardlink(entry: "TreeEntry | ManifestEntry") -> bool:
    """Whether an entry is another name of an earlier node of its tree (a file, a symlink, a
    FIFO), which a restore links again."""
    return bool(entry.meta and "hardlink" in entry.meta)


def has_content(entry: "TreeEntry | ManifestEntry") -> bool:
    """Whether an entry's content is stored for it: a file, and not a hardlink to an earlier
    one (which is linked again on restore)."""
    return entry.kind is EntryKind.FILE and not is_hardlink(entry)


def bytes_written(entry: "TreeEntry | ManifestEntry") -> int:
    """The bytes of content a restore writes for an entry: none for a hardlink (its node is
    written once) or anything but a file, and of a sparse file only its data, as its holes
    are left unwritten. Its size is what it reads as, which may be far more."""
    if not has_content(entry):
        return 0
    extents = entry.meta.get("data") if entry.meta else None
    return entry.size if extents is None else data_length(extents)  # type: ignore[arg-type]


def data_length(extents: Iterable[Sequence[int]]) -> int:
    """The bytes a sparse file's data extents (`[offset, length]`) hold: what of it is
    written, its holes left out."""
    return sum(length for _, length in extents)


# A backup's name: as many characters as an environment's, none of them control characters.
MAX_BACKUP_NAME_LENGTH = 100


@dataclass(frozen=True, kw_only=True)
class Backup:
    """An immutable snapshot of one environment's configuration."""

    id: str
    environment_id: str
    name: str
    created_at: datetime
    version: str
    created_by: str
    origin: BackupOrigin
    file_count: int
    total_bytes: int
    skipped: list[str] = field(default_factory=list)
    # The environment folder's own permissions and mtime, restored with its contents.
    root_mode: int | None = None
    root_mtime_ns: int | None = None
    root_meta: dict[str, object] | None = None
    # Files that kept changing while they were read: stored as last read, which may mix
    # old and new parts, so a restore names them before it starts.
    changed_while_read: list[str] = field(default_factory=list)
    # "user@host" of the workstation that made it, for a backup from a shared store made
    # elsewhere; None when made here. One made elsewhere is restored as untrusted.
    made_on: str | None = None
    # Kept whatever retention's rules say.
    pinned: bool = False
    # In Deleted (the recycle bin) since then, and why: recoverable until its content is freed.
    deleted_at: datetime | None = None
    deleted_why: str = ""


@dataclass(frozen=True, kw_only=True)
class ActivityEntry:
    """One line of the activity log."""

    id: int
    time: datetime
    environment_id: str | None
    environment_name: str
    action: ActivityAction
    user: str
    outcome: Outcome
    detail: str = ""
    has_report: bool = False  # a list of what it changed is kept (restores and imports)


@dataclass(frozen=True, kw_only=True)
class RecoveryReport:
    """What start-up recovery did with one interrupted operation."""

    environment_name: str
    rolled_forward: bool
    detail: str
