"""Links and folders changed again and again while backups list the folder, as a deployment
swaps its `current` link (`ln -sfn`: a new link renamed over the old one) and a spool or a
deploy job adds files: each link comes back with a target and a time it really had
together, each folder with names and a time it really had together, never the one of one
moment with the other of another.

Folders only gain names here: a name removed after its folder was listed is left out of the
backup and said so, while the folder keeps the time it was listed at, so removals have a
rule of their own (`test_changing_files.py`). Seeded, so a failure names the seed that makes
it again.
"""

import os
import random
from pathlib import Path

import pytest

from tests.meanwhile import restored_copies_of_backups_taken_while

pytestmark = pytest.mark.reliability

SEEDS = range(3)


class _LinkSwaps:
    """40 links among files, swapped at random for new ones, each with a target and a time
    of its own; every state each link passes through is noted."""

    def __init__(self, root: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.paths: list[Path] = []
        for index in range(40):
            folder = root / f"site{index % 4}"
            folder.mkdir(parents=True, exist_ok=True)
            # Files beside the links, so that a scan spends time between its listings.
            for number in range(25):
                (folder / f"f{index}-{number}.conf").write_text(f"{index} {number}\n")
            os.symlink("releases/r0", folder / f"current{index}")
            self.paths.append(folder / f"current{index}")
        self.states = {link: {self.state(link)} for link in self.paths}
        self.changes = 0

    @staticmethod
    def state(link: Path) -> tuple[str, int]:
        return os.readlink(link), link.lstat().st_mtime_ns

    def step(self) -> None:
        link = self.rng.choice(self.paths)
        self.changes += 1
        target = f"releases/r{self.changes}"
        when = self.rng.randrange(1_500_000_000, 1_800_000_000) * 10**9 + self.changes
        fresh = link.with_name(link.name + ".new")
        os.symlink(target, fresh)
        os.utime(fresh, ns=(when, when), follow_symlinks=False)
        self.states[link].add((target, when))  # noted before it can be seen
        os.replace(fresh, link)


class _FolderAdditions:
    """Nine folders (the environment's own among them) of files, added to at random, and
    now and then given a time by a tool; every state each folder passes through is noted
    (this alone changes them)."""

    def __init__(self, root: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.paths = [root]
        for index in range(8):
            folder = root / f"queue{index}"
            folder.mkdir(parents=True)
            for number in range(40):  # so that a scan spends time between its listings
                (folder / f"f{number}.conf").write_text(f"{index} {number}\n")
            self.paths.append(folder)
        self.states = {folder: {self.state(folder)} for folder in self.paths}
        self.changes = 0

    @staticmethod
    def state(folder: Path) -> tuple[frozenset[str], int]:
        return frozenset(os.listdir(folder)), folder.stat().st_mtime_ns

    def step(self) -> None:
        folder = self.rng.choice(self.paths)
        self.changes += 1
        (folder / f"added{self.changes}.conf").write_text(f"{self.changes}\n")
        self.states[folder].add(self.state(folder))
        if self.rng.random() < 0.3:
            when = self.rng.randrange(1_500_000_000, 1_800_000_000) * 10**9 + self.changes
            os.utime(folder, ns=(when, when))
            self.states[folder].add(self.state(folder))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("changes", [_LinkSwaps, _FolderAdditions], ids=["links", "folders"])
def test_each_path_changed_during_backups_comes_back_in_a_state_it_had(
    service, tmp_path, seed, changes
):
    root = tmp_path / "environments" / "busy"
    root.mkdir(parents=True)
    (root / "VERSION").write_text("1.0\n")
    changer = changes(root, seed)  # what it notes first is the tree as it is now
    service.add_environment("busy", root, version="1.0")

    for restored in restored_copies_of_backups_taken_while(
        service, "busy", changer.step, changer.rng, tmp_path
    ):
        for path in changer.paths:
            again = restored / path.relative_to(root)
            assert changer.state(again) in changer.states[path], f"seed {seed}: {again}"
    assert changer.changes > len(changer.paths), "hardly a change: the test proves nothing"
