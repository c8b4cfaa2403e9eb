"""The ticks of a restore's changes view: a folder's box follows what it holds, and what
stays ticked is exactly what a selective restore brings back."""

import pytest
from PySide6.QtCore import Qt

from envops_desktop.controller.change_rows import KINDS_COLUMN, PATH_COLUMN, SIZE_COLUMN, ChangeRows
from envops_desktop.controller.changes_model import ChangesModel
from envops_desktop.domain.changes import ChangeKind, PathChange, TreeChanges

CHECKED, PARTLY, UNCHECKED = (
    Qt.CheckState.Checked,
    Qt.CheckState.PartiallyChecked,
    Qt.CheckState.Unchecked,
)


def _model(*paths: str) -> ChangesModel:
    changes = tuple(PathChange(path, (ChangeKind.MODE,)) for path in paths)
    return ChangesModel(ChangeRows(TreeChanges("live", "golden", changes)), checkable=True)


def _click(model: ChangesModel, path: str) -> None:
    """What a click on the path's box sends: the next state, as Qt's delegate works it out."""
    shown = "(the folder itself)" if path == "." else path
    index = next(
        model.index(row, PATH_COLUMN)
        for row in range(model.rowCount())
        if model.index(row, PATH_COLUMN).data() == shown
    )
    state = Qt.CheckState(index.data(Qt.ItemDataRole.CheckStateRole))
    model.setData(
        index,
        (UNCHECKED if state == CHECKED else CHECKED).value,
        Qt.ItemDataRole.CheckStateRole,
    )


def _states(model: ChangesModel) -> dict[str, Qt.CheckState]:
    return {
        model.index(row, PATH_COLUMN).data(): Qt.CheckState(
            model.index(row, PATH_COLUMN).data(Qt.ItemDataRole.CheckStateRole)
        )
        for row in range(model.rowCount())
    }


@pytest.fixture
def nested(qapp):
    return _model(".", "etc", "etc/ssl", "etc/ssl/server.pem", "etc/ssl/ca.pem", "etc/hosts")


def test_a_folder_is_partly_ticked_while_some_of_what_it_holds_is(nested):
    _click(nested, "etc/ssl/ca.pem")

    assert _states(nested) == {
        "(the folder itself)": PARTLY,
        "etc": PARTLY,
        "etc/ssl": PARTLY,
        "etc/ssl/server.pem": CHECKED,
        "etc/ssl/ca.pem": UNCHECKED,
        "etc/hosts": CHECKED,
    }
    # Partly ticked folders keep their own change; the rest comes back path by path.
    assert sorted(nested.selection()) == ["etc/hosts", "etc/ssl/server.pem"]


def test_a_folder_with_nothing_in_it_ticked_is_unticked_itself(nested):
    _click(nested, "etc/ssl/ca.pem")
    _click(nested, "etc/ssl/server.pem")

    states = _states(nested)
    assert states["etc/ssl"] == UNCHECKED and states["etc"] == PARTLY
    assert nested.selection() == ["etc/hosts"]


def test_a_choice_shown_again_ticks_what_it_chose_and_all_a_chosen_folder_holds(qapp):
    # The changes view opened again, or the Restore dialog back after the folder changed:
    # a path new since (etc/ssl/new.pem) is ticked only inside a chosen folder.
    changes = TreeChanges(
        "live",
        "golden",
        tuple(
            PathChange(path, (ChangeKind.MODE,))
            for path in (".", "etc", "etc/hosts", "etc/ssl", "etc/ssl/ca.pem", "etc/ssl/new.pem")
        ),
    )
    rows = ChangeRows(changes)

    rows.keep_only(["etc/ssl", "etc/motd"])  # etc/motd: chosen, and no longer changed

    model = ChangesModel(rows, checkable=True)
    assert _states(model) == {
        "(the folder itself)": PARTLY,
        "etc": PARTLY,
        "etc/hosts": UNCHECKED,
        "etc/ssl": CHECKED,
        "etc/ssl/ca.pem": CHECKED,
        "etc/ssl/new.pem": CHECKED,
    }
    assert model.selection() == ["etc/ssl"]


def test_ticking_a_partly_ticked_folder_ticks_all_it_holds(nested):
    _click(nested, "etc/ssl")
    _click(nested, "etc/ssl/ca.pem")
    assert _states(nested)["etc/ssl"] == PARTLY

    _click(nested, "etc/ssl")

    assert set(_states(nested).values()) == {CHECKED}
    assert nested.selection() is None  # the whole backup


def test_unticking_the_folder_itself_unticks_everything(nested):
    _click(nested, ".")

    assert set(_states(nested).values()) == {UNCHECKED}
    assert not nested.anything_ticked()


def test_a_folder_whose_only_change_is_its_own_can_be_unticked(qapp):
    only_itself = _model(".")
    _click(only_itself, ".")
    assert _states(only_itself) == {"(the folder itself)": UNCHECKED}
    assert not only_itself.anything_ticked()


def test_a_path_under_a_folder_that_did_not_change_has_a_tick_of_its_own(qapp):
    model = _model("conf.d/a.ini", "conf.d/b.ini", "conf.d-old")
    _click(model, "conf.d/a.ini")
    assert _states(model) == {
        "conf.d/a.ini": UNCHECKED,
        "conf.d/b.ini": CHECKED,
        "conf.d-old": CHECKED,
    }
    assert sorted(model.selection()) == ["conf.d-old", "conf.d/b.ini"]


def _listed(model: ChangesModel) -> list[str]:
    return [model.index(row, PATH_COLUMN).data() for row in range(model.rowCount())]


def test_paths_are_listed_as_the_command_line_lists_them(qapp):
    model = _model("conf.d.bak", "conf.d-old", "conf.d/a.ini", "conf.d", ".", "conf.d/b/c.ini")

    # A folder sorts as "conf.d/": what it holds comes right after it.
    assert _listed(model) == [
        "(the folder itself)",
        "conf.d-old",
        "conf.d.bak",
        "conf.d",
        "conf.d/a.ini",
        "conf.d/b/c.ini",
    ]


def test_unticking_a_folder_leaves_the_paths_that_only_begin_with_its_name(qapp):
    model = _model(".", "conf.d", "conf.d/a.ini", "conf.d-old", "conf.d-old/x.ini", "conf.d.bak")

    _click(model, "conf.d")

    states = _states(model)
    assert states["conf.d"] == states["conf.d/a.ini"] == UNCHECKED
    assert states["conf.d-old"] == states["conf.d-old/x.ini"] == states["conf.d.bak"] == CHECKED
    assert model.selection() == ["conf.d-old", "conf.d.bak"]
    _click(model, "conf.d")
    _click(model, "conf.d-old/x.ini")
    assert model.selection() == ["conf.d.bak", "conf.d"]


def test_ties_stay_in_path_order_whichever_way_a_column_is_sorted(qapp):
    changes = (
        PathChange("b.ini", (ChangeKind.ADDED,), None, 5),
        PathChange("a.ini", (ChangeKind.ADDED,), None, 5),
        PathChange("c.ini", (ChangeKind.MODE,), 9, 9),
    )
    model = ChangesModel(ChangeRows(TreeChanges("live", "golden", changes)), checkable=True)

    model.sort(SIZE_COLUMN, Qt.SortOrder.AscendingOrder)
    assert _listed(model) == ["a.ini", "b.ini", "c.ini"]
    model.sort(SIZE_COLUMN, Qt.SortOrder.DescendingOrder)
    assert _listed(model) == ["c.ini", "a.ini", "b.ini"]
    model.sort(KINDS_COLUMN, Qt.SortOrder.DescendingOrder)
    assert _listed(model) == ["c.ini", "a.ini", "b.ini"]  # "mode" after "added"
