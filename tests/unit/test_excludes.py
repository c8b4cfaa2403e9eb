"""Exclude patterns mean what gitignore makes them mean."""

import pytest

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.excludes import Excludes, check_patterns


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "excluded"),
    [
        ("logs/", "logs", True, True),
        ("logs/", "app/logs", True, True),  # a name: at any depth
        ("logs/", "logs", False, False),  # a file named logs is not a folder
        ("*.tmp", "a.tmp", False, True),
        ("*.tmp", "deep/er/b.tmp", False, True),
        ("*.tmp", "a.tmpx", False, False),
        ("cache/**", "cache/x/y.bin", False, True),
        ("cache/**", "other/cache/x", False, False),  # with a slash: anchored at the root
        ("conf.d/*.bak", "conf.d/a.bak", False, True),
        ("conf.d/*.bak", "conf.d/sub/a.bak", False, False),  # * stops at a slash
        ("secret?.key", "secret1.key", False, True),
        ("/logs/", "logs", True, True),  # a leading slash anchors a name at the root
        ("/logs/", "app/logs", True, False),
        ("**/cache", "cache", True, True),  # any folders, none included
        ("**/cache", "a/b/cache", False, True),
        ("conf.d/**/*.bak", "conf.d/a.bak", False, True),
        ("conf.d/**/*.bak", "conf.d/x/y/a.bak", False, True),
        ("cache/**", "cache", True, False),  # everything inside, not the folder itself
        ("*.[ch]", "src/main.c", False, True),
        ("*.[!ch]", "src/main.c", False, False),
        ("core[0-9]", "core7", False, True),
        ("a[/]b", "a/b", False, False),  # a bracket never matches a slash
        ("pid**", "pid/x", False, False),  # other runs of asterisks are one
        ("# comment", "# comment", False, False),
        ("\\#hash", "#hash", False, True),
        ("\\!bang", "!bang", False, True),
        ("[z-a]", "[z-a]", False, True),  # no range: its characters are plain
        ("trail ", "trail", False, True),  # trailing spaces are dropped
        ("trail\\ ", "trail ", False, True),  # but one after a backslash is the name's
        ("trail\\ ", "trail", False, False),
        ("a\\ \\  ", "a  ", False, True),
        ("\\ lead", " lead", False, True),
    ],
)
def test_a_pattern_excludes_what_gitignore_would(pattern, path, is_dir, excluded):
    assert Excludes([pattern]).matches(path, is_dir) is excluded


def test_a_later_pattern_with_a_bang_takes_back_what_an_earlier_one_excluded():
    excludes = Excludes(["*.log", "!keep.log", "logs/", "!logs/kept.log"])
    assert excludes.covers("app/debug.log", is_dir=False)
    assert not excludes.covers("app/keep.log", is_dir=False)
    # Nothing inside an excluded folder comes back: gitignore's rule.
    assert excludes.covers("logs/kept.log", is_dir=False)
    # The last pattern that matches decides.
    assert Excludes(["*.log", "!keep.log", "keep.log"]).covers("keep.log", is_dir=False)


def test_a_pattern_keeps_the_space_a_backslash_escapes_when_it_is_checked():
    assert check_patterns(["  logs/  ", "trail\\ ", "trail\\\\ "]) == [
        "logs/",
        "trail\\ ",
        "trail\\\\",  # an escaped backslash escapes no space
    ]


def test_comments_alone_exclude_nothing():
    assert not Excludes(["# logs/", "  "])


@pytest.mark.parametrize("pattern", ["../up", "a/../../b", "**", "/", "/**", "**/", "!../x"])
def test_a_pattern_outside_or_over_the_whole_folder_is_refused(pattern):
    with pytest.raises(InvalidInputError, match="cannot exclude"):
        check_patterns([pattern])
