"""A real main window on a real service in tmp_path, offscreen."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from envops_desktop.controller.main_controller import MainController
from envops_desktop.domain.schedules import Frequency, ScheduleRule
from envops_desktop.service import EnvOpsService
from envops_desktop.store.timestamps import utc_now
from envops_desktop.ui.main_window import MainWindow
from envops_desktop.ui.table_views import RecordTableView
from tests.gui.user import DialogProblems, press_shortcut, problems_of


@pytest.fixture(autouse=True)
def every_dialog_is_usable_by_keyboard_and_screen_reader(qapp):
    """Fails a test that met a dialog with a control a screen reader could not name (the
    design's rule that every interactive widget has an accessible name), with one
    Alt+letter for two controls, or with a label left to guess whether a text with a tag in
    it is markup: in every dialog every test opens, in the states the test brings it to."""
    heard = DialogProblems()
    qapp.installEventFilter(heard)
    yield
    qapp.removeEventFilter(heard)
    assert not heard.found, "dialogs a keyboard or screen reader cannot use:\n" + "\n".join(
        heard.found
    )


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def controller(qtbot, service: EnvOpsService):
    controller = MainController(service)
    yield controller
    controller.shutdown()


@pytest.fixture
def window(qtbot, controller: MainController, settings: QSettings, crash_reporter):
    window = MainWindow(controller, settings, crash_reporter)
    controller.start()
    window.show()
    qtbot.waitExposed(window)
    yield window
    # Not qtbot.addWidget: its teardown closes the window first, and a test that failed with
    # an operation still running would then wait forever on the "Quit while working?" box.
    controller.runner.cancel_all_and_wait()
    # The runner forgets a finished operation when its thread's `finished` signal arrives;
    # until then closing would ask "Quit while working?" and wait for an answer forever.
    try:
        qtbot.waitUntil(lambda: not controller.runner.running, timeout=60_000)
    except qtbot.TimeoutError:
        labels = [op.label for op in controller.runner.running]
        raise AssertionError(f"still running after the test: {labels}") from None
    # The window as the test left it (a banner and its buttons, a filter typed), held to the
    # same rule as every dialog.
    problems = problems_of(window)
    window.close()
    assert not problems, "the window as the test left it:\n" + "\n".join(problems)


def scheduled_two_hours_ago(service: EnvOpsService, *names: str) -> None:
    """Each of `names` on a schedule every two hours, set two hours ago (by the command
    line, say): due now."""
    earlier = EnvOpsService(
        service.data_dir, clock=lambda: utc_now() - timedelta(hours=2, minutes=5)
    )
    for name in names:
        earlier.set_schedule(name, ScheduleRule(frequency=Frequency.EVERY_HOURS, hours=2))
    earlier.close()


@pytest.fixture
def due_two_hours_ago(service, environment):
    """billing, on a schedule set two hours ago: due now."""
    scheduled_two_hours_ago(service, "billing")
    return environment


@pytest.fixture
def folder_gone(tmp_path, config_dir, due_two_hours_ago):
    """billing's folder moved away while the app was closed."""
    config_dir.rename(tmp_path / "moved away")
    return due_two_hours_ago


def select_environment(window: MainWindow, name: str) -> None:
    """Select `name` in the environments table, and wait for its backups to show."""
    env = window.controller.service.get_environment(name)
    window.environments.select(env.id)
    assert window.controller.selected_environment.name == name
    backups_read(window)


def show_backups_of(window: MainWindow, name: str) -> RecordTableView:
    """What a user sees of `name`'s backups once the window has caught up with the store:
    `name` selected, its Backups tab in front. Returns that tab's table."""
    window.controller.refresh()
    select_environment(window, name)
    window.tabs.setCurrentWidget(window.backups)
    return window.backups.table


def backups_read(window: MainWindow) -> None:
    """Wait for the backups table's rows being read on their worker, as a user sees them."""
    from PySide6.QtCore import QDeadlineTimer
    from PySide6.QtWidgets import QApplication

    deadline = QDeadlineTimer(10_000)
    while window.controller.backups_model.reading:
        assert not deadline.hasExpired(), "the backups were never read"
        QApplication.processEvents()
        time.sleep(0.001)


def progress_lines(window: MainWindow) -> list[str]:
    """Each line the window's progress area shows from now on, as operations report it."""
    shown: list[str] = []
    followed: set[int] = set()

    def follow() -> None:
        for running in window.controller.runner.running:
            if id(running) not in followed:
                followed.add(id(running))
                running.progressed.connect(
                    lambda _p: shown.append(window.task_progress.label.text())
                )

    window.controller.runner.changed.connect(follow)
    return shown


def log_read(qtbot, window: MainWindow) -> None:
    """Wait for the Activity Log's page being read on its worker, as a user sees it come."""
    qtbot.waitUntil(lambda: not window.controller.activity_model.reading)


def backup_rows(window: MainWindow) -> list[str]:
    """The backups table's rows, once read."""
    backups_read(window)
    return [b.name for b in window.controller.backups_model.records()]


def when_modal(handler, timeout_ms: int = 10_000, named: str | None = None):
    """Run `handler(dialog)` on the next modal dialog to open (or, `named`, on the dialog of
    that objectName once it is the one in front), as a user would answer it. Returns a
    check of whether it has been answered, for a dialog that opens after work on a worker:
    `qtbot.waitUntil(when_modal(...))`."""
    from PySide6.QtCore import QDeadlineTimer, QTimer
    from PySide6.QtWidgets import QApplication

    deadline = QDeadlineTimer(timeout_ms)
    already_open = QApplication.activeModalWidget()

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if (
            dialog is None
            or (named is None and dialog is already_open)
            or (named is not None and dialog.objectName() != named)
        ):
            if not deadline.hasExpired():
                QTimer.singleShot(20, poll)
            return
        try:
            handler(dialog)
        except BaseException:
            # Left open, the dialog would hold the test until its timeout, its failure unseen;
            # closed, the exception fails the test (pytest-qt raises what a slot raised).
            dialog.reject()
            raise
        finally:
            answered.append(dialog)

    answered: list[object] = []
    QTimer.singleShot(0, poll)
    return lambda: bool(answered)


def choose_theme(qtbot, window: MainWindow, theme: str) -> None:
    """Choose `theme` in Preferences (Ctrl+,), as a user does; the dialog is then closed."""

    def choose(dialog) -> None:
        combo = dialog.findChild(object, "themeCombo")
        combo.setCurrentIndex(combo.findData(theme))
        dialog.reject()

    when_modal(choose, named="preferencesDialog")
    press_shortcut(qtbot, window, "Ctrl+,")


def modal_dialog(qtbot, object_name: str, timeout_ms: int = 10_000):
    """The modal dialog named `object_name` once it is showing (one opened with open())."""
    from PySide6.QtWidgets import QApplication

    def showing() -> bool:
        widget = QApplication.activeModalWidget()
        return widget is not None and widget.objectName() == object_name

    qtbot.waitUntil(showing, timeout=timeout_ms)
    return QApplication.activeModalWidget()


def choose_in_file_dialog(path: Path, object_name: str) -> None:
    """Answer the next file dialog, named `object_name`, by choosing `path` in it."""
    from PySide6.QtWidgets import QFileDialog

    def answer(dialog) -> None:
        assert isinstance(dialog, QFileDialog) and dialog.objectName() == object_name
        dialog.selectFile(str(path))
        dialog.accept()

    when_modal(answer)


def export_through_dialog(target: Path, passphrase: str | None = None) -> None:
    """Answer the next Export dialog: protect the file with `passphrase` if given (typed
    twice), Save as…, then choose `target` in the file dialog."""

    def options(dialog) -> None:
        assert dialog.objectName() == "exportDialog"
        if passphrase is not None:
            dialog.findChild(object, "encryptCheckBox").click()
            for name in ("exportPassphraseEdit", "exportPassphraseRepeatEdit"):
                dialog.findChild(object, name).setText(passphrase)
        choose_in_file_dialog(target, "exportFileDialog")
        click_button(dialog, "exportSaveButton")

    when_modal(options)


def answer_passphrase(passphrase: str, object_name: str) -> None:
    """Type `passphrase` into the passphrase dialog `object_name` once it shows; press OK."""

    def answer(dialog) -> None:
        dialog.setTextValue(passphrase)
        dialog.accept()

    when_modal(answer, 20_000, named=object_name)


def diff_of_selected_file(qtbot, changes) -> tuple[str, str]:
    """The changes view's diff of the file just selected, once a worker has read it and its
    first rows are all in: its text (non-breaking spaces as spaces) and its HTML."""
    diff = changes.findChild(object, "diffView")
    qtbot.waitUntil(
        lambda: not diff.toPlainText().startswith("Reading ") and not diff.laying_out,
        timeout=10_000,
    )
    return diff.toPlainText().replace("\xa0", " "), diff.toHtml()


def click_button(dialog, object_name: str | None = None, text: str | None = None) -> None:
    from PySide6.QtWidgets import QAbstractButton

    for button in dialog.findChildren(QAbstractButton):
        if (object_name and button.objectName() == object_name) or (
            text and button.text().replace("&", "") == text
        ):
            button.click()
            return
    raise AssertionError(f"no button {object_name or text} in {dialog.objectName()}")


def quit_insisting(window) -> list[str]:
    """Close the window, answering its question with "Cancel it and quit"; return what asked."""
    asked: list[str] = []

    def insist(box) -> None:
        asked.append(box.objectName())
        click_button(box, text="Cancel it and quit")

    when_modal(insist)
    window.close()
    return asked
