r"""Which paths of an environment are excluded: glob patterns such as `logs/`, `*.tmp`,
`cache/**`, with the meanings gitignore gives them.

- A pattern ending in `/` matches folders only (and so everything in them).
- A pattern with no other `/` matches a name at any depth (`*.tmp`, `logs/`).
- Any other pattern is anchored at the environment's folder (`cache/**`, `conf.d/*.bak`,
  `/logs/` for the top folder's logs alone).
- `*`, `?` and `[a-z]` never cross a `/`. `**/` is any number of folders, none included
  (`**/cache`, `a/**/b`); a trailing `/**` is everything inside.
- `!` makes a pattern take back what those before it excluded, but nothing inside an
  excluded folder. A line starting with `#` is a comment; `\` makes the next character
  plain (`\#`, `\!`, `\*`, and `\ ` for a space at either end, which is dropped).
"""

import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.paths import relative_path_problem


def _regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        whole_part = i == 0 or glob[i - 1] == "/"
        if glob.startswith("**", i) and whole_part and glob[i + 2 : i + 3] in ("", "/"):
            at_end = i + 2 == len(glob)
            out.append(".*" if at_end else "(?:.*/)?")  # everything inside; or any folders
            i += 2 if at_end else 3
        elif glob[i] == "*":
            while glob.startswith("*", i):  # other runs of asterisks are one, as in git
                i += 1
            out.append("[^/]*")
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and (bracket := _bracket(glob, i)) is not None:
            out.append(bracket[0])
            i = bracket[1]
        elif glob[i] == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def _bracket(glob: str, start: int) -> tuple[str, int] | None:
    """The regex of the bracket expression at `start` (`[a-z]`, `[!0-9]`, `[]x]`) and where
    it ends; None where it does not close, so that `[` is a plain character."""
    i = start + 1
    negated = glob[i : i + 1] in ("!", "^")
    i += negated
    first = i
    while i < len(glob) and (glob[i] != "]" or i == first):
        i += 1 + (glob[i] == "\\")
    if i >= len(glob):
        return None
    members = "".join(
        "-" if char == "-" else re.escape(char) for char in glob[first:i].replace("\\", "")
    )
    # Never a "/", negated or not: a bracket matches one character of a name.
    regex = f"[^/{members}]" if negated else f"(?!/)[{members}]"
    try:
        re.compile(regex)
    except re.error:  # a range backwards ("[z-a]"): its characters are plain, not a crash
        return None
    return regex, i + 1


class _Rule(NamedTuple):
    regex: re.Pattern[str]
    folders_only: bool
    anchored: bool  # matched against the whole path, not the name
    negated: bool


def _trimmed(line: str) -> str:
    """`line` without the spaces around it, but one a backslash escapes: gitignore drops
    trailing spaces unless quoted (`name\\ `, a name that ends in a space)."""
    text = line.lstrip()
    kept = text.rstrip()
    escaped = (len(kept) - len(kept.rstrip("\\"))) % 2 == 1
    return text[: len(kept) + 1] if escaped and len(kept) < len(text) else kept


def _rule(line: str) -> _Rule | None:
    """One pattern as gitignore reads it; None for a blank line or a comment."""
    pattern = _trimmed(line)
    if not pattern or pattern.startswith("#"):
        return None
    negated = pattern.startswith("!")
    body = pattern[negated:]
    folders_only = body.endswith("/")
    body = body.rstrip("/")
    anchored = "/" in body
    return _Rule(re.compile(_regex(body.lstrip("/"))), folders_only, anchored, negated)


def check_patterns(patterns: Sequence[str]) -> list[str]:
    """The patterns, stripped, or InvalidInputError naming one that cannot be one."""
    checked = []
    for raw in patterns:
        pattern = _trimmed(raw)
        if not pattern:
            continue
        body = pattern.removeprefix("!").strip("/")
        if not pattern.startswith("#") and (".." in body.split("/") or body in ("", "**")):
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
        # The last pattern that matches a path decides, as in gitignore: tried from the end.
        self._rules = [rule for line in reversed(self.patterns) if (rule := _rule(line))]

    def __bool__(self) -> bool:
        return bool(self._rules)

    @property
    def in_effect(self) -> list[str]:
        """The patterns, stripped, without blank lines and notes: what to name to a user."""
        return [_trimmed(line) for line in self.patterns if _rule(line)]

    def matches(self, path: str, is_dir: bool) -> bool:
        name = path.rpartition("/")[2]
        for regex, folders_only, anchored, negated in self._rules:
            if (is_dir or not folders_only) and regex.fullmatch(path if anchored else name):
                return not negated
        return False

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
        # Not stripped as a typed pattern is: a name may begin or end with a space.
        path = path.rstrip("/")
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
        # Each path is looked up by its own folders, not held against every chosen path:
        # one file unticked in a folder of 20,000 changed ones chooses the other 19,999,
        # and a restore of them took minutes that way.
        self._chosen = frozenset(self.only or ())
        self._holding = frozenset(
            folder for chosen in self.only or () for folder in _folders_above(chosen)
        )

    def __bool__(self) -> bool:
        return bool(self.excludes) or self.only is not None

    def selected(self, path: str) -> bool:
        """Whether a selective restore brings `path` back (always, in a whole restore):
        it is a chosen path or inside one."""
        return (
            self.only is None
            or path in self._chosen
            or any(folder in self._chosen for folder in _folders_above(path))
        )

    def holds_selected(self, path: str) -> bool:
        """Whether `path` is a folder that holds a path the restore brings back."""
        return path in self._holding

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.excludes.matches(path, is_dir):
            return True
        return not self.selected(path) and not self.holds_selected(path)
