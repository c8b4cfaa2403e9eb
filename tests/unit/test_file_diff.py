"""A file's two versions side by side, as the changes view shows them."""

from envops_desktop.ui.file_diff import diff_html

BEFORE = b"server:\n  port: 9443\nfeatures:\n  invoices_v2: false\n"
AFTER = b"server:\n  port: 8443\nfeatures:\n  invoices_v2: true\n"


def test_each_side_of_a_text_diff_has_half_the_width_and_a_title_of_its_own():
    # Qt's rich text sized a side's column a character short, so its last character ran
    # into the other side's line numbers; and difflib's column of links to the next change
    # squeezed the second title into one letter a line.
    html = diff_html(BEFORE, AFTER, "live", "Before invoices v2")

    assert 'width="100%"' in html
    assert html.count('<td nowrap="nowrap" width="50%">') == 2 * 4
    assert "diff_next" not in html
    assert html.count("diff_header") == 2 + 2 * 4  # two titles, then line numbers
    assert "Before invoices v2" in html and "invoices_v2: </td>" not in html


def test_a_binary_file_is_shown_by_size_and_hash():
    html = diff_html(b"\0\1\2", None, "live", "golden")

    assert "Not text" in html and "3 bytes, SHA-256" in html and "golden</b>: none" in html
