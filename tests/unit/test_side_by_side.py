"""Two versions of a text laid out side by side: every line of each, in order, once."""

import random

import pytest

from envops_desktop.ui.side_by_side import ADDED, CHANGED, REMOVED, SAME, rows

WORDS = ["port", "8443", "9443", " ", "=", "host: a", "", "x" * 90, "é", "\t"]


def _random_lines(rng: random.Random) -> list[str]:
    return ["".join(rng.choices(WORDS, k=rng.randint(0, 6))) for _ in range(rng.randint(0, 30))]


def _edited(lines: list[str], rng: random.Random) -> list[str]:
    edited = []
    for line in lines:
        chance = rng.random()
        if chance < 0.6:
            edited.append(line)
        elif chance < 0.75:
            edited.append(line + rng.choice(WORDS))
        elif chance < 0.85:
            edited.extend([line, "".join(rng.choices(WORDS, k=3))])
    return edited


@pytest.mark.parametrize("seed", range(200))
def test_each_side_holds_every_line_of_its_version_in_order_and_marks_only_what_differs(seed):
    rng = random.Random(seed)
    before = _random_lines(rng)
    after = _edited(before, rng)

    laid_out = rows(before, after)

    for side, lines in (("before", before), ("after", after)):
        shown = [getattr(row, side) for row in laid_out if getattr(row, side) is not None]
        assert [line.number for line in shown] == list(range(1, len(lines) + 1))
        assert ["".join(text for text, _kind in line.pieces) for line in shown] == lines
    for row in laid_out:
        if not row.changed:
            assert row.before.pieces == row.after.pieces
        elif row.before is not None and row.after is not None and row.before.kind == CHANGED:
            assert row.after.kind == CHANGED and row.before.pieces != row.after.pieces
            same = "".join(text for text, kind in row.before.pieces if kind == SAME)
            assert same == "".join(text for text, kind in row.after.pieces if kind == SAME)
        else:  # a line removed, one added, or both side by side (not alike)
            assert row.before is None or row.before.kind == REMOVED
            assert row.after is None or row.after.kind == ADDED


def _shown(laid_out) -> list[tuple[str | None, str | None]]:
    """Each row as (its old line's kind and text, its new line's), None where none."""
    return [
        tuple(
            None
            if line is None
            else f"{line.kind or 'same'}: " + "".join(t for t, _ in line.pieces)
            for line in (row.before, row.after)
        )
        for row in laid_out
    ]


def test_a_line_added_above_an_edited_one_stands_alone_and_the_edit_stays_one_line():
    before = ["server:", "  port: 8443", "  workers: 8", "log: info"]
    after = ["server:", "  tls: on", "  port: 9443", "  workers: 16", "log: info"]

    assert _shown(rows(before, after)) == [
        ("same: server:", "same: server:"),
        (None, "added:   tls: on"),
        ("changed:   port: 8443", "changed:   port: 9443"),
        ("changed:   workers: 8", "changed:   workers: 16"),
        ("same: log: info", "same: log: info"),
    ]


def test_a_line_removed_between_two_edits_leaves_each_edit_on_its_own_row():
    before = ["a = 1", "# an obsolete note about nothing in particular", "b = 2"]
    after = ["a = 10", "b = 20"]

    assert _shown(rows(before, after)) == [
        ("changed: a = 1", "changed: a = 10"),
        ("removed: # an obsolete note about nothing in particular", None),
        ("changed: b = 2", "changed: b = 20"),
    ]


def test_lines_alike_to_none_of_the_other_sides_stay_side_by_side_in_order():
    before = ["alpha", "beta"]
    after = ["1234567", "89"]

    assert _shown(rows(before, after)) == [
        ("removed: alpha", "added: 1234567"),
        ("removed: beta", "added: 89"),
    ]
