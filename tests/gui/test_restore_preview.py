"""Before a restore: what it would change, each file's two versions, and leaving some of it
as it is, all through the window."""

import hashlib
import itertools
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QSplitter

from envops_desktop.controller import dialog_work
from envops_desktop.controller.change_rows import PATH_COLUMN, SIZE_COLUMN, ChangeRows
from envops_desktop.controller.record_table_model import RECORD_ROLE
from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.ui.tones import current_tones
from tests.gui.conftest import (
    choose_in_file_dialog,
    click_button,
    diff_of_selected_file,
    log_read,
    progress_lines,
    select_environment,
    when_modal,
)
from tests.gui.user import (
    choose_backup_option,
    click_header,
    pick_in_list,
    shown,
    toggle_tick,
)
from tests.spies import threads_calling
from tests.store_view import damage_table
from tests.trees import describe_tree, mess_up


def _row_of(table, path: str):
    model = table.model()
    for row in range(model.rowCount()):
        if model.index(row, PATH_COLUMN).data() == path:
            return model.index(row, PATH_COLUMN)
    raise AssertionError(f"{path} is not listed")


@pytest.fixture
def laid_out_on(monkeypatch):
    """The threads the changes views' rows were laid out on: over 200,000 paths that takes
    half a second, which the window must not be frozen for."""
    threads = []

    class NotingTheThread(ChangeRows):  # a class still: it is named in annotations
        def __init__(self, changes) -> None:
            threads.append(threading.current_thread())
            super().__init__(changes)

    monkeypatch.setattr(dialog_work, "ChangeRows", NotingTheThread)
    return threads


@pytest.fixture
def wanted(config_dir):
    """billing's tree as it is backed up."""
    return describe_tree(config_dir)


@pytest.fixture
def golden(window, service, environment, config_dir, wanted):
    """billing backed up as "golden" (`wanted`), then messed up, and selected in the window."""
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    window.controller.refresh()
    select_environment(window, "billing")
    return backup


def _previewed(qtbot, dialog):
    """The Restore dialog's Show changes… button, once its preview is ready."""
    button = dialog.findChild(object, "showChangesButton")
    qtbot.waitUntil(button.isEnabled, timeout=10_000)
    return button


def through_the_changes(qtbot, window, backup, in_changes, restore: bool) -> None:
    """Restore `backup` from its row's menu, through Show changes… answered by
    `in_changes`; then, with `restore`, Restore without a backup first (returning once it
    ran), else Cancel."""

    def restore_dialog(dialog) -> None:
        button = _previewed(qtbot, dialog)
        answered = when_modal(in_changes, named="changesDialog")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(answered, timeout=10_000)  # listed on a worker first
        if not restore:
            dialog.reject()
            return
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    if restore:
        qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)


def _diff_in_the_changes(qtbot, window, backup, path: str, meanwhile=None) -> str:
    """The diff of `path` in the changes of a restore of `backup` (Show changes…), as its
    text; `meanwhile` runs once the changes are listed, before the path is selected."""
    seen = {}

    def look_at_the_file(changes) -> None:
        if meanwhile is not None:
            meanwhile()
        table = changes.findChild(object, "changesTable")
        table.selectRow(_row_of(table, path).row())
        seen["diff"] = diff_of_selected_file(qtbot, changes)[0]
        changes.reject()

    through_the_changes(qtbot, window, backup, look_at_the_file, restore=False)
    qtbot.waitUntil(lambda: "diff" in seen, timeout=10_000)
    return seen["diff"]


def test_the_restore_dialog_counts_the_changes_and_shows_a_files_diff(
    qtbot, window, service, config_dir, golden, monkeypatch, laid_out_on
):
    seen = {}
    read_on = []
    backup_file = service.backup_file

    def noting_the_thread(*args):
        read_on.append(threading.current_thread())
        return backup_file(*args)

    monkeypatch.setattr(service, "backup_file", noting_the_thread)

    def look_at_changes(changes) -> None:
        assert changes.objectName() == "changesDialog"
        table = changes.findChild(object, "changesTable")
        app_yaml = _row_of(table, "app.yaml")
        table.selectRow(app_yaml.row())
        seen["diff"], seen["marks"] = diff_of_selected_file(qtbot, changes)
        seen["kinds"] = app_yaml.siblingAtColumn(1).data()
        changes.reject()

    def restore_dialog(dialog) -> None:
        button = _previewed(qtbot, dialog)
        seen["counts"] = dialog.findChild(object, "previewCounts").text()
        answered = when_modal(look_at_changes, named="changesDialog")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(answered, timeout=10_000)  # listed on a worker first
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")

    assert seen["counts"] == "3 added, 1 modified, 1 removed, 3 changed only in metadata"
    assert seen["kinds"] == "modified, mtime"
    assert laid_out_on and threading.main_thread() not in laid_out_on
    assert "port: 1" in seen["diff"] and "port: 8443" in seen["diff"]
    assert current_tones().diff.changed_text in seen["marks"]  # changed lines marked
    assert len(service.list_backups("billing")) == 1  # cancelled: nothing happened
    # Read on a worker: the window never waits for the store.
    assert read_on and threading.main_thread() not in read_on


def _lines_each_number_takes(diff) -> list[int]:
    """For each line number in a diff, on how many lines it is laid out."""
    taken, block = [], diff.document().begin()
    while block.isValid():
        if block.text().isdigit():
            taken.append(block.layout().lineCount())
        block = block.next()
    return taken


def test_a_diff_of_a_file_changed_throughout_shows_every_row_as_the_user_asks(
    qtbot, window, service, environment, config_dir
):
    (config_dir / "limits.conf").write_text("".join(f"limit{i} = {i}\n" for i in range(700)))
    backup = service.create_backup("billing", name="before the tuning")
    (config_dir / "limits.conf").write_text("".join(f"limit{i} = {2 * i}\n" for i in range(700)))
    window.controller.refresh()
    select_environment(window, "billing")
    seen, lines_of_numbers, steps, rows_in = [], [], [], []

    def look_at_the_file(changes) -> None:
        table = changes.findChild(object, "changesTable")
        diff = changes.findChild(object, "diffView")
        # Each time rows go in, how many are in: a hundred a turn, the window answering
        # between turns (Qt lays out 0.2 ms a row: 200 at once held it for 40 ms or more).
        diff.textChanged.connect(lambda: rows_in.append(diff.toPlainText().count("limit") // 2))
        table.selectRow(_row_of(table, "limits.conf").row())
        text, _ = diff_of_selected_file(qtbot, changes)
        seen.append(text)
        lines_of_numbers.extend(_lines_each_number_takes(diff))
        diff.setFocus()
        QTest.keyClick(diff, Qt.Key.Key_Tab)  # to the link: "Show the next 200"
        QTest.keyClick(diff, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not diff.laying_out)
        seen.append(diff.toPlainText())
        tops = [
            diff.cursorRect(diff.document().find(f"limit{i} = {i}")).top() for i in (198, 199, 200)
        ]
        steps.extend(later - earlier for earlier, later in itertools.pairwise(tops))
        for _ in range(2):  # and by the mouse, at the link's place at the end
            diff.verticalScrollBar().setValue(diff.verticalScrollBar().maximum())
            link = diff.document().find("Show the next")
            link.setPosition(link.selectionStart() + 1)
            qtbot.mouseClick(
                diff.viewport(), Qt.MouseButton.LeftButton, pos=diff.cursorRect(link).center()
            )
            qtbot.waitUntil(lambda: not diff.laying_out)
            seen.append(diff.toPlainText())
        changes.reject()

    through_the_changes(qtbot, window, backup, look_at_the_file, restore=False)
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=10_000)

    assert [c for c in dict.fromkeys(rows_in) if c] == [100, 200, 300, 400, 500, 600, 700]
    # Numbered 1 to 200, each number on a line of its own: not wrapped a digit a line.
    assert lines_of_numbers == [1] * 400
    assert steps[0] == steps[1] > 0  # the rows shown next go on with no gap between
    first, second, third, whole = seen
    assert "limit199 = 398" in first and "limit200 = " not in first
    assert "500 more rows of changes are not shown here. Show the next 200" in first
    assert "limit399 = 798" in second and "limit400 = " not in second
    assert "300 more rows" in second and "500 more rows" not in second
    assert "limit599 = 1198" in third and "100 more rows" in third
    assert "limit699 = 699" in whole and "limit699 = 1398" in whole
    assert "more rows" not in whole and "Show the next" not in whole
    sides = [line for line in whole.splitlines() if "limit" in line]  # live, then backup
    assert sides[0::2] == [f"limit{i} = {2 * i}" for i in range(700)]
    assert sides[1::2] == [f"limit{i} = {i}" for i in range(700)]


def test_the_restore_dialog_shows_its_counts_whole(qtbot, window, golden):
    seen = []

    def restore_dialog(dialog) -> None:
        _previewed(qtbot, dialog)
        counts = dialog.findChild(object, "previewCounts")
        seen.append((counts.text(), counts.height(), counts.heightForWidth(counts.width())))
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)

    text, shown_height, needed = seen[0]
    assert text.startswith("3 added") and shown_height >= needed  # no line of it cut


def test_a_preview_that_takes_a_while_shows_a_moving_bar_until_its_counts_come(
    qtbot, window, service, golden, monkeypatch
):
    # As over 200,000 files, where it takes five seconds: held back until the bar is seen.
    release = threading.Event()
    preview_restore = service.preview_restore

    def held_back(*args, **kwargs):
        release.wait(10)
        return preview_restore(*args, **kwargs)

    monkeypatch.setattr(service, "preview_restore", held_back)
    seen = []

    def restore_dialog(dialog) -> None:
        bar = dialog.findChild(object, "previewBusyBar")
        counts = dialog.findChild(object, "previewCounts")
        seen.append(bar.isVisible())  # not in the first second: it would only flash
        try:
            qtbot.waitUntil(bar.isVisible, timeout=5_000)
            seen.append(counts.text())
        finally:
            release.set()
        _previewed(qtbot, dialog)
        seen.extend([bar.isVisible(), counts.text()])
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=20_000)

    assert seen[:3] == [False, "Working out what would change…", False]
    assert seen[3].startswith("3 added")


def test_a_long_preview_shows_how_far_it_has_got_and_the_time_left(
    qtbot, window, service, environment, config_dir, monkeypatch
):
    # As over 200,000 files: here 600, each touched since the backup (a comparison passes
    # over paths alike on both sides) and compared 3 ms slower than it is.
    sites = [config_dir / f"site-{n:03}.conf" for n in range(600)]
    for n, site in enumerate(sites):
        site.write_text(f"site {n}\n")
    backup = service.create_backup("billing")
    for site in sites:
        os.utime(site, ns=(site.stat().st_atime_ns, site.stat().st_mtime_ns + 10**9))
    window.controller.refresh()
    select_environment(window, "billing")
    from envops_desktop.service import tree_diff

    differences = tree_diff._differences
    monkeypatch.setattr(
        tree_diff, "_differences", lambda *a, **k: time.sleep(0.003) or differences(*a, **k)
    )
    seen = {}

    def restore_dialog(dialog) -> None:
        bar = dialog.findChild(object, "previewBusyBar")
        qtbot.waitUntil(lambda: "left" in bar.text(), timeout=10_000)
        seen["bar"] = bar.text()
        seen["status bar"] = window.findChild(object, "taskProgressBar").text()
        seen["phase"] = bar.toolTip()
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: "bar" in seen, timeout=20_000)

    assert re.fullmatch(r"\d+% · 0:0\d elapsed, about 0:0\d left", seen["bar"]), seen
    assert "left" in seen["status bar"]
    assert seen["phase"] == "Comparing"


def test_the_restore_dialog_grows_to_show_a_preview_that_failed_in_a_long_sentence(
    qtbot, window, golden, config_dir, tmp_path
):
    config_dir.rename(tmp_path / "moved away by someone")
    seen = []

    def restore_dialog(dialog) -> None:
        counts = dialog.findChild(object, "previewCounts")
        qtbot.waitUntil(lambda: "does not exist" in counts.text(), timeout=10_000)
        line = counts.fontMetrics().lineSpacing()
        seen.append((counts.text(), counts.height(), counts.heightForWidth(counts.width()), line))
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)

    text, shown_height, needed, line = seen[0]
    assert needed >= 2 * line and shown_height >= needed, text  # lines of it, none cut


def test_unticking_a_folder_leaves_it_as_it_is_and_restores_the_rest(
    qtbot, window, service, config_dir, wanted, golden
):
    messed = describe_tree(config_dir)

    def untick_conf_d(changes) -> None:
        table = changes.findChild(object, "changesTable")
        toggle_tick(qtbot, table, _row_of(table, "conf.d"))
        assert _row_of(table, "conf.d/new.ini").data(Qt.ItemDataRole.CheckStateRole) == (
            Qt.CheckState.Unchecked
        )
        changes.accept()

    through_the_changes(qtbot, window, golden, untick_conf_d, restore=True)

    assert window.banner.kind == "success"
    now = describe_tree(config_dir)
    assert {p: v for p, v in now.items() if p.startswith("conf.d")} == {
        p: v for p, v in messed.items() if p.startswith("conf.d")
    }
    assert {p: v for p, v in now.items() if not p.startswith("conf.d") and p != "."} == {
        p: v for p, v in wanted.items() if not p.startswith("conf.d") and p != "."
    }
    assert "partial" in service.activity("billing")[0].detail


def _counts_once_worked_out(qtbot, dialog) -> str:
    counts = dialog.findChild(object, "previewCounts")
    qtbot.waitUntil(lambda: not counts.text().startswith("Working out"), timeout=10_000)
    return counts.text()


def _warning(dialog) -> str:
    return shown(dialog.findChild(object, "restoreWarning"))


def _toggling(qtbot, path: str):
    """What a user does in Show changes… to tick or untick `path`: its box, then OK."""

    def answer(changes) -> None:
        table = changes.findChild(object, "changesTable")
        toggle_tick(qtbot, table, _row_of(table, path))
        changes.accept()

    return answer


def test_the_restore_dialog_counts_and_warns_of_what_restoring_the_ticked_paths_changes(
    qtbot, window, service, golden
):
    # Counted anew for the ticks (on a worker): the whole restore's counts, or a sentence
    # with no figures, would not tell the user what Restore is about to change.
    seen = []

    def restore_dialog(dialog) -> None:
        for in_changes in (_toggling(qtbot, "conf.d"), _toggling(qtbot, "conf.d")):
            answered = when_modal(in_changes, named="changesDialog")
            qtbot.mouseClick(_previewed(qtbot, dialog), Qt.MouseButton.LeftButton)
            qtbot.waitUntil(answered, timeout=10_000)
            seen.append((_counts_once_worked_out(qtbot, dialog), _warning(dialog)))
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=20_000)

    whole = service.preview_restore("billing", golden.id)
    chosen = sorted({c.path.split("/")[0] for c in whole.changes} - {".", "conf.d"})
    ticked = service.preview_restore("billing", golden.id, only=chosen)
    assert ticked.summary != whole.summary
    (counts, warning), (counts_again, warning_again) = seen
    assert counts == f"{ticked.summary}: only the ticked paths change; the rest stays as it is."
    assert "ticked paths" in warning and "the rest of" in warning and "Everything" not in warning
    assert counts_again == whole.summary
    assert "Everything in" in warning_again


def test_the_restore_dialog_names_a_name_not_ticked_that_a_file_brought_back_links_anew(
    qtbot, window, service, environment, config_dir
):
    # main.cf, made again alone, is linked back to the node conf/site.cf shares with
    # conf/other.cf: left as it is, conf/other.cf is linked anew all the same.
    (config_dir / "conf").mkdir()
    (config_dir / "main.cf").write_text("listen = 443\n")
    for name in ("site.cf", "other.cf"):
        os.link(config_dir / "main.cf", config_dir / "conf" / name)
    backup = service.create_backup("billing")
    (config_dir / "main.cf").unlink()
    (config_dir / "main.cf").write_text("listen = 443\n")
    ticked = service.preview_restore("billing", backup.id, only=["conf/site.cf", "main.cf"])
    window.controller.refresh()
    select_environment(window, "billing")
    seen = []

    def restore_dialog(dialog) -> None:
        seen.append(_warning(dialog))
        answered = when_modal(_toggling(qtbot, "conf/other.cf"), named="changesDialog")
        qtbot.mouseClick(_previewed(qtbot, dialog), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(answered, timeout=10_000)
        seen.append(_counts_once_worked_out(qtbot, dialog))
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: len(seen) == 2 and not window.controller.runner.running, timeout=20_000)

    assert "Everything in" in seen[0]
    assert seen[1] == (
        f"{ticked.summary}: the ticked paths change, and conf/other.cf, not ticked, is "
        "linked anew to a file brought back; the rest stays as it is."
    )
    assert window.banner.kind == "success", window.banner.text
    nodes = {os.lstat(config_dir / name).st_ino for name in ("main.cf", "conf/other.cf")}
    assert len(nodes) == 1


def test_a_folder_left_alone_may_change_before_restore_is_clicked(
    qtbot, window, service, config_dir, wanted, golden, monkeypatch
):
    # conf.d is unticked because the service writes there; it writes once more meanwhile.
    # Were the preview taken as out of date, the Restore dialog would come back (noted here
    # instead of opened, which would hold the test).
    asked = []
    restore_backup = window.backup_flows.restore_backup

    def noting_each_time(*args) -> None:
        asked.append(args)
        if len(asked) == 1:
            restore_backup(*args)

    monkeypatch.setattr(window.backup_flows, "restore_backup", noting_each_time)

    def untick_conf_d_then_the_service_writes(changes) -> None:
        table = changes.findChild(object, "changesTable")
        toggle_tick(qtbot, table, _row_of(table, "conf.d"))
        changes.accept()
        (config_dir / "conf.d" / "cache.ini").write_text("[written by the service]\n")

    through_the_changes(qtbot, window, golden, untick_conf_d_then_the_service_writes, restore=True)

    qtbot.wait(50)  # the dialog would come back on the next turn of the event loop
    assert len(asked) == 1 and window.banner.kind == "success", window.banner.text
    assert (config_dir / "conf.d" / "cache.ini").read_text() == "[written by the service]\n"
    now = describe_tree(config_dir)
    assert {p: v for p, v in now.items() if not p.startswith("conf.d") and p != "."} == {
        p: v for p, v in wanted.items() if not p.startswith("conf.d") and p != "."
    }


def _tick(table, path: str) -> Qt.CheckState:
    return Qt.CheckState(_row_of(table, path).data(Qt.ItemDataRole.CheckStateRole))


def test_the_restore_dialog_comes_back_with_the_paths_chosen_when_a_chosen_one_changed(
    qtbot, window, service, config_dir, wanted, golden
):
    # Were the ticks reset, one Restore more would restore the folder left alone.
    messed = describe_tree(config_dir)
    seen = []

    def look_at_the_ticks(changes) -> None:
        table = changes.findChild(object, "changesTable")
        seen.append(
            (_tick(table, "conf.d"), _tick(table, "conf.d/new.ini"), _tick(table, "app.yaml"))
        )
        changes.accept()

    def through_the_changes(dialog, in_changes) -> None:
        answered = when_modal(in_changes, named="changesDialog")
        qtbot.mouseClick(_previewed(qtbot, dialog), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(answered, timeout=10_000)  # listed on a worker first
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)

    def first(dialog) -> None:
        through_the_changes(dialog, _toggling(qtbot, "conf.d"))
        (config_dir / "app.yaml").write_text("edited once more\n")  # a path still ticked
        when_modal(again, named="restoreBackupDialog")
        click_button(dialog, "restoreButton")

    def again(dialog) -> None:
        _previewed(qtbot, dialog)
        seen.append(_counts_once_worked_out(qtbot, dialog))
        through_the_changes(dialog, look_at_the_ticks)
        click_button(dialog, "restoreButton")

    when_modal(first)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: len(seen) == 2 and not window.controller.runner.running, timeout=20_000)

    assert seen[0].endswith(": only the ticked paths change; the rest stays as it is.")
    assert seen[1] == (Qt.CheckState.Unchecked, Qt.CheckState.Unchecked, Qt.CheckState.Checked)
    assert window.banner.kind == "success", window.banner.text
    now = describe_tree(config_dir)
    assert {p: v for p, v in now.items() if p.startswith("conf.d")} == {
        p: v for p, v in messed.items() if p.startswith("conf.d")
    }
    assert now["app.yaml"] == wanted["app.yaml"]


def test_a_partly_ticked_folder_shows_so_and_keeps_its_own_change(
    qtbot, window, service, config_dir, wanted, golden
):
    os.chmod(config_dir / "conf.d", 0o700)
    (config_dir / "conf.d" / "stray.ini").write_text("[stray]\n")
    messed = describe_tree(config_dir)
    seen = {}

    def tick_only_new_ini(changes) -> None:
        table = changes.findChild(object, "changesTable")
        restore = changes.findChild(object, "restoreTickedButton")
        toggle_tick(qtbot, table, _row_of(table, "conf.d"))
        seen["after unticking"] = _tick(table, "conf.d"), restore.isEnabled()
        toggle_tick(qtbot, table, _row_of(table, "conf.d/new.ini"))
        seen["folder"] = _tick(table, "conf.d"), _tick(table, "conf.d/stray.ini")
        seen["itself"] = _tick(table, "(the folder itself)")
        changes.accept()

    through_the_changes(qtbot, window, golden, tick_only_new_ini, restore=True)

    assert seen["after unticking"] == (Qt.CheckState.Unchecked, True)  # the rest is ticked
    assert seen["folder"] == (Qt.CheckState.PartiallyChecked, Qt.CheckState.Unchecked)
    assert seen["itself"] == Qt.CheckState.PartiallyChecked
    assert window.banner.kind == "success"
    now = describe_tree(config_dir)
    assert "conf.d/new.ini" not in now  # ticked: as in the backup, which has none
    assert now["conf.d/stray.ini"] == messed["conf.d/stray.ini"]  # unticked: left
    assert "conf.d/cache.ini" not in now  # unticked: still gone
    assert now["conf.d"][:2] == messed["conf.d"][:2]  # partly ticked: its mode as it is now
    assert now["app.yaml"] == wanted["app.yaml"]  # and the rest restored


def test_with_nothing_ticked_there_is_nothing_to_restore(qtbot, window, service, golden):
    seen = {}

    def untick_everything(changes) -> None:
        table = changes.findChild(object, "changesTable")
        restore = changes.findChild(object, "restoreTickedButton")
        toggle_tick(qtbot, table, _row_of(table, "(the folder itself)"))
        seen["unticked"] = (
            restore.isEnabled(),
            {
                _tick(table, table.model().index(row, PATH_COLUMN).data())
                for row in range(table.model().rowCount())
                if table.model().index(row, PATH_COLUMN).data() != "(the folder itself)"
            },
        )
        toggle_tick(qtbot, table, _row_of(table, "app.yaml"))
        seen["one ticked"] = restore.isEnabled(), _tick(table, "(the folder itself)")
        toggle_tick(qtbot, table, _row_of(table, "(the folder itself)"))  # partly: all of it
        seen["all ticked"] = changes.selection()
        changes.reject()

    through_the_changes(qtbot, window, golden, untick_everything, restore=False)
    qtbot.waitUntil(lambda: "all ticked" in seen, timeout=10_000)

    assert seen["unticked"] == (False, {Qt.CheckState.Unchecked})
    assert seen["one ticked"] == (True, Qt.CheckState.PartiallyChecked)
    assert seen["all ticked"] is None  # the whole backup again


def test_sorting_the_changes_keeps_each_paths_tick_and_the_selected_row(
    qtbot, window, service, golden
):
    seen = {}

    def sort_and_untick(changes) -> None:
        table = changes.findChild(object, "changesTable")
        model = table.model()
        toggle_tick(qtbot, table, _row_of(table, "app.yaml"))
        click_header(qtbot, table, SIZE_COLUMN)  # ascending
        click_header(qtbot, table, SIZE_COLUMN)  # descending
        sizes = [
            model.index(row, 0).data(RECORD_ROLE).size_after for row in range(model.rowCount())
        ]
        seen["sizes"] = [-1 if size is None else size for size in sizes]
        seen["selected"] = table.currentIndex().siblingAtColumn(PATH_COLUMN).data()
        seen["app.yaml"] = _tick(table, "app.yaml")
        seen["ticked"] = {
            model.index(row, PATH_COLUMN).data()
            for row in range(model.rowCount())
            if _tick(table, model.index(row, PATH_COLUMN).data()) == Qt.CheckState.Checked
        }
        seen["selection"] = changes.selection()
        changes.reject()

    through_the_changes(qtbot, window, golden, sort_and_untick, restore=False)
    qtbot.waitUntil(lambda: "selection" in seen, timeout=10_000)

    assert seen["sizes"] == sorted(seen["sizes"], reverse=True) and len(set(seen["sizes"])) > 2
    assert seen["selected"] == "app.yaml"  # the row clicked, wherever the sort moved it
    assert seen["app.yaml"] == Qt.CheckState.Unchecked
    assert "app.yaml" not in seen["ticked"] and "hooks.sh" in seen["ticked"]
    ticked = seen["ticked"] - {"(the folder itself)"}  # partly ticked: all but app.yaml
    assert set(seen["selection"]) == {
        path for path in ticked if not any(path.startswith(f"{other}/") for other in ticked)
    }


def test_the_changes_view_opens_as_large_split_and_sorted_as_the_user_left_it(
    qtbot, window, service, golden
):
    seen = []

    def arrange(changes) -> None:
        changes.resize(700, 720)  # within the offscreen screen, 800 by 800
        changes.findChild(QSplitter).setSizes([150, 500])
        table = changes.findChild(object, "changesTable")
        click_header(qtbot, table, SIZE_COLUMN)
        click_header(qtbot, table, SIZE_COLUMN)  # largest first
        changes.reject()

    def look(changes) -> None:
        table = changes.findChild(object, "changesTable")
        model = table.model()
        sizes = [
            model.index(row, 0).data(RECORD_ROLE).size_after for row in range(model.rowCount())
        ]
        splitter = changes.findChild(QSplitter).sizes()
        seen.append((changes.size().toTuple(), splitter, [s or -1 for s in sizes]))
        changes.reject()

    through_the_changes(qtbot, window, golden, arrange, restore=False)
    through_the_changes(qtbot, window, golden, look, restore=False)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)

    size, splitter, sizes = seen[0]
    assert size == (700, 720)
    assert splitter[0] < splitter[1] / 2  # the diff given most of the height, as left
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) > 2


def test_a_big_changed_image_is_named_by_the_size_and_hash_of_all_of_it(
    qtbot, window, service, environment, config_dir
):
    # A diff reads a MiB of each version: the size and hash shown must be of the whole file.
    image = config_dir / "splash.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\0" + os.urandom(3 << 20))
    backup = service.create_backup("billing", name="with the old splash")
    old, new = image.read_bytes(), b"\x89PNG\r\n\x1a\n\0" + os.urandom(5 << 20)
    image.write_bytes(new)
    window.controller.refresh()
    select_environment(window, "billing")

    diff = _diff_in_the_changes(qtbot, window, backup, "splash.png")

    for version in (old, new):
        facts = f"{len(version):,} bytes, SHA-256 {hashlib.sha256(version).hexdigest()}"
        assert facts in diff


def test_a_pipe_put_where_a_file_was_since_the_preview_does_not_hold_the_diff(
    qtbot, window, config_dir, golden
):
    def a_tool_puts_a_pipe_in_its_place() -> None:
        (config_dir / "app.yaml").unlink()
        os.mkfifo(config_dir / "app.yaml")

    diff = _diff_in_the_changes(qtbot, window, golden, "app.yaml", a_tool_puts_a_pipe_in_its_place)

    assert "port: 8443" in diff  # the backup's version beside no file of the folder


def test_comparing_two_backups_from_the_options_menu(
    qtbot, window, service, environment, config_dir
):
    first = service.create_backup("billing", name="first")
    (config_dir / "conf.d" / "new.ini").write_text("[new]\n")
    service.create_backup("billing", name="second")
    window.controller.refresh()
    select_environment(window, "billing")
    seen = {}

    def show_changes(changes) -> None:
        table = changes.findChild(object, "changesTable")
        rows = {table.model().index(r, 0).data(): r for r in range(table.model().rowCount())}
        table.selectRow(rows["conf.d/new.ini"])
        seen["diff"] = diff_of_selected_file(qtbot, changes)[0]
        seen["paths"], seen["title"] = set(rows), changes.windowTitle()
        changes.accept()

    pick_in_list("compareWithDialog", "second", show_changes, "changesDialog")
    choose_backup_option(qtbot, window, first.id, "compareAction")
    qtbot.waitUntil(lambda: "paths" in seen, timeout=10_000)

    assert "conf.d/new.ini" in seen["paths"] and "app.yaml" not in seen["paths"]
    assert seen["title"] == "Changes: first → second"
    assert "[new]" in seen["diff"]  # read from the second backup, on a worker


def _two_environments(service, tmp_path, test_version: str):
    from tests.trees import make_config_tree

    production, test = tmp_path / "production", tmp_path / "test"
    make_config_tree(production)
    make_config_tree(test, seed=3)
    (production / "app.yaml").write_text("server:\n  port: 443\n")
    service.add_environment("production", production, version="4.2.0")
    service.add_environment("test", test, version=test_version)
    return service.create_backup("production", name="golden"), test


def test_a_backup_restored_into_another_environment_names_both(qtbot, window, service, tmp_path):
    golden, test_folder = _two_environments(service, tmp_path, "4.2.0")
    window.controller.refresh()
    select_environment(window, "production")
    seen = {}

    def confirm(dialog) -> None:
        seen["warning"] = dialog.findChild(object, "restoreWarning").text()
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    pick_in_list("restoreToDialog", "test (4.2.0)", confirm, "restoreBackupDialog")
    choose_backup_option(qtbot, window, golden.id, "restoreToAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)

    assert "this backup of production" in seen["warning"] and "of test" in seen["warning"]
    assert (test_folder / "app.yaml").read_text() == "server:\n  port: 443\n"
    assert "of production restored" in service.activity("test")[0].detail


def test_a_backup_of_another_version_is_refused_for_another_environment(
    qtbot, window, service, tmp_path
):
    golden, test_folder = _two_environments(service, tmp_path, "5.0.0")
    before = describe_tree(test_folder)
    window.controller.refresh()
    select_environment(window, "production")
    seen = {}

    pick_in_list(
        "restoreToDialog",
        "test (5.0.0)",
        lambda box: (seen.setdefault("box", box.objectName()), box.reject()),
    )
    choose_backup_option(qtbot, window, golden.id, "restoreToAction")
    qtbot.waitUntil(lambda: "box" in seen, timeout=10_000)

    assert seen["box"] == "versionMismatchBox"
    assert describe_tree(test_folder) == before


def test_updating_from_the_version_box_of_a_restore_into_another_environment_updates_that_one(
    qtbot, window, service, tmp_path
):
    golden, _test_folder = _two_environments(service, tmp_path, "5.0.0")
    window.controller.refresh()
    select_environment(window, "production")
    seen = {}

    def update(dialog) -> None:
        seen["title"] = dialog.windowTitle()
        dialog.findChild(object, "versionEdit").setText("4.2.0")
        dialog.accept()

    def choose_update(box) -> None:
        when_modal(update, named="updateEnvironmentDialog")
        click_button(box, "updateEnvironmentButton")

    pick_in_list("restoreToDialog", "test (5.0.0)", choose_update, "versionMismatchBox")
    choose_backup_option(qtbot, window, golden.id, "restoreToAction")
    qtbot.waitUntil(lambda: "title" in seen, timeout=10_000)

    assert seen["title"] == "Update test"
    qtbot.waitUntil(lambda: service.get_environment("test").version == "4.2.0", timeout=10_000)
    assert service.get_environment("production").version == "4.2.0"


def _production_upgraded_for_versioned_test(service, tmp_path):
    """production's backup whose VERSION says 5.0.0 (production keeps its version in EnvOps,
    at 4.2.0), and test, which keeps its own in VERSION (4.2.0)."""
    _golden, test_folder = _two_environments(service, tmp_path, "4.2.0")
    service.remove_environment("test")
    service.add_environment("test", test_folder, version_file="VERSION")
    (tmp_path / "production" / "VERSION").write_text("5.0.0\n")
    return service.create_backup("production", name="upgraded"), test_folder


def _restore_to_test(qtbot, window, backup, answer) -> None:
    """Restore to… test (4.2.0) from production's `backup`; `answer` answers the dialog."""
    window.controller.refresh()
    select_environment(window, "production")
    pick_in_list("restoreToDialog", "test (4.2.0)", answer, "restoreBackupDialog")
    choose_backup_option(qtbot, window, backup.id, "restoreToAction")


def test_a_backup_whose_version_file_says_another_version_is_refused_for_another_environment(
    qtbot, window, service, tmp_path
):
    upgraded, test_folder = _production_upgraded_for_versioned_test(service, tmp_path)
    before = describe_tree(test_folder)
    seen = {}
    # Restore pressed at once: the box comes from the restore, or from the dialog's own
    # check should that end first.
    when_modal(
        lambda box: (seen.setdefault("box", box.objectName()), box.reject()),
        20_000,
        named="versionMismatchBox",
    )

    def confirm(dialog) -> None:
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        click_button(dialog, "restoreButton")

    _restore_to_test(qtbot, window, upgraded, confirm)
    qtbot.waitUntil(lambda: "box" in seen, timeout=20_000)

    assert seen["box"] == "versionMismatchBox"
    assert describe_tree(test_folder) == before
    assert service.get_environment("test").status.value == "Ready"
    assert upgraded.version == "4.2.0"  # as recorded for production


def test_the_restore_dialog_gives_way_to_the_version_box_once_its_preview_finds_another_version(
    qtbot, window, service, tmp_path
):
    upgraded, test_folder = _production_upgraded_for_versioned_test(service, tmp_path)
    before = describe_tree(test_folder)
    seen = {}

    def box(box) -> None:
        seen["dialog open"] = any(
            w.objectName() == "restoreBackupDialog" and w.isVisible()
            for w in QApplication.topLevelWidgets()
        )
        seen["box"] = box.text()
        box.reject()

    def wait_in_the_dialog(dialog) -> None:
        when_modal(box, named="versionMismatchBox")
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)  # Restore not pressed

    _restore_to_test(qtbot, window, upgraded, wait_in_the_dialog)
    qtbot.waitUntil(lambda: "box" in seen, timeout=20_000)

    assert "is version 5.0.0, but test runs version 4.2.0" in seen["box"]
    assert seen["dialog open"] is False
    assert describe_tree(test_folder) == before and service.list_backups("test") == []


def test_the_restore_dialog_says_why_a_restore_would_be_refused_and_keeps_restore_off(
    qtbot, window, service, tmp_path
):
    _upgraded, test_folder = _production_upgraded_for_versioned_test(service, tmp_path)
    (tmp_path / "production" / "VERSION").unlink()
    unversioned = service.create_backup("production", name="unversioned")
    before = describe_tree(test_folder)
    seen = {}

    def look(dialog) -> None:
        counts = dialog.findChild(object, "previewCounts")
        qtbot.waitUntil(lambda: "holds no VERSION" in counts.text(), timeout=10_000)
        seen["counts"] = counts.text()
        seen["restore enabled"] = dialog.findChild(object, "restoreButton").isEnabled()
        dialog.reject()

    _restore_to_test(qtbot, window, unversioned, look)
    qtbot.waitUntil(lambda: "counts" in seen, timeout=20_000)

    assert "test could not tell which version it runs" in seen["counts"]
    assert seen["restore enabled"] is False
    assert describe_tree(test_folder) == before


def test_restore_to_a_folder_from_the_options_menu(
    qtbot, window, service, config_dir, tmp_path, wanted, golden
):
    messed = describe_tree(config_dir)
    (tmp_path / "copy").mkdir()

    choose_in_file_dialog(tmp_path / "copy", "restoreToFolderDialog")
    choose_backup_option(qtbot, window, golden.id, "restoreToFolderAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)

    assert window.banner.kind == "success" and "was written to" in window.banner.text
    assert describe_tree(tmp_path / "copy") == wanted
    assert describe_tree(config_dir) == messed


def _report_from_the_activity_log(qtbot, window, action: str) -> dict:
    """Select billing's entry `action` in the Activity Log and open what it changed with
    Show changes…; the paths listed and the summary."""
    window.controller.refresh()
    select_environment(window, "billing")
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(2).center())
    log_read(qtbot, window)
    table = window.activity.table
    row = next(
        r for r in range(table.model().rowCount()) if table.model().index(r, 2).data() == action
    )
    qtbot.mouseClick(
        table.viewport(),
        Qt.MouseButton.LeftButton,
        pos=table.visualRect(table.model().index(row, 0)).center(),
    )
    seen = {}

    def read_report(changes) -> None:
        listed = changes.findChild(object, "changesTable").model()
        seen["paths"] = {listed.index(r, 0).data() for r in range(listed.rowCount())}
        seen["summary"] = changes.findChild(object, "changesSummary").text()
        changes.accept()

    answered = when_modal(read_report, named="changesDialog")
    qtbot.mouseClick(window.activity.show_report, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(answered, timeout=10_000)  # listed on a worker first
    return seen


def test_a_restores_changes_open_from_the_activity_log(
    qtbot, window, service, environment, config_dir, monkeypatch, laid_out_on
):
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    service.restore_backup("billing", backup.id)
    read_on = threads_calling(monkeypatch, service, "restore_report")

    seen = _report_from_the_activity_log(qtbot, window, "backup restored")

    assert {"app.yaml", "conf.d/cache.ini", "conf.d/new.ini"} <= seen["paths"]
    assert seen["summary"] == "3 added, 1 modified, 1 removed, 3 changed only in metadata"
    # Read (20 MB of JSON for 200,000 paths) and laid out off the window's thread.
    assert read_on and laid_out_on and threading.main_thread() not in read_on + laid_out_on


def test_a_restores_changes_kept_in_the_activity_log_tell_a_byte_from_a_backslash(
    qtbot, window, service, environment, config_dir
):
    # The list kept with the entry held the byte 0xe9 as the text "\\xe9": read back, it
    # was listed as the name that holds a backslash, twice.
    odd = os.path.join(os.fsencode(config_dir), b"caf\xe9.conf")
    backup = service.create_backup("billing", name="golden")
    for path in (odd, config_dir / "caf\\xe9.conf"):
        with open(path, "w") as file:
            file.write("added since\n")
    service.restore_backup("billing", backup.id)

    seen = _report_from_the_activity_log(qtbot, window, "backup restored")

    assert {"caf\\xe9.conf", "caf\\\\xe9.conf"} <= seen["paths"]


def test_an_imports_changes_open_from_the_activity_log(
    qtbot, window, service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing", name="golden")
    exported = service.export_backup(backup.id, tmp_path / "golden.envops.zip")
    mess_up(config_dir)
    service.import_configuration_file("billing", service.check_configuration_file(exported))

    seen = _report_from_the_activity_log(qtbot, window, "configuration imported")

    assert {"app.yaml", "conf.d/cache.ini", "conf.d/new.ini"} <= seen["paths"]
    assert seen["summary"].startswith("3 added, 1 modified, 1 removed")


def test_show_changes_in_the_activity_log_is_offered_only_where_a_list_was_kept(
    qtbot, window, service, environment, config_dir
):
    # It was offered for every entry: a restore that failed, and was undone, said "only
    # restores and imports" keep one, as if it were not a restore.
    service.set_restore_command(
        "billing", "post", RestoreCommand(argv=["false"], timeout_seconds=30)
    )
    backup = service.create_backup("billing", name="golden")
    mess_up(config_dir)
    with pytest.raises(OperationFailedError):
        service.restore_backup("billing", backup.id)
    service.set_restore_command("billing", "post", None)
    service.restore_backup("billing", backup.id)
    window.controller.refresh()
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(2).center())
    log_read(qtbot, window)
    table = window.activity.table
    offered = {}
    for row in range(table.model().rowCount()):
        index = table.model().index(row, 0)
        qtbot.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center()
        )
        button = window.activity.show_report
        offered[table.model().index(row, 2).data()] = (button.isEnabled(), button.toolTip())
    asked = []
    window.activity.report_requested.connect(asked.append)
    failed = next(
        table.model().index(row, 0)
        for row in range(table.model().rowCount())
        if table.model().index(row, 2).data() == "restore failed"
    )
    qtbot.mouseDClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(failed).center()
    )

    assert offered["backup restored"] == (True, "")
    enabled, why = offered["restore failed"]
    assert not enabled and "finished keeps a list" in why
    assert not offered["backup created"][0]
    assert asked == []  # double-clicking the failed one opens nothing either


def test_a_long_operations_progress_bar_shows_elapsed_and_time_left(qtbot, window):
    import time as clock

    from envops_desktop.domain.progress import Progress

    def slow(progress, _cancel):
        for done in range(0, 101, 10):
            progress(Progress("copying", done, 100))
            clock.sleep(0.15)
        return None

    running = window.controller.runner.prepare("Copying", None, slow)
    seen = []
    running.progressed.connect(lambda _p: seen.append(window.task_progress.bar.format()))
    window.controller.runner.launch(running)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=10_000)

    assert any("elapsed, about" in text and "left" in text for text in seen)


def test_a_progress_bars_time_left_is_shown_whole_in_a_large_font(qtbot, window):
    import time as clock

    from PySide6.QtWidgets import QStyle, QStyleOptionProgressBar

    from envops_desktop.domain.progress import Progress

    font = window.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)  # as a user who reads the screen from afar
    window.setFont(font)

    def slow(progress, _cancel):
        for done in range(0, 101, 10):
            progress(Progress("copying", done, 100))
            clock.sleep(0.15)
        return None

    bar = window.task_progress.bar
    seen = []

    def room_for_the_text(_progress) -> None:
        option = QStyleOptionProgressBar()
        bar.initStyleOption(option)
        label = bar.style().subElementRect(QStyle.SubElement.SE_ProgressBarLabel, option, bar)
        seen.append((bar.text(), bar.fontMetrics().horizontalAdvance(bar.text()), label.width()))

    running = window.controller.runner.prepare("Copying", None, slow)
    window.controller.runner.launch(running)
    running.progressed.connect(room_for_the_text)  # after the status bar's own: as drawn
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=10_000)

    with_time_left = [(text, needed, room) for text, needed, room in seen if "left" in text]
    assert with_time_left
    assert all(needed <= room for _text, needed, room in with_time_left), with_time_left


def _progress_lines_of_restoring(qtbot, window, service, config_dir, file: Path) -> list[str]:
    """Each line the status bar shows while billing is restored from the toolbar's Restore,
    its folder holding only `file` (big enough to be named while it is written)."""
    shutil.rmtree(config_dir)
    file.parent.mkdir(parents=True)
    file.write_bytes(os.urandom(8 << 20))
    backup = service.create_backup("billing")
    window.controller.refresh()
    select_environment(window, "billing")
    shown = progress_lines(window)
    when_modal(lambda dialog: click_button(dialog, "restoreButton"))
    choose_backup_option(qtbot, window, backup.id, "restoreAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running and bool(shown), timeout=20_000)
    return shown


def test_the_progress_line_names_a_file_whose_name_is_not_utf8_with_its_odd_byte(
    qtbot, window, service, environment, config_dir
):
    odd = config_dir / os.fsdecode(b"lat\xe9.bin")
    shown = _progress_lines_of_restoring(qtbot, window, service, config_dir, odd)

    assert any(line.endswith("— lat\\xe9.bin") for line in shown), shown


def test_the_progress_line_keeps_a_deep_files_own_name_and_loses_the_middle_of_its_path(
    qtbot, window, service, environment, config_dir
):
    deep = config_dir.joinpath(*[f"level{n}-of-a-deeply-nested-tree" for n in range(12)])
    shown = _progress_lines_of_restoring(qtbot, window, service, config_dir, deep / "disk.img")

    named = [line for line in shown if line.endswith("/disk.img")]
    assert named and all("…" in line and "level0-of" in line for line in named), shown
    assert all(len(line) < 160 for line in shown), shown


def test_a_folder_changed_after_the_preview_is_not_restored_and_the_new_preview_shown(
    qtbot, window, service, config_dir, golden
):
    seen = []

    def restore_after_a_late_edit(dialog) -> None:
        _previewed(qtbot, dialog)
        seen.append(dialog.findChild(object, "previewCounts").text())
        (config_dir / "late.conf").write_text("edited while the dialog was open\n")
        when_modal(look_again, named="restoreBackupDialog")
        click_button(dialog, "restoreButton")

    def look_again(dialog) -> None:
        _previewed(qtbot, dialog)
        seen.append(dialog.findChild(object, "previewCounts").text())
        dialog.reject()

    when_modal(restore_after_a_late_edit)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=20_000)

    assert seen == [
        "3 added, 1 modified, 1 removed, 3 changed only in metadata",
        "3 added, 1 modified, 2 removed, 3 changed only in metadata",
    ]
    assert (config_dir / "late.conf").exists()
    assert len(service.list_backups("billing")) == 1


def test_one_files_backed_up_content_is_saved_from_the_changes(
    qtbot, window, service, config_dir, golden, tmp_path, monkeypatch
):
    wanted = service.backup_file(golden.id, "app.yaml").head
    saved = tmp_path / "app-from-golden.yaml"
    saved_on = threads_calling(monkeypatch, service, "save_backup_file")

    def save_app_yaml(changes) -> None:
        table = changes.findChild(object, "changesTable")
        table.selectRow(_row_of(table, "app.yaml").row())
        choose_in_file_dialog(saved, "saveFileDialog")
        qtbot.mouseClick(changes.findChild(object, "saveFileButton"), Qt.MouseButton.LeftButton)
        changes.reject()

    def restore_dialog(dialog) -> None:
        button = _previewed(qtbot, dialog)
        answered = when_modal(save_app_yaml, named="changesDialog")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(answered, timeout=10_000)  # listed on a worker first
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=10_000)  # a worker's

    assert saved.read_bytes() == wanted
    assert window.banner.text == f"Saved app.yaml of golden as {saved}."
    assert saved_on and threading.main_thread() not in saved_on  # 50 MiB is no instant
    assert (config_dir / "app.yaml").read_bytes() != wanted  # nothing restored


def test_a_damaged_page_of_the_database_is_named_in_a_sentence(
    qtbot, window, service, golden, tmp_path
):
    database = damage_table(service.data_dir, "manifests")
    seen = {}

    def restore_dialog(dialog) -> None:
        counts = dialog.findChild(object, "previewCounts")
        qtbot.waitUntil(lambda: "damaged" in counts.text(), timeout=10_000)
        seen["counts"] = counts.text()
        dialog.reject()

    when_modal(restore_dialog)
    choose_backup_option(qtbot, window, golden.id, "restoreAction")
    qtbot.waitUntil(lambda: "counts" in seen, timeout=15_000)

    assert seen["counts"].startswith(f"{database} is damaged (")
    assert "Move it aside and restore it from a copy" in seen["counts"]


def test_a_name_that_is_not_utf8_is_shown_with_its_byte_and_can_be_left_as_it_is(
    qtbot, window, service, config_dir, golden
):
    odd = os.path.join(os.fsencode(config_dir), b"caf\xe9.conf")  # Latin-1, as old tools wrote
    with open(odd, "wb") as file:
        file.write(b"[cafe]\n")
    seen = {}

    def untick_it(changes) -> None:
        table = changes.findChild(object, "changesTable")
        toggle_tick(qtbot, table, _row_of(table, "caf\\xe9.conf"))
        seen["selection"] = changes.selection()
        changes.accept()

    through_the_changes(qtbot, window, golden, untick_it, restore=True)

    assert window.banner.kind == "success"
    assert "caf\udce9.conf" not in seen["selection"]  # the real name, not its display
    with open(odd, "rb") as file:
        assert file.read() == b"[cafe]\n"  # left as it is
    assert (
        config_dir / "app.yaml"
    ).read_text() == "server:\n  port: 8443\n  workers: 8\nlog_level: info\n"


def test_a_name_with_a_newline_or_a_backslash_is_shown_on_its_row_as_itself(
    qtbot, window, config_dir, golden
):
    # A row of one line showed "notes" alone for "notes\nold", and a name holding a
    # backslash and an n read the same as it.
    (config_dir / "notes\nold").write_text("x\n")
    (config_dir / "notes\\nold").write_text("y\n")
    seen = {}

    def look(changes) -> None:
        table = changes.findChild(object, "changesTable")
        model = table.model()
        seen["paths"] = [model.index(row, PATH_COLUMN).data() for row in range(model.rowCount())]
        changes.reject()

    through_the_changes(qtbot, window, golden, look, restore=False)
    qtbot.waitUntil(lambda: "paths" in seen, timeout=10_000)

    assert {"notes\\nold", "notes\\\\nold"} <= set(seen["paths"])
    assert not any("\n" in path for path in seen["paths"])
