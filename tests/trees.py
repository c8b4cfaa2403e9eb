"""Building configuration trees and describing them exactly, for before/after comparisons."""

import hashlib
import os
import random
import stat
from pathlib import Path


def make_config_tree(root: Path, files: int = 0, seed: int = 7) -> None:
    """Write a small but realistic configuration directory (plus `files` extra seeded files)."""
    (root / "conf.d").mkdir(parents=True)
    (root / "certs").mkdir()
    (root / "plugins" / "enabled").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "VERSION").write_text("4.2.0\n")
    (root / "app.yaml").write_text("server:\n  port: 8443\n  workers: 8\nlog_level: info\n")
    (root / "conf.d" / "database.ini").write_text("[db]\nhost=db.internal\npool=20\n")
    (root / "conf.d" / "cache.ini").write_text("[cache]\nttl=300\n")
    (root / "certs" / "server.key").write_bytes(os.urandom(1700))
    os.chmod(root / "certs" / "server.key", 0o600)
    (root / "plugins" / "audit.so").write_bytes(bytes(range(256)) * 64)
    os.symlink("../audit.so", root / "plugins" / "enabled" / "audit.so")
    os.symlink("conf.d/database.ini", root / "db.ini")
    (root / "hooks.sh").write_text("#!/bin/sh\necho reloaded\n")
    os.chmod(root / "hooks.sh", 0o755)
    os.chmod(root / "certs", 0o700)
    rng = random.Random(seed)
    for index in range(files):
        folder = root / "generated" / f"group{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.choice([100, 2_000, 30_000, 200_000])
        (folder / f"file{index}.conf").write_bytes(rng.randbytes(size))


def describe_tree(root: Path) -> dict[str, tuple]:
    """Every entry under root (and root's mode) with kind, mode, mtime and content or target."""
    root_stat = root.stat()
    description: dict[str, tuple] = {
        ".": ("dir", stat.S_IMODE(root_stat.st_mode), root_stat.st_mtime_ns)
    }
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                description[rel] = ("symlink", os.readlink(path), st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                description[rel] = ("dir", mode, st.st_mtime_ns)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                description[rel] = ("file", mode, st.st_mtime_ns, digest)
    return description


def mess_up(root: Path) -> None:
    """Change, add and delete files the way a bad deployment would."""
    (root / "app.yaml").write_text("server:\n  port: 1\n")
    (root / "conf.d" / "cache.ini").unlink()
    (root / "conf.d" / "new.ini").write_text("[new]\n")
    os.chmod(root / "hooks.sh", 0o644)
    (root / "db.ini").unlink()
    (root / "empty").rmdir()
