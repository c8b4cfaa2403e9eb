"""Exclude patterns exclude exactly the files git would ignore, as the README promises:
seeded random patterns (negations, anchors, `**`, brackets, escapes, comments) over a tree
of names that look like them, judged by `git ls-files --ignored`."""

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.excludes import Excludes, check_patterns
from envops_desktop.service.scanning import scan_tree

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

NAMES = ["a", "b", "logs", "cache", "c1", "c2", "x.log", "keep.log", "data.tmp", "#h", "!n", "k"]
PIECES = ["*", "?", "**", "a", "b", "logs", "cache", "*.log", "x.*", "c[0-9]", "c[!1]", "[ab]"]
PIECES += ["k*", "\\#h", "\\!n", "*.tmp", "keep.log", "c?"]


def _tree(root: Path, rng: random.Random) -> list[str]:
    """Folders and files of those names, three deep; every folder holds a file, since git
    lists files. The files' paths."""
    files: list[str] = []

    def fill(folder: Path, depth: int) -> None:
        names = rng.sample(NAMES, rng.randint(2, 5))
        for index, name in enumerate(names):
            if depth < 3 and (index == 0 or rng.random() < 0.4):
                (folder / name).mkdir()
                fill(folder / name, depth + 1)
            else:
                (folder / name).write_text("")
                files.append((folder / name).relative_to(root).as_posix())

    fill(root, 0)
    return sorted(files)


def _pattern(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return "# " + rng.choice(PIECES)  # a comment
    body = "/".join(rng.choice(PIECES) for _ in range(rng.choice([1, 1, 1, 2, 2, 3])))
    return (
        ("!" if rng.random() < 0.2 else "")
        + ("/" if rng.random() < 0.15 else "")
        + body
        + ("/" if rng.random() < 0.3 else "")
    )


def _ignored_by_git(root: Path, patterns: list[str], scratch: Path) -> set[str]:
    rules = scratch / "excludes"
    rules.write_text("".join(f"{p}\n" for p in patterns))
    listed = subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            f"--exclude-from={rules}",
        ],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return {path for path in listed.split("\0") if path}


@pytest.mark.parametrize("seed", range(150))
def test_random_patterns_exclude_what_git_ignores(tmp_path, seed):
    rng = random.Random(seed)
    root = tmp_path / "env"
    root.mkdir()
    files = _tree(root, rng)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    patterns = [p for p in (_pattern(rng) for _ in range(rng.randint(1, 5))) if _accepted(p)]
    excludes = Excludes(patterns)

    ignored = _ignored_by_git(root, patterns, tmp_path)
    excluded = {path for path in files if excludes.covers(path, is_dir=False)}

    assert excluded == ignored, patterns
    # And a backup's scan leaves out just those files.
    shutil.rmtree(root / ".git")
    scanned = set(scan_tree(root, excludes).files.paths)
    assert {path for path in files if path not in scanned} == ignored, patterns


def _accepted(pattern: str) -> bool:
    try:
        check_patterns([pattern])
    except InvalidInputError:
        return False
    return True
