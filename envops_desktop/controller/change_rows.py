"""The rows of a changes view, worked out before it opens: which changed folders hold each
path, each path's tick, and each column's sort orders.

Plain Python, no Qt, so that a worker builds it: over 200,000 changed paths this takes
about half a second, which the window must not be frozen for. What is left for the GUI
thread (a click, a sort) then costs what it touches, not what the whole list holds.
"""

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from envops_desktop.domain.changes import PathChange, TreeChanges
from envops_desktop.domain.excludes import Excludes, LeftAsTheyAre

PATH_COLUMN, KINDS_COLUMN, SIZE_COLUMN = range(3)


def kinds_text(change: PathChange) -> str:
    """How a path changed, as the view's Change column says it."""
    return ", ".join(kind.value for kind in change.kinds)


def _size_key(change: PathChange) -> int:
    return -1 if change.size_after is None else change.size_after


def _grouped(
    by_path: Sequence[int], rows: list[PathChange], key: Callable[[PathChange], Any]
) -> tuple[list[int], list[int]]:
    """The rows in ascending and descending order of `key`, ties in path order either way.
    Grouped by key in Python, not sorted in one call, which would hold the GIL for as long
    as it takes (0.2 s over 200,000 sizes); only the distinct keys are sorted."""
    groups: dict[Any, list[int]] = {}
    for row in by_path:
        value = key(rows[row])
        group = groups.get(value)
        if group is None:
            groups[value] = group = []
        group.append(row)
    values = sorted(groups)
    ascending: list[int] = []
    descending: list[int] = []
    for value in values:
        ascending += groups[value]
    for value in reversed(values):
        descending += groups[value]
    return ascending, descending


def _folder_of(path: str) -> str:
    return path[: max(path.rfind("/"), 0)]


class ChangeRows:
    """The changed paths of `changes`, each with a tick where the view has one.

    A path with no changed path inside it has a tick of its own. A changed folder's box
    follows what it holds, as a selective restore does: ticked when all of it is, unticked
    when none is, partly ticked (None) otherwise. A partly ticked folder's own change (its
    mode, say) is left as it is, since restoring a folder brings back everything in it.
    """

    def __init__(self, changes: TreeChanges) -> None:
        self.changes = changes
        self.rows = list(changes.changes)
        rows = self.rows
        row_of = {change.path: row for row, change in enumerate(rows)}
        # Per folder, the rows of the changed folders it is or is inside (one tuple shared
        # by all it holds: for 200,000 paths, 0.2 s instead of 0.5 s).
        rows_of_folder: dict[str, tuple[int, ...]] = {"": (row_of["."],) if "." in row_of else ()}

        def rows_of(folder: str) -> tuple[int, ...]:
            found = rows_of_folder.get(folder)
            if found is None:
                found = rows_of(_folder_of(folder))
                if folder in row_of:
                    found = (*found, row_of[folder])
                rows_of_folder[folder] = found
            return found

        self._above = [() if c.path == "." else rows_of(_folder_of(c.path)) for c in rows]
        holding = {row for above in set(self._above) for row in above}
        # Flags and counts a row in arrays, not lists: the collector walks every item of a
        # list at each pass while it is young, and the window's thread runs those passes
        # (a dozen lists of 200,000 took 15-20 ms a pass); an array it does not walk.
        self._has_tick = bytearray(row not in holding for row in range(len(rows)))
        self._ticked = bytearray(b"\x01") * len(rows)
        # A folder's state follows from how many ticks inside it are on and off, counted as
        # they change, so that a click costs what the path holds.
        self._ticked_in = array("l", [0]) * len(rows)
        self._unticked_in = array("l", [0]) * len(rows)
        self._ticks = self._ticks_on = len(rows) - len(holding)
        for folders, count in Counter(
            above for above, has_tick in zip(self._above, self._has_tick, strict=True) if has_tick
        ).items():
            for folder in folders:
                self._ticked_in[folder] += count
        # Paths sort as the command line lists them: a folder as "a/", so what it holds
        # comes right after it ("a-b", "a", "a/c", "a0"), the folder itself first. Changes
        # come in that order, so this sort has next to nothing to do: a sort holds the GIL
        # throughout, and one of 200,000 shuffled paths would stall the window for 0.3 s.
        self._path_keys = [
            "" if c.path == "." else c.path + "/" if row in holding else c.path
            for row, c in enumerate(rows)
        ]
        keys = self._path_keys
        in_order = all(before < after for before, after in pairwise(keys))
        by_path = array(
            "L", range(len(rows)) if in_order else sorted(range(len(rows)), key=keys.__getitem__)
        )
        self._orders = {(PATH_COLUMN, False): by_path, (PATH_COLUMN, True): by_path[::-1]}
        for column, key in ((KINDS_COLUMN, kinds_text), (SIZE_COLUMN, _size_key)):
            ascending, descending = _grouped(by_path, rows, key)
            self._orders[column, False] = array("L", ascending)
            self._orders[column, True] = array("L", descending)

    def __len__(self) -> int:
        return len(self.rows)

    def order(self, column: int, descending: bool) -> Sequence[int]:
        """The rows sorted by `column`, ties in path order either way."""
        return self._orders[column, descending]

    def state(self, row: int) -> bool | None:
        """Whether the row is ticked: None where a folder is partly ticked."""
        if self._has_tick[row]:
            return bool(self._ticked[row])
        if not self._unticked_in[row]:
            return True
        return None if self._ticked_in[row] else False

    def tick(self, row: int, ticked: bool) -> int:
        """Tick or untick the row; a folder's, everything in it. How many ticks changed."""
        if self._has_tick[row]:
            flipped = [row] if self._ticked[row] != ticked else []
        else:
            flipped = [other for other in self._inside(row) if self._ticked[other] != ticked]
        step = 1 if ticked else -1
        for other in flipped:
            self._ticked[other] = ticked
            for folder in self._above[other]:
                self._ticked_in[folder] += step
                self._unticked_in[folder] -= step
        self._ticks_on += step * len(flipped)
        return len(flipped)

    def _held_by(self, at: int) -> range:
        """Where in path order the paths inside the changed folder at `at` are: the run
        right after it, up to the first path that sorts after all that starts with "a/"."""
        by_path, keys = self._orders[PATH_COLUMN, False], self._path_keys
        key = keys[by_path[at]]  # "a/"; "" for the folder itself, which holds everything
        end = bisect_left(by_path, key[:-1] + "0", lo=at + 1, key=keys.__getitem__) if key else None
        return range(at + 1, len(by_path) if end is None else end)

    def _inside(self, folder_row: int) -> list[int]:
        """The rows with ticks of their own inside a changed folder."""
        by_path, keys = self._orders[PATH_COLUMN, False], self._path_keys
        at = bisect_left(by_path, keys[folder_row], key=keys.__getitem__)
        return [by_path[i] for i in self._held_by(at) if self._has_tick[by_path[i]]]

    def keep_only(self, only: Sequence[str]) -> None:
        """Untick every path a restore of `only` those paths leaves as it is: the user's
        choice, shown again."""
        chosen = LeftAsTheyAre(Excludes([]), only)
        for row, change in enumerate(self.rows):
            if self._has_tick[row] and not chosen.selected(change.path):
                self.tick(row, False)

    def anything_ticked(self) -> bool:
        """Whether a restore of the ticked paths would bring anything back."""
        return self._ticks_on > 0

    def selection(self) -> list[str] | None:
        """The paths a restore should bring back: None when all are ticked (the whole
        backup); otherwise the fully ticked paths, none inside another, in path order."""
        if self._ticks_on == self._ticks:
            return None
        by_path, rows = self._orders[PATH_COLUMN, False], self.rows
        chosen = []
        at = 1 if rows[by_path[0]].path == "." else 0  # partly ticked, or all were
        while at < len(by_path):
            row = by_path[at]
            if self._has_tick[row]:
                if self._ticked[row]:
                    chosen.append(rows[row].path)
            elif not self._unticked_in[row]:  # a folder ticked whole: none of it again
                chosen.append(rows[row].path)
                at = self._held_by(at).stop
                continue
            at += 1
        return chosen
