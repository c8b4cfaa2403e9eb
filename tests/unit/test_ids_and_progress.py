"""Ids sort by time; progress is throttled but always ends at its total."""

import os
import time

from envops_desktop.domain.ids import new_id
from envops_desktop.domain.progress import Progress, ProgressMeter


def test_ids_are_short_unique_and_sort_by_creation():
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)
    assert len(set(ids)) == 5
    assert ids == sorted(ids)
    assert all(len(i) == 12 for i in ids)


def test_progress_meter_throttles_reports_and_finishes_at_total():
    seen: list[Progress] = []
    meter = ProgressMeter(seen.append, "backing up", total=10_000, rate=10)
    for _ in range(10_000):
        meter.advance(1, "file")
    meter.finish()
    assert len(seen) < 50
    assert seen[0] == Progress("backing up", 0, 10_000)
    assert seen[-1] == Progress("backing up", 10_000, 10_000)
    assert seen[-1].percent == 100


def test_work_under_way_is_shown_ahead_of_what_is_done_and_never_goes_back():
    seen: list[Progress] = []
    meter = ProgressMeter(seen.append, "restoring", total=1000, rate=1e9)  # every report
    meter.ahead(400, "disk.img")  # a helper 400 bytes into its batch
    meter.ahead(700, "disk.img")
    meter.advance(100, "a.conf")  # a batch before it, done: the helper's 700 not counted yet
    meter.ahead(5000, "disk.img")  # read more than its size (it grew)
    meter.advance(900, "disk.img")

    assert [p.done for p in seen] == [0, 400, 700, 700, 1000, 1000]
    assert seen[1].path == "disk.img"


def test_the_time_left_is_estimated_from_the_pace_of_the_current_phase():
    from envops_desktop.domain.progress import Eta, Progress

    now = [100.0]
    eta = Eta(clock=lambda: now[0])
    assert eta.text(Progress("reading", 0, 1000)) == "0:00 elapsed"
    now[0] += 0.5
    assert eta.text(Progress("reading", 100, 1000)) == "0:00 elapsed"  # too soon to say
    now[0] += 1.5  # 2 s of reading for 200 bytes: 8 s for the 800 left
    assert eta.text(Progress("reading", 200, 1000)) == "0:02 elapsed, about 0:08 left"
    now[0] += 70
    assert eta.text(Progress("writing", 0, 50)) == "1:12 elapsed"  # a new phase, a new pace
    now[0] += 10
    assert eta.text(Progress("writing", 10, 50)) == "1:22 elapsed, about 0:40 left"


def test_the_terminal_progress_bar_says_how_long_it_has_run(monkeypatch):
    import io

    from envops_desktop import terminal_progress
    from envops_desktop.domain.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = terminal_progress.TerminalProgressBar(screen)
    bar(Progress("restoring", 50, 100, "app.yaml"))
    bar.close()

    assert "restoring [############............]  50%" in screen.getvalue()
    assert "0:00 elapsed app.yaml" in screen.getvalue()


def test_the_terminal_progress_bar_shows_the_time_left_on_a_narrow_terminal(monkeypatch):
    import io

    from envops_desktop import terminal_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    path = "service08/conf6.d/a-rather-long-folder-name/settings3408.conf"
    drawn = {}
    for columns in (80, 110, 60):
        size = os.terminal_size((columns, 24))
        monkeypatch.setattr(terminal_progress.shutil, "get_terminal_size", lambda _d, s=size: s)
        screen = Terminal()
        bar = terminal_progress.TerminalProgressBar(screen)
        bar(Progress("backing up", 10 << 20, 400 << 20, path))
        time.sleep(1.1)  # long enough for a pace to estimate from
        bar(Progress("backing up", 200 << 20, 400 << 20, path))
        bar.close()
        drawn[columns] = screen.getvalue().rstrip("\n").rsplit("\r", 1)[-1]

    for columns, line in drawn.items():
        assert len(line) == columns - 1, line  # the last column would wrap
        assert " 50% " in line and " 0:01 elapsed, about 0:01 left" in line, line
    assert drawn[80].startswith("backing up [") and "200.0/400.0 MiB" in drawn[80]
    assert drawn[110].endswith(" ...settings3408.conf")  # the file's own name, not its path
    assert "MiB" not in drawn[60]  # too narrow for the sizes beside the time left


def test_the_terminal_progress_bar_keeps_a_strange_name_on_its_line(monkeypatch):
    import io

    from envops_desktop import terminal_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    wide = os.terminal_size((200, 50))
    monkeypatch.setattr(terminal_progress.shutil, "get_terminal_size", lambda _default: wide)
    screen = Terminal()
    bar = terminal_progress.TerminalProgressBar(screen)
    # A newline, an escape sequence that would clear the screen, a byte that is not UTF-8,
    # as a restore reports the file it writes.
    meter = ProgressMeter(bar, "restoring", 100)
    meter.advance(50, "conf.d/a\nb\x1b[2J" + os.fsdecode(b"\xe9"))
    bar.close()

    drawn = screen.getvalue()
    assert "\x1b" not in drawn and drawn.count("\n") == 1  # the one that ends the bar
    assert drawn.rstrip().endswith("conf.d/a\\nb\\x1b[2J\\xe9")
