"""Restoring from a configuration file through the Import dialog, with real drag and drop."""

import os
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
import shiboken6
from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

from envops_desktop.domain.enums import ActivityAction, BackupOrigin
from envops_desktop.service import EnvOpsService
from envops_desktop.workers import operation_worker
from tests.gui.conftest import (
    answer_passphrase,
    choose_in_file_dialog,
    click_button,
    diff_of_selected_file,
    export_through_dialog,
    modal_dialog,
    select_environment,
    when_modal,
)
from tests.gui.user import choose_backup_option, click_toolbar_button, press_shortcut
from tests.integration.test_configuration_files import HOSTILE
from tests.spies import letting_go_of_changes, threads_calling
from tests.trees import WHOLE_SECONDS, describe_tree, make_config_tree, rsync_differences
from tests.zips import simple_configuration


def mime_for(*paths: Path) -> QMimeData:
    """`paths` as a file manager drags them: each byte of a name that is not UTF-8 as %XX,
    which `QUrl.fromLocalFile` would write otherwise."""
    mime = QMimeData()
    mime.setUrls(
        [QUrl.fromEncoded(b"file://" + quote_from_bytes(os.fsencode(p)).encode()) for p in paths]
    )
    return mime


def drag_and_drop(widget, *paths: Path) -> tuple[bool, bool]:
    """Drag `paths` over `widget` and drop them; return whether enter and drop were accepted."""
    mime = mime_for(*paths)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        QPoint(10, 10), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False, False
    move = QDragMoveEvent(
        QPoint(12, 12), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, move)
    drop = QDropEvent(
        QPointF(12, 12), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)
    return True, drop.isAccepted()


def open_import_dialog(qtbot, window, environment: str):
    """The Import dialog of `environment`, opened as a user opens it: Restore from file… on
    the toolbar."""
    window.controller.refresh()
    select_environment(window, environment)
    click_toolbar_button(qtbot, window, "importConfigurationButton")
    return modal_dialog(qtbot, "importConfigurationDialog")


@pytest.fixture
def dialog(qtbot, window, environment):
    """billing's Import dialog."""
    dialog = open_import_dialog(qtbot, window, "billing")
    yield dialog
    if shiboken6.isValid(dialog) and dialog.isVisible():
        dialog.reject()


def wait_uploaded(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog._upload is None, timeout=20_000)


def test_a_file_whose_name_is_not_utf8_dropped_from_a_file_manager_is_imported(
    qtbot, dialog, window, config_dir, tmp_path
):
    # Its URL names the byte as %E9, which Qt's toLocalFile turns into U+FFFD: the dialog
    # said the file does not exist.
    source = simple_configuration(tmp_path / os.fsdecode(b"r\xe9plica.envops.zip"))

    assert drag_and_drop(dialog.findChild(object, "dropZone"), source) == (True, True)
    wait_uploaded(qtbot, dialog)

    assert "r\\xe9plica.envops.zip" in dialog.findChild(object, "uploadedFileLabel").text()
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    assert "restored from r\\xe9plica.envops.zip (4.2.0)" in window.banner.text
    assert (config_dir / "app.yaml").read_bytes() == b"server:\n  port: 8080\n"


def test_closing_the_dialog_with_a_file_uploaded_removes_it_off_the_window_s_thread(
    qtbot, dialog, tmp_path, monkeypatch
):
    removals = threads_calling(monkeypatch, EnvOpsService, "discard_staged_configuration")
    let_go = letting_go_of_changes(monkeypatch)
    source = simple_configuration(tmp_path / "replica.envops.zip")
    assert drag_and_drop(dialog.findChild(object, "dropZone"), source) == (True, True)
    wait_uploaded(qtbot, dialog)
    counts = dialog.findChild(object, "importPreviewCounts")
    qtbot.waitUntil(lambda: counts.text().startswith("Changes: "), timeout=10_000)
    previewed = dialog._chosen_changes()
    staging = tmp_path / "data" / "staging"
    assert list(staging.iterdir()) != []
    # Its manifest's entries are let go of there too, a part at a time: left to the last
    # reference, 200,000 were freed in one call that held the window a third of a second.
    entries = dialog.staged.manifest.entries
    assert entries

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: list(staging.iterdir()) == [], timeout=10_000)
    assert len(removals) == 1 and removals[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: entries == [], timeout=10_000)
    # And what it showed would change: 200,000 changes freed with the dialog, by the
    # window's collector, held the window 70-80 ms.
    qtbot.waitUntil(lambda: bool(let_go), timeout=10_000)
    assert let_go == [(previewed, False)]


def test_drop_upload_remove_reupload_and_import(
    qtbot, dialog, window, service, config_dir, tmp_path, monkeypatch
):
    source = simple_configuration(tmp_path / "replica.envops.zip")
    # The trash button's removal of what was uploaded: off the window's thread, which
    # stalled 360-460 ms removing a 20,000-file archive's staged copy.
    removals = threads_calling(monkeypatch, EnvOpsService, "discard_staged_configuration")
    let_go = letting_go_of_changes(monkeypatch)
    zone = dialog.findChild(object, "dropZone")
    values: list[int] = []
    dialog.progress_bar.valueChanged.connect(values.append)

    labels: list[str] = []
    dialog.progress_bar.valueChanged.connect(
        lambda _v: labels.append(dialog.uploading_label.text())
    )

    assert drag_and_drop(zone, source) == (True, True)
    assert dialog.uploading_label.text() == "Reading replica.envops.zip…"
    assert dialog.pages.currentIndex() == 1  # the drop zone gave way to the progress bar
    wait_uploaded(qtbot, dialog)
    assert values[-1] == 100 and values == sorted(values)
    assert labels[-1] == "Uploading replica.envops.zip…"
    label = dialog.findChild(object, "uploadedFileLabel").text()
    for part in ("replica.envops.zip", "billing", "4.2.0", "2026-11-01", "2 files", "39 B"):
        assert part in label
    assert dialog.findChild(object, "importButton").isEnabled()
    # What it would change, worked out meanwhile: the file holds 2 files, the folder more.
    counts = dialog.findChild(object, "importPreviewCounts")
    qtbot.waitUntil(lambda: counts.text().startswith("Changes: "), timeout=10_000)
    assert "added" in counts.text() and "removed" in counts.text()
    first_preview = dialog._chosen_changes()

    qtbot.mouseClick(dialog.findChild(object, "removeFileButton"), Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == 0 and zone.isVisible()
    assert not dialog.findChild(object, "importButton").isEnabled()
    staging = tmp_path / "data" / "staging"
    qtbot.waitUntil(lambda: list(staging.iterdir()) == [], timeout=10_000)
    assert len(removals) == 1 and removals[0] is not threading.main_thread()

    choose_in_file_dialog(source, "chooseConfigurationFileDialog")
    qtbot.mouseClick(dialog.findChild(object, "chooseFileButton"), Qt.MouseButton.LeftButton)
    wait_uploaded(qtbot, dialog)
    dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert "being updated" in window.banner.text
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    assert "restored from replica.envops.zip (4.2.0)" in window.banner.text
    assert sorted(p.relative_to(config_dir).as_posix() for p in config_dir.rglob("*")) == [
        "app.yaml",
        "conf.d",
        "conf.d/db.ini",
    ]
    assert (config_dir / "app.yaml").read_bytes() == b"server:\n  port: 8080\n"
    assert service.list_backups("billing")[0].origin is BackupOrigin.IMPORTED
    assert service.activity("billing")[0].action is ActivityAction.CONFIGURATION_IMPORTED
    # What each upload showed would change, let go of off the window's thread: the removed
    # file's at once, the imported one's once its import ended.
    qtbot.waitUntil(lambda: len(let_go) == 2, timeout=10_000)
    assert let_go[0] == (first_preview, False)
    assert let_go[1][0] is not first_preview and let_go[1][1] is False


def _dropped_on_the_window(window, path: Path):
    """`path` dropped on the window: its Import dialog, opened by the call the drop queued,
    and nothing else run since (the dialog not drawn yet)."""
    assert drag_and_drop(window, path) == (True, True)
    QApplication.sendPostedEvents(None, QEvent.Type.MetaCall.value)
    (dialog,) = [
        d for d in window.findChildren(QDialog, "importConfigurationDialog") if d.isVisible()
    ]
    return dialog


class _Paints(QObject):
    """Counts the paint events of the widget it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802
        self.count += event.type() == QEvent.Type.Paint
        return False


def test_a_file_dropped_on_the_window_is_read_once_its_dialog_is_drawn(
    qtbot, window, environment, tmp_path, monkeypatch
):
    # Read at once, its worker held the GIL while the window drew the dialog and redrew
    # itself behind it: the longest stalls of opening a big file.
    monkeypatch.setattr(operation_worker, "_MOST_WAITED_S", 60)  # only drawing starts it
    window.controller.refresh()
    select_environment(window, "billing")
    paints = _Paints()
    paints_when_read: list[int] = []
    check = EnvOpsService.check_configuration_file

    def checking(*args, **kwargs):
        paints_when_read.append(paints.count)
        return check(*args, **kwargs)

    monkeypatch.setattr(EnvOpsService, "check_configuration_file", checking)
    dialog = _dropped_on_the_window(window, simple_configuration(tmp_path / "a.envops.zip"))
    dialog.installEventFilter(paints)
    assert dialog.uploading_label.text() == "Reading a.envops.zip…"
    assert dialog.pages.currentIndex() == 1
    time.sleep(0.05)  # the window's thread busy elsewhere: the dialog not drawn yet
    assert paints_when_read == []
    wait_uploaded(qtbot, dialog)
    assert paints_when_read and paints_when_read[0] > 0, "read before the dialog was drawn"
    assert dialog.findChild(object, "importButton").isEnabled()
    dialog.removeEventFilter(paints)
    dialog.reject()


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_a_file_dropped_on_the_window_and_cancelled_before_it_is_read_is_never_read(
    qtbot, window, environment, tmp_path, monkeypatch, how
):
    window.controller.refresh()
    select_environment(window, "billing")
    reads = threads_calling(monkeypatch, EnvOpsService, "check_configuration_file")
    dialog = _dropped_on_the_window(window, simple_configuration(tmp_path / "b.envops.zip"))
    if how == "cancel":
        click_button(dialog, "cancelUploadButton")
    else:
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible()
    qtbot.waitUntil(lambda: not window.controller.runner.running)
    assert reads == []
    assert not list((tmp_path / "data" / "staging").glob("*"))
    if how == "cancel":
        assert dialog.pages.currentIndex() == 0  # the drop zone back
        dialog.reject()


def test_pressing_import_starts_the_import_only_once_the_window_has_drawn_it(
    qtbot, dialog, window, service, config_dir, tmp_path, monkeypatch
):
    # Started with the press, the import's Python held the GIL while the window drew the
    # dialog closing, the banner, the Updating status and the task bar.
    monkeypatch.setattr(operation_worker, "_MOST_WAITED_S", 60)  # only drawing starts it
    importing = threads_calling(monkeypatch, EnvOpsService, "import_configuration")
    drag_and_drop(dialog.findChild(object, "dropZone"), simple_configuration(tmp_path / "c.zip"))
    wait_uploaded(qtbot, dialog)
    dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    assert "being updated" in window.banner.text
    time.sleep(0.05)  # the window's thread busy elsewhere: nothing drawn yet
    assert importing == []
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert len(importing) == 1 and importing[0] is not threading.main_thread()
    assert window.banner.kind == "success", window.banner.text
    assert (config_dir / "app.yaml").read_bytes() == b"server:\n  port: 8080\n"


def test_a_folder_changed_after_the_import_preview_is_not_imported_and_the_new_one_shown(
    qtbot, dialog, window, service, config_dir, tmp_path
):
    source = simple_configuration(tmp_path / "replica.envops.zip")
    counts = dialog.findChild(object, "importPreviewCounts")
    assert drag_and_drop(dialog.findChild(object, "dropZone"), source) == (True, True)
    wait_uploaded(qtbot, dialog)
    qtbot.waitUntil(lambda: counts.text().startswith("Changes: "), timeout=10_000)
    first = counts.text()
    (config_dir / "late.conf").write_text("edited while the dialog was open\n")
    dialog.findChild(object, "backupFirstCheckBox").setChecked(False)

    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.isVisible, timeout=20_000)  # back, with the same file
    qtbot.waitUntil(lambda: counts.text().startswith("Changes: "), timeout=10_000)

    assert "changed since its preview" in dialog.error_label.text()
    assert counts.text() != first and (config_dir / "late.conf").exists()
    assert service.list_backups("billing") == []
    assert "replica.envops.zip" in dialog.findChild(object, "uploadedFileLabel").text()
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    assert not (config_dir / "late.conf").exists()
    assert list((tmp_path / "data" / "staging").iterdir()) == []


def test_an_archive_comes_back_with_its_answers_when_the_folder_changed_after_its_preview(
    qtbot, dialog, window, service, config_dir, tmp_path
):
    source = drop_tarball_of_one_folder(qtbot, dialog, tmp_path, "from the tarball\n")
    folder = folder_as_root(qtbot, dialog)
    versions = dialog.findChild(object, "archiveVersionCombo")
    counts = dialog.findChild(object, "importPreviewCounts")
    versions.setCurrentIndex(0)
    first = counts.text()
    (config_dir / "late.conf").write_text("edited while the dialog was open\n")
    dialog.findChild(object, "backupFirstCheckBox").setChecked(False)

    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.isVisible, timeout=20_000)
    qtbot.waitUntil(lambda: counts.text() not in (first, "Working out what would change…"))

    assert counts.text().startswith("Changes: ") and (config_dir / "late.conf").exists()
    assert folder.isChecked() and versions.currentText() == "4.2.0"
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    assert rsync_differences(source, config_dir, "--delete", WHOLE_SECONDS) == []


@pytest.mark.parametrize(
    "what",
    ["folder", "two files", "text file"],
)
def test_unacceptable_drags_are_refused_at_drag_enter_with_a_reason(qtbot, dialog, tmp_path, what):
    one = simple_configuration(tmp_path / "one.zip")
    paths = {
        "folder": [tmp_path],
        "two files": [one, simple_configuration(tmp_path / "two.zip")],
        "text file": [tmp_path / "notes.txt"],
    }[what]
    (tmp_path / "notes.txt").write_text("hello")
    zone = dialog.findChild(object, "dropZone")
    mime = mime_for(*paths)  # the event only points at it: keep it alive
    enter = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(zone, enter)
    assert not enter.isAccepted()
    assert zone.state == "refuse"
    said = {
        "folder": "is a folder",  # once its disk has answered, off the window's thread
        "two files": "one configuration file",
        "text file": "notes.txt is not a configuration file or archive (.zip, or .tar, "
        "compressed or not: .tar.gz, .tar.zst, .tar.bz2, .tar.xz).",
    }[what]
    qtbot.waitUntil(lambda: said in zone.message.text(), timeout=2_000)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_shown_with_its_reason_and_changes_nothing(
    qtbot, case, dialog, service, config_dir, tmp_path
):
    build, reason = HOSTILE[case]
    hostile = build(tmp_path)
    if hostile.suffix != ".zip":
        hostile = hostile.rename(hostile.with_suffix(".zip"))
    before = describe_tree(config_dir)
    dialog.upload(hostile)
    wait_uploaded(qtbot, dialog)
    error = dialog.findChild(object, "uploadErrorLabel")
    assert error.isVisible() and reason in error.text()
    assert not dialog.findChild(object, "importButton").isEnabled()
    assert dialog.pages.currentIndex() == 0
    assert describe_tree(config_dir) == before
    assert service.list_backups("billing") == []
    assert list((tmp_path / "data" / "staging").iterdir()) == []


def test_a_file_of_another_version_is_refused_before_its_files_are_uploaded(
    qtbot, window, dialog, tmp_path
):
    started: list[str] = []
    window.controller.runner.changed.connect(
        lambda: started.extend(op.label for op in window.controller.runner.running)
    )
    seen = []
    said = []
    when_modal(
        lambda box: (
            seen.append(box.objectName()),
            said.append(box.text() + " " + box.informativeText()),
            click_button(box, "okButton"),
        )
    )
    drag_and_drop(
        dialog.findChild(object, "dropZone"), simple_configuration(tmp_path / "v5.zip", "5.0")
    )
    qtbot.waitUntil(lambda: seen == ["versionMismatchBox"], timeout=20_000)
    assert "This configuration file is version 5.0" in said[0]
    assert "then import the file again" in said[0]
    assert not dialog.findChild(object, "importButton").isEnabled()
    assert "5.0" in dialog.error_label.text()
    assert dialog.pages.currentIndex() == 0  # back to the drop zone
    assert started and all(label.startswith("Reading") for label in started)
    assert list((tmp_path / "data" / "staging").iterdir()) == []


def _billings_export_for_versioned(qtbot, window, service, tmp_path):
    """billing exported as it is now; the environment versioned (4.2.0 in its VERSION);
    and versioned's Import dialog, open."""
    exported = tmp_path / "billing.envops.zip"
    service.export_backup(service.create_backup("billing").id, exported)
    folder = tmp_path / "versioned"
    make_config_tree(folder)
    service.add_environment("versioned", folder, version_file="VERSION")
    return exported, folder, open_import_dialog(qtbot, window, "versioned")


def test_a_file_whose_version_file_says_another_version_is_refused_before_its_upload(
    qtbot, window, service, environment, config_dir, tmp_path
):
    (config_dir / "VERSION").write_text("5.0.0\n")  # billing's manifests say 4.2.0
    exported, _folder, dialog = _billings_export_for_versioned(qtbot, window, service, tmp_path)
    seen = []
    when_modal(lambda box: (seen.append(box.text()), click_button(box, "okButton")))

    drag_and_drop(dialog.findChild(object, "dropZone"), exported)
    qtbot.waitUntil(lambda: bool(seen), timeout=20_000)

    assert "This configuration file is version 5.0.0, but versioned runs version 4.2.0" in seen[0]
    assert dialog.pages.currentIndex() == 0  # back to the drop zone
    dialog.reject()


def test_a_file_without_the_version_file_is_refused_before_its_upload(
    qtbot, window, service, environment, config_dir, tmp_path, monkeypatch
):
    (config_dir / "VERSION").unlink()  # billing keeps its version in EnvOps alone
    exported, folder, dialog = _billings_export_for_versioned(qtbot, window, service, tmp_path)
    uploads = threads_calling(monkeypatch, EnvOpsService, "stage_configuration_file")

    drag_and_drop(dialog.findChild(object, "dropZone"), exported)
    qtbot.waitUntil(lambda: "holds no VERSION" in dialog.error_label.text(), timeout=10_000)

    assert "versioned could not tell which version it runs" in dialog.error_label.text()
    assert dialog.pages.currentIndex() == 0 and uploads == []  # back to the drop zone
    assert not dialog.findChild(object, "importButton").isEnabled()
    dialog.reject()
    assert (folder / "VERSION").read_text() == "4.2.0\n"


def test_a_file_from_another_environment_is_named_in_the_warning(qtbot, dialog, tmp_path):
    source = simple_configuration(tmp_path / "web.zip", exported_from="web-frontend")
    drag_and_drop(dialog.findChild(object, "dropZone"), source)
    wait_uploaded(qtbot, dialog)
    warning = dialog.findChild(object, "importWarning").text()
    assert (
        "This file was exported from web-frontend. Importing it replaces billing's configuration."
        in warning
    )
    press_shortcut(qtbot, dialog, "Del")  # the trash button's key: pressed down a moment
    warning = dialog.findChild(object, "importWarning")
    qtbot.waitUntil(lambda: "web-frontend" not in warning.text(), timeout=2_000)
    assert dialog.findChild(object, "dropZone").isVisible()


def test_large_upload_can_be_cancelled(qtbot, dialog, service, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    for index in range(12):
        (big / f"part{index}.bin").write_bytes(os.urandom(16 << 20))
    service.add_environment("big", big, version="4.2.0")
    exported = service.export_backup(service.create_backup("big").id, tmp_path / "big.zip")
    cancel = dialog.findChild(object, "cancelUploadButton")
    clicked: list[int] = []

    def cancel_midway(value: int) -> None:
        if 0 < value < 100 and not clicked:
            clicked.append(value)
            qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)

    dialog.progress_bar.valueChanged.connect(cancel_midway)
    dialog.upload(exported)
    wait_uploaded(qtbot, dialog)
    assert clicked, "the upload showed no progress between 0 and 100"
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 0)
    assert not dialog.findChild(object, "importButton").isEnabled()
    assert list((tmp_path / "data" / "staging").iterdir()) == []


@pytest.mark.parametrize(
    "passphrase", [None, "mail it, keep this apart"], ids=["plain", "protected"]
)
def test_export_then_import_on_another_data_dir_reproduces_the_environment(
    qtbot, window, service, environment, config_dir, tmp_path, settings, passphrase
):
    # A name that is not UTF-8 too: the file is then written in format version 2.
    (config_dir / os.fsdecode(b"caf\xe9.conf")).write_text("an old tool's file\n")
    original = describe_tree(config_dir)
    backup = service.create_backup("billing", name="golden")
    window.controller.refresh()
    select_environment(window, "billing")
    target = tmp_path / "golden.envops.zip"
    export_through_dialog(target, passphrase)
    choose_backup_option(qtbot, window, backup.id, "exportAction")
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success" and target.exists()
    assert (b"db.ini" in target.read_bytes()) is (passphrase is None)

    from envops_desktop.controller.main_controller import MainController
    from envops_desktop.ui.main_window import MainWindow

    other_dir = tmp_path / "workstation2" / "billing"
    other_dir.mkdir(parents=True)
    other = EnvOpsService(tmp_path / "data2")
    other.add_environment("billing", other_dir, version="4.2.0")
    controller = MainController(other)
    second = MainWindow(controller, settings)
    qtbot.addWidget(second)
    controller.start()
    second.show()
    select_environment(second, "billing")

    if passphrase is not None:  # asked once the file is found to be protected
        answer_passphrase(passphrase, "filePassphraseDialog")
    assert drag_and_drop(second, target) == (True, True)  # dropped on the main window
    dialog = modal_dialog(qtbot, "importConfigurationDialog")
    import_button = dialog.findChild(object, "importButton")
    qtbot.waitUntil(import_button.isEnabled, timeout=20_000)
    click_button(dialog, "importButton")
    qtbot.waitUntil(lambda: second.banner.kind == "success", timeout=20_000)
    qtbot.waitUntil(lambda: not controller.runner.running, timeout=20_000)
    assert describe_tree(other_dir) == original
    controller.shutdown()
    other.close()


def test_a_file_opened_from_finder_opens_the_import_dialog_for_the_environment_it_names(
    qtbot, window, service, environment, tmp_path
):
    from PySide6.QtGui import QFileOpenEvent

    from envops_desktop.ui.file_open_filter import FileOpenFilter

    (tmp_path / "analytics").mkdir()
    service.add_environment("analytics", tmp_path / "analytics", version="4.2.0")
    window.controller.refresh()
    select_environment(window, "analytics")
    opened = []

    def look(dialog) -> None:
        opened.append(dialog.objectName())
        dialog.reject()

    QApplication.instance().installEventFilter(file_filter := FileOpenFilter(window))
    try:
        when_modal(look)
        event = QFileOpenEvent(str(simple_configuration(tmp_path / "finder.envops.zip")))
        QApplication.sendEvent(QApplication.instance(), event)
        qtbot.waitUntil(lambda: opened == ["importConfigurationDialog"])
    finally:
        QApplication.instance().removeEventFilter(file_filter)
    assert window.controller.selected_environment.name == "billing"  # the file's, not analytics


def test_a_setuid_file_imports_without_its_bit_unless_the_user_keeps_privileges(
    qtbot, dialog, window, config_dir, tmp_path
):
    from tests.zips import file_entry, manifest, write_configuration

    tool = b"#!/bin/sh\necho privileged\n"
    source = write_configuration(
        tmp_path / "tool.envops.zip",
        manifest([file_entry("tool.sh", tool, mode=0o4755)]),
        {"config/tool.sh": tool},
    )

    def import_with(keep: bool) -> int:
        box = dialog.findChild(object, "keepPrivilegesCheckBox")
        box.setChecked(keep)
        choose_in_file_dialog(source, "chooseConfigurationFileDialog")
        qtbot.mouseClick(dialog.findChild(object, "chooseFileButton"), Qt.MouseButton.LeftButton)
        wait_uploaded(qtbot, dialog)
        dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
        qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
        assert window.banner.kind == "success", window.banner.text
        return (config_dir / "tool.sh").stat().st_mode & 0o7777

    assert import_with(keep=False) == 0o755
    dialog = _reopen(qtbot, window)
    assert import_with(keep=True) == 0o4755


def test_keeping_owners_this_user_may_not_set_says_which_files_before_the_import(
    qtbot, dialog, window, config_dir, tmp_path, monkeypatch
):
    from tests.privileges import as_an_ordinary_user
    from tests.zips import configuration_owned_by_another_user

    source = configuration_owned_by_another_user(tmp_path / "owned.envops.zip")
    as_an_ordinary_user(monkeypatch)
    caveats = dialog.findChild(object, "importCaveats")

    dialog.findChild(object, "keepPrivilegesCheckBox").setChecked(True)
    choose_in_file_dialog(source, "chooseConfigurationFileDialog")
    qtbot.mouseClick(dialog.findChild(object, "chooseFileButton"), Qt.MouseButton.LeftButton)
    wait_uploaded(qtbot, dialog)
    assert caveats.isVisible()
    assert "tool.sh will belong to you instead of their recorded owners" in caveats.text()

    dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    entry = window.controller.service.activity("billing")[0]
    assert "tool.sh will belong to you" in entry.detail


def _reopen(qtbot, window):
    click_toolbar_button(qtbot, window, "importConfigurationButton")
    return modal_dialog(qtbot, "importConfigurationDialog")


def test_a_protected_file_with_a_wrong_passphrase_is_refused_in_the_dialog(
    qtbot, dialog, service, config_dir, tmp_path
):
    backup = service.create_backup("billing", name="golden")
    sealed = service.export_backup(
        backup.id, tmp_path / "golden.envops.zip", passphrase="the right one"
    )
    before = describe_tree(config_dir)
    asked: list[str] = []

    def wrong_then_cancel(ask) -> None:
        asked.append(ask.labelText())
        if len(asked) == 1:
            ask.setTextValue("not the right one")
            ask.accept()
            when_modal(wrong_then_cancel, 20_000, named="filePassphraseDialog")
        else:
            ask.reject()

    when_modal(wrong_then_cancel, 20_000, named="filePassphraseDialog")
    assert drag_and_drop(dialog.findChild(object, "dropZone"), sealed) == (True, True)
    error = dialog.findChild(object, "uploadErrorLabel")
    qtbot.waitUntil(error.isVisible, timeout=20_000)
    assert error.text() == "The passphrase does not unlock golden.envops.zip."
    assert asked == [
        "golden.envops.zip is protected by a passphrase. Passphrase:",
        "That passphrase does not open golden.envops.zip. Passphrase:",
    ]
    assert dialog.pages.currentIndex() == 0
    assert not dialog.findChild(object, "importButton").isEnabled()
    assert describe_tree(config_dir) == before
    # Dropped again, it is asked for again; the right one uploads it.
    answer_passphrase("the right one", "filePassphraseDialog")
    assert drag_and_drop(dialog.findChild(object, "dropZone"), sealed) == (True, True)
    qtbot.waitUntil(dialog.findChild(object, "importButton").isEnabled, timeout=20_000)
    assert "golden.envops.zip" in dialog.findChild(object, "uploadedFileLabel").text()


def drop_tarball_of_one_folder(
    qtbot, dialog, tmp_path: Path, app_yaml: str, name: str = "billing.tar.gz"
) -> Path:
    """Drop `name`, made by tar of a folder `billing` whose app.yaml is `app_yaml` (and
    compressed as its suffix says), onto the dialog and wait for its upload; return the
    folder."""
    source = tmp_path / "elsewhere" / "billing"
    make_config_tree(source)
    (source / "app.yaml").write_text(app_yaml)
    archive = tmp_path / name
    subprocess.run(["tar", "-caf", str(archive), "-C", str(source.parent), "billing"], check=True)
    drag_and_drop(dialog.findChild(object, "dropZone"), archive)
    wait_uploaded(qtbot, dialog)
    return source


@pytest.mark.parametrize("name", ["billing.tar.gz", "billing.tar.xz", "billing.tbz2"])
def test_an_archive_made_by_tar_is_imported_once_its_version_and_root_are_chosen(
    qtbot, window, dialog, service, config_dir, tmp_path, name
):
    source = drop_tarball_of_one_folder(qtbot, dialog, tmp_path, "from the tarball\n", name)

    # Nothing is chosen for the user: each layout shows what it would change.
    import_button = dialog.findChild(object, "importButton")
    folder = dialog.findChild(object, "archiveFolderRootRadio")
    top_level = dialog.findChild(object, "archiveTopLevelRootRadio")
    assert folder.isVisible() and top_level.isVisible()
    qtbot.waitUntil(lambda: "added" in top_level.text() and ": " in folder.text(), timeout=10_000)
    assert folder.text().startswith("Its folder billing: ")
    assert not import_button.isEnabled()
    assert "carried no checksums" in dialog.findChild(object, "importCaveats").text()

    qtbot.mouseClick(folder, Qt.MouseButton.LeftButton)
    assert not import_button.isEnabled()  # the version is still to confirm
    versions = dialog.findChild(object, "archiveVersionCombo")
    assert versions.currentText() == "" and versions.itemText(0) == "4.2.0"
    versions.setCurrentIndex(0)
    assert import_button.isEnabled()
    counts = dialog.findChild(object, "importPreviewCounts")
    assert counts.text() == f"Changes: {folder.text().split(': ', 1)[1]}"

    dialog.findChild(object, "backupFirstCheckBox").setChecked(False)
    qtbot.mouseClick(import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=20_000)
    assert window.banner.kind == "success", window.banner.text
    assert f"restored from {name} (4.2.0)" in window.banner.text
    assert rsync_differences(source, config_dir, "--delete", WHOLE_SECONDS) == []


def test_an_archive_confirmed_as_another_version_asks_to_update_the_environment(
    qtbot, window, dialog, service, config_dir, tmp_path
):
    archive = tmp_path / "flat.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(config_dir), "."], check=True)
    drag_and_drop(dialog.findChild(object, "dropZone"), archive)
    wait_uploaded(qtbot, dialog)
    assert not dialog.findChild(object, "archiveFolderRootRadio").isVisible()  # no choice
    versions = dialog.findChild(object, "archiveVersionCombo")
    qtbot.keyClicks(versions.lineEdit(), "5.0")
    seen = []
    when_modal(lambda box: (seen.append(box.objectName()), click_button(box, "okButton")))
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)
    assert seen == ["versionMismatchBox"]
    assert dialog.isVisible() and "5.0" in dialog.error_label.text()
    assert service.list_backups("billing") == []


def test_an_archives_version_file_gives_its_version_and_a_layout_without_it_is_refused(
    qtbot, window, service, tmp_path
):
    folder = tmp_path / "versioned"
    make_config_tree(folder)
    service.add_environment("versioned", folder, version_file="VERSION")
    dialog = open_import_dialog(qtbot, window, "versioned")
    newer = tmp_path / "elsewhere" / "versioned"
    make_config_tree(newer)
    (newer / "VERSION").write_text("5.0.0\n")
    archive = tmp_path / "versioned.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(newer.parent), "versioned"], check=True)
    before = describe_tree(folder)
    drag_and_drop(dialog.findChild(object, "dropZone"), archive)
    wait_uploaded(qtbot, dialog)
    versions = dialog.findChild(object, "archiveVersionCombo")
    note = dialog.findChild(object, "archiveVersionNote")

    folder_as_root(qtbot, dialog)
    qtbot.waitUntil(lambda: versions.currentText() == "5.0.0", timeout=10_000)
    assert not versions.isEnabled() and "its VERSION says it holds 5.0.0" in note.text()
    top_level = dialog.findChild(object, "archiveTopLevelRootRadio")
    qtbot.waitUntil(lambda: ": " in top_level.text(), timeout=10_000)
    qtbot.mouseClick(top_level, Qt.MouseButton.LeftButton)
    assert versions.currentText() == "" and versions.isEnabled()  # that layout says nothing
    # ...and would take away the file versioned keeps its version in.
    assert "holds no VERSION" in dialog.findChild(object, "importPreviewCounts").text()
    qtbot.keyClicks(versions.lineEdit(), "4.2.0")
    assert not dialog.findChild(object, "importButton").isEnabled()
    folder_as_root(qtbot, dialog)
    assert versions.currentText() == "5.0.0"
    seen = []
    when_modal(lambda box: (seen.append(box.objectName()), click_button(box, "okButton")))
    qtbot.mouseClick(dialog.findChild(object, "importButton"), Qt.MouseButton.LeftButton)

    assert seen == ["versionMismatchBox"]
    assert dialog.isVisible() and "5.0.0" in dialog.error_label.text()
    assert service.list_backups("versioned") == [] and describe_tree(folder) == before
    dialog.reject()


def test_while_the_chosen_folders_changes_are_worked_out_the_dialog_says_so(
    qtbot, dialog, service, tmp_path, monkeypatch
):
    # The folder's preview held back, as a big one is, until the top level's is shown.
    release = threading.Event()
    preview_import = service.preview_import

    def folder_held_back(environment, checked, *args, **kwargs):
        if checked.plain.root_folder is not None:
            release.wait(10)
        return preview_import(environment, checked, *args, **kwargs)

    monkeypatch.setattr(service, "preview_import", folder_held_back)
    drop_tarball_of_one_folder(qtbot, dialog, tmp_path, "from the tarball\n")
    top_level = dialog.findChild(object, "archiveTopLevelRootRadio")
    counts = dialog.findChild(object, "importPreviewCounts")
    qtbot.waitUntil(lambda: ": " in top_level.text(), timeout=10_000)
    assert counts.text() == "Choose the configuration folder below."

    folder = dialog.findChild(object, "archiveFolderRootRadio")
    on_its_circle = QPoint(6, folder.height() // 2)  # its text is short until its count is in
    qtbot.mouseClick(folder, Qt.MouseButton.LeftButton, pos=on_its_circle)
    assert folder.isChecked()
    bar = dialog.findChild(object, "importPreviewBusyBar")
    try:
        assert counts.text() == "Working out what would change…"
        qtbot.waitUntil(bar.isVisible, timeout=5_000)  # once it has taken a second
    finally:
        release.set()
    qtbot.waitUntil(lambda: counts.text().startswith("Changes: "), timeout=10_000)
    assert not bar.isVisible()


def folder_as_root(qtbot, dialog):
    """Once what each layout of a dropped archive of one folder would change is shown,
    choose its folder as the root; that choice's radio button."""
    folder = dialog.findChild(object, "archiveFolderRootRadio")
    qtbot.waitUntil(lambda: ": " in folder.text(), timeout=10_000)
    qtbot.mouseClick(folder, Qt.MouseButton.LeftButton)
    return folder


def in_the_import_changes(qtbot, dialog, look) -> None:
    """Show changes… once the chosen layout's are worked out; `look(changes)` at the view
    with app.yaml selected."""
    show = dialog.findChild(object, "showImportChangesButton")
    qtbot.waitUntil(show.isEnabled, timeout=10_000)

    def with_app_yaml_selected(changes) -> None:
        table = changes.findChild(object, "changesTable")
        model = table.model()
        rows = [model.index(r, 0) for r in range(model.rowCount())]
        table.selectRow(next(i for i in rows if i.data() == "app.yaml").row())
        look(changes)

    answered = when_modal(with_app_yaml_selected, named="changesDialog")
    qtbot.mouseClick(show, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(answered, timeout=10_000)  # listed on a worker first


def test_the_import_changes_view_shows_a_files_two_versions(qtbot, dialog, config_dir, tmp_path):
    drop_tarball_of_one_folder(qtbot, dialog, tmp_path, "server:\n  port: 1337\n")
    folder_as_root(qtbot, dialog)
    seen = {}

    def look(changes) -> None:
        seen["diff"] = diff_of_selected_file(qtbot, changes)[0]
        changes.reject()

    in_the_import_changes(qtbot, dialog, look)
    assert "port: 8443" in seen["diff"] and "port: 1337" in seen["diff"]


def test_one_file_of_an_upload_is_saved_from_the_import_changes(
    qtbot, dialog, window, config_dir, tmp_path
):
    drop_tarball_of_one_folder(qtbot, dialog, tmp_path, "server:\n  port: 1337\n")
    folder_as_root(qtbot, dialog)
    saved = tmp_path / "app-from-the-tarball.yaml"

    def save_app_yaml(changes) -> None:
        choose_in_file_dialog(saved, "saveFileDialog")
        button = changes.findChild(object, "saveFileButton")
        assert button.isVisible() and button.text() == "&Save billing.tar.gz's version…"
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        changes.reject()

    in_the_import_changes(qtbot, dialog, save_app_yaml)
    qtbot.waitUntil(lambda: not window.controller.runner.running, timeout=10_000)

    assert saved.read_text() == "server:\n  port: 1337\n"
    assert window.banner.text == f"Saved app.yaml of billing.tar.gz as {saved}."
    assert (config_dir / "app.yaml").read_text() != "server:\n  port: 1337\n"  # not imported


def test_a_pipe_dropped_on_the_window_is_refused_without_waiting_for_it(
    qtbot, window, environment, pipe_named_like_an_archive
):
    window.controller.refresh()
    select_environment(window, "billing")
    assert drag_and_drop(window, pipe_named_like_an_archive.path) == (True, True)
    dialog = modal_dialog(qtbot, "importConfigurationDialog")
    wait_uploaded(qtbot, dialog)

    error = dialog.findChild(object, "uploadErrorLabel")
    assert "from-ssh.zip was refused: it is a pipe, a device or a socket" in error.text()
    assert not dialog.findChild(object, "importButton").isEnabled()
    assert pipe_named_like_an_archive.opened_to_read == 0
    dialog.reject()
