"""What putting a tree in place of an environment's folder would change there now: a
backup's (`of_backup`) or a configuration file's (`of_file`), whole or only some paths, as
the preview shown first, the fingerprint that tells whether it still holds, and the report
kept with the restore's activity entry. The comparison itself is `tree_diff.py`'s."""

import contextlib
import dataclasses
import hashlib
import heapq
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import NamedTuple

from envops_desktop.domain.changes import ChangeKind, PathChange, TreeChanges, changes_json
from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.excludes import Excludes, LeftAsTheyAre
from envops_desktop.domain.in_steps import sorted_in_steps
from envops_desktop.domain.models import Backup, Environment, TreeEntry
from envops_desktop.domain.name_json import dumps_any_name
from envops_desktop.domain.progress import (
    CancelToken,
    ProgressCallback,
    ProgressMeter,
    ignore_progress,
)
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.left_alone import (
    excluded_by_folder,
    is_real_folder,
    with_all_they_hold,
    with_at_most,
)
from envops_desktop.service.scanning import Scan, environment_folder, quick_scan
from envops_desktop.service.tree_diff import (
    ADDED_ONLY,
    COMPARING,
    KIND_ONLY,
    LOOKING,
    OWN_IDS,
    RELINKED_ONLY,
    REMOVED_ONLY,
    ROOT,
    Facets,
    Items,
    LeftOut,
    RootRecord,
    Side,
    changes,
    held,
    links_in,
    live_tree,
    not_excluded,
    reported,
    restored,
    restored_root,
)
from envops_desktop.store.file_metadata import OWN_STORE, MetadataPolicy

_PATH = itemgetter(0)
_ENTRY_PATH = attrgetter("path")


def _is_file(item: tuple[str, Facets]) -> bool:
    return item[1].kind is EntryKind.FILE


def _counted(side: Side, progress: ProgressCallback, files: int) -> Side:
    """`side`, reporting to `progress` how many of its `files` files it has given."""
    if progress is ignore_progress:
        return side

    def items() -> Items:
        return reported(side(), ProgressMeter(progress, COMPARING, files), _is_file, _PATH)

    return items


# Excluded paths (and all they hold) named in a preview's fingerprint: listing an excluded
# cache of a million files at each preview and restore would cost more than it spares.
_EXCLUDED_NAMED_UP_TO = 20_000


class Replacement(NamedTuple):
    """A tree that replaces an environment's folder, a backup's or a configuration file's,
    and what it would change there now: in full, to show or to hold against what was
    shown, or as the JSON kept with the activity entry."""

    name: str  # the backup's or the file's: the `after` of its changes
    file_count: int
    changes_now: Callable[
        [Environment, "list[str] | None", CancelToken, Scan | None, ProgressCallback],
        Iterator[PathChange],
    ]
    # What names its tree for good (a backup's id, a digest of a file's tree), asked only
    # when a fingerprint is taken; None where nothing does.
    identity: Callable[[], str] | None = None

    def preview(
        self,
        env: Environment,
        only: list[str] | None,
        cancel: CancelToken,
        scan: Scan | None = None,
        progress: ProgressCallback = ignore_progress,
    ) -> TreeChanges:
        """What it would change in `env`'s folder now (`only` those paths), from `scan` of
        it (a quick one) if given; how far it has got told to `progress`, phase by phase
        (the first with no total: a folder's size is known once it is looked at)."""
        if scan is None:
            looking = ProgressMeter(progress, LOOKING, 0)
            scan = quick_scan(env, lambda folder: looking.advance(1, folder))
        fingerprint = self.fingerprint(env, scan) if only is None else None
        changes = tuple(self.changes_now(env, only, cancel, scan, progress))
        return TreeChanges("live", self.name, changes, fingerprint=fingerprint)

    def fingerprint(self, env: Environment, scan: Scan) -> str | None:
        """A name for what its preview in `env` is worked out from, given a quick `scan` of
        the folder taken first: the same name, the same changes."""
        digest = scan.digest() if self.identity is not None else None
        if digest is None:
            return None
        # A scan leaves excluded paths out, but a preview names those a restore would take
        # away with their folder, and all they hold: their names are part of what it is
        # worked out from, up to a point past which it is worked out each time.
        left_out = with_at_most(Path(env.path), scan.excluded, _EXCLUDED_NAMED_UP_TO)
        if left_out is None:
            return None
        # The digest leaves the folder's own mode and mtime to its caller.
        folder = [scan.root_mode, scan.root_mtime_ns]
        made_from = [digest, folder, self.identity(), env.path, OWN_IDS, env.excludes, left_out]
        return hashlib.sha256(dumps_any_name(made_from)).hexdigest()

    def report(self, env: Environment, only: list[str] | None, cancel: CancelToken) -> bytearray:
        """`preview` as the JSON a restore keeps with its activity entry, encoded as the
        changes are found: of a restore into an empty folder, only the bytes are held."""
        changes = self.changes_now(env, only, cancel, None, ignore_progress)
        return changes_json("live", self.name, changes)


def of_backup(ctx: ServiceContext, backup: Backup) -> Replacement:
    """A backup as what a restore puts in place."""
    return Replacement(
        backup.name,
        backup.file_count,
        lambda env, only, cancel, scan, progress: _restore_changes(
            ctx, env, backup, only, cancel, scan, progress
        ),
        lambda: backup.id,
    )


_RECORDED = attrgetter(*TreeEntry._fields)  # all an entry records, of a model or a tuple
_ROWS_DIGESTED_AT_ONCE = 2000


def of_file(
    ctx: ServiceContext,
    file_name: str,
    entries: Iterable[TreeEntry],
    manifest: RootRecord,
    policy: MetadataPolicy,
) -> Replacement:
    """A configuration file's tree (its `entries`, under its `policy`) as what an import
    puts in place; it is imported whole."""
    ordered = sorted_in_steps(entries, attrgetter("path"))  # a file's manifest, in its order
    files = sum(e.kind is EntryKind.FILE for e in ordered)

    def changed(
        env: Environment,
        _only: object,
        cancel: CancelToken,
        scan: Scan | None,
        progress: ProgressCallback,
    ) -> Iterator[PathChange]:
        excludes = Excludes(env.excludes)

        def after() -> Items:
            return restored(ordered, manifest, excludes, policy)

        def links() -> Iterator[tuple[str, str]]:
            return links_in(ordered, excludes)

        scan = scan or quick_scan(env)  # which `live_tree` completes
        live = held(live_tree(ctx, env, cancel, lambda: ordered, scan, progress))
        if _holds_nothing(scan):
            return _all_added(live, ordered, manifest, excludes, policy, files, progress)
        compared = _counted(after, progress, files)
        found = changes(live, compared, links_after=links, left_out=_excluded_links(env, scan))
        return _with_left_alone_lost(found, env, excludes, scan)

    def identity() -> str:
        # A file has no lasting name (one of the same name may hold another tree), so its
        # tree as laid out is digested: 0.2 s for 200,000 entries, against a comparison's 4 s.
        root = (manifest.root_mode, manifest.root_mtime_ns, manifest.root_meta)
        digest = hashlib.sha256(dumps_any_name([file_name, root, dataclasses.astuple(policy)]))
        # In parts: encoding 200,000 rows in one call held the GIL, and so the window, 0.2 s.
        for start in range(0, len(ordered), _ROWS_DIGESTED_AT_ONCE):
            part = ordered[start : start + _ROWS_DIGESTED_AT_ONCE]
            digest.update(dumps_any_name([_RECORDED(entry) for entry in part]))
        return digest.hexdigest()

    return Replacement(file_name, files, changed, identity)


def _restore_changes(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    only: list[str] | None,
    cancel: CancelToken,
    scan: Scan | None,
    progress: ProgressCallback = ignore_progress,
) -> Iterator[PathChange]:
    excludes = Excludes(env.excludes)

    def entries() -> Iterable[TreeEntry]:
        return ctx.backups.entries(backup.id)

    def after() -> Items:
        return restored(entries(), backup, excludes)

    def links() -> Iterator[tuple[str, str]]:
        return links_in(ctx.backups.maybe_linked(backup.id), excludes)

    scan = scan or quick_scan(env)  # which `live_tree` completes
    live = held(live_tree(ctx, env, cancel, entries, scan, progress))
    if only is None and _holds_nothing(scan):
        return _all_added(live, entries(), backup, excludes, OWN_STORE, backup.file_count, progress)
    compared = _counted(after, progress, backup.file_count)
    left_out = _excluded_links(env, scan)
    if only is None:
        found = changes(live, compared, links_after=links, left_out=left_out)
        return _with_left_alone_lost(found, env, excludes, scan)
    # What it does not bring back stays as it is, and so do the folders holding the chosen
    # paths, except one the restore must make to hold them (missing, or no folder now); a
    # file it brings back is linked only to others it brings back, or to the node of a name
    # it leaves alone, which rsync then sees relinked.
    left = LeftAsTheyAre(Excludes([]), only)
    chosen = (
        change
        for change in changes(live, compared, left.selected, links, left_out)
        # The very tuple `changes` gives a name left alone that a chosen name joins.
        if change.kinds is RELINKED_ONLY
        or (
            _bears_on(left, change)
            and (left.selected(change.path) or not is_real_folder(Path(env.path), change.path))
        )
    )
    return _with_left_alone_lost(chosen, env, excludes, scan)


def _holds_nothing(scan: Scan) -> bool:
    """Whether the folder `scan` read holds nothing at all, excluded or not."""
    return not (len(scan.files) or scan.others or scan.excluded or scan.skipped or scan.removed)


def _all_added(
    live: Side,
    entries: Iterable[TreeEntry],
    root: RootRecord,
    excludes: Excludes,
    policy: MetadataPolicy,
    files: int,
    progress: ProgressCallback,
) -> Iterator[PathChange]:
    """What putting a tree (`entries`, of `files` files, and its folder's `root` record,
    under `policy`) into a folder that holds nothing (`live`, the folder alone) changes:
    the folder itself as `changes` finds it, and every entry added.

    As `changes` would find it, without laying out each entry's metadata, which only a
    path on both sides needs. For 200,000 files the report took 1.5 s that way and takes
    0.8 s: a restore into a new machine's folder, or one wiped, works it out beside its
    writing, on the same cores."""
    folder = changes(live, lambda: iter([(ROOT, restored_root(root, policy))]))
    added = (
        PathChange(e.path, ADDED_ONLY, None, e.size if e.kind is EntryKind.FILE else None)
        for e in not_excluded(entries, excludes)
    )
    if progress is not ignore_progress:
        meter = ProgressMeter(progress, COMPARING, files)
        added = reported(added, meter, lambda c: c.size_after is not None, _ENTRY_PATH)
    return heapq.merge(folder, added, key=_ENTRY_PATH)


def _excluded_links(env: Environment, scan: Scan) -> LeftOut:
    """The excluded names of nodes `scan` found under other names too: a restore carries
    them into the tree it puts in place, where a name it brings back may join them."""

    def names() -> dict[str, list[tuple[str, str]]]:
        root = environment_folder(env)
        nodes: dict[tuple[int, int], list[tuple[str, str]]] = {}
        for top in scan.excluded:
            folder = top.rpartition("/")[0] or ROOT
            for path in with_all_they_hold(root, [top]):
                with contextlib.suppress(FileNotFoundError):
                    st = os.lstat(root / path)
                    if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                        nodes.setdefault((st.st_dev, st.st_ino), []).append((path, folder))
        if not nodes:
            return {}
        inodes = {inode for _device, inode in nodes}
        maybe = [path for path, _size, _mtime, inode, _mode in scan.files if inode in inodes]
        maybe += [entry.path for entry in scan.others if entry.kind is not EntryKind.DIR]
        found = {}
        for path in maybe:
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(root / path)
                if (excluded := nodes.get((st.st_dev, st.st_ino))) is not None:
                    found[path] = excluded
        return found

    return names


def _bears_on(left: LeftAsTheyAre, change: PathChange) -> bool:
    """Whether a selective restore (of what `left` does not leave) may do `change`: bring a
    chosen path back, or make a folder to hold one."""
    return left.selected(change.path) or (
        left.holds_selected(change.path) and bool(_MADE & set(change.kinds))
    )


def bearing_on(previewed: TreeChanges, only: list[str] | None) -> list[PathChange]:
    """Of a whole restore's changes, those a restore of `only` those paths may make: what
    changes in the paths it leaves as they are is none of its business."""
    if only is None:
        return list(previewed.changes)
    left = LeftAsTheyAre(Excludes([]), only)
    return [change for change in previewed.changes if _bears_on(left, change)]


def _with_left_alone_lost(
    found: Iterable[PathChange], env: Environment, excludes: Excludes, scan: Scan
) -> Iterator[PathChange]:
    """`found`, and the paths a restore leaves as they are (`excludes`, or device files, which
    no backup holds: `scan` of the live folder named them) removed with a folder the restore
    removes or replaces: they have nowhere left to be. Merged in as the changes come (each
    sorts after its folder), so the changes are never held.

    Such a path is also replaced by what the backup holds at it, as rsync does: a pattern
    for folders only (`cache/`) does not match the backup's file, and a device file is not
    kept in place of one. The live side left the path out, so the change came as an
    addition; it is a change of kind, and what a folder holds goes with it."""
    root = Path(env.path)
    left_alone = excluded_by_folder(root, excludes)
    for device in scan.devices:
        left_alone.setdefault(device.rpartition("/")[0], []).append(device)
    if not left_alone:
        yield from found
        return
    left_alone_paths = {path for paths in left_alone.values() for path in paths}
    lost: list[str] = []  # a heap of those found so far and not yet passed
    for change in found:
        while lost and lost[0] < change.path:
            yield PathChange(heapq.heappop(lost), REMOVED_ONLY)
        if change.kinds == ADDED_ONLY and change.path in left_alone_paths:
            change = dataclasses.replace(change, kinds=KIND_ONLY)
            for path in with_all_they_hold(root, [change.path])[1:]:
                heapq.heappush(lost, path)
        yield change
        if change.kinds in (REMOVED_ONLY, KIND_ONLY) and change.path in left_alone:
            for path in with_all_they_hold(root, left_alone[change.path]):
                heapq.heappush(lost, path)
    while lost:
        yield PathChange(heapq.heappop(lost), REMOVED_ONLY)


_MADE = {ChangeKind.ADDED, ChangeKind.KIND}
