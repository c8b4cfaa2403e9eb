"""Noting, without changing it, what a call does: which threads make it, which processes it
starts; and a progress view that is slow to draw."""

import subprocess
import sys
import threading
import time

from envops_desktop.controller import dialog_work
from envops_desktop.domain.changes import TreeChanges


def threads_calling(monkeypatch, owner: object, name: str) -> list[threading.Thread]:
    """The threads that call `owner.name` from now on (the call still does what it did):
    to show that work a window must not wait for runs off its thread."""
    threads: list[threading.Thread] = []
    original = getattr(owner, name)

    def noting_the_thread(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, noting_the_thread)
    return threads


def outcomes_of(monkeypatch, owner: object, name: str) -> list[str]:
    """How each call of `owner.name` from now on ended (the call still does what it did): the
    name of the exception it raised, or "returned"."""
    outcomes: list[str] = []
    original = getattr(owner, name)

    def noting_the_outcome(*args, **kwargs):
        try:
            result = original(*args, **kwargs)
        except Exception as error:
            outcomes.append(type(error).__name__)
            raise
        outcomes.append("returned")
        return result

    monkeypatch.setattr(owner, name, noting_the_outcome)
    return outcomes


# Run in a process of its own: the fork server is one per process, and an earlier test of
# this session may have started it already.
_CHILDREN_AFTER = """
import os, sys, time
from pathlib import Path
exec(sys.argv[1])
me = os.getpid()
mine = Path(f"/proc/{me}/cmdline").read_bytes()
for child in Path(f"/proc/{me}/task/{me}/children").read_text().split():
    # A helper caught between its fork and its exec shows no command line, or ours: wait
    # until it shows its own.
    deadline = time.monotonic() + 10
    while True:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if (cmdline and cmdline != mine) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    print(cmdline.replace(b"\\0", b" ").decode())
"""


def child_commands_after(code: str, *args: str) -> str:
    """The command line of each process that a new Python process running `code` (which sees
    `args` from `sys.argv[2]` on) has started and left running, one a line (Linux)."""
    return subprocess.run(
        [sys.executable, "-c", _CHILDREN_AFTER, code, *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


class SlowView(list):
    """A progress callback that keeps each report and takes 50 ms over it, as a busy window
    or terminal may: a meter sends at most 30 reports a second, so after each one the next
    is due at once, and a report made inside a file shows whatever the machine's pace."""

    def __call__(self, progress: object) -> None:
        self.append(progress)
        time.sleep(0.05)


def letting_go_of_changes(monkeypatch) -> list[tuple[TreeChanges, bool]]:
    """The changes the window lets go of from now on, each with whether that was on the
    window's thread."""
    let_go: list[tuple[TreeChanges, bool]] = []
    original = dialog_work.let_go_of_changes

    def noting(held: list[TreeChanges]) -> None:
        on_main = threading.current_thread() is threading.main_thread()
        let_go.extend((changes, on_main) for changes in held)
        original(held)

    monkeypatch.setattr(dialog_work, "let_go_of_changes", noting)
    return let_go
