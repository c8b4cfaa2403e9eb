"""A file's two versions side by side, as the changes view shows them."""

import hashlib
import io
import re

from envops_desktop.domain.file_sample import FileSample, sample_of
from envops_desktop.ui.file_diff import diff_html
from envops_desktop.ui.tones import LIGHT_TONES

BEFORE = b"server:\n  port: 9443\nfeatures:\n  invoices_v2: false\n"
AFTER = b"server:\n  port: 8443\nfeatures:\n  invoices_v2: true\n"

TONES = LIGHT_TONES.diff


def _sample(data: bytes, shown: int = 1 << 20) -> FileSample:
    return sample_of(io.BytesIO(data), shown)


def test_each_side_of_a_text_diff_has_half_the_width_and_a_title_of_its_own():
    # Qt's rich text sized a side's column a character short, so its last character ran
    # into the other side's line numbers; and difflib's column of links to the next change
    # squeezed the second title into one letter a line.
    html = diff_html(_sample(BEFORE), _sample(AFTER), "live", "Before invoices v2", TONES).html

    assert 'width="100%"' in html
    assert html.count('<td nowrap="nowrap" width="50%"') == 2 * 4
    assert "diff_next" not in html
    assert html.count("diff_header") == 2 + 2 * 4  # two titles, then line numbers
    assert "Before invoices v2" in html and "invoices_v2: </td>" not in html


def test_a_changed_line_is_tinted_whole_and_its_changed_characters_more_strongly():
    before = b"server:\n  port: 9443\nold: 1\nfeatures: []\n"
    after = b"server:\n  port: 8443\nfeatures: []\nnew: 2\n"
    html = diff_html(_sample(before), _sample(after), "live", "golden", TONES).html
    rows = {
        re.sub(r"<[^>]+>", "", row).replace("&nbsp;", " "): row
        for row in re.findall(r"<tr>.*?</tr>", html)
    }

    def tints(text: str) -> list[str]:
        row = next(row for shown, row in rows.items() if text in shown)
        return re.findall(r'bgcolor="([^"]+)"', row)

    assert tints("port: 9443") == [TONES.changed_line, TONES.changed_line]  # both sides
    assert TONES.changed_text in next(row for shown, row in rows.items() if "9443" in shown)
    assert tints("old: 1") == [TONES.removed_line]  # nothing on the other side
    assert tints("new: 2") == [TONES.added_line]
    assert tints("server:") == [] and tints("features: []") == []


def test_a_binary_file_is_shown_by_size_and_hash():
    html = diff_html(_sample(b"\0\1\2"), None, "live", "golden", TONES).html

    assert "Not text" in html and "3 bytes, SHA-256" in html and "golden</b>: none" in html


def test_a_file_longer_than_a_diff_shows_is_named_by_the_size_and_hash_of_all_of_it():
    # Only its first MiB is read to show: the hash of that MiB would name no file at all.
    image = b"\x89PNG\r\n\x1a\n\0" + bytes(range(256)) * 12_000
    log = b"line of a long log\n" * 120_000
    for data, why in ((image, "Not text"), (log, "Longer than the 1,024 KiB a diff shows")):
        html = diff_html(_sample(data), _sample(data + b"more\n"), "live", "golden", TONES).html

        assert f"{why}: shown by size and hash" in html
        assert f"{len(data):,} bytes, SHA-256 <tt>{hashlib.sha256(data).hexdigest()}" in html
        assert f"{len(data) + 5:,} bytes" in html


def test_a_configuration_file_in_a_legacy_encoding_is_diffed_as_text():
    before = "# Paramètres\nport: 9443\n".encode("cp1252")
    after = "# Paramètres\nport: 8443\n".encode("utf-16")  # as Notepad saves "Unicode"

    html = diff_html(_sample(before), _sample(after), "live", "golden", TONES).html

    assert "Not UTF-8: read as UTF-16 and Windows-1252" in html
    assert html.count("Paramètres") == 2 and ">9</span>443" in html and ">8</span>443" in html


def test_a_file_whose_lines_only_end_differently_says_so():
    windows, unix = b"port: 9443\r\nhost: a\r\n", b"port: 9443\nhost: a"

    html = diff_html(_sample(windows), _sample(unix), "live", "golden", TONES).html

    assert "only line endings (CRLF or LF), the newline at the end" in html
    assert (
        "only line endings" not in diff_html(_sample(BEFORE), _sample(AFTER), "a", "b", TONES).html
    )


def test_a_file_changed_on_each_of_a_thousand_lines_shows_its_first_changes_at_once():
    # difflib paired every changed line with every other to find the most alike, recursing
    # for each: 250 changed lines took 2 s, 500 over 30 s, and 1,000 failed outright.
    before = "".join(f"key{i}: {i}\n" for i in range(1_000)).encode()
    after = "".join(f"key{i}: {i + 1}\n" for i in range(1_000)).encode()

    html = diff_html(_sample(before), _sample(after), "live", "golden", TONES).html

    rows = re.findall(r"<tr>.*?</tr>", html)
    assert len(rows) == 1 + 100  # the titles, then as many rows as a window lays out quickly
    assert "key0:&nbsp;" in rows[1] and TONES.changed_line in rows[1]
    assert "900 more rows of changes are not shown here." in html


def test_a_minified_file_changed_in_one_place_has_just_that_place_marked():
    # One line of 100 KB: difflib wrapped it by recursing once per 72 characters.
    values = [f'"key{i}": {i}' for i in range(9_000)]
    before = ("{" + ", ".join(values) + "}").encode()
    values[4_321] = '"key4321": 9876'
    after = ("{" + ", ".join(values) + "}").encode()

    html = diff_html(_sample(before), _sample(after), "live", "golden", TONES).html

    marked = re.findall(r'<span style="background-color: [^"]+">([^<]*)</span>', html)
    assert marked == ["4321", "9876"]  # the value, on each side, and nothing else
    rows = re.findall(r"<tr>.*?</tr>", html)
    assert 2 <= len(rows) <= 1 + 2 * 3 + 1  # the titles; the row changed and three around
    assert all(">&gt;</td>" in row for row in rows[1:])  # rows of the line wrapped


def test_lines_are_numbered_as_an_editor_numbers_them():
    # str.splitlines() also ends a line at a form feed, NEL or U+2028, which a JSON string
    # or an old configuration file holds mid-line: the numbers ran ahead of the editor's.
    before = 'name: "a\u2028b"\n\x0c\nport: 9443\n'.encode()
    after = 'name: "a\u2028b"\n\x0c\nport: 8443\n'.encode()

    html = diff_html(_sample(before), _sample(after), "live", "golden", TONES).html

    changed = next(
        row for row in re.findall(r"<tr>.*?</tr>", html) if "9443" in re.sub("<[^>]+>", "", row)
    )
    assert re.match(r'<tr><td class="diff_header"[^>]*>3</td>', changed)
