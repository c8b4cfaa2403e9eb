"""Random changes to files, some with several names, while a backup reads them: each name
comes back in a state it really had, its content, mode, owner, time and holes together, or
the backup says it kept changing while it was read; a name removed meanwhile is restored as
read or named as left out, and one added meanwhile is not in the backup.

Each change here is atomic (a file made whole beside its name and renamed over it, one
chmod, chown, utime or unlink), so every state a file passed through is known. Seeded, so
a failure names the seed that makes it again.
"""

import hashlib
import os
import random
import stat
import threading
from pathlib import Path

import pytest

from envops_desktop.service import parallel, scanning
from envops_desktop.service.scanning import REMOVED_NOTE
from tests.meanwhile import after_the_backup_scan

pytestmark = pytest.mark.reliability

AS_ROOT = os.geteuid() == 0
SEEDS = range(3)
FILES = 60


def _state(path: Path) -> tuple:
    """What a restore must bring back of the file at `path`, all together."""
    st = path.stat()
    with open(path, "rb") as read:
        digest = hashlib.sha256(read.read()).hexdigest()
    return digest, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns


def _content(rng: random.Random) -> tuple[bytes, int]:
    """Bytes to write and, for a sparse file, the size to extend it to with a hole."""
    if rng.random() < 0.2:
        # Some past 4 MiB: read as a large file is, into a blob of its own.
        return rng.randbytes(rng.randrange(1, 4096)), rng.choice([1 << 20, 5 << 20])
    size = rng.choice([0, 13, 200, 5000, 70_000, 300_000])
    return rng.randbytes(size), 0


def _make(path: Path, rng: random.Random) -> None:
    body, sparse_size = _content(rng)
    with open(path, "wb") as out:
        if sparse_size and rng.random() < 0.5:  # data after a hole, or before one
            out.seek(sparse_size - len(body))
        out.write(body)
        if sparse_size:
            out.truncate(sparse_size)
    os.chmod(path, rng.choice([0o600, 0o640, 0o644, 0o755, 0o400]))
    if AS_ROOT:
        owner = rng.choice([0, 65534, 1000])
        os.chown(path, owner, owner)
    when = rng.randrange(1_500_000_000, 1_800_000_000) * 10**9 + rng.randrange(10**9)
    os.utime(path, ns=(when, when))


def _change(path: Path, rng: random.Random) -> None:
    """One atomic change to the file at `path`."""
    kind = rng.choice(["replace", "replace", "chmod", "chown", "touch"])
    if kind == "replace":
        scratch = path.with_name(path.name + ".new")
        _make(scratch, rng)
        os.replace(scratch, path)
    elif kind == "chmod":
        os.chmod(path, rng.choice([0o600, 0o644, 0o700, 0o444]))
    elif kind == "chown" and AS_ROOT:
        owner = rng.choice([0, 65534, 1000])
        os.chown(path, owner, owner)
    else:
        when = rng.randrange(1_500_000_000, 1_800_000_000) * 10**9 + rng.randrange(10**9)
        os.utime(path, ns=(when, when))


class _Changer:
    """Changes, removes and adds random files, one at a time, noting every state each one
    passes through."""

    def __init__(self, files: list[Path], seed: int) -> None:
        self.files = list(files)  # those there now
        self.rng = random.Random(seed)
        self.states = {path: {_state(path)} for path in files}
        self.removed: set[Path] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def burst(self) -> None:
        """A few changes at once (between the backup's scan and its reads), then more
        changes on a thread of their own while it reads."""
        for _ in range(self.rng.randrange(5, 25)):
            self._one()
        self.thread.start()

    def _one(self) -> None:
        path = self.rng.choice(self.files)
        roll = self.rng.random()
        if roll < 0.05 and len(self.files) > 1:
            path.unlink()
            self.files.remove(path)
            self.removed.add(path)
            return
        if roll < 0.1:  # a new file beside it, made whole and renamed into place
            path = path.with_name(f"added{len(self.states)}.conf")
            _make(path.with_name(path.name + ".new"), self.rng)
            os.replace(path.with_name(path.name + ".new"), path)
            self.files.append(path)
            self.states[path] = {_state(path)}
            return
        was = path.stat().st_ino
        _change(path, self.rng)
        # A chmod, chown or utime changes every name of the file.
        files = {was, path.stat().st_ino}
        for name in self.files:
            if name.stat().st_ino in files:
                self.states[name].add(_state(name))

    def _run(self) -> None:
        while not self.stop.is_set():
            self._one()
            self.stop.wait(self.rng.random() * 0.002)

    def finish(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


@pytest.mark.parametrize("helpers", ["threads", "processes"])
@pytest.mark.parametrize("settled", [False, True], ids=["just-written", "long-settled"])
@pytest.mark.parametrize("seed", SEEDS)
def test_every_file_backed_up_while_it_changes_comes_back_in_a_state_it_had(
    service, tmp_path, monkeypatch, seed, settled, helpers
):
    if settled:  # the backup trusts each file's ctime to say whether it is the one scanned
        monkeypatch.setattr(scanning, "RACY_NS", 0)
    if helpers == "processes":  # their answers cross a pipe
        monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 0)
    rng = random.Random(seed)
    root = tmp_path / "environments" / "busy"
    files = []
    for index in range(FILES):
        path = root / f"d{index % 5}" / f"f{index}.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        if files and rng.random() < 0.15:  # another name of a file
            os.link(rng.choice(files), path)
        else:
            _make(path, rng)
        files.append(path)
    (root / "VERSION").write_text("1.0\n")
    service.add_environment("busy", root, version="1.0")
    changer = _Changer(files, seed)
    after_the_backup_scan(monkeypatch, changer.burst)
    try:
        backup = service.create_backup("busy")
    finally:
        changer.finish()
    monkeypatch.undo()

    restored = tmp_path / "restored"
    service.restore_to_folder(backup.id, restored)

    kept_changing, skipped = set(backup.changed_while_read), set(backup.skipped)
    for path in files:
        name = path.relative_to(root).as_posix()
        again = restored / name
        if not again.exists():
            assert path in changer.removed, f"seed {seed}: {name} was not restored"
            assert name + REMOVED_NOTE in skipped, f"seed {seed}: {name} is not named"
        elif name not in kept_changing:
            assert _state(again) in changer.states[path], f"seed {seed}: {name}"
    made = {p.relative_to(restored) for p in restored.rglob("*") if p.is_file()}
    assert made <= {p.relative_to(root) for p in files} | {Path("VERSION")}, f"seed {seed}"
    assert service.check_store().healthy
