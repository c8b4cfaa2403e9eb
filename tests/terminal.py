"""The `envops` command run as an operator runs it: its progress on a terminal of its own."""

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).parents[1]


class CommandAtATerminal:
    """`envops ARGS…` with its stderr (where it draws progress and asks its questions) on
    a pseudo-terminal, and, `answering`, its stdin too: the keys `type` sends are what it
    reads. Its stdout is read apart, as when an operator sends it to a file."""

    def __init__(self, *args: str, answering: bool = False) -> None:
        self._terminal, screen = pty.openpty()
        # Started as a shell starts a command in the foreground, with Ctrl+C's SIGINT at its
        # default: a test run started in the background ignores it, and so, inherited, would
        # the command. A handler of ours is reset to the default when it starts.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "envops_desktop.cli", *args],
                stdin=screen if answering else None,
                stdout=subprocess.PIPE,
                stderr=screen,
                cwd=REPO,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        os.close(screen)
        self.drawn = bytearray()

    def wait_until_asleep(self, seconds: float = 10) -> None:
        """Wait until it sleeps, as it does reading the keys for a question it has drawn: a
        Ctrl+C sent in the moment between the question and the read would wait, unseen,
        for the read to end, where a user's comes once it waits."""
        deadline = time.monotonic() + seconds
        stat = Path(f"/proc/{self.process.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "S":
            assert time.monotonic() < deadline, "it never waited for a key"
            time.sleep(0.01)

    def type(self, keys: bytes) -> None:
        """Press `keys` at its terminal (b"\\x04" is Ctrl+D at the start of a line)."""
        os.write(self._terminal, keys)

    def read_until(self, text: bytes, seconds: float) -> None:
        """Read what it draws until `text` shows, it ends, or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while text not in self.drawn and time.monotonic() < deadline:
            if select.select([self._terminal], [], [], 0.2)[0]:
                try:
                    self.drawn.extend(os.read(self._terminal, 4096))
                except OSError:  # the command has ended, and its terminal with it
                    return

    def wait(self, seconds: float = 60) -> tuple[int, bytes]:
        """Its exit code and its standard output, once it has ended."""
        out, _ = self.process.communicate(timeout=seconds)
        self.read_until(b"\0", 1)  # the rest of what it drew
        os.close(self._terminal)
        return self.process.returncode, out
