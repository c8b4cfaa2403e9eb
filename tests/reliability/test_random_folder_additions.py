"""Files added to folders again and again while backups read them, as a spool or a deploy
job adds them: each folder comes back with names and a time it really had together, never
the names of one moment with the time of another.

Only additions: a name removed after its folder was listed is left out of the backup and
said so, while the folder keeps the time it was listed at, so removals have a rule of their
own (`test_changing_files.py`). Seeded, so a failure names the seed that makes it again.
"""

import os
import random
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

SEEDS = range(3)
FOLDERS = 8
BACKUPS = 4


def _state(folder: Path) -> tuple[frozenset[str], int]:
    return frozenset(os.listdir(folder)), folder.stat().st_mtime_ns


class _Adder:
    """Adds files to random folders, and now and then sets a folder's time, noting every
    state each folder passes through (it alone changes them)."""

    def __init__(self, folders: list[Path], seed: int) -> None:
        self.folders = folders
        self.rng = random.Random(seed)
        self.states = {folder: {_state(folder)} for folder in folders}
        self.added = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _add(self) -> None:
        folder = self.rng.choice(self.folders)
        self.added += 1
        (folder / f"added{self.added}.conf").write_text(f"{self.added}\n")
        self.states[folder].add(_state(folder))
        if self.rng.random() < 0.3:  # a tool that sets the folder's time after it
            when = self.rng.randrange(1_500_000_000, 1_800_000_000) * 10**9 + self.added
            os.utime(folder, ns=(when, when))
            self.states[folder].add(_state(folder))

    def _run(self) -> None:
        while not self.stop.is_set():
            self._add()
            self.stop.wait(self.rng.random() * 0.0005)

    def __enter__(self) -> "_Adder":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.parametrize("seed", SEEDS)
def test_every_folder_added_to_during_backups_comes_back_as_it_was_once(service, tmp_path, seed):
    root = tmp_path / "environments" / "spool"
    folders = [root]
    for index in range(FOLDERS):
        folder = root / f"queue{index}"
        folder.mkdir(parents=True)
        for number in range(40):  # so that a scan spends time between its listings
            (folder / f"f{number}.conf").write_text(f"{index} {number}\n")
        folders.append(folder)
    (root / "VERSION").write_text("1.0\n")
    service.add_environment("spool", root, version="1.0")

    with _Adder(folders, seed) as adder:
        backups = [service.create_backup("spool") for _ in range(BACKUPS)]

    for number, backup in enumerate(backups):
        restored = tmp_path / f"restored{number}"
        service.restore_to_folder(backup.id, restored)
        for folder in folders:
            again = restored / folder.relative_to(root)
            assert _state(again) in adder.states[folder], f"seed {seed}: {again}"
    assert adder.added > FOLDERS * 4, "hardly anything was added: the test proves nothing"
