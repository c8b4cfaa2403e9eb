"""Two versions of one file, side by side: text as a diff with the changed lines marked,
anything else as its size and SHA-256."""

import difflib
import hashlib
import html
import re

# Past this, a file is shown by size and hash: a diff of megabytes helps nobody.
_MOST_LINES = 5_000


def _text(data: bytes) -> list[str] | None:
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def _facts(data: bytes | None, title: str) -> str:
    if data is None:
        return f"<p><b>{html.escape(title)}</b>: none</p>"
    digest = hashlib.sha256(data).hexdigest()
    return f"<p><b>{html.escape(title)}</b>: {len(data):,} bytes, SHA-256 <tt>{digest}</tt></p>"


def diff_html(
    before: bytes | None, after: bytes | None, before_title: str, after_title: str
) -> str:
    """HTML for a text browser: the two versions of a file side by side, or their facts."""
    old = [] if before is None else _text(before)
    new = [] if after is None else _text(after)
    if old is None or new is None or max(len(old), len(new)) > _MOST_LINES:
        return (
            "<p>Not text: shown by size and hash.</p>"
            + _facts(before, before_title)
            + _facts(after, after_title)
        )
    table = difflib.HtmlDiff(wrapcolumn=72).make_table(
        old, new, before_title, after_title, context=True, numlines=3
    )
    # Without difflib's column of links to the next change, which mean nothing here.
    table = re.sub(r'<t([dh]) class="diff_next"[^>]*>.*?</t\1>', "", table)
    table = table.replace('cellpadding="0"', 'cellpadding="3"')
    # Qt's rich text sizes a column of marked text a character short, so the last one ran
    # into the next column's line number: each side gets half the width instead.
    table = table.replace('<table class="diff"', '<table class="diff" width="100%"')
    table = table.replace('<td nowrap="nowrap">', '<td nowrap="nowrap" width="50%">')
    # Qt's rich text has no CSS classes of difflib's: its marks as colours.
    for css, colour in (("diff_add", "#d4f4dd"), ("diff_chg", "#fff3b0"), ("diff_sub", "#fbd5d5")):
        table = table.replace(f'class="{css}"', f'style="background-color: {colour}"')
    return table
