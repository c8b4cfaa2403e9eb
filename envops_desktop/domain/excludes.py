"""Which paths of an environment are excluded: glob patterns such as `logs/`, `*.tmp`,
`cache/**`, with the meanings gitignore gives them.

- A pattern ending in `/` matches folders only (and so everything in them).
- A pattern with no other `/` matches a name at any depth (`*.tmp`, `logs/`).
- Any other pattern is anchored at the environment's folder (`cache/**`, `conf.d/*.bak`).
- `*` and `?` never cross a `/`; `**` does.
"""

import re
from collections.abc import Iterator, Sequence

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.paths import relative_path_problem


def _regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def check_patterns(patterns: Sequence[str]) -> list[str]:
    """The patterns, stripped, or InvalidInputError naming one that cannot be one."""
    checked = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        if pattern.startswith("/") or ".." in pattern.split("/") or pattern in ("/", "**"):
            raise InvalidInputError(
                f"{pattern!r} cannot exclude: a pattern is relative to the environment's "
                "folder, without '..', and not all of it."
            )
        checked.append(pattern)
    return checked


class Excludes:
    """A compiled set of patterns: `matches(path, is_dir)` for a path relative to the root."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = list(patterns)
        anywhere, anchored = [], []
        for pattern in self.patterns:
            folders_only = pattern.endswith("/")
            body = pattern.rstrip("/")
            (anchored if "/" in body else anywhere).append((re.compile(_regex(body)), folders_only))
        self._anywhere, self._anchored = anywhere, anchored

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str, is_dir: bool) -> bool:
        name = path.rpartition("/")[2]
        return any(
            rx.fullmatch(name) and (is_dir or not folders_only)
            for rx, folders_only in self._anywhere
        ) or any(
            rx.fullmatch(path) and (is_dir or not folders_only)
            for rx, folders_only in self._anchored
        )

    def covers(self, path: str, is_dir: bool) -> bool:
        """Whether `path` is excluded, itself or as part of an excluded folder."""
        return self.matches(path, is_dir) or any(
            self.matches(folder, True) for folder in _folders_above(path)
        )


def checked_selection(paths: Sequence[str]) -> list[str]:
    """Paths a selective restore is to bring back, relative to the environment's folder (a
    folder: with all it holds); refused where one is not such a path."""
    checked = []
    for path in paths:
        path = path.strip().rstrip("/")
        problem = relative_path_problem(path) if path else "is empty"
        if problem:
            raise InvalidInputError(f"{path!r} cannot be restored on its own: it {problem}.")
        checked.append(path)
    if not checked:
        raise InvalidInputError("Name at least one path to restore.")
    # A folder's own metadata is kept as it is live only where it holds chosen paths and is
    # not itself brought back: "etc etc/ssl" restores etc whole.
    return outermost(checked)


def outermost(paths: Sequence[str]) -> list[str]:
    """Each of `paths` that is not inside another of them, once, in their order."""
    given = set(paths)
    return [
        path
        for path in dict.fromkeys(paths)
        if not any(folder in given for folder in _folders_above(path))
    ]


def _folders_above(path: str) -> Iterator[str]:
    parts = path.split("/")
    return ("/".join(parts[:end]) for end in range(1, len(parts)))


class LeftAsTheyAre:
    """What a restore leaves as it is in the live folder: what the environment excludes
    and, in a selective restore of `only` some paths, every path that is neither one of
    them, inside one, nor a folder that holds one. Matches as `Excludes` does."""

    def __init__(self, excludes: Excludes, only: Sequence[str] | None = None) -> None:
        self.excludes = excludes
        self.only = list(only) if only else None

    def __bool__(self) -> bool:
        return bool(self.excludes) or self.only is not None

    def selected(self, path: str) -> bool:
        """Whether a selective restore brings `path` back (always, in a whole restore)."""
        return self.only is None or any(
            path == chosen or path.startswith(chosen + "/") for chosen in self.only
        )

    def holds_selected(self, path: str) -> bool:
        """Whether `path` is a folder that holds a path the restore brings back."""
        return self.only is not None and any(chosen.startswith(path + "/") for chosen in self.only)

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.excludes.matches(path, is_dir):
            return True
        return not self.selected(path) and not self.holds_selected(path)
