"""Two versions of one file, side by side: text as a diff with the changed lines marked,
anything else as its size and SHA-256."""

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from envops_desktop.domain.file_sample import FileSample
from envops_desktop.ui import side_by_side
from envops_desktop.ui.tones import DiffTones

# Past this, a file is shown by size and hash: a diff of megabytes helps nobody. A line
# wider than the wrap column counts once for each row it is wrapped into.
_MOST_LINES = 5_000
_WRAP_COLUMN = 72
# The rows a diff shows at once, and at each "Show the next": Qt lays a table out on the
# window's thread, some 0.2 ms a row, and a file changed throughout (5,000 rows) froze the
# window for over a second. They go in this many at a time, a turn of the event loop each.
MOST_ROWS_SHOWN = 200
ROWS_A_TURN = 100
# Where the link to the rows held back leads.
MORE = "#more"
# What a file in none of the encodings below is read as: Windows' code page for western
# languages, in which older configuration files are often written.
_LEGACY = "cp1252"
# What ends a line, as editors count lines: not str.splitlines()'s form feed, NEL or line
# separator, which JSON strings and old configuration files hold mid-line.
_NEWLINE = re.compile(r"\r\n|\r|\n")


def _decoded(data: bytes) -> tuple[str, str | None] | None:
    """`data` as text, and the encoding it was read in if not UTF-8; None when it is not
    text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, with its byte order mark
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(_LEGACY), "Windows-1252"
    except UnicodeDecodeError:  # one of the five bytes that code page leaves out
        return data.decode("latin-1"), "Latin-1"


def _lines(sample: FileSample | None) -> tuple[list[str], str | None] | str:
    """The lines of one version, and the encoding they were read in if not UTF-8; or why it
    is shown by size and hash instead."""
    if sample is None:
        return [], None
    decoded = _decoded(sample.head)
    if decoded is None:
        return "Not text"
    if not sample.whole:
        return f"Longer than the {len(sample.head) >> 10:,} KiB a diff shows"
    lines = _NEWLINE.split(decoded[0])
    if lines[-1] == "":  # after the last newline: no line of its own
        lines.pop()
    if sum(-(-len(line) // _WRAP_COLUMN) or 1 for line in lines) > _MOST_LINES:
        return f"Longer than the {_MOST_LINES:,} lines a diff shows"
    return lines, decoded[1]


def _facts(sample: FileSample | None, title: str) -> str:
    if sample is None:
        return f"<p><b>{html.escape(title)}</b>: none</p>"
    return (
        f"<p><b>{html.escape(title)}</b>: {sample.size:,} bytes, "
        f"SHA-256 <tt>{sample.sha256}</tt></p>"
    )


@dataclass(frozen=True)
class Diff:
    """A file's two versions as HTML for a text browser: what to show at once (ending in a
    link to `MORE` when rows are held back), and the table rows held back."""

    html: str
    held_back: tuple[str, ...] = ()


def diff_html(
    before: FileSample | None,
    after: FileSample | None,
    before_title: str,
    after_title: str,
    tones: DiffTones,
    digit_width: int = 8,
) -> Diff:
    """The two versions of a file side by side, or their facts; coloured with `tones`, which
    suit the palette the text is drawn in. `digit_width` is a digit's width in pixels in the
    font it is drawn in (8 in a monospace font of 10 points)."""
    old, new = _lines(before), _lines(after)
    reasons = [side for side in (old, new) if isinstance(side, str)]
    if reasons:
        return Diff(
            f"<p>{reasons[0]}: shown by size and hash.</p>"
            + _facts(before, before_title)
            + _facts(after, after_title)
        )
    (old_lines, old_encoding), (new_lines, new_encoding) = old, new
    laid_out = side_by_side.rows(
        [line.expandtabs(8) for line in old_lines], [line.expandtabs(8) for line in new_lines]
    )
    # The numbers' column as wide as its longest number: given no width, Qt shares out
    # what the two halves leave, nothing, and wrapped each number past 9 a digit a line.
    longest = max(
        (line.number for row in laid_out for line in (row.before, row.after) if line),
        default=1,
    )
    number_cell = (
        f'<td class="diff_header" nowrap="nowrap" width="{len(str(longest)) * digit_width + 8}">'
    )
    table, held_back = _table(laid_out, before_title, after_title, tones, number_cell)
    read_in = sorted({encoding for encoding in (old_encoding, new_encoding) if encoding})
    if read_in:
        table = f"<p>Not UTF-8: read as {' and '.join(read_in)}.</p>" + table
    if old_lines == new_lines and before is not None and after is not None:
        # Modified, yet line for line the same: what differs is between or around the lines.
        table = (
            "<p>The same lines: only line endings (CRLF or LF), the newline at the end, a byte "
            "order mark or the encoding differ.</p>" + table
        )
    return Diff(table, held_back)


def next_rows(held_back: Sequence[str], count: int) -> tuple[str, tuple[str, ...]]:
    """The next `count` rows held back as a table that goes on from the last (and a link to
    the ones after, if any), and the rows still held back."""
    shown, rest = held_back[:count], tuple(held_back[count:])
    return f"{_TABLE}<tbody>{''.join(shown)}</tbody></table>{_more(len(rest))}", rest


def _more(rows: int) -> str:
    if not rows:
        return ""
    return (
        f"<p>{rows:,} more rows of changes are not shown here. "
        f'<a href="{MORE}">Show the next {min(rows, MOST_ROWS_SHOWN):,}</a></p>'
    )


def _table(
    laid_out: list[side_by_side.Row],
    before: str,
    after: str,
    tones: DiffTones,
    number_cell: str,
) -> tuple[str, tuple[str, ...]]:
    """The rows that changed and `_CONTEXT` around each, a gap marked where rows are left
    out, as a table of two sides: line number and text, each. A line wider than the wrap
    column goes on over as many rows as it takes (numbered ">" after its first), and a
    long line changed in one place shows the rows around that place. Past
    `ROWS_A_TURN`, the rows are held back (returned apart)."""
    rows = [table_row for row in laid_out for table_row in _table_rows(row, tones, number_cell)]
    changed = [index for index, (_row, marked) in enumerate(rows) if marked]
    shown = sorted(
        {
            near
            for index in changed
            for near in range(max(0, index - _CONTEXT), min(len(rows), index + _CONTEXT + 1))
        }
    )
    body: list[str] = []
    for place, index in enumerate(shown):
        if place and index != shown[place - 1] + 1:
            body.append(_GAP)
        body.append(rows[index][0])
    titles = "".join(
        f'<th colspan="2" class="diff_header">{html.escape(title)}</th>'
        for title in (before, after)
    )
    held_back = tuple(body[ROWS_A_TURN:])
    table = (
        f"{_TABLE}<thead><tr>{titles}</tr></thead><tbody>{''.join(body[:ROWS_A_TURN])}"
        f"</tbody></table>{_more(len(held_back))}"
    )
    return table, held_back


_TABLE = '<table class="diff" width="100%" cellspacing="0" cellpadding="3">'
_CONTEXT = 3  # unchanged rows shown before and after each change
_GAP = '<tr><td class="diff_gap">⋯</td><td></td><td class="diff_gap">⋯</td><td></td></tr>'
_TEXT_CELL = '<td nowrap="nowrap" width="50%"'


def _table_rows(
    row: side_by_side.Row, tones: DiffTones, number_cell: str
) -> list[tuple[str, bool]]:
    """A row of the layout as table rows, each with whether anything in it changed."""
    sides = [_wrapped(line, tones, number_cell) for line in (row.before, row.after)]
    height = max(len(side) for side in sides)
    empty = f"{number_cell}</td>{_TEXT_CELL}></td>"
    padded = [side + [(empty, False)] * (height - len(side)) for side in sides]
    return [
        ("<tr>" + left + right + "</tr>", left_marked or right_marked)
        for (left, left_marked), (right, right_marked) in zip(*padded, strict=True)
    ]


def _wrapped(
    line: side_by_side.Line | None, tones: DiffTones, number_cell: str
) -> list[tuple[str, bool]]:
    """One side's line as the cells (number, text) of each row it is wrapped into, each
    with whether anything in that row changed (all of a line added or removed)."""
    if line is None:  # the other side's line is added or removed
        return [(f"{number_cell}</td>{_TEXT_CELL}></td>", True)]
    tint = {
        side_by_side.CHANGED: tones.changed_line,
        side_by_side.ADDED: tones.added_line,
        side_by_side.REMOVED: tones.removed_line,
    }.get(line.kind)
    whole = line.kind in (side_by_side.ADDED, side_by_side.REMOVED)
    rows: list[tuple[list[str], bool]] = [([], whole)]
    room = _WRAP_COLUMN
    for text, kind in line.pieces:
        while text:
            if not room:
                rows.append(([], whole))
                room = _WRAP_COLUMN
            piece, text = text[:room], text[room:]
            room -= len(piece)
            shown = html.escape(piece, quote=False).replace(" ", "&nbsp;")
            if kind == side_by_side.CHANGED:  # what changed in a changed line, marked more
                shown = f'<span style="background-color: {tones.changed_text}">{shown}</span>'
                rows[-1] = (rows[-1][0], True)
            rows[-1][0].append(shown)
    cell = _TEXT_CELL + (f' bgcolor="{tint}">' if tint else ">")
    numbers = [str(line.number)] + ["&gt;"] * (len(rows) - 1)
    return [
        (f"{number_cell}{number}</td>{cell}{''.join(parts)}</td>", marked)
        for number, (parts, marked) in zip(numbers, rows, strict=True)
    ]
