"""Two trees compared side by side, in path order, neither held whole."""

import tracemalloc

import pytest

from envops_desktop.domain.changes import ChangeKind, PathChange, TreeChanges, changes_json
from envops_desktop.domain.enums import EntryKind
from envops_desktop.service.tree_diff import Facets, changes, held


def _file(size: int, sha: str = "a" * 64) -> Facets:
    return Facets(EntryKind.FILE, size, sha, 0o644, None, 0, None, (), None, None)


def test_changes_come_while_the_backup_side_is_still_being_read():
    # A restore's report of 200,000 files held the backup's side as a dict: 100 MiB.
    read: list[str] = []

    def backup_side():
        for number in range(10_000):
            path = f"file{number:05d}"
            read.append(path)
            yield path, _file(number)

    walk = changes(lambda: [], backup_side)
    first = next(walk)

    assert first.path == "file00000" and first.kinds == (ChangeKind.ADDED,)
    assert len(read) <= 2
    assert sum(1 for _ in walk) == 9_999


def test_paths_on_both_sides_in_any_mix_are_added_removed_or_compared():
    before = [("a", _file(1)), ("b", _file(2)), ("d", _file(4)), ("e", _file(5))]
    after = [("b", _file(2)), ("c", _file(3)), ("d", _file(40, "b" * 64)), ("f", _file(6))]

    found = {change.path: change.kinds for change in changes(lambda: before, lambda: after)}

    assert found == {
        "a": (ChangeKind.REMOVED,),
        "c": (ChangeKind.ADDED,),
        "d": (ChangeKind.MODIFIED,),
        "e": (ChangeKind.REMOVED,),
        "f": (ChangeKind.ADDED,),
    }


def test_a_side_out_of_path_order_is_refused_rather_than_compared_wrongly():
    with pytest.raises(ValueError, match="out of path order"):
        list(changes(lambda: [("b", _file(1)), ("a", _file(1))], lambda: []))


def test_a_report_of_many_changes_holds_its_json_about_once_while_put_together():
    # A restore writes beside its report: joined from parts and then put together with its
    # head, the JSON of 200,000 changes was held four times over for a moment (80 MB).
    def found():
        for number in range(50_000):
            path = f"conf.d/service-{number:06d}/settings.ini"
            yield PathChange(path, (ChangeKind.ADDED,), None, 1000 + number)

    tracemalloc.start()
    try:
        body = changes_json("live", "Nightly", found())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 2 * len(body)
    report = TreeChanges.from_json(bytes(body))
    assert len(report.changes) == 50_000 and report.summary == "50000 added"
    assert report.changes[-1] == PathChange(
        "conf.d/service-049999/settings.ini", (ChangeKind.ADDED,), None, 50_999
    )


def test_a_held_tree_is_let_go_of_once_its_comparison_is_done_and_not_before():
    # Freed in one call as the comparison ended, a live tree of 200,000 paths held the GIL,
    # and the window, 40-60 ms; emptied a part at a time instead, once nothing reads it.
    tree = {f"conf.d/{number:05d}.conf": _file(number) for number in range(5_000)}
    live = held(tree)
    walk = changes(live, lambda: [])
    first = next(walk)
    del live

    assert len(tree) == 5_000  # still read by the comparison
    assert first.kinds == (ChangeKind.REMOVED,)
    assert sum(1 for _ in walk) == 4_999
    del walk
    assert tree == {}
