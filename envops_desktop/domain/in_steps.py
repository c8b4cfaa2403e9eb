"""Sorting and letting go of hundreds of thousands of objects a part at a time.

One C call over 200,000 objects holds the GIL from start to end, and the window's thread
with it: sorting a configuration file's entries by path (49 ms, though they were in order
already) or dropping the last reference to a dict of its zip members (45 ms). Done here in
parts from Python, the interpreter can hand the GIL over between them.
"""

import heapq
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any, TypeVar

T = TypeVar("T")

# Objects one C call handles at most: well under a millisecond each.
STEP = 2_000


def sorted_in_steps(items: Iterable[T], key: Callable[[T], Any]) -> list[T]:
    """`sorted(items, key=key)`, for items that are mostly in that order already (a list
    EnvOps wrote): that is checked in Python, and if it is not so, parts are sorted one at
    a time and merged in Python (`heapq.merge` is)."""
    listed = list(items)
    if all(key(before) <= key(after) for before, after in pairwise(listed)):
        return listed
    parts = [sorted(listed[i : i + STEP], key=key) for i in range(0, len(listed), STEP)]
    return list(heapq.merge(*parts, key=key))


def let_go_in_steps(held: dict[Any, Any] | list[Any]) -> None:
    """Empty `held`, a part at a time, so that what only it refers to is freed in parts."""
    if isinstance(held, dict):
        while held:
            for _ in range(min(STEP, len(held))):
                held.popitem()
    else:
        while held:
            del held[-STEP:]
