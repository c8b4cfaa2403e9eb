"""What another program does to an environment's folder while a backup of it runs."""

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
