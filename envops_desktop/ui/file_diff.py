"""Two versions of one file, side by side: text as a diff with the changed lines marked,
anything else as its size and SHA-256."""

import difflib
import html
import re

from envops_desktop.domain.file_sample import FileSample
from envops_desktop.ui.tones import DiffTones

# Past this, a file is shown by size and hash: a diff of megabytes helps nobody.
_MOST_LINES = 5_000
# What a file in none of the encodings below is read as: Windows' code page for western
# languages, in which older configuration files are often written.
_LEGACY = "cp1252"


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
    lines = decoded[0].splitlines()
    if len(lines) > _MOST_LINES:
        return f"Longer than the {_MOST_LINES:,} lines a diff shows"
    return lines, decoded[1]


_ROW = re.compile(r"<tr>.*?</tr>", re.DOTALL)
_SIDE = re.compile(r'<td nowrap="nowrap" width="50%">(.*?)</td>', re.DOTALL)
_MARKED = re.compile(r'class="diff_(add|chg|sub)"')
_WHOLE_LINE_MARKED = re.compile(r'<span class="diff_(add|sub)">[^<]*</span>')


def _tinted(row: str, tones: DiffTones) -> str:
    """A row of the table with each side's whole line tinted where anything in it changed:
    difflib marks only the characters that did, which in a long line are easy to miss."""
    if not _MARKED.search(row):
        return row

    def side(cell: re.Match[str]) -> str:
        text = cell[1]
        if not text:  # the other side's line is added or removed: nothing here
            return cell[0]
        whole = _WHOLE_LINE_MARKED.fullmatch(text)
        tint = {"add": tones.added_line, "sub": tones.removed_line}.get(
            whole[1] if whole else "", tones.changed_line
        )
        return f'<td nowrap="nowrap" width="50%" bgcolor="{tint}">{text}</td>'

    return _SIDE.sub(side, row)


def _facts(sample: FileSample | None, title: str) -> str:
    if sample is None:
        return f"<p><b>{html.escape(title)}</b>: none</p>"
    return (
        f"<p><b>{html.escape(title)}</b>: {sample.size:,} bytes, "
        f"SHA-256 <tt>{sample.sha256}</tt></p>"
    )


def diff_html(
    before: FileSample | None,
    after: FileSample | None,
    before_title: str,
    after_title: str,
    tones: DiffTones,
) -> str:
    """HTML for a text browser: the two versions of a file side by side, or their facts;
    coloured with `tones`, which suit the palette the text is drawn in."""
    old, new = _lines(before), _lines(after)
    reasons = [side for side in (old, new) if isinstance(side, str)]
    if reasons:
        return (
            f"<p>{reasons[0]}: shown by size and hash.</p>"
            + _facts(before, before_title)
            + _facts(after, after_title)
        )
    (old_lines, old_encoding), (new_lines, new_encoding) = old, new
    table = difflib.HtmlDiff(wrapcolumn=72).make_table(
        old_lines, new_lines, before_title, after_title, context=True, numlines=3
    )
    # Without difflib's column of links to the next change, which mean nothing here.
    table = re.sub(r'<t([dh]) class="diff_next"[^>]*>.*?</t\1>', "", table)
    table = table.replace('cellpadding="0"', 'cellpadding="3"')
    # Qt's rich text sizes a column of marked text a character short, so the last one ran
    # into the next column's line number: each side gets half the width instead.
    table = table.replace('<table class="diff"', '<table class="diff" width="100%"')
    table = table.replace('<td nowrap="nowrap">', '<td nowrap="nowrap" width="50%">')
    table = _ROW.sub(lambda row: _tinted(row[0], tones), table)
    # Qt's rich text has no CSS classes of difflib's: its marks as colours.
    for css, colour in (
        ("diff_add", tones.added_text),
        ("diff_chg", tones.changed_text),
        ("diff_sub", tones.removed_text),
    ):
        table = table.replace(f'class="{css}"', f'style="background-color: {colour}"')
    read_in = sorted({encoding for encoding in (old_encoding, new_encoding) if encoding})
    if read_in:
        table = f"<p>Not UTF-8: read as {' and '.join(read_in)}.</p>" + table
    if old_lines == new_lines and before is not None and after is not None:
        # Modified, yet line for line the same: what differs is between or around the lines.
        table = (
            "<p>The same lines: only line endings (CRLF or LF), the newline at the end, a byte "
            "order mark or the encoding differ.</p>" + table
        )
    return table
