"""Running an environment's commands around a restore: the pre-restore one (stop a service)
before the swap, the post-restore one (restart it, run a health check) after."""

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from envops_desktop.domain.models import PostRestoreCommand
from envops_desktop.domain.progress import CancelToken

if TYPE_CHECKING:
    import subprocess

_POLL_SECONDS = 0.1


def _start_time(pid: int) -> str | None:
    """When process `pid` started (in clock ticks since boot), or None where that is unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            # Field 22, counted after the command name, which may hold spaces and brackets.
            return stat_file.read().rpartition(b")")[2].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_handle(pid: int) -> str:
    """How the journal names a running process group: its leader's pid and start time."""
    return f"{pid} {_start_time(pid)}"


def end_process_group(handle: str) -> bool:
    """Kill the process group `process_handle` named, if its leader is still that process;
    whether it was still running."""
    pid_text, _, started = handle.partition(" ")
    pid = int(pid_text)
    if started == "None" or _start_time(pid) != started:
        return False  # gone, or the number now belongs to another process
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(process: "subprocess.Popen[bytes]") -> None:
    # The command's own children (a service it started, a `sleep`) go with it.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()


def run_restore_command(
    command: PostRestoreCommand,
    cwd: Path,
    cancel: CancelToken,
    started: Callable[[str], None] = lambda _handle: None,
    name: str = "post-restore",
) -> str | None:
    """Run the `name` command in the environment; return why it failed, or None when it
    succeeded.

    It runs in a process group of its own, handed to `started` (to be journalled), so that
    a restore rolled back after this process was killed can end it too. Cancelling kills
    the group and raises OperationCancelledError.
    """
    import subprocess  # here, not above: every command line would pay 5 ms to import it

    try:
        process = subprocess.Popen(
            command.argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=hasattr(os, "killpg"),
        )
    except OSError as error:
        return f"The {name} command could not start: {error.strerror or error}."
    try:
        started(process_handle(process.pid))
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    deadline = time.monotonic() + command.timeout_seconds
    while True:
        try:
            output, _ = process.communicate(timeout=_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if cancel.cancelled or time.monotonic() > deadline:
                _kill_group(process)
                process.communicate()
                cancel.raise_if_cancelled()
                return (
                    f"The {name} command did not finish within {command.timeout_seconds:g} seconds."
                )
    if process.returncode != 0:
        last_line = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
        reason = f"The {name} command failed with exit code {process.returncode}"
        return f"{reason}: {last_line[0]}" if last_line[0] else reason + "."
    return None
