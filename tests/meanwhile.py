"""What another program does to an environment's folder while a backup of it runs."""


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
