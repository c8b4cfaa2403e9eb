"""Show changes…: every path a restore would change (or two backups differ in), with the
selected file's two versions side by side. Before a restore, paths can be unticked to leave
them as they are."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QItemSelection, QSettings, Qt, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.change_rows import PATH_COLUMN, ChangeRows
from envops_desktop.controller.changes_model import ChangesModel
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.notifications import Notification
from envops_desktop.controller.record_table_model import RECORD_ROLE
from envops_desktop.domain.changes import ChangeKind, PathChange, TreeChanges
from envops_desktop.domain.file_sample import FileSample
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.paths import shown
from envops_desktop.service.configuration_files import StagedConfiguration
from envops_desktop.ui.diff_view import DiffView
from envops_desktop.ui.file_chooser import FileChooser
from envops_desktop.ui.file_diff import Diff, diff_html
from envops_desktop.ui.label_text import literal
from envops_desktop.ui.table_views import make_table_view
from envops_desktop.ui.tones import tones_for
from envops_desktop.ui.window_layout import WindowLayoutMemory


@dataclass(frozen=True)
class Contents:
    """Where a changes view finds a file's content on each side: `read(path)` gives
    (before, after), None where there is none. It reads from the store or the folder, so it
    runs on a worker of `controller`, never on the GUI thread."""

    controller: MainController
    read: Callable[[str], tuple[FileSample | None, FileSample | None]]


# Of a file, as much as a diff shows.
_SHOWN = 1 << 20


def backup_and_other_contents(
    controller: MainController, environment: Environment, backup: Backup, other: Backup | None
) -> Contents:
    """A file's content in `backup`, and in `other` (None: in the folder now), to compare."""
    return Contents(
        controller,
        lambda path: (
            controller.service.backup_file(backup.id, path, _SHOWN),
            controller.service.backup_file(other.id, path, _SHOWN)
            if other is not None
            else controller.service.live_file(environment.id, path, _SHOWN),
        ),
    )


def live_and_backup_contents(
    controller: MainController, environment: Environment, backup: Backup
) -> Contents:
    """A file's content now and in `backup`, for a restore's changes."""
    return Contents(
        controller,
        lambda path: (
            controller.service.live_file(environment.id, path, _SHOWN),
            controller.service.backup_file(backup.id, path, _SHOWN),
        ),
    )


def live_and_staged_contents(
    controller: MainController,
    environment: Environment,
    staged: StagedConfiguration,
    root_folder: str | None,
) -> Contents:
    """A file's content now and in an uploaded file (laid out with `root_folder`), for an
    import's changes."""
    return Contents(
        controller,
        lambda path: (
            controller.service.live_file(environment.id, path, _SHOWN),
            controller.service.staged_file(staged, path, root_folder, _SHOWN),
        ),
    )


def file_saver(
    parent: QWidget,
    controller: MainController,
    files: FileChooser,
    name: str,
    save_as: Callable[[str, Path], object],
) -> Callable[[str], None]:
    """Save… in a changes view: a file of `name` (a backup, an uploaded file), where the
    user chooses; `save_as(path, destination)` writes it whole, on a worker (a 50 MiB file
    is no instant), and a notification says how it went."""

    def save(path: str) -> None:
        destination = files.save_file(
            parent,
            "saveFileDialog",
            parent.tr("Save {name}").format(name=shown(path)),
            shown(Path(path).name),
            "",
        )
        if destination is None:
            return
        saving = controller.runner.prepare(
            parent.tr("Saving {path}").format(path=shown(path)),
            None,
            lambda _progress, _cancel: save_as(path, destination),
        )
        saved = parent.tr("Saved {path} of {name} as {destination}.").format(
            path=shown(path), name=name, destination=shown(str(destination))
        )
        saving.succeeded.connect(lambda _: controller.notify.emit(Notification.SUCCESS, saved))
        saving.failed.connect(
            lambda message, _error: controller.notify.emit(Notification.ERROR, message)
        )
        controller.runner.launch(saving)

    return save


def when_listed(
    controller: MainController,
    asker: QWidget,
    changes: Callable[[], TreeChanges | None],
    then: Callable[[ChangeRows | None], None],
    failed: Callable[[str], None],
    only: list[str] | None = None,
) -> None:
    """Lay `changes` out for a ChangesDialog on a worker (ticked as a restore of `only`
    those paths would restore them), then hand their rows to `then`, unless the window of
    `asker` (the button clicked) has closed meanwhile. The `asker` is disabled until then,
    so that a second click opens no second view."""
    listing = controller.dialog_work.list_changes(changes, only)
    window = asker.window()

    def listed(rows: ChangeRows | None) -> None:
        asker.setEnabled(True)
        if window.isVisible():
            then(rows)

    def not_listed(message: str, _error: object) -> None:
        asker.setEnabled(True)
        failed(message)

    listing.succeeded.connect(listed)
    listing.failed.connect(not_listed)
    asker.setEnabled(False)
    controller.runner.launch(listing)


class ChangesDialog(QDialog):
    """The changes between two trees, laid out as `rows` (see `when_listed`), with each
    file's two versions from `contents` (None: none are kept, as for a restore already
    done); `checkable` for a restore's, whose ticked paths are `selection()` when the
    dialog is accepted."""

    def __init__(
        self,
        rows: ChangeRows,
        contents: Contents | None,
        checkable: bool,
        parent: QWidget | None = None,
        save: Callable[[str], None] | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        changes = rows.changes
        self.setObjectName("changesDialog")
        self.setWindowTitle(
            self.tr("Changes: {before} → {after}").format(
                before=changes.before, after=changes.after
            )
        )
        self._changes, self._contents, self._save = changes, contents, save
        self._selected: PathChange | None = None
        summary = QLabel(changes.summary, self)
        summary.setObjectName("changesSummary")
        self.model = ChangesModel(rows, checkable, self)
        self.table = make_table_view("changesTable", self.tr("Changed paths"), self)
        self.table.setModel(self.model)  # sorted by the model itself, in orders made ahead
        self.table.sortByColumn(PATH_COLUMN, Qt.SortOrder.AscendingOrder)
        self.table.setColumnWidth(PATH_COLUMN, 360)
        self.table.setColumnWidth(PATH_COLUMN + 1, 220)
        self.table.set_empty_hint(self.tr("Nothing would change."))
        self.table.selectionModel().selectionChanged.connect(self._show_selected)
        self.diff = DiffView(self)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.diff)
        splitter.setSizes([260, 300])
        if checkable:
            buttons = QDialogButtonBox(
                QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
            )
            self._restore = buttons.button(QDialogButtonBox.StandardButton.Ok)
            self._restore.setText(self.tr("Restore the ticked paths"))
            self._restore.setObjectName("restoreTickedButton")
            self.model.dataChanged.connect(self._ticks_changed)
            hint = QLabel(self.tr("Untick a path or folder to leave it as it is now."), self)
        else:
            buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
            hint = QLabel(self)
        self.save_button = buttons.addButton(
            self.tr("&Save {after}'s version…").format(after=literal(changes.after)),
            QDialogButtonBox.ButtonRole.ActionRole,
        )
        self.save_button.setObjectName("saveFileButton")
        self.save_button.setAccessibleName(self.tr("Save the selected file's content"))
        self.save_button.setVisible(save is not None)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_selected)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(hint)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.resize(820, 640)
        # The size, the split and the columns the user last gave it (with `settings`).
        self._layout = (
            None
            if settings is None
            else WindowLayoutMemory(settings, self, splitter, {"changes": self.table}, "changes")
        )
        if self._layout is not None:
            self._layout.restore()  # the header's sort too, which sorts the rows

    def done(self, result: int) -> None:
        if self._layout is not None:
            self._layout.save()
        super().done(result)

    @Slot()
    def _ticks_changed(self) -> None:
        # With nothing ticked there is nothing to restore: no button to ask for it.
        self._restore.setEnabled(self.model.anything_ticked())

    def _save_selected(self) -> None:
        if self._save is not None and self._selected is not None:
            self._save(self._selected.path)

    def selection(self) -> list[str] | None:
        """The ticked paths (None: all of them)."""
        return self.model.selection()

    def _show_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        change: PathChange = indexes[0].data(RECORD_ROLE)
        self._selected = change
        self.save_button.setEnabled(change.size_after is not None)
        if (
            self._contents is not None
            and {ChangeKind.MODIFIED, ChangeKind.ADDED, ChangeKind.REMOVED} & set(change.kinds)
            and (change.size_before is not None or change.size_after is not None)
        ):
            self._show_diff_of(change.path, self._contents)
        else:
            kinds = ", ".join(kind.value for kind in change.kinds)
            self.diff.show_text(
                self.tr("{path}: {kinds} only.").format(path=shown(change.path), kinds=kinds)
            )

    def _show_diff_of(self, path: str, contents: Contents) -> None:
        # Reading both versions (up to a MiB each, a backup's list of files searched for it)
        # and diffing them took long enough on a big backup to freeze the window.
        titles = self._changes.before, self._changes.after
        # The palette and the font are the GUI thread's to read.
        tones = tones_for(self.diff.palette()).diff
        digit_width = QFontMetrics(self.diff.font()).horizontalAdvance("0")

        def work() -> tuple[str, Diff]:
            return path, diff_html(*contents.read(path), *titles, tones, digit_width)

        reading = contents.controller.dialog_work.prepare_reading(
            self.tr("Reading {path}").format(path=shown(path)), work
        )
        reading.succeeded.connect(self._diff_read)
        reading.failed.connect(self._diff_failed)
        self.diff.show_text(self.tr("Reading {path}…").format(path=shown(path)))
        contents.controller.runner.launch(reading)

    @Slot(object)
    def _diff_read(self, result: tuple[str, Diff]) -> None:
        path, diff = result
        if self._selected is not None and self._selected.path == path:  # still the one chosen
            self.diff.show_diff(diff)

    @Slot(str, object)
    def _diff_failed(self, message: str, _error: object) -> None:
        self.diff.show_text(message)
