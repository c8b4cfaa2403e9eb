"""What another program does to an environment's folder while a backup of it runs."""

import random
import threading
from collections.abc import Callable
from pathlib import Path


def after_the_backup_scan(monkeypatch, change) -> None:
    """Have `change()` run as another program would, once a backup has listed the folder
    and before it reads the files."""
    from envops_desktop.service import backups

    real_scan = backups.quick_scan

    def scan_then_change(*args, **kwargs):
        scan = real_scan(*args, **kwargs)
        change()
        return scan

    monkeypatch.setattr(backups, "quick_scan", scan_then_change)


def once_listed(monkeypatch, folder: Path, change: Callable[[], None]) -> None:
    """Have `change()` run as another program would, once a scan has listed `folder` and
    before it goes on to what the folder holds."""
    from envops_desktop.service import scanning

    list_folder = scanning._listing

    def list_then_change(directory: str, follow: bool):
        listed = list_folder(directory, follow)
        if Path(directory) == folder:
            change()
        return listed

    monkeypatch.setattr(scanning, "_listing", list_then_change)


class _Meanwhile:
    """Another program at work: `step()` done again and again on a thread of its own, with
    pauses of up to `pause` seconds drawn from `rng`, from entering the `with` to leaving it."""

    def __init__(self, step: Callable[[], None], rng: random.Random, pause: float = 0.0005):
        self._step, self._rng, self._pause = step, rng, pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._step()
            self._stop.wait(self._rng.random() * self._pause)

    def __enter__(self) -> "_Meanwhile":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def restored_copies_of_backups_taken_while(
    service, environment: str, step: Callable[[], None], rng: random.Random, copies: Path
) -> list[Path]:
    """Four backups of `environment` taken while another program does `step()` again and
    again, each restored to a folder of its own under `copies`: those folders."""
    with _Meanwhile(step, rng):
        backups = [service.create_backup(environment) for _ in range(4)]
    return [service.restore_to_folder(b.id, copies / f"restored{n}") for n, b in enumerate(backups)]
