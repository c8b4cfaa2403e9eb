"""Sorting and letting go a part at a time give what one call would, and let go of all of it."""

import random
import weakref
from operator import itemgetter

from hypothesis import given
from hypothesis import strategies as st

from envops_desktop.domain.in_steps import STEP, let_go_in_steps, sorted_in_steps

KEY = itemgetter(0)


@given(st.lists(st.tuples(st.integers(0, 30), st.integers())))
def test_sorting_in_steps_gives_what_sorted_gives_ties_in_their_order(items):
    assert sorted_in_steps(items, KEY) == sorted(items, key=KEY)


def test_many_paths_out_of_order_are_sorted_across_their_parts():
    paths = [(f"app{n % 7}/conf{n:06d}", n) for n in range(5 * STEP + 17)]
    shuffled = random.Random(24).sample(paths, len(paths))
    shuffled += shuffled[:300]  # the same path twice: ties keep their order

    assert sorted_in_steps(shuffled, KEY) == sorted(shuffled, key=KEY)


def test_items_already_in_order_come_back_as_they_are():
    items = [(f"conf{n:06d}", object()) for n in range(3 * STEP)]

    ordered = sorted_in_steps(iter(items), KEY)

    assert ordered == items
    assert all(got is given for got, given in zip(ordered, items, strict=True))


class _Freed:
    """An object whose end can be seen."""


def test_letting_go_in_steps_empties_a_dict_and_frees_what_only_it_held():
    held = {f"conf{n:06d}": _Freed() for n in range(2 * STEP + 5)}
    watched = weakref.ref(held["conf000007"])

    let_go_in_steps(held)

    assert held == {}
    assert watched() is None


def test_letting_go_in_steps_empties_a_list_and_frees_what_only_it_held():
    held = [_Freed() for _ in range(2 * STEP + 5)]
    watched = weakref.ref(held[0])

    let_go_in_steps(held)

    assert held == []
    assert watched() is None
