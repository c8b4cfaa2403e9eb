"""What a restore would change in a folder, or what differs between two backups: per path,
its kinds of change. The command line prints these as JSON, the window lists them, and each
restore keeps its own with its activity entry.

Plain dataclasses with their own JSON (orjson), not pydantic models: every restore makes
one, and a small restore from the command line would otherwise pay pydantic's import.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain, islice

from envops_desktop.domain.in_steps import let_go_in_steps
from envops_desktop.domain.name_json import dumps_any_name, loads_any_name


class ChangeKind(StrEnum):
    """One way a path differs between two trees."""

    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"  # its content
    KIND = "kind"  # a file became a folder, a link, ...
    MODE = "mode"
    OWNER = "owner"
    MTIME = "mtime"
    TARGET = "target"  # a link's
    XATTRS = "xattrs"  # extended attributes, ACLs among them
    HARDLINK = "hardlink"  # which earlier file of the tree it is a hard link to
    HOLES = "holes"  # where a sparse file's data lies


# Kinds that say a path's content or existence changed; the others are metadata only.
CONTENT_KINDS = frozenset(
    {ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.MODIFIED, ChangeKind.KIND}
)


@dataclass(frozen=True, slots=True)  # slots: a restore of 200,000 files makes as many
class PathChange:
    """How one path differs: "." is the folder itself; sizes are of files only."""

    path: str
    kinds: tuple[ChangeKind, ...]
    size_before: int | None = None
    size_after: int | None = None

    @property
    def metadata_only(self) -> bool:
        return CONTENT_KINDS.isdisjoint(self.kinds)


_JSON_BATCH = 2_000


def _encoded(changes: list["PathChange"]) -> bytes:
    """`changes` as the items of a JSON list, without its brackets."""
    rows = [
        {
            "path": c.path,
            "kinds": [kind.value for kind in c.kinds],
            "size_before": c.size_before,
            "size_after": c.size_after,
        }
        for c in changes
    ]
    return dumps_any_name(rows)[1:-1]


@dataclass(frozen=True)
class TreeChanges:
    """Every path that differs from `before` to `after`, in path order."""

    before: str  # what was compared: "live" or a backup's name
    after: str
    changes: tuple[PathChange, ...]
    # How many paths changed in each way (a path changed two ways counts twice), and that
    # in one line: "3 added, 1 modified, 2 changed only in metadata", or "no changes".
    # Counted where the changes are found, which in the window is a worker: over 200,000
    # paths it takes 0.1 s, a stall if the GUI thread showing the summary did it.
    counts: dict[ChangeKind, int] = field(init=False, compare=False, repr=False)
    summary: str = field(init=False, compare=False, repr=False)
    # What they were worked out from: the live folder as a quick scan names it and the tree
    # that would replace it. A restore that finds the same need not work them out again;
    # None where the folder had no name (a file changed within a tick of the scan).
    fingerprint: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        counts = _in_order(Counter(chain.from_iterable(change.kinds for change in self.changes)))
        metadata_only = sum(1 for change in self.changes if change.metadata_only)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "summary", _summary(counts, metadata_only))

    def to_json(self) -> bytearray:
        """The changes, their counts and summary as JSON, each name exactly: a byte that is not
        UTF-8 as the escape `json.loads` reads back to it (`\\udcff`), so that a script can
        hand the name on to `--only`."""
        return changes_json(self.before, self.after, self.changes)

    @classmethod
    def from_json(cls, data: bytes) -> "TreeChanges":
        document = loads_any_name(data)
        return cls(
            before=document["before"],
            after=document["after"],
            changes=tuple(
                PathChange(
                    c["path"],
                    tuple(ChangeKind(kind) for kind in c["kinds"]),
                    c["size_before"],
                    c["size_after"],
                )
                for c in document["changes"]
            ),
        )


def _in_order(counted: Counter[ChangeKind]) -> dict[ChangeKind, int]:
    return {kind: counted[kind] for kind in ChangeKind if counted[kind]}


def _summary(counts: dict[ChangeKind, int], metadata_only: int) -> str:
    parts = [
        f"{counts[kind]} {'changed kind' if kind is ChangeKind.KIND else kind.value}"
        for kind in (ChangeKind.ADDED, ChangeKind.MODIFIED, ChangeKind.REMOVED, ChangeKind.KIND)
        if counts.get(kind)
    ]
    if metadata_only:
        parts.append(f"{metadata_only} changed only in metadata")
    return ", ".join(parts) if parts else "no changes"


def let_go_of_changes(held: list[TreeChanges]) -> None:
    """Let go of each of `held` (emptied), a part at a time where nothing else holds it:
    freed with its tuple in one call, a preview's 200,000 changes held the GIL, and the
    window, 40-80 ms."""
    while held:
        changes = held.pop()
        rows = list(changes.changes)
        del changes  # with it its tuple, only let go of: `rows` holds every change still
        let_go_in_steps(rows)


def changes_json(before: str, after: str, changes: Iterable[PathChange]) -> bytearray:
    """`TreeChanges(before, after, changes)` as JSON, encoded as the changes come: only the
    bytes are kept, so a restore can work out its report of 200,000 changes beside writing
    them.

    A batch of changes at a time: a document of 200,000 dicts held several times the memory
    of the JSON it became, and orjson gives each result of its own at least 4 KiB, so not
    one change at a time either. Into one buffer, grown in place and its head put before
    it last: joined from parts, then put together with the head, the JSON of 200,000
    changes was held four times over (80 MB) for a moment, while a restore wrote.
    """
    counted: Counter[ChangeKind] = Counter()
    metadata_only = 0
    body = bytearray()
    coming = iter(changes)
    while batch := list(islice(coming, _JSON_BATCH)):
        if body:
            body += b","
        body += _encoded(batch)
        counted.update(chain.from_iterable(change.kinds for change in batch))
        metadata_only += sum(change.metadata_only for change in batch)
    counts = _in_order(counted)
    head = dumps_any_name(
        {
            "before": before,
            "after": after,
            "summary": _summary(counts, metadata_only),
            "counts": {kind.value: n for kind, n in counts.items()},
        }
    )
    body[:0] = head[:-1] + b',"changes":['
    body += b"]}"
    return body
