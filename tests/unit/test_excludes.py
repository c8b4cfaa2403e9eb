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
    ],
)
def test_a_pattern_excludes_what_gitignore_would(pattern, path, is_dir, excluded):
    assert Excludes([pattern]).matches(path, is_dir) is excluded


@pytest.mark.parametrize("pattern", ["/etc/passwd", "../up", "a/../../b", "**"])
def test_a_pattern_outside_or_over_the_whole_folder_is_refused(pattern):
    with pytest.raises(InvalidInputError, match="cannot exclude"):
        check_patterns([pattern])
