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
