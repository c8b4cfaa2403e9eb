"""What a restore would change in a folder, or what differs between two backups: per path,
its kinds of change. The command line prints these as JSON; the window lists them."""

from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, computed_field


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


class PathChange(BaseModel):
    """How one path differs: "." is the folder itself; sizes are of files only."""

    model_config = ConfigDict(frozen=True)

    path: str
    kinds: tuple[ChangeKind, ...]
    size_before: int | None = None
    size_after: int | None = None

    @property
    def metadata_only(self) -> bool:
        return not CONTENT_KINDS & set(self.kinds)


class TreeChanges(BaseModel):
    """Every path that differs from `before` to `after`, in path order."""

    model_config = ConfigDict(frozen=True)

    before: str  # what was compared: "live" or a backup's name
    after: str
    changes: tuple[PathChange, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[ChangeKind, int]:
        """How many paths changed in each way; a path changed two ways counts twice."""
        counted = Counter(kind for change in self.changes for kind in change.kinds)
        return {kind: counted[kind] for kind in ChangeKind if counted[kind]}

    @computed_field  # type: ignore[prop-decorator]
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
