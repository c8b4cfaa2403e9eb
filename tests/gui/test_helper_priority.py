"""The window stays in front of the helper processes its operations start."""

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from envops_desktop.service import parallel
from tests.gui.conftest import select_environment, when_modal
from tests.gui.user import press_shortcut


def _niceness(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # ended meanwhile
        return None
    return int(stat.rsplit(")", 1)[1].split()[16])  # the 19th field; the name may hold spaces


def _children(pid: int) -> list[int]:
    """Every thread's: a process started from a worker thread is that thread's child."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread or process ended meanwhile
            children += [int(child) for child in (task / "children").read_text().split()]
    return children


class _HelperWatch:
    """Notes, until stopped, the niceness of each process started by a child of this one
    (the fork server's helpers), the lowest priority each reached."""

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            for child in _children(me):
                for helper in _children(child):
                    niceness = _niceness(helper)
                    if niceness is not None:
                        self.seen[helper] = max(niceness, self.seen.get(helper, niceness))
            time.sleep(0.001)

    def stop(self) -> dict[int, int]:
        self._stop.set()
        self._thread.join()
        return self.seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_backup_from_the_window_runs_its_helpers_at_a_lower_priority_than_the_window(
    qtbot, environment, window, service, monkeypatch
):
    monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 0)  # helpers even for a small tree
    select_environment(window, "billing")
    watch = _HelperWatch()
    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: len(service.list_backups("billing")) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    seen = watch.stop()

    expected = min(19, os.nice(0) + parallel.WINDOW_HELPERS_NICENESS)
    assert seen, "no helper process was seen"
    assert set(seen.values()) == {expected}
