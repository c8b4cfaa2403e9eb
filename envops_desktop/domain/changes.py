"""What a restore would change in a folder, or what differs between two backups: per path,
its kinds of change. The command line prints these as JSON, the window lists them, and each
restore keeps its own with its activity entry.

Plain dataclasses with their own JSON (orjson), not pydantic models: every restore makes
one, and a small restore from the command line would otherwise pay pydantic's import.
"""

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

import orjson

from envops_desktop.domain.paths import shown


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
        return not CONTENT_KINDS & set(self.kinds)


_JSON_BATCH = 2_000


def _encoded(changes: tuple["PathChange", ...]) -> bytes:
    """`changes` as the items of a JSON list, without its brackets."""
    rows = [
        {
            "path": shown(c.path),  # a report is read, not used to name files
            "kinds": [kind.value for kind in c.kinds],
            "size_before": c.size_before,
            "size_after": c.size_after,
        }
        for c in changes
    ]
    return orjson.dumps(rows)[1:-1]


@dataclass(frozen=True)
class TreeChanges:
    """Every path that differs from `before` to `after`, in path order."""

    before: str  # what was compared: "live" or a backup's name
    after: str
    changes: tuple[PathChange, ...]

    @property
    def counts(self) -> dict[ChangeKind, int]:
        """How many paths changed in each way; a path changed two ways counts twice."""
        counted = Counter(kind for change in self.changes for kind in change.kinds)
        return {kind: counted[kind] for kind in ChangeKind if counted[kind]}

    @property
    def summary(self) -> str:
        """One line: "3 added, 1 modified, 2 changed only in metadata", or "no changes"."""
        counts = self.counts
        parts = [
            f"{counts[kind]} {'changed kind' if kind is ChangeKind.KIND else kind.value}"
            for kind in (ChangeKind.ADDED, ChangeKind.MODIFIED, ChangeKind.REMOVED, ChangeKind.KIND)
            if counts.get(kind)
        ]
        metadata = sum(1 for change in self.changes if change.metadata_only)
        if metadata:
            parts.append(f"{metadata} changed only in metadata")
        return ", ".join(parts) if parts else "no changes"

    def to_json(self) -> bytes:
        """The changes, their counts and summary as JSON (names that are not UTF-8 escaped).

        Encoded a batch of changes at a time and the bytes joined: a document of 200,000
        dicts held several times the memory of the JSON it became (and orjson gives each
        result of its own at least 4 KiB, so not one change at a time either).
        """
        head = orjson.dumps(
            {
                "before": self.before,
                "after": self.after,
                "summary": self.summary,
                "counts": {kind.value: n for kind, n in self.counts.items()},
            }
        )
        changes = self.changes
        body = b",".join(
            _encoded(changes[start : start + _JSON_BATCH])
            for start in range(0, len(changes), _JSON_BATCH)
        )
        return head[:-1] + b',"changes":[' + body + b"]}"

    @classmethod
    def from_json(cls, data: bytes) -> "TreeChanges":
        document = orjson.loads(data)
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
