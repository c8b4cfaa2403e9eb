"""Two versions of a text laid out side by side, line against line, with what changed in
each line marked: the rows of the changes view's diff.

difflib's HtmlDiff pairs each changed line with the most alike of the other side's by
comparing every pair, recursing once a pair: a file with 250 changed lines took 2 s, with
500 over 30 s, and with 1,000 it failed for too deep a recursion. Here a block of changed
lines is paired by likeness only while it is small (as an edit is): the longest run of
alike pairs in order, each line compared with each of the other side's once. Paired in
order instead, a line added above an edited one stood beside the edited line's old
version, and the new version came a row later as a line of its own. A larger block (a
file rewritten) is paired in order, one comparison a pair. A pair is compared past its
common start and end only, so a long line (a minified file) with one change costs no more
than a short one.
"""

from dataclasses import dataclass
from difflib import SequenceMatcher

# What a piece of a line is: the same on both sides, or changed, added or removed.
SAME, CHANGED, ADDED, REMOVED = "", "changed", "added", "removed"
# A pair of lines at least this alike is shown as one line changed, its changed characters
# marked; less alike, as one line removed and another added.
_ALIKE = 0.5
# The changed middle of a pair of lines is compared character by character up to this
# length a side (a comparison's cost grows with the product); a longer middle is marked
# whole.
_FINEST = 300
# A block of changed lines is paired by likeness up to this many comparisons (20 lines
# against 20), and a file's blocks up to this many in all (a comparison of two unlike
# lines of 80 characters takes about 0.13 ms): past that, in order. With no bound, a file
# of 5,000 lines changed in blocks of 20 took 12.9 s instead of 0.5 s.
_PAIRINGS = 400
_PAIRINGS_PER_FILE = 2000

Piece = tuple[str, str]  # text, and what it is: SAME, CHANGED, ADDED or REMOVED


@dataclass(frozen=True)
class Line:
    """One side's line in a row: its number (from 1), its pieces, and what the line is as
    a whole (SAME, CHANGED, ADDED or REMOVED)."""

    number: int
    pieces: tuple[Piece, ...]
    kind: str


@dataclass(frozen=True)
class Row:
    """A row of the layout: the line of each side (None: none there, the other side's was
    added or removed)."""

    before: Line | None
    after: Line | None

    @property
    def changed(self) -> bool:
        return any(line is None or line.kind != SAME for line in (self.before, self.after))


def rows(before: list[str], after: list[str]) -> list[Row]:
    """Every line of both versions, in rows."""
    laid_out: list[Row] = []
    budget = _PAIRINGS_PER_FILE
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after).get_opcodes():
        if tag == "equal":
            laid_out.extend(
                Row(Line(i + 1, ((before[i], SAME),), SAME), Line(j + 1, ((after[j], SAME),), SAME))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        olds, news = before[i1:i2], after[j1:j2]
        comparisons = len(olds) * len(news)
        pairs: list[tuple[int, int]] = []
        if comparisons <= min(_PAIRINGS, budget):
            budget -= comparisons
            pairs = _alike_pairs(olds, news)
        i = j = 0
        for paired_i, paired_j in [*pairs, (len(olds), len(news))]:
            # What lies between two pairs, side by side in order (none of it alike).
            for k in range(max(paired_i - i, paired_j - j)):
                old = olds[i + k] if i + k < paired_i else None
                new = news[j + k] if j + k < paired_j else None
                laid_out.append(_row(old, i1 + i + k + 1, new, j1 + j + k + 1))
            if paired_i < len(olds):
                laid_out.append(
                    _row(olds[paired_i], i1 + paired_i + 1, news[paired_j], j1 + paired_j + 1)
                )
            i, j = paired_i + 1, paired_j + 1
    return laid_out


def _alike_pairs(olds: list[str], news: list[str]) -> list[tuple[int, int]]:
    """The longest run, in order on both sides, of pairs of alike lines: (old, new) each."""
    alike = [[_alike(old, new) for new in news] for old in olds]
    # most[a][b]: the most alike pairs among the first a old lines and the first b new ones.
    most = [[0] * (len(news) + 1) for _ in range(len(olds) + 1)]
    for a, row in enumerate(alike):
        for b, pair in enumerate(row):
            most[a + 1][b + 1] = max(most[a][b + 1], most[a + 1][b], most[a][b] + pair)
    pairs: list[tuple[int, int]] = []
    a, b = len(olds), len(news)
    while a and b:
        if alike[a - 1][b - 1] and most[a][b] == most[a - 1][b - 1] + 1:
            a, b = a - 1, b - 1
            pairs.append((a, b))
        elif most[a - 1][b] >= most[a][b - 1]:
            a -= 1
        else:
            b -= 1
    return pairs[::-1]


def _alike(old: str, new: str) -> bool:
    # Lines whose lengths alone rule it out are not compared.
    if 2 * min(len(old), len(new)) < _ALIKE * (len(old) + len(new)):
        return False
    return old == new or _marked(old, new) is not None


def _row(old: str | None, old_number: int, new: str | None, new_number: int) -> Row:
    if old is not None and old == new:  # a line too common to match on, paired with itself
        return Row(Line(old_number, ((old, SAME),), SAME), Line(new_number, ((new, SAME),), SAME))
    marked = _marked(old, new) if old is not None and new is not None else None
    if marked is not None:
        return Row(Line(old_number, marked[0], CHANGED), Line(new_number, marked[1], CHANGED))
    return Row(
        None if old is None else Line(old_number, ((old, REMOVED),), REMOVED),
        None if new is None else Line(new_number, ((new, ADDED),), ADDED),
    )


def _marked(old: str, new: str) -> tuple[tuple[Piece, ...], tuple[Piece, ...]] | None:
    """The pieces of two alike lines, what differs marked; None when they are not alike."""
    start = 0
    most = min(len(old), len(new))
    while start < most and old[start] == new[start]:
        start += 1
    end = 0
    while end < most - start and old[-1 - end] == new[-1 - end]:
        end += 1
    middle_old, middle_new = old[start : len(old) - end], new[start : len(new) - end]
    left: list[Piece] = [(old[:start], SAME)]
    right: list[Piece] = [(new[:start], SAME)]
    alike = start + end
    if len(middle_old) <= _FINEST and len(middle_new) <= _FINEST:
        matcher = SequenceMatcher(None, middle_old, middle_new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                alike += i2 - i1
            left.append((middle_old[i1:i2], SAME if tag == "equal" else CHANGED))
            right.append((middle_new[j1:j2], SAME if tag == "equal" else CHANGED))
    else:
        left.append((middle_old, CHANGED))
        right.append((middle_new, CHANGED))
    left.append((old[len(old) - end :], SAME))
    right.append((new[len(new) - end :], SAME))
    if 2 * alike < _ALIKE * (len(old) + len(new)):
        return None
    return _joined(left), _joined(right)


def _joined(pieces: list[Piece]) -> tuple[Piece, ...]:
    """`pieces` without empty ones, neighbours of one kind made one."""
    joined: list[Piece] = []
    for text, kind in pieces:
        if not text:
            continue
        if joined and joined[-1][1] == kind:
            joined[-1] = (joined[-1][0] + text, kind)
        else:
            joined.append((text, kind))
    return tuple(joined)
