"""Comparing two trees path by path: what a restore would change in a live folder, or how
two backups differ.

Each side is first reduced to `Facets`, per path the things a restore sets: a backup's
entries as a restore by this process would leave them (`restored`: owners only where it
may give files away, as `file_metadata.to_apply` decides), a backup's entries as recorded
(`recorded`, to compare two backups), or a folder as it is now (`live_tree`). The
comparison itself then knows nothing of where its sides came from.

Both sides are walked in path order, side by side. A backup's side is read from its
manifest as it is compared and never held whole: held as a dict, the 200,000 paths of a
restore's report took 100 MiB, the most a restore of that tree needed at any moment.
"""

import heapq
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, Protocol, TypeVar

from envops_desktop.domain.changes import ChangeKind, PathChange
from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.excludes import Excludes
from envops_desktop.domain.in_steps import let_go_in_steps
from envops_desktop.domain.models import Backup, Environment, TreeEntry, is_hardlink
from envops_desktop.domain.progress import (
    REPORTED_EVERY,
    CancelToken,
    ProgressCallback,
    ProgressMeter,
    ignore_progress,
)
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.parallel import parallel_map
from envops_desktop.service.scanning import (
    Scan,
    environment_folder,
    quick_scan,
    said_if_unreadable,
)
from envops_desktop.store.blob_bodies import sha256_of_file
from envops_desktop.store.file_metadata import (
    OWN_STORE,
    EntryMeta,
    MetadataPolicy,
    keeps_its_owner,
    owners_can_be_set,
    restricted,
    to_apply,
)

ROOT = "."  # the folder itself, as a change's path


class Facets(NamedTuple):
    """What a restore sets on one path. None: not compared (unknown on that side)."""

    kind: EntryKind
    size: int | None
    sha256: str | None
    mode: int | None
    owner: tuple[int, int] | None
    mtime_ns: int | None
    target: str | None
    xattrs: tuple[tuple[str, str], ...] | None  # (name, value in base64), sorted
    hardlink: str | None
    holes: tuple[tuple[int, int], ...] | None  # a sparse file's data extents


Tree = dict[str, Facets]
# A tree as its paths in order, each with its facets.
Items = Iterable[tuple[str, Facets]]
# A side of a comparison: its items, read anew at each call.
Side = Callable[[], Items]
Entries = Callable[[], Iterable[TreeEntry]]  # a tree's entries as recorded, in path order
# (name, the first name of its node, that node's kind)
Links = Callable[[], Iterable[tuple[str, str, EntryKind]]]
# Names that neither side lists (excluded) but a restore leaves where they are, of nodes
# `before` names too, by a name of each such node in `before`: each with the folder it is
# carried into, which must be in `after` for it to stay.
LeftOut = Callable[[], dict[str, list[tuple[str, str]]]]
_PATH = itemgetter(0)


class _Held:
    """A tree held whole (a live folder's), as a side of `changes`.

    Its paths are sorted alone and each item is made as it is read: sorting its 200,000
    items made them all in one call, and the window's next collection, which looks at every
    object made since the last, then held the GIL 70 ms. It is let go of a part at a time
    (`let_go_in_steps`): the last reference to 200,000 items, dropped as a preview's
    comparison ended, freed them all in one call that held the GIL 40-60 ms.
    """

    def __init__(self, tree: Tree) -> None:
        self._tree = tree
        self._paths = sorted(tree)

    def __call__(self) -> Items:
        return self._items()

    def _items(self) -> Iterator[tuple[str, Facets]]:
        tree = self._tree
        for path in self._paths:  # `self` is held meanwhile: no item is let go of too soon
            yield path, tree[path]

    def __del__(self) -> None:
        let_go_in_steps(self._tree)
        let_go_in_steps(self._paths)


def held(tree: Tree) -> Side:
    """A tree held whole (a live folder's), as a side of `changes`."""
    return _Held(tree)


def _xattrs(meta: EntryMeta | None) -> tuple[tuple[str, str], ...]:
    recorded = meta.get("xattrs") if meta else None
    return tuple(sorted(recorded.items())) if recorded else ()  # type: ignore[attr-defined]


def _owner(meta: EntryMeta | None) -> tuple[int, int] | None:
    if not meta or "uid" not in meta:
        return None
    return int(meta["uid"]), int(meta["gid"])  # type: ignore[call-overload]


def _holes(meta: EntryMeta | None) -> tuple[tuple[int, int], ...] | None:
    extents = meta.get("data") if meta else None
    return None if extents is None else tuple((o, n) for o, n in extents)  # type: ignore[attr-defined]


def _facets(
    entry: TreeEntry, mode: int, owner: tuple[int, int] | None, mtime_ns: int | None
) -> Facets:
    is_file = entry.kind is EntryKind.FILE
    return Facets(
        entry.kind,
        entry.size if is_file else None,
        entry.sha256 if is_file else None,
        mode,
        owner,
        mtime_ns,
        entry.target,
        _xattrs(entry.meta),
        (entry.meta or {}).get("hardlink"),  # type: ignore[arg-type]
        _holes(entry.meta),
    )


def recorded(entries: Iterable[TreeEntry], backup: Backup) -> Iterator[tuple[str, Facets]]:
    """A backup's tree as it records it, from its `entries` in path order."""
    root = _root(backup)
    items = ((e.path, _facets(e, e.mode, _owner(e.meta), e.mtime_ns)) for e in entries)
    return _with_root(items, _facets(root, root.mode, _owner(root.meta), backup.root_mtime_ns))


def _with_root(items: Items, root: Facets) -> Iterator[tuple[str, Facets]]:
    # The folder itself is not an entry; "." sorts among them ("-x" comes before it).
    return heapq.merge(items, [(ROOT, root)], key=_PATH)


# Who owns what a restore by this process creates without giving it away.
OWN_IDS = (os.geteuid(), os.getegid()) if hasattr(os, "geteuid") else None
# A link's own times are set only where the OS can.
_LINK_TIMES = os.utime in os.supports_follow_symlinks


class RootRecord(Protocol):
    """What a backup (or a configuration file's manifest) records of its folder itself."""

    @property
    def root_mode(self) -> int | None: ...
    @property
    def root_mtime_ns(self) -> int | None: ...
    @property
    def root_meta(self) -> dict[str, Any] | None: ...


def restored(
    entries: Iterable[TreeEntry],
    backup: RootRecord,
    excludes: Excludes,
    policy: MetadataPolicy = OWN_STORE,
) -> Iterator[tuple[str, Facets]]:
    """A backup's tree (or a configuration file's, under its `policy`), from its `entries`
    in path order, as a restore by this process would leave it; what `excludes` matches is
    left as it is in the live folder (`left_alone`), so it is not the backup's to say."""
    return _with_root(_restored_items(entries, excludes, policy), restored_root(backup, policy))


def restored_root(backup: RootRecord, policy: MetadataPolicy) -> Facets:
    """The folder itself as a restore of `backup` leaves it: as
    `restore.apply_root_metadata` sets it, what the backup did not record staying."""
    root = _root(backup)
    mode, applied = to_apply(root.meta, root.mode, policy)
    folder = _facets(root, mode, applied.owner or OWN_IDS, backup.root_mtime_ns)
    folder = _as_kept(folder, root, policy)
    if keeps_its_owner(root.meta, policy) and owners_can_be_set():
        folder = folder._replace(owner=None)  # as it is
    if backup.root_mode is None or backup.root_meta is None:
        folder = folder._replace(mode=None if backup.root_mode is None else mode)
        if backup.root_meta is None:
            folder = folder._replace(owner=None, xattrs=None)
    return folder


def _restored_items(
    entries: Iterable[TreeEntry], excludes: Excludes, policy: MetadataPolicy
) -> Iterator[tuple[str, Facets]]:
    for entry in not_excluded(entries, excludes):
        mode, applied = to_apply(entry.meta, entry.mode, policy)
        times = entry.mtime_ns if entry.kind is not EntryKind.SYMLINK or _LINK_TIMES else None
        facets = _facets(entry, mode, applied.owner or OWN_IDS, times)
        yield entry.path, _as_kept(facets, entry, policy)


def _as_kept(facets: Facets, entry: TreeEntry, policy: MetadataPolicy) -> Facets:
    """`facets` with only the xattrs `policy` lets a restore write: an import without its
    privileges writes no security or trusted attribute, and the file it replaces loses its."""
    if policy.system_xattrs or not facets.xattrs:
        return facets
    return facets._replace(xattrs=_xattrs(restricted(entry.meta, entry.mode, policy)[1]))


def not_excluded(entries: Iterable[TreeEntry], excludes: Excludes) -> Iterator[TreeEntry]:
    if not excludes:
        yield from entries
        return
    for entry in entries:
        if not _excluded(entry.path, entry.kind is EntryKind.DIR, excludes):
            yield entry


def _excluded(path: str, is_dir: bool, excludes: Excludes) -> bool:
    """Whether `excludes` leaves `path` as it is: it, or a folder holding it, matches."""
    folders = path.split("/")[:-1]
    inside = ("/".join(folders[: i + 1]) for i in range(len(folders)))
    return any(excludes.matches(folder, True) for folder in inside) or excludes.matches(
        path, is_dir
    )


def _root(backup: RootRecord) -> TreeEntry:
    mode = backup.root_mode if backup.root_mode is not None else 0
    return TreeEntry(ROOT, EntryKind.DIR, mode, 0, 0, None, None, backup.root_meta)


def as_backed_up(ctx: ServiceContext, env: Environment, scan: Scan, backups: list[Backup]) -> bool:
    """Whether a quick scan found `env`'s folder exactly as one of `backups` holds it, known
    by the scan's digest alone: no file's content or xattrs read. False where it cannot
    tell."""
    digest = scan.digest()
    same = ctx.backups.of_tree(env.id, digest) if digest else set()
    folder = (scan.root_mode, scan.root_mtime_ns, scan.root_meta)
    return any(
        b.id in same and (b.root_mode, b.root_mtime_ns, b.root_meta) == folder for b in backups
    )


def live_tree(
    ctx: ServiceContext,
    env: Environment,
    cancel: CancelToken,
    against: Entries | None = None,
    scan: Scan | None = None,
    progress: ProgressCallback = ignore_progress,
    as_recorded: bool = False,
) -> Tree:
    """An environment's folder as it is now, as the next backup would see it (its excludes
    left out); files the hash cache knows as they are are not read. Given `against`, the
    entries of the tree it is to be compared with (read only if some file is not known),
    neither are files whose content could not match there (no file of their size at their
    path): their content is "", which matches none. Given a `scan` of it, that one is
    completed: its files' xattrs read, but for those the hash cache knows as they are.

    A time past what EnvOps records (a wrong clock's year 2300) is the entry's own, which
    no backup holds and a restore changes; `as_recorded`: the nearest one a backup records."""
    root = environment_folder(env)
    scan = scan or quick_scan(env)
    cached = ctx.hash_caches.look_up(env.id, scan.files, scan.files.ctimes_ns)
    if scan.quick:
        meter = ProgressMeter(progress, ATTRIBUTES, len(scan.xattrs_unread))
        with said_if_unreadable(env):
            scan.read_file_xattrs(meter.advance, known=cached)
        meter.finish()
    known = cached.shas
    unread = [
        (path, size) for (path, size, *_), sha in zip(scan.files, known, strict=True) if sha is None
    ]
    unknown = _worth_reading(unread, against)
    sizes = dict(unread) if unknown else {}
    reading = None  # no phase where nothing is read: it would only flash
    if unknown:
        reading = ProgressMeter(progress, READING, sum(sizes[path] for path in unknown))

    started = ""  # the file a pool's thread last started to read: what the bar names

    def read(path: str) -> str:
        nonlocal started
        cancel.raise_if_cancelled()
        started = path
        try:
            return sha256_of_file(root / path)
        except OSError:  # gone or unreadable since the scan: it differs from any backup's
            return ""
        finally:
            if reading is not None:
                reading.advance(sizes[path], path)

    def waiting(under_way: int) -> None:
        # A large file read for minutes (a disk image) shows how far it has come, and a
        # cancel stops it there.
        cancel.raise_if_cancelled()
        if reading is not None and under_way:
            reading.ahead(under_way, started)

    hashes = parallel_map(read, unknown, "envops-preview", waiting=waiting)
    read_now = dict(zip(unknown, hashes, strict=True))
    if reading is not None:
        reading.finish()

    def entries() -> Iterator[TreeEntry]:
        yield from scan.others
        for (path, size, mtime_ns, _inode, mode), sha, meta in zip(
            scan.files, known, scan.files.metas, strict=True
        ):
            content = sha or read_now.get(path, "")
            yield TreeEntry(path, EntryKind.FILE, mode, size, mtime_ns, content, None, meta)

    listed = _listed(entries(), len(scan.others) + len(scan.files), progress)
    tree = {e.path: _facets(e, e.mode, _owner(e.meta), e.mtime_ns) for e in listed}
    folder = TreeEntry(ROOT, EntryKind.DIR, scan.root_mode, 0, 0, None, None, scan.root_meta)
    tree[ROOT] = _facets(folder, folder.mode, _owner(folder.meta), scan.root_mtime_ns)
    for path, ns in () if as_recorded else scan.unrecordable.items():
        if path in tree:  # a device file is not in it
            tree[path] = tree[path]._replace(mtime_ns=ns)
    return tree


def _listed(
    entries: Iterator[TreeEntry], total: int, progress: ProgressCallback
) -> Iterator[TreeEntry]:
    """`entries` (`total` of them), telling `progress` how many have been set out for
    comparing (a second over 200,000)."""
    if progress is ignore_progress:
        return entries
    return reported(entries, ProgressMeter(progress, LISTING, total), _any, _ENTRY_PATH)


Item = TypeVar("Item")


def reported(
    items: Iterable[Item],
    meter: ProgressMeter,
    counts: Callable[[Item], bool],
    path: Callable[[Item], str],
) -> Iterator[Item]:
    """`items`, telling `meter` how many of those that `counts` have passed, every
    `REPORTED_EVERY` of them, with the path of the last."""
    count = 0
    for item in items:
        yield item
        if counts(item):
            count += 1
            if count == REPORTED_EVERY:
                meter.advance(count, path(item))
                count = 0
    meter.finish()


def _any(_item: object) -> bool:
    return True


_ENTRY_PATH = attrgetter("path")


# A preview's phases, as its progress reports name them, in the order they come.
LOOKING, ATTRIBUTES = "looking at the folder", "reading the files' attributes"
READING, LISTING = "reading files that changed", "listing the folder's entries"
COMPARING = "comparing"


def _worth_reading(unread: list[tuple[str, int]], against: Entries | None) -> list[str]:
    # A restore with no backup first into a folder never backed up read every file of it
    # for its report, though most had no counterpart of their size in the backup. Raw
    # entries, not the tree laid out: an excluded path is one on both sides.
    if against is None or not unread:
        return [path for path, _size in unread]
    wanted = dict(unread)
    sizes = {e.path: e.size for e in against() if e.path in wanted and e.kind is EntryKind.FILE}
    return [path for path, size in unread if sizes.get(path) == size]


# One tuple each, shared by every path changed only so (200,000 in a restore to an empty
# folder).
ADDED_ONLY, REMOVED_ONLY, KIND_ONLY = (ChangeKind.ADDED,), (ChangeKind.REMOVED,), (ChangeKind.KIND,)
RELINKED_ONLY = (ChangeKind.HARDLINK,)


def changes(
    before: Side,
    after: Side,
    linked_within: Callable[[str], bool] | None = None,
    links_after: Links | None = None,
    left_out: LeftOut | None = None,
) -> Iterator[PathChange]:
    """Every path that differs from `before` to `after` (each in path order), in path
    order; walked side by side, so neither side is held. A side is read once more first
    where hardlinks may need working out (`_relinked`): with `linked_within`, only among
    the paths it accepts (those a selective restore brings back); `after`'s hardlinked
    names from `links_after` where given, a cheaper read of them than `after` itself; with
    `left_out`, names the restore leaves as they are that a node it links may also have."""
    links = links_after or (lambda: _links_of(after))
    accepted = linked_within or _every_path
    outside: dict[str, list[tuple[str, str]]] | None = None

    def names_left_out() -> dict[str, list[tuple[str, str]]]:
        nonlocal outside
        if outside is None:
            outside = left_out() if left_out is not None else {}
        return outside

    relinked = _relinked(before, after, links, accepted, names_left_out)
    # Names left as they are, whose node a name the restore brings back joins.
    linked_to_chosen = {path for path in relinked if not accepted(path)}
    walked = _walk(before, after, relinked, linked_to_chosen)
    excluded = {name for names in (outside or {}).values() for name, _folder in names}
    if not relinked & excluded:
        yield from walked
        return
    # Such a name that is excluded is on neither side: merged in, in path order.
    unseen = (PathChange(path, RELINKED_ONLY) for path in sorted(relinked & excluded))
    yield from heapq.merge(walked, unseen, key=attrgetter("path"))


def _walk(
    before: Side, after: Side, relinked: set[str], linked_to_chosen: set[str]
) -> Iterator[PathChange]:
    """`changes`, once the names rsync sees relinked are known: `linked_to_chosen` among
    them are left as they are but for that."""
    olds, news = _ascending(before()), _ascending(after())
    old, new = next(olds, None), next(news, None)
    while old is not None or new is not None:
        if new is None or (old is not None and old[0] < new[0]):
            path, was, now, kinds = old[0], old[1], None, REMOVED_ONLY
            old = next(olds, None)
        elif old is None or new[0] < old[0]:
            path, was, now, kinds = new[0], None, new[1], ADDED_ONLY
            new = next(news, None)
        else:
            path, was, now = old[0], old[1], new[1]
            old, new = next(olds, None), next(news, None)
            linked_anew = bool(relinked) and path in relinked
            if was == now and not linked_anew:  # most paths: all facets alike, in one C call
                continue
            if was.kind is not now.kind:
                kinds = KIND_ONLY
            else:
                kinds = _differences(was, now, relinked=linked_anew)
            if not kinds:
                continue
        if linked_to_chosen and path in linked_to_chosen:
            # Left as it is but for the names it now shares its node with, whatever the
            # backup holds at its path.
            kinds, now = RELINKED_ONLY, was
        yield PathChange(
            path=path,
            kinds=kinds,
            size_before=was.size if was else None,
            size_after=now.size if now else None,
        )


def _every_path(_path: str) -> bool:
    return True


def _links_of(side: Side) -> Iterator[tuple[str, str, EntryKind]]:
    return (
        (path, facets.hardlink, facets.kind)
        for path, facets in side()
        if facets.hardlink is not None
    )


def links_in(
    entries: Iterable[TreeEntry], excludes: Excludes
) -> Iterator[tuple[str, str, EntryKind]]:
    """`_links_of` the tree `restored` makes of `entries`, without laying out the facets of
    every entry to find the few hardlinked ones: a third of a 200,000-file preview.

    Where the first name of a file is excluded, the restore leaves that name as it is, and
    the file's other names are one node among themselves: their first is the one they are
    linked to (else the excluded name was taken for one the restore links them to)."""
    instead: dict[str, str] = {}  # an excluded first name: the first of the others
    for entry in not_excluded((e for e in entries if is_hardlink(e)), excludes):
        first: str = entry.meta["hardlink"]  # type: ignore[index]
        if first in instead or _excluded(first, False, excludes):
            first = instead.setdefault(first, entry.path)
            if first == entry.path:
                continue  # the first of the others: linked to by those after it
        yield entry.path, first, entry.kind


# What can have several names: anything but a folder (symlinks and FIFOs too, as rsync -H
# keeps them).
_LINKABLE = frozenset(EntryKind) - {EntryKind.DIR}


def _relinked(
    before: Side,
    after: Side,
    links_after: Links,
    linked_within: Callable[[str], bool],
    left_out: LeftOut,
) -> set[str]:
    """The paths of `before` that `after` gives another node, as `rsync -H` judges it: of
    each file `after` has under several names, the first of them that is there in `before`
    (in rsync's order) is kept, and every other such name that is not already that file is
    linked to it. A link or a FIFO rsync makes under its first name, new or not, and links
    its other names to that. A name that is new is added, not relinked; a file that only
    loses a link, or gains one from a name that is new, does not change. Only the names
    `linked_within` accepts are linked by the restore (a selective restore links only what
    it brings back), but they may join a node that names it leaves alone keep
    (`_joined_to_what_stays`), and rsync then judges all that node's names together.

    Judged by each side's first name of a file instead, deleting a hardlinked file's first
    name, or an editor's save that broke a link in another folder, named the wrong file.
    """
    nodes_before = (path for path, facets in before() if facets.kind in _LINKABLE)
    if next(islice(nodes_before, 1, None), None) is None:
        return set()  # fewer than two such: none to link to another (an empty folder)
    names: dict[str, list[str]] = {}  # each hardlinked node of `after`: its names
    kinds: dict[str, EntryKind] = {}  # and its kind, by its first name
    for path, first, kind in links_after():
        names.setdefault(first, [first]).append(path)
        kinds[first] = kind
    groups = [
        (kinds[first], kept)
        for first, group in names.items()
        if len(kept := [*filter(linked_within, group)]) > 1
    ]
    if not groups:
        return set()
    outside = left_out()
    groups = _joined_to_what_stays(before, after, groups, linked_within, outside)
    wanted = {path for _kind, group in groups for path in group}
    inode_before = {  # which node each name is in `before`: its kind and first name
        path: (facets.kind, facets.hardlink or path)
        for path, facets in before()
        if (path in wanted or path in outside) and facets.kind in _LINKABLE
    }
    for path, names in outside.items():  # a name left out is of the node it is linked to
        if path in inode_before:
            inode_before |= dict.fromkeys((name for name, _folder in names), inode_before[path])
    relinked: set[str] = set()
    for kind, group in groups:
        # Only a name of the same kind in `before` can be kept; another kind is replaced.
        present = sorted(
            (path for path in group if inode_before.get(path, (None,))[0] is kind),
            key=_rsync_order,
        )
        if kind is EntryKind.FILE or not present:
            leader = present[0] if present else None  # a file already there
        else:
            # A link's or a FIFO's other names are linked to its first, made anew if new.
            leader = min(group, key=_rsync_order)
        node = inode_before.get(leader) if leader is not None else None
        relinked.update(path for path in present if path != leader and inode_before[path] != node)
    return relinked


def _joined_to_what_stays(
    before: Side,
    after: Side,
    groups: list[tuple[EntryKind, list[str]]],
    brought_back: Callable[[str], bool],
    left_out: dict[str, list[tuple[str, str]]],
) -> list[tuple[EntryKind, list[str]]]:
    """`groups`, the names a restore brings back as one node each, with what the restore
    does where a node of `before` is also named by a path it leaves alone (one it does not
    bring back, or one `left_out` of both sides): each node written, and each name brought
    back alone, takes the live node of its first name (in Python's order) that is such a
    node and is just what is written there (`left_alone.keep_links_to_what_stays`), so it
    joins that node's names left alone."""
    if brought_back is _every_path and not left_out:
        return groups
    followers: dict[str, list[str]] = {}  # each node of `before` with several names: the others
    outside: dict[str, list[tuple[str, str]]] = {}  # its names left out, by its first name
    for path, facets in before():
        if facets.kind in _LINKABLE:
            if facets.hardlink is not None:
                followers.setdefault(facets.hardlink, []).append(path)
            if path in left_out:
                outside.setdefault(facets.hardlink or path, []).extend(left_out[path])
    node_of: dict[str, str] = {}  # each name brought back of a node also left alone: the node
    staying: dict[str, list[tuple[str, str]]] = {}  # and each such node's names left alone
    for first in followers.keys() | outside.keys():
        every = [first, *followers.get(first, ())]
        left = [(path, ROOT) for path in every if not brought_back(path)]
        left += outside.get(first, [])
        if left and any(map(brought_back, every)):
            staying[first] = left
            node_of |= {path: first for path in every if brought_back(path)}
    in_groups = {path for _kind, group in groups for path in group}
    if not in_groups & node_of.keys():
        # Names brought back alone that keep their node leave its names as they were: only
        # a node written under several names can join one named by a path left alone.
        return groups
    was = {path: facets for path, facets in before() if path in node_of}
    needed = {folder for names in staying.values() for _name, folder in names}
    unchanged, folders = set(), {ROOT}
    for path, now in after():
        if path in was and was[path].kind is now.kind and not _differences(was[path], now, False):
            unchanged.add(path)
        elif path in needed and now.kind is EntryKind.DIR:
            folders.add(path)
    # A name left out whose folder the restore does not bring back is lost, not left alone;
    # in a folder a selective restore leaves as it is, it stays with it.
    stays = {
        first: [name for name, folder in names if folder in folders or not brought_back(folder)]
        for first, names in staying.items()
    }
    written = [*groups, *((was[path].kind, [path]) for path in node_of if path not in in_groups)]
    joined: dict[str, tuple[EntryKind, list[str]]] = {}
    kept = []
    for kind, group in written:
        first = next(
            (path for path in sorted(group) if path in unchanged and stays[node_of[path]]), None
        )
        if first is None:
            kept.append((kind, group))
        else:
            node = joined.setdefault(node_of[first], (kind, [*stays[node_of[first]]]))
            node[1].extend(group)
    return kept + [node for node in joined.values() if len(node[1]) > 1]


def _rsync_order(path: str) -> tuple[tuple[int, bytes], ...]:
    # rsync lists a folder's files before what its folders hold, names compared as bytes and
    # a folder's with a "/" after it: "b" comes before "#z/x", "a-b/x" before "a/x".
    *folders, name = path.split("/")
    return (*((1, os.fsencode(f) + b"/") for f in folders), (0, os.fsencode(name)))


def _ascending(items: Items) -> Iterator[tuple[str, Facets]]:
    # Walking two sides together is only right in path order: a side out of order would
    # report paths as added and removed at once, so it is refused instead.
    last = None
    for item in items:
        if last is not None and item[0] <= last:
            raise ValueError(f"{item[0]!r} comes after {last!r}: a tree out of path order")
        last = item[0]
        yield item


def _differences(old: Facets, new: Facets, relinked: bool) -> tuple[ChangeKind, ...]:
    def differ(a: object, b: object) -> bool:
        return a is not None and b is not None and a != b

    found = (
        (ChangeKind.MODIFIED, old.sha256 != new.sha256 or old.size != new.size),
        (ChangeKind.MODE, differ(old.mode, new.mode)),
        (ChangeKind.OWNER, differ(old.owner, new.owner)),
        (ChangeKind.MTIME, differ(old.mtime_ns, new.mtime_ns)),
        (ChangeKind.TARGET, old.target != new.target),
        (ChangeKind.XATTRS, differ(old.xattrs, new.xattrs)),
        (ChangeKind.HARDLINK, relinked),
        (ChangeKind.HOLES, old.holes != new.holes),
    )
    return tuple(kind for kind, differs in found if differs)
