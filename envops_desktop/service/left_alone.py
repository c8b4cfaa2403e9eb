"""What a restore leaves exactly as it is: device files, which no backup holds, the paths
the environment excludes, and in a selective restore every path not chosen.

The restore that replaces the tree around them carries the live ones over into the new
tree before the swap (files as hard links to the same node, so nothing that has one open
notices; excluded folders made again with their owner, mode, attributes and times, holding
links to what they held), instead of deleting them with the old tree. A copy of an
excluded path in the backup (made before the path was excluded) does not replace it. A
file the restore brings back that is one file with a path left alone keeps being so where
that file is just what the restore wrote: its link is left as it is too.

The live folder is in use meanwhile: a log rotates, a lock file goes. A path gone by the
time it is read is gone from the live folder too, so it is left out of the new tree
rather than failing the restore. What appeared in the old tree between the carry and the
swap is carried after the swap, from the old tree kept aside.
"""

import contextlib
import itertools
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from envops_desktop.domain.excludes import Excludes, LeftAsTheyAre
from envops_desktop.service.swap import remove_tree
from envops_desktop.store.file_metadata import (
    OWN_STORE,
    apply_metadata,
    drop_xattrs,
    read_metadata,
    to_apply,
    xattr_names,
)


def _left_alone(top: str, excludes: Excludes | LeftAsTheyAre) -> tuple[list[str], list[str]]:
    """The device files under `top`, and the paths `excludes` matches (a folder once, not
    what it holds), as relative paths; folders are read through their entries' types, with
    no status call for the files around them."""
    devices, excluded, pending = [], [], [""]
    while pending:
        prefix = pending.pop()
        # A folder removed from the live tree meanwhile holds nothing to leave alone.
        with (
            contextlib.suppress(FileNotFoundError),
            os.scandir(os.path.join(top, prefix) if prefix else top) as entries,
        ):
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                if excludes and excludes.matches(prefix + entry.name, is_dir):
                    excluded.append(prefix + entry.name)
                elif is_dir:
                    pending.append(prefix + entry.name + "/")
                elif not (
                    entry.is_file(follow_symlinks=False) or entry.is_symlink()
                ) and _is_device(entry):
                    devices.append(prefix + entry.name)
    return sorted(devices), sorted(excluded)


def _is_device(entry: os.DirEntry[str]) -> bool:
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except FileNotFoundError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


class CarriedOver(NamedTuple):
    """What `carry_over` kept and could not keep."""

    lost: list[str]  # paths whose folder is not in the new tree, or whose place is taken
    # The nodes of the files it carried that have other names too (in the live folder, a
    # file the restore brings back, maybe): what `keep_links_to_what_stays` looks for.
    shared: set[int]


def carry_over(live: Path, new_tree: Path, excludes: Excludes | LeftAsTheyAre) -> CarriedOver:
    """Carry each device file of `live`, and each path `excludes` matches, into `new_tree` at
    the same place; say which could not be kept (their folder is not in the new tree, or,
    for a device file, something else is at its path)."""
    if excludes:
        for path in _left_alone(str(new_tree), excludes)[1]:
            with _times_kept(new_tree / path):
                _remove(new_tree / path)
    devices, excluded = _left_alone(str(live), excludes)
    carried = CarriedOver([], set())
    for path in devices + excluded:
        destination = new_tree / path
        if is_real_folder(new_tree, path.rpartition("/")[0]) and not os.path.lexists(destination):
            with _times_kept(destination):
                _carry(live / path, destination, carried.shared)
        else:
            carried.lost.append(path)
    return carried


def keep_links_to_what_stays(
    live: Path, new_tree: Path, left: LeftAsTheyAre, shared: set[int]
) -> None:
    """After `carry_over`: give each file (symlink, FIFO) of `new_tree` the restore wrote
    the live node it shares with a path left as it is (one of `shared`), where that node is
    just what was written (bytes or target, mode, owner, mtime, attributes and holes alike),
    with every name the restore gave that node. A node written anew took the link away from
    the path left alone, which a restore must not change: a selective restore of one
    unchanged name of a hardlinked file broke the link. Where the node is not what was
    written (edited in place under both names), the name restored gets the backup's, and
    the link cannot stay.
    """
    if not shared:
        return
    sharing = [name for names in _names_of(live, shared, left).values() for name in names]
    written = {name: st for name in sharing if (st := _node_status(new_tree / name))}
    # The names each file written was given: looked for only where it has more than one.
    names_of = {st.st_ino: [name] for name, st in written.items() if st.st_nlink == 1}
    names_of |= _names_of(new_tree, {st.st_ino for st in written.values() if st.st_nlink > 1}, left)
    for names in names_of.values():
        for name in sorted(n for n in names if n in written):
            if _share_live_node(live, new_tree, name, names):
                break


def _names_of(top: Path, nodes: set[int], left: LeftAsTheyAre) -> dict[int, list[str]]:
    """The names under `top` of the nodes that are one of `nodes`, but those `left`
    leaves alone; a folder's entries are read through their types, with no status call."""
    found: dict[int, list[str]] = {}
    pending = [""] if nodes else []
    while pending:
        prefix = pending.pop()
        with (
            contextlib.suppress(FileNotFoundError, NotADirectoryError),
            os.scandir(os.path.join(top, prefix)) as entries,
        ):
            for entry in entries:
                path = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not left.matches(path, True):
                        pending.append(path + "/")
                elif entry.inode() in nodes and not left.matches(path, False):
                    found.setdefault(entry.inode(), []).append(path)
    return found


def _node_status(path: Path) -> os.stat_result | None:
    """The status of what is at `path`, if it can have other names (anything but a folder);
    None if there is none (or what would hold it is not a folder: the restore made a file
    where the live tree has a folder)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return None if stat.S_ISDIR(st.st_mode) else st


def _share_live_node(live: Path, new_tree: Path, name: str, names: list[str]) -> bool:
    """Give `names` in `new_tree` the live node of `name`, if it is just what the restore
    wrote there; whether it was."""
    # Linked once and compared as linked: the live name may change meanwhile.
    for number in itertools.count():
        spare = os.path.join(new_tree, f".envops-live-node-{number}")
        with _times_kept(Path(spare)):
            try:
                os.link(os.path.join(live, name), spare, follow_symlinks=False)
                break
            except FileExistsError:
                continue  # a name of the tree restored
            except OSError:
                return False  # gone meanwhile: the name keeps the file written for it
    try:
        if not _same_node(spare, os.path.join(new_tree, name)):
            return False
        for each in names:
            path = os.path.join(new_tree, each)
            with _times_kept(Path(path)):
                os.unlink(path)
                os.link(spare, path)
        return True
    finally:
        with _times_kept(Path(spare)):
            os.unlink(spare)


def _same_node(one: str, other: str) -> bool:
    """Whether `one` is of the kind of `other` (not a folder), with its mode, owner, mtime
    and attributes, and its bytes and holes (a file) or its target (a symlink)."""
    first, second = os.lstat(one), os.lstat(other)
    facets = ("st_mode", "st_uid", "st_gid", "st_size", "st_mtime_ns")
    if stat.S_ISDIR(first.st_mode) or any(
        getattr(first, facet) != getattr(second, facet) for facet in facets
    ):
        return False
    regular = stat.S_ISREG(first.st_mode)
    if read_metadata(one, first, holes=regular) != read_metadata(other, second, holes=regular):
        return False
    if stat.S_ISLNK(first.st_mode):
        return os.readlink(one) == os.readlink(other)
    if not regular:
        return True  # a FIFO or a socket: nothing more to it
    with open(one, "rb") as reading_one, open(other, "rb") as reading_other:
        while True:
            chunk = reading_one.read(1 << 20)
            if chunk != reading_other.read(1 << 20):
                return False
            if not chunk:
                return True


def carry_what_came_since(previous: Path, target: Path, excludes: Excludes | LeftAsTheyAre) -> None:
    """After the swap, carry into `target` (now the new tree) what `previous` (the old one)
    holds of the paths left alone and `target` still lacks: a log file the service opened,
    a lock it took, in the moments between the carry and the swap. Never replaces anything:
    what is at a path in `target` now may have been written there since the swap."""
    if not excludes:
        return
    for path in _left_alone(str(previous), excludes)[1]:
        # The restore is done: what cannot be carried now (a disk full, a name taken by the
        # service since) stays in the previous tree, and must not undo the restore.
        with contextlib.suppress(OSError):
            if not is_real_folder(target, path.rpartition("/")[0]):
                continue
            if not os.path.lexists(target / path):
                with _times_kept(target / path):
                    _carry(previous / path, target / path)
            else:
                _carry_missing(os.path.join(previous, path), os.path.join(target, path))


def _carry_missing(source: str, destination: str) -> None:
    """What folder `source` holds that folder `destination` lacks, at any depth, carried
    there; nothing if either is not a folder (never through a link)."""
    try:
        fd = os.open(destination, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # a file, a link, or gone: nothing to add to
        return
    try:
        there = set(os.listdir(fd))
    finally:
        os.close(fd)
    # Names, not statuses: a tree of 200,000 files the same on both sides costs a listing
    # of each folder, not a call per file.
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(source) as entries:
        for entry in entries:
            if entry.name not in there:
                new = Path(destination, entry.name)
                with _times_kept(new), contextlib.suppress(FileExistsError):  # made since
                    _carry(Path(entry.path), new)
            elif entry.is_dir(follow_symlinks=False):
                _carry_missing(entry.path, os.path.join(destination, entry.name))


def excluded_by_folder(live: Path, excludes: Excludes) -> dict[str, list[str]]:
    """The paths under `live` that `excludes` matches (a folder once), by the folder that
    holds them ("" for the top)."""
    by_folder: dict[str, list[str]] = {}
    if excludes:
        for path in _left_alone(str(live), excludes)[1]:
            by_folder.setdefault(path.rpartition("/")[0], []).append(path)
    return by_folder


def with_all_they_hold(live: Path, paths: list[str]) -> list[str]:
    """`paths` under `live`, and everything the folders among them hold, in path order."""
    found = with_at_most(live, paths, None)
    assert found is not None, "with no limit, always found"
    return found


def with_at_most(live: Path, paths: list[str], limit: int | None) -> list[str] | None:
    """`with_all_they_hold`, or None once it finds more than `limit` paths."""
    found: list[str] = []
    for path in paths:
        try:
            st = os.lstat(live / path)
        except FileNotFoundError:
            continue  # gone meanwhile: no restore can lose it
        found.append(path)
        if stat.S_ISDIR(st.st_mode):
            for folder, names, files in os.walk(live / path):
                inner = os.path.relpath(folder, live)
                found += (f"{inner}/{name}" for name in names + files)
                if limit is not None and len(found) > limit:
                    return None
        if limit is not None and len(found) > limit:
            return None
    return sorted(found)


@contextlib.contextmanager
def _times_kept(path: Path) -> Iterator[None]:
    """Keep the times of the folder holding `path`, as the backup restored them, while an
    entry is added to it or taken from it."""
    folder = path.parent
    before = os.lstat(folder)
    yield
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)


def _carry(source: Path, destination: Path, shared: set[int] | None = None) -> None:
    """Carry `source` to `destination`, or nothing if it is gone by the time it is read;
    the nodes carried that have other names too go into `shared`."""
    try:
        _carry_present(source, destination, shared)
    except FileNotFoundError:
        remove_tree(destination)  # what of it was carried before it went


def _carry_present(source: Path, destination: Path, shared: set[int] | None) -> None:
    st = os.lstat(source)
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.link(source, destination, follow_symlinks=False)
        except (FileNotFoundError, FileExistsError):
            raise  # gone from the source, or made at the destination meanwhile
        except OSError:  # another filesystem, or a link the kernel refuses (protected_hardlinks)
            shutil.copy2(source, destination, follow_symlinks=False)
            drop_xattrs(str(destination), xattr_names(str(destination)) - xattr_names(str(source)))
            return
        if shared is not None and st.st_nlink > 1:
            shared.add(st.st_ino)
        return
    os.mkdir(destination, 0o700)
    with os.scandir(source) as entries:
        for entry in entries:
            _carry(Path(entry.path), destination / entry.name, shared)
    # Last, as a restore does: the folder's times move as its entries are made.
    _same_folder_metadata(source, destination, st)


def _same_folder_metadata(source: Path, destination: Path, st: os.stat_result) -> None:
    """Give folder `destination` the owner, mode, attributes and times of `source`, and
    none of the attributes it had that `source` has not: the backup's (a folder the restore
    wrote), or an ACL a new folder took from its folder's default ACL."""
    mode, applied = to_apply(read_metadata(str(source), st), stat.S_IMODE(st.st_mode), OWN_STORE)
    drop_xattrs(str(destination), xattr_names(str(destination)) - {n for n, _ in applied.xattrs})
    apply_metadata(str(destination), applied, mode, st.st_mtime_ns)


def _folders_holding(only: list[str]) -> set[str]:
    """The folders (relative, "" the root) that hold the chosen paths."""
    return {"/".join(p.split("/")[:i]) for p in only for i in range(p.count("/") + 1)}


def make_folders_holding(live: Path, new_tree: Path, left: LeftAsTheyAre) -> None:
    """Before a selective restore carries the paths not chosen over: the folders holding
    the chosen ones that the live folder has and the backup lacks, so that what else they
    hold has somewhere to go.

    A folder the backup has as a file or a link is a folder still: only a path inside it
    was chosen (one the backup cannot hold, so one it removes), and the folder and what
    else it holds are left as they are."""
    for folder in sorted(_folders_holding(left.only or []), key=lambda f: f.count("/")):
        destination = new_tree / folder
        if (
            folder
            and is_real_folder(live, folder)
            and is_real_folder(new_tree, folder.rpartition("/")[0])
            and not is_real_folder(new_tree, folder)
        ):
            if os.path.lexists(destination):
                _remove(destination)
            os.mkdir(destination, 0o700)


def keep_folders_holding(live: Path, new_tree: Path, left: LeftAsTheyAre) -> None:
    """After a selective restore's carry: the folders holding the chosen paths, the root
    among them, keep their live owner, mode, attributes and times (deepest first, as
    setting a folder's times must come after its entries')."""
    depth = lambda folder: folder.count("/") + 1 if folder else 0  # noqa: E731
    for folder in sorted(_folders_holding(left.only or []), key=depth, reverse=True):
        if is_real_folder(live, folder) and is_real_folder(new_tree, folder):
            _same_folder_metadata(live / folder, new_tree / folder, os.lstat(live / folder))


def _remove(path: Path) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def is_real_folder(root: Path, relative: str) -> bool:
    """Whether `relative` is a folder under `root` reached through folders only, never
    through a link that could lead out of the tree."""
    here = root
    for part in filter(None, relative.split("/")):
        here = here / part
        try:
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                return False
        except FileNotFoundError:
            return False
    return True
