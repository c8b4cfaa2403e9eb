"""Links swapped again and again while backups read the folder, as a deployment swaps its
`current` link (`ln -sfn`: a new link renamed over the old one): each link comes back with a
target and a time it really had together, never one link's target with another's time.

Seeded, so a failure names the seed that makes it again.
"""

import os
import random
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

SEEDS = range(3)
LINKS = 40
BACKUPS = 4


def _state(link: Path) -> tuple[str, int]:
    return os.readlink(link), link.lstat().st_mtime_ns


class _Swapper:
    """Swaps random links for new ones, each with a target and a time of its own, noting
    every state each link passes through."""

    def __init__(self, links: list[Path], seed: int) -> None:
        self.links = links
        self.rng = random.Random(seed)
        self.states = {link: {_state(link)} for link in links}
        self.swaps = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _swap(self) -> None:
        link = self.rng.choice(self.links)
        self.swaps += 1
        target = f"releases/r{self.swaps}"
        when = self.rng.randrange(1_500_000_000, 1_800_000_000) * 10**9 + self.swaps
        fresh = link.with_name(link.name + ".new")
        os.symlink(target, fresh)
        os.utime(fresh, ns=(when, when), follow_symlinks=False)
        self.states[link].add((target, when))  # noted before it can be seen
        os.replace(fresh, link)

    def _run(self) -> None:
        while not self.stop.is_set():
            self._swap()
            self.stop.wait(self.rng.random() * 0.0005)

    def __enter__(self) -> "_Swapper":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.parametrize("seed", SEEDS)
def test_every_link_swapped_during_backups_comes_back_as_it_was_once(service, tmp_path, seed):
    root = tmp_path / "environments" / "deploy"
    links = []
    for index in range(LINKS):
        folder = root / f"site{index % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        # Files beside the links, so that a scan spends time between its listings.
        for number in range(25):
            (folder / f"f{index}-{number}.conf").write_text(f"{index} {number}\n")
        link = folder / f"current{index}"
        os.symlink("releases/r0", link)
        links.append(link)
    (root / "VERSION").write_text("1.0\n")
    service.add_environment("deploy", root, version="1.0")

    with _Swapper(links, seed) as swapper:
        backups = []
        for _ in range(BACKUPS):
            backups.append(service.create_backup("deploy"))

    for number, backup in enumerate(backups):
        restored = tmp_path / f"restored{number}"
        service.restore_to_folder(backup.id, restored)
        for link in links:
            again = restored / link.relative_to(root)
            assert _state(again) in swapper.states[link], f"seed {seed}: {again}"
    assert swapper.swaps > LINKS, "the links were hardly swapped: the test proves nothing"
