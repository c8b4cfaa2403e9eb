"""The tools we are measured against, and ours, behind one small interface.

Each tool keeps its backups in a store folder (a tar file's folder, a restic or borg
repository, an EnvOps data dir) and is driven as a whole process, the way an operator runs it.
restic and borg run as packaged by Debian with their defaults, except that borg is told not
to encrypt (`-e none`), as EnvOps does not; restic cannot be told so.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.process_tree import Measurement, measure, wait_while_running

_QUIET_ENV = {**os.environ, "RESTIC_PASSWORD": "bench", "BORG_PASSPHRASE": ""}
_QUIET_ENV["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "yes"
_QUIET_ENV["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes"


def ensure_installed() -> dict[str, str]:
    """Install restic, borg and zstd from Debian's packages if missing; say what is missing."""
    wanted = {"restic": "restic", "borg": "borgbackup", "zstd": "zstd"}
    missing = [package for command, package in wanted.items() if not shutil.which(command)]
    if missing and shutil.which("apt-get") and os.geteuid() == 0:
        print(f"installing {' '.join(missing)} from Debian's packages…", file=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", *missing], check=False, capture_output=True
        )
    skipped = {}
    for command, package in wanted.items():
        if not shutil.which(command):
            skipped[command] = f"`{command}` is not installed (apt-get install {package})"
    return skipped


def tool_versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "not installed"

    return {
        "tar": first_line(["tar", "--version"]),
        "zstd": first_line(["zstd", "--version"]),
        "restic": first_line(["restic", "version"]),
        "borg": first_line(["borg", "--version"]),
    }


def _then_sync(argv: list[str]) -> list[str]:
    """A shell line that runs `argv`, then `sync`, timed as one."""
    return ["sh", "-c", '"$@" && sync', "sh", *argv]


class Tool:
    """One backup program: a store it creates, backups into it, restores out of it."""

    name = ""

    def __init__(self, store: Path) -> None:
        self.store = store

    def create(self, tree: Path) -> None:
        """Prepare an empty store for backups of `tree`."""

    def backup(self, tree: Path) -> Measurement:
        raise NotImplementedError

    def restore(self, tree: Path, destination: Path) -> Measurement:
        """Restore the latest backup into the empty folder `destination`."""
        raise NotImplementedError


class Tar(Tool):
    """`tar -cf` (or with zstd) of the whole tree; every backup is a full archive."""

    def __init__(self, store: Path, compress: bool, keep_all: bool = False) -> None:
        super().__init__(store)
        self.compress = compress
        # With what `rsync -aHAX` keeps and EnvOps restores: xattrs, ACLs, permissions.
        self._keep = ["--xattrs", "--acls"] if keep_all else []
        self.name = "tar -I zstd" if compress else "tar --xattrs --acls" if keep_all else "tar"
        self._count = 0

    def _archive(self) -> Path:
        return self.store / f"{self._count}.tar{'.zst' if self.compress else ''}"

    def create(self, tree: Path) -> None:
        self.store.mkdir(parents=True)

    def backup(self, tree: Path) -> Measurement:
        self._count += 1
        zstd = ["-I", "zstd"] if self.compress else []
        archive = str(self._archive())
        return measure(["tar", *zstd, *self._keep, "-cf", archive, "-C", str(tree), "."])

    def _extract(self, destination: Path) -> list[str]:
        zstd = ["-I", "zstd"] if self.compress else []
        extract = "-xpf" if self._keep else "-xf"
        return ["tar", *zstd, *self._keep, extract, str(self._archive()), "-C", str(destination)]

    def restore(self, tree: Path, destination: Path) -> Measurement:
        return measure(self._extract(destination))

    def restore_then_sync(self, tree: Path, destination: Path) -> Measurement:
        """The restore followed by `sync`: the restored files on disk (every tool here, EnvOps
        too, returns with some of them still in the page cache)."""
        return measure(_then_sync(self._extract(destination)))


class Restic(Tool):
    name = "restic"

    def _run(self, *args: str, cwd: Path | None = None) -> Measurement:
        return measure(["restic", "-q", "-r", str(self.store), *args], cwd=cwd, env=_QUIET_ENV)

    def create(self, tree: Path) -> None:
        self._run("init")

    def backup(self, tree: Path) -> Measurement:
        return self._run("backup", ".", cwd=tree)

    def restore(self, tree: Path, destination: Path) -> Measurement:
        return self._run("restore", "latest", "--target", str(destination))


class Borg(Tool):
    name = "borg"

    def __init__(self, store: Path) -> None:
        super().__init__(store)
        self._count = 0

    def create(self, tree: Path) -> None:
        measure(["borg", "init", "-e", "none", str(self.store)], env=_QUIET_ENV)

    def backup(self, tree: Path) -> Measurement:
        self._count += 1
        return measure(
            ["borg", "create", f"{self.store}::b{self._count}", "."], cwd=tree, env=_QUIET_ENV
        )

    def restore(self, tree: Path, destination: Path) -> Measurement:
        return measure(
            ["borg", "extract", f"{self.store}::b{self._count}"], cwd=destination, env=_QUIET_ENV
        )


class EnvOps(Tool):
    """Ours, through the `envops` command line, on a data dir of its own."""

    name = "envops"

    def __init__(self, store: Path, discard: Callable[[Path], None]) -> None:
        super().__init__(store)
        self._discard = discard  # where a replaced tree goes: deleting it would slow the next

    def _argv(self, *args: str) -> list[str]:
        # The installed command, as an operator runs it.
        envops = str(Path(sys.executable).with_name("envops"))
        return [envops, "--data-dir", str(self.store), *args]

    def _run(self, *args: str) -> Measurement:
        return measure(self._argv(*args))

    def create(self, tree: Path) -> None:
        self._run("env", "add", "bench", "--path", str(tree), "--version", "1")

    def backup(self, tree: Path) -> Measurement:
        return self._run("backup", "create", "bench")

    def latest_backup(self) -> str:
        out = subprocess.run(
            self._argv("backup", "list", "bench", "--json"), capture_output=True, check=True
        )
        return json.loads(out.stdout)[0]["id"]

    def restore(self, tree: Path, destination: Path) -> Measurement:
        # As tar restores: no backup of the folder first (it is empty here anyway).
        argv = ("restore", "bench", self.latest_backup(), "--yes", "--no-backup-first")
        return self._into_empty(tree, lambda: self._run(*argv))

    def restore_then_sync(self, tree: Path, destination: Path) -> Measurement:
        """`envops restore` followed by `sync`: the restore on disk, as its detached settler
        would see it before removing the previous configuration."""
        argv = self._argv("restore", "bench", self.latest_backup(), "--yes", "--no-backup-first")
        return self._into_empty(tree, lambda: measure(_then_sync(argv)))

    def export(self, file: Path) -> Measurement:
        return self._run("backup", "export", self.latest_backup(), str(file))

    def import_file(self, tree: Path, file: Path) -> Measurement:
        return self._into_empty(tree, lambda: self._run("import", "bench", str(file), "--yes"))

    def _into_empty(self, tree: Path, run: Callable[[], Measurement]) -> Measurement:
        # The environment is the tree itself: restore into it emptied, then put it back.
        aside = tree.with_name(tree.name + ".aside")
        tree.rename(aside)
        tree.mkdir()
        try:
            return run()
        finally:
            # Its detached settler flushes the restore, then teaches the hash cache the
            # files; untimed, but let it finish on the tree it restored before anything else
            # runs beside it.
            wait_while_running(["--data-dir", str(self.store), "settle"])
            self._discard(tree)
            aside.rename(tree)
