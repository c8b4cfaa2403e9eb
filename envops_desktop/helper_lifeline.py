"""A helper process's lifeline to the command or window that started it, its place behind
it, and its share of the progress it reports (`store/helper_progress.py`).

Helpers are forked by a fork server and wait for work on a queue. When the process that
started them is killed outright (kill -9, the OOM killer), nothing tells them: each holds
a copy of the pipe that would have told the fork server, and the queue's pipe never ends,
so the fork server and its helpers waited forever, three processes per killed restore.
"""

import os
import threading
import time

from envops_desktop.store.helper_progress import WorkShare, join

_EVERY_SECONDS = 1.0


def start_helper(share: WorkShare, parent_pid: int, niceness: int) -> None:
    """In a helper, as its pool's initializer: count its progress into its operation's
    `share`; and on POSIX run `niceness` steps below the process that started it (none:
    level with it), and end once that process is gone (`end_with`)."""
    join(share)
    if os.name != "posix":
        return
    if niceness:
        os.nice(niceness)
    end_with(parent_pid)


def end_with(parent_pid: int) -> None:
    """In a helper, as it starts: end this process once `parent_pid` is gone.

    POSIX only: `os.kill(pid, 0)` asks without signalling there, but would terminate the
    process it asks about on Windows.
    """

    def watch() -> None:
        while True:
            time.sleep(_EVERY_SECONDS)
            try:
                os.kill(parent_pid, 0)
            except (ProcessLookupError, PermissionError):  # gone, its number reused by another
                os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
