"""Running an environment's post-restore command (restart a service, run a health check)."""

import time
from pathlib import Path

from envops_desktop.domain.models import PostRestoreCommand
from envops_desktop.domain.progress import CancelToken

_POLL_SECONDS = 0.1


def run_post_restore_command(
    command: PostRestoreCommand, cwd: Path, cancel: CancelToken
) -> str | None:
    """Run the command in the environment; return why it failed, or None when it succeeded.

    Cancelling kills the command and raises OperationCancelledError.
    """
    import subprocess  # here, not above: every command line would pay 5 ms to import it

    try:
        process = subprocess.Popen(
            command.argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as error:
        return f"The post-restore command could not start: {error.strerror or error}."
    deadline = time.monotonic() + command.timeout_seconds
    while True:
        try:
            output, _ = process.communicate(timeout=_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if cancel.cancelled or time.monotonic() > deadline:
                process.kill()
                process.communicate()
                cancel.raise_if_cancelled()
                return (
                    f"The post-restore command did not finish within "
                    f"{command.timeout_seconds:g} seconds."
                )
    if process.returncode != 0:
        last_line = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
        reason = f"The post-restore command failed with exit code {process.returncode}"
        return f"{reason}: {last_line[0]}" if last_line[0] else reason + "."
    return None
