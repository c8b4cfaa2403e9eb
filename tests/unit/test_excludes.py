"""Exclude patterns mean what gitignore makes them mean."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.excludes import Excludes, LeftAsTheyAre, check_patterns


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


_names = st.lists(st.sampled_from(["a", "b", "a b", "a.b", "ab"]), min_size=1, max_size=4).map(
    "/".join
)


@given(chosen=st.lists(_names, min_size=1, max_size=6), path=_names)
def test_a_selective_restore_brings_back_each_chosen_path_with_all_it_holds_and_no_more(
    chosen, path
):
    left = LeftAsTheyAre(Excludes([]), chosen)

    assert left.selected(path) == any(path == c or path.startswith(c + "/") for c in chosen)
    assert left.holds_selected(path) == any(c.startswith(path + "/") for c in chosen)
    assert left.matches(path, False) == (not left.selected(path) and not left.holds_selected(path))


class _Counted(str):
    """A chosen path that counts how often a lookup holds it against another."""

    looked_at = 0

    def __eq__(self, other: object) -> bool:
        _Counted.looked_at += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__

    def startswith(self, *args, **kwargs) -> bool:
        _Counted.looked_at += 1
        return str.startswith(self, *args, **kwargs)

    def __add__(self, other: str) -> str:
        _Counted.looked_at += 1
        return str.__add__(self, other)


def test_one_file_unticked_among_thousands_does_not_hold_each_path_against_every_other():
    # One file unticked in a folder of 2,000 changed ones chooses the other 1,999: each
    # path the restore looks at must be found by its own folders, not held against all of
    # them (20,000 such paths took minutes to restore).
    chosen = [_Counted(f"conf.d/site-{n:04}.conf") for n in range(1, 2000)]
    left = LeftAsTheyAre(Excludes([]), chosen)
    _Counted.looked_at = 0

    answers = [
        (left.selected(path), left.holds_selected(path))
        for path in ["conf.d", "conf.d/site-0000.conf", *chosen[:500], "other/x.conf"]
    ]

    assert answers[:3] == [(False, True), (False, False), (True, False)]
    assert answers[-1] == (False, False)
    assert _Counted.looked_at <= 1000  # at most one look per path and folder above it
