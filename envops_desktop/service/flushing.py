"""Getting a restore onto the disk after it is in place, and settling it once it is there.

A restore is swapped in as soon as it is written, before the kernel has written it back. Its
journal entry stays at `flushing`, with the previous configuration kept beside it, until a
sync has returned; only then is it settled: journal `done`, the previous configuration
removed. Swapping first takes the disk's write time (a second or more for a gigabyte) off
the time an operator waits, and loses nothing: after a power cut in between, the next start
verifies the tree against the backup and keeps it, or puts the previous configuration back
(`recovery.py`). A kill of the process is told from a restart of the machine by the boot id
(a kill loses nothing the kernel was given), so the entry records the boot it was written in.

The command line leaves the wait for the disk to a detached process and returns, as `tar`
returns with its writes still in the page cache; the GUI settles on its worker thread.
"""

import os
import sys
from pathlib import Path

from envops_desktop.domain.enums import JournalPhase
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.restored_hashes import remember_restored_files
from envops_desktop.service.swap import clean_up
from envops_desktop.store.file_writes import sync_to_disk
from envops_desktop.store.journal_records import JournalEntry

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def current_boot_id() -> str | None:
    """This boot of the machine, or None where the system does not say (Linux says)."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def can_settle_later(entry: JournalEntry) -> bool:
    """Whether a restore may be reported done before it is on disk.

    Not without a boot id: a power cut could not be told from a kill. Not after a
    post-restore command: it may change the tree, which then no longer verifies against the
    backup, and a restart would roll back a restore that had worked.
    """
    return not entry.has_post_restore and current_boot_id() is not None


def settle(ctx: ServiceContext, entry: JournalEntry) -> None:
    """Wait until the restored configuration is on disk, then drop what could undo it.

    The caller holds the environment's lock (or is the start-up recovery).
    """
    sync_to_disk()
    ctx.journal.set_phase(entry.id, JournalPhase.DONE)
    _clear(ctx, entry)


def settle_detached(ctx: ServiceContext, journal_ids: list[str]) -> None:
    """Settle these restores without the environment's lock, which a new operation may hold.

    Each is claimed by moving it from `flushing` to `done` in one statement; one that another
    process has settled or claimed meanwhile is left to it. What is cleared belongs to the
    settled restore alone, so a restore running meanwhile is not disturbed.
    """
    sync_to_disk()
    for journal_id in journal_ids:
        entry = ctx.journal.by_id(journal_id)
        if entry is not None and ctx.journal.advance(
            journal_id, JournalPhase.FLUSHING, JournalPhase.DONE
        ):
            _clear(ctx, entry)


def _clear(ctx: ServiceContext, entry: JournalEntry) -> None:
    clean_up(entry)
    ctx.journal.remove(entry.id)
    remember_restored_files(ctx, entry)  # so that the next backup reads none of it again


# The detached settler is the command line run with these arguments. It is no subcommand of
# the parser, so that it never shows in `envops --help` or in a usage error's list.
_SETTLE = "--settle-restores"


def settler_arguments(data_dir: Path, journal_ids: list[str]) -> list[str]:
    return [_SETTLE, str(data_dir), *journal_ids]


def settler_request(argv: list[str]) -> tuple[Path, list[str]] | None:
    """The data folder and restores to settle, when `argv` starts the detached settler."""
    if len(argv) >= 3 and argv[0] == _SETTLE:
        return Path(argv[1]), argv[2:]
    return None


def settle_in_background(data_dir: Path, journal_ids: list[str]) -> int | None:
    """Start a detached `envops settle` for these restores; its process id, or None if none.

    Its standard streams are /dev/null and it runs in a session of its own, so a shell or a
    script reading the command's output does not wait for it.
    """
    if not journal_ids:
        return None
    if getattr(sys, "frozen", False):  # the bundle's executable is the command line itself
        command = [sys.executable]
    else:
        # -P: this version's package, not one in the folder the command was run from. A
        # newer checkout's settler once migrated an older command's data folder that way,
        # and the older command then took every pack for a leftover.
        command = [sys.executable, "-P", "-m", "envops_desktop.cli"]
    argv = [*command, *settler_arguments(data_dir, journal_ids)]
    streams = [
        (os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0)  # type: ignore[attr-defined]
        for fd in (0, 1, 2)
    ]
    # posix_spawn, not subprocess: nothing waits for the child, and a Popen dropped while
    # its process runs warns. Only Linux gets here (the boot id), which has posix_spawn.
    return os.posix_spawn(  # type: ignore[attr-defined]
        argv[0], argv, os.environ, file_actions=streams, setsid=True
    )
