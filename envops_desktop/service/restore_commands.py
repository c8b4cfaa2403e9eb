"""Running an environment's commands around a restore: the pre-restore one (stop a service)
before the swap, the post-restore one (restart it, run a health check) after."""

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from envops_desktop.domain.models import RestoreCommand
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


# The post-restore command run once more on a configuration put back after a failed
# restore (`restore._start_again`): its own output, so the failure's stays to be read.
AGAIN_AFTER_ROLLBACK = "post-restore-after-rollback"
COMMAND_NAMES = ("pre-restore", "post-restore", AGAIN_AFTER_ROLLBACK)


def command_output(data_dir: Path, environment_id: str, name: str) -> Path:
    """Where the environment's `name` command (one of COMMAND_NAMES) prints to."""
    return data_dir / "command-output" / f"{environment_id}-{name}.log"


class CommandFailure(NamedTuple):
    """Why a restore command failed: what it did, said after "The post-restore command"
    in a sentence of its own (`str()`) or in a clause of another's."""

    name: str  # "pre-restore" or "post-restore"
    what: str  # "failed with exit code 3: health check failed", "did not finish within 60 seconds"
    in_its_own_words: bool = False  # `what` ends with the last line the command printed

    def __str__(self) -> str:
        sentence = f"The {self.name} command {self.what}"
        return sentence if self.in_its_own_words else sentence + "."


def run_restore_command(
    command: RestoreCommand,
    cwd: Path,
    cancel: CancelToken,
    output: Path,
    started: Callable[[str], None] = lambda _handle: None,
    name: str = "post-restore",
) -> CommandFailure | None:
    """Run the `name` command in the environment; return why it failed, or None when it
    succeeded. What it prints goes to the file `output`, replaced at each run.

    The command is over when its own process ends: what it started in the background (a
    service it restarted) goes on running, and may go on writing to `output`. Read from a
    pipe, the command was over only once every such process had closed it: a restart that
    left a daemon running timed out, the daemon was killed and the restore undone.

    It runs in a process group of its own, handed to `started` (to be journalled), so that
    a restore rolled back after this process was killed can end it too. Cancelling, or its
    timeout, kills the group; cancelling then raises OperationCancelledError.
    """
    import subprocess  # here, not above: every command line would pay 5 ms to import it

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        sink = output.open("wb")
    except OSError as error:
        return CommandFailure(name, f"could not keep its output in {output}: {error.strerror}")
    with sink:  # the command gets a copy of its own
        try:
            process = subprocess.Popen(
                command.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=hasattr(os, "killpg"),
            )
        except OSError as error:
            program = command.argv[0]
            return CommandFailure(name, f"could not start {program!r}: {error.strerror or error}")
    try:
        started(process_handle(process.pid))
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    deadline = time.monotonic() + command.timeout_seconds
    while True:
        try:
            process.wait(timeout=_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if cancel.cancelled or time.monotonic() > deadline:
                _kill_group(process)
                process.wait()
                cancel.raise_if_cancelled()
                return CommandFailure(
                    name, f"did not finish within {command.timeout_seconds:g} seconds"
                )
    if process.returncode != 0:
        last_line = _last_line(output)
        exit_code = f"failed with exit code {process.returncode}"
        if last_line:
            return CommandFailure(name, f"{exit_code}: {last_line}", in_its_own_words=True)
        return CommandFailure(name, exit_code)
    return None


_TAIL = 4096


def _last_line(output: Path) -> str:
    """The last line a command printed to `output` (as far as its last 4 KiB hold it)."""
    try:
        with open(output, "rb") as printed:
            printed.seek(max(0, os.fstat(printed.fileno()).st_size - _TAIL))
            tail = printed.read(_TAIL)
    except OSError:
        return ""
    lines = tail.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""
