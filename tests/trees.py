"""Building configuration trees and describing them exactly, for before/after comparisons."""

import hashlib
import os
import random
import re
import shutil
import socket
import stat
import struct
import subprocess
from pathlib import Path

import pytest

# rsync judges a restored tree; where it is missing, those tests cannot run.
needs_rsync = pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")


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
            elif not stat.S_ISREG(st.st_mode):  # a FIFO would wait for a writer if read
                description[rel] = (stat.filemode(st.st_mode)[0], mode, st.st_mtime_ns)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                description[rel] = ("file", mode, st.st_mtime_ns, digest)
    return description


def made_long_ago(root: Path) -> None:
    """Give `root` and every entry under it (or `root` alone, a file) an mtime of 2001:
    files written this instant are "racily clean", and a backup never caches their hashes.
    Setting a time moves each one's ctime, which the hash cache matches on too."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            os.utime(path, ns=(10**18, 10**18))


def mess_up(root: Path) -> None:
    """Change, add and delete files the way a bad deployment would."""
    (root / "app.yaml").write_text("server:\n  port: 1\n")
    (root / "conf.d" / "cache.ini").unlink()
    (root / "conf.d" / "new.ini").write_text("[new]\n")
    os.chmod(root / "hooks.sh", 0o644)
    (root / "db.ini").unlink()
    (root / "empty").rmdir()


# A POSIX ACL as Linux stores it in `system.posix_acl_access`: version 2, then (tag, perm, id)
# entries in tag order. Built by hand so the tests need no `setfacl`.
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_MASK, _ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
_NO_ID = 0xFFFFFFFF


def posix_acl(owner: int, named_user: int, uid: int, group: int, mask: int, other: int) -> bytes:
    """An access ACL granting `named_user` to `uid` besides the usual owner/group/other."""
    entries = [
        (_ACL_USER_OBJ, owner, _NO_ID),
        (_ACL_USER, named_user, uid),
        (_ACL_GROUP_OBJ, group, _NO_ID),
        (_ACL_MASK, mask, _NO_ID),
        (_ACL_OTHER, other, _NO_ID),
    ]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


SPARSE_SIZE = 256 << 20


def snapshot(root: Path, copy: Path) -> Path:
    """A copy of `root` as it is, to compare with afterwards. `cp -a`, as rsync -aHAX left
    empty folders with the time it made them (rsync 3.2.7)."""
    subprocess.run(["cp", "-a", f"{root}/.", str(copy)], check=True)
    return copy


def folder_times(root: Path) -> dict[Path, int]:
    """The time of `root` and of each folder in it, to the nanosecond."""
    folders = [root, *(path for path in root.rglob("*") if path.is_dir() and not path.is_symlink())]
    return {path.relative_to(root): path.stat().st_mtime_ns for path in folders}


def set_folder_times(root: Path, times: dict[Path, int]) -> None:
    """Give the folders under `root` the times `folder_times` read (those still there)."""
    for folder, ns in times.items():
        if (root / folder).is_dir():
            os.utime(root / folder, ns=(ns, ns))


def make_tree_of_every_kind(root: Path, as_root: bool) -> None:
    """A configuration tree holding every kind of entry a restore must keep as `rsync -aHAX`
    does: owners and groups (as root), setuid and sticky bits, xattrs, an access and a
    default ACL, hardlinks across folders (of a file, a link and a FIFO), a sparse file and one
    that is all hole, a FIFO, a socket, links."""
    make_config_tree(root)
    etc = root / "etc"
    (etc / "ssl" / "private").mkdir(parents=True)
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "ssl" / "private" / "server.pem").write_bytes(os.urandom(900))
    (root / "bin").mkdir()
    (root / "bin" / "helper").write_bytes(b"\x7fELF" + os.urandom(300))
    (root / "shared").mkdir()
    os.chmod(root / "shared", 0o1777)
    (root / "acl.conf").write_text("who may read this is in the ACL\n")
    os.setxattr(root / "acl.conf", "system.posix_acl_access", posix_acl(6, 4, 4242, 4, 4, 0))
    os.chmod(root / "acl.conf", 0o640)
    (root / "shared" / "team").mkdir()
    default_acl = posix_acl(7, 5, 4242, 5, 5, 0)
    os.setxattr(root / "shared" / "team", "system.posix_acl_default", default_acl)
    (root / "tagged.ini").write_text("[tagged]\n")
    os.setxattr(root / "tagged.ini", "user.origin", b"deploy-42")
    os.setxattr(root / "tagged.ini", "user.empty", b"")
    os.setxattr(root / "conf.d", "user.note", b"folder attribute")
    (root / "conf.d" / "main.cf").write_text("linked = twice\n")
    os.link(root / "conf.d" / "main.cf", etc / "main.cf")
    os.link(root / "conf.d" / "main.cf", root / "main.cf.link")
    with open(root / "sparse.img", "wb") as sparse:
        sparse.seek(4096 * 10)
        sparse.write(b"data in the middle")
        sparse.truncate(SPARSE_SIZE)
    with open(root / "all-hole.img", "wb") as hole:  # a size and no data at all
        hole.truncate(SPARSE_SIZE)
    os.mkfifo(root / "control.fifo", 0o620)
    # Symlinks and FIFOs with several names, as `cp -al` leaves a tree's links.
    os.link(root / "db.ini", etc / "db.ini", follow_symlinks=False)
    os.link(root / "control.fifo", etc / "control.fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "daemon.sock"))
    sock.close()
    os.chmod(root / "bin" / "helper", 0o4755)
    if as_root:
        os.chown(etc / "shadow", 0, 42)  # group shadow on Debian
        os.chmod(etc / "shadow", 0o640)
        os.chown(etc / "ssl" / "private", 0, 4242)  # a group with no name here
        os.chmod(etc / "ssl" / "private", 0o710)
        os.chown(etc / "ssl" / "private" / "server.pem", 4242, 4242)
        os.chown(root / "bin" / "helper", 1, 1)  # daemon:daemon
        os.chmod(root / "bin" / "helper", 0o4755)  # chown cleared setuid
        os.lchown(root / "db.ini", 2, 2)
        os.chown(root / "control.fifo", 4243, 0)
        os.chown(root, 1, 4242)
    os.chmod(root, 0o750)


# For `rsync_differences`: times compared to the whole second, all GNU tar's own format keeps.
WHOLE_SECONDS = "--modify-window=0"


def rsync_differences(original: Path, restored: Path, *options: str) -> list[str]:
    """What `rsync -aHAXn --itemize-changes` (with `options`, such as `--exclude=logs/`)
    would change to make `restored` like `original`: nothing, for a faithful restore.
    Times to the nanosecond, as a restore sets them (rsync's default compares whole
    seconds, which hides a time a little off except when a second turns over)."""
    window = [] if any(o.startswith("--modify-window") for o in options) else ["--modify-window=-1"]
    result = subprocess.run(
        ["rsync", "-aHAXn", "--itemize-changes", *window, *options, f"{original}/", f"{restored}/"],
        capture_output=True,
        check=True,
    )
    return result.stdout.decode(errors="backslashreplace").splitlines()


def changed_by_rsync(before: Path, after: Path, *options: str) -> set[str]:
    """The paths `rsync -aHAXn --itemize-changes --delete` (with `options`, such as `-c` to
    compare contents) would change to make `before` like `after`: "." for the folder itself.
    Times to the nanosecond, as a restore sets them (rsync's default compares whole
    seconds)."""
    return set(itemized_by_rsync(before, after, *options))


def itemized_by_rsync(before: Path, after: Path, *options: str) -> dict[str, str]:
    """`changed_by_rsync`'s paths, each with rsync's item flags for it ("hf         " for a
    file that is only linked to another name)."""
    paths = {}
    for line in rsync_differences(after, before, "--delete", "--modify-window=-1", *options):
        path = line[12:] if not line.startswith("*deleting") else line.split(None, 1)[1]
        path = path.split(" -> ")[0].split(" => ")[0].rstrip("/")
        paths[_unescaped(path) or "."] = line[:11]
    return paths


def _unescaped(path: str) -> str:
    # rsync writes a byte that is not UTF-8 as \#ooo (octal); a name read by Python holds it
    # as a lone surrogate.
    return re.sub(r"\\#([0-7]{3})", lambda m: os.fsdecode(bytes([int(m[1], 8)])), path)
