"""Ids sort by time; progress is throttled but always ends at its total."""

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
