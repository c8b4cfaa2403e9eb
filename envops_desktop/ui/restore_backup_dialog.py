"""Restore Backup: warns that the configuration will be erased, says what would change (worked
out on a worker while the dialog is open) and offers a backup first."""

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.dialog_work import RestorePreview
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.controller.record_table_model import local_time
from envops_desktop.domain.changes import TreeChanges
from envops_desktop.domain.errors import VersionMismatchError
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.paths import name_on_one_line, shown
from envops_desktop.ui.busy_bar import BusyBar
from envops_desktop.ui.changes_dialog import ChangesDialog, Contents, when_listed
from envops_desktop.ui.dialog_buttons import cancel_or_erase
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label, rich, rich_label

# How many paths not ticked the counts name before they say "and N more".
_NAMED = 3


class RestoreBackupDialog(QDialog):
    """Shows the backup's name, creation date and version, what the restore would change
    and what it will not bring back exactly; Show changes… lets paths be unticked (`only`),
    and the counts are then of what the restore of the ticked ones would change; Restore or
    Cancel.

    `preview` starts working out, on a worker, what a restore of the paths it is given
    (None: all) would change, and returns it running: its outcome comes queued to this
    thread, after the dialog has connected to it.
    """

    def __init__(
        self,
        environment: Environment,
        backup: Backup,
        parent: QWidget | None = None,
        preview: Callable[[list[str] | None], RunningOperation] | None = None,
        contents: Contents | None = None,
        source: Environment | None = None,
        save: Callable[[str], None] | None = None,
        only: list[str] | None = None,
        settings: QSettings | None = None,
    ):
        super().__init__(parent)
        self._settings = settings  # where the changes view keeps its size
        self.setObjectName("restoreBackupDialog")
        self.setWindowTitle(self.tr("Restore backup"))
        self._environment, self._source = environment, source
        warning_icon = QLabel(self)
        warning_icon.setPixmap(icon("warning").pixmap(32, 32))
        self.warning = rich_label("", self)
        self.warning.setObjectName("restoreWarning")
        self.warning.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(warning_icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.warning, 1, Qt.AlignmentFlag.AlignTop)
        details = QFormLayout()
        for name, title, value in (
            ("backupName", self.tr("Backup:"), backup.name),
            ("backupCreated", self.tr("Created:"), local_time(backup.created_at)),
            ("backupVersion", self.tr("Version:"), backup.version),
        ):
            label = plain_label(value, self)
            label.setObjectName(name)
            details.addRow(title, label)
        self.only = only  # the paths chosen, or None: the whole backup
        self.previewed: TreeChanges | None = None  # what it was shown to change, whole
        self._preview_of = preview
        # Working out what the paths ticked last would change; one ticked before it, still
        # at work, is cancelled and its outcome not shown.
        self._counting: RunningOperation | None = None
        self._contents, self._save = contents, save
        self.counts = plain_label(self.tr("Working out what would change…"), self)
        self.counts.setObjectName("previewCounts")
        self.counts.setWordWrap(True)
        self.show_changes = QPushButton(self.tr("Show &changes…"), self)
        self.show_changes.setObjectName("showChangesButton")
        self.show_changes.setAccessibleName(self.tr("Show every path the restore would change"))
        self.show_changes.setEnabled(False)
        self.show_changes.clicked.connect(self._open_changes)
        # The counts on a row of their own: beside the button, QFormLayout gave a second
        # line of them no height, and cut them.
        details.addRow(self.tr("Changes:"), self.counts)
        self.working = BusyBar(self)
        self.working.setObjectName("previewBusyBar")
        self.working.setAccessibleName(self.tr("Working out what the restore would change"))
        button_row = QHBoxLayout()
        button_row.addWidget(self.show_changes)
        # The bar takes the row's room, for its time left; the stretch, where it is hidden.
        button_row.addWidget(self.working, 1)
        button_row.addStretch(0)
        details.addRow("", button_row)
        # Another version found by the preview: the dialog closes for the version box.
        self.mismatch: VersionMismatchError | None = None
        if preview is not None:
            whole = self._follow(preview(None))
            whole.succeeded.connect(self._previewed)
            whole.failed.connect(self._preview_failed)
        self.backup_first = QCheckBox(self.tr("&Back up the current configuration first"), self)
        self.backup_first.setObjectName("backupFirstCheckBox")
        self.backup_first.setAccessibleName(self.backup_first.text().replace("&", ""))
        self.backup_first.setChecked(True)
        buttons, self.restore_button = cancel_or_erase(self, self.tr("&Restore"))
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.setAccessibleName(self.tr("Restore the backup"))
        self._warn()
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addSpacing(8)
        layout.addLayout(details)
        # What the restore will not bring back exactly: from the whole backup's preview.
        self.caveats = plain_label(parent=self)
        self.caveats.setObjectName("restoreCaveats")
        self.caveats.setWordWrap(True)
        self.caveats.hide()
        layout.addWidget(self.caveats)
        layout.addWidget(self.backup_first)
        layout.addWidget(buttons)
        # The height its wrapped texts take at that width: the size hint is for a narrower
        # dialog, whose taller text would leave a gap here.
        self.resize(520, layout.totalHeightForWidth(520))

    def _warn(self) -> None:
        """The warning at the top, for a restore of the whole backup or of the paths ticked."""
        if self.only is None and self._source is None:
            template = self.tr(
                "<b>Restoring a previous backup will erase the current configuration of "
                "{env}.</b><br>Everything in {path} is replaced by the backup below."
            )
        elif self.only is None:
            template = self.tr(
                "<b>Restoring this backup of {source} will erase the current configuration "
                "of {env}.</b><br>Everything in {path} is replaced by {source}'s backup below."
            )
        elif self._source is None:
            template = self.tr(
                "<b>Restoring the ticked paths of a previous backup will erase their current "
                "configuration in {env}.</b><br>The paths ticked in Show changes… are replaced "
                "by the backup below; the rest of {path} stays as it is."
            )
        else:
            template = self.tr(
                "<b>Restoring the ticked paths of this backup of {source} will erase their "
                "current configuration in {env}.</b><br>The paths ticked in Show changes… are "
                "replaced by {source}'s backup below; the rest of {path} stays as it is."
            )
        source = self._source.name if self._source is not None else ""
        env = self._environment
        self.warning.setText(rich(template, env=env.name, path=env.path, source=source))

    def _follow(self, running: RunningOperation) -> RunningOperation:
        self.working.follow(running)
        self.finished.connect(running.cancel)  # closed first: no need to finish it
        return running

    def _previewed(self, preview: RestorePreview) -> None:
        if preview.changes is None:
            assert preview.refusal is not None
            self._refused(preview.refusal)
            return
        self.previewed = preview.changes
        self._show_counts()
        self.show_changes.setEnabled(self._contents is not None)
        if preview.caveats:
            self.caveats.setText("\n".join(f"• {caveat}" for caveat in preview.caveats))
            self.caveats.show()
            height = self.layout().totalHeightForWidth(self.width())
            self.resize(self.width(), max(self.height(), height))

    def _refused(self, refusal: str) -> None:
        self._say(refusal)
        self.restore_button.setEnabled(False)

    def _preview_failed(self, message: str, error: object) -> None:
        if isinstance(error, VersionMismatchError) and self.isVisible():
            self.mismatch = error
            self.reject()
            return
        self._say(message)

    def _show_counts(self) -> None:
        """The counts of the whole restore, or of the paths ticked (worked out again: a
        name not ticked may be linked anew to a file brought back)."""
        if self._counting is not None:
            self._counting.cancel()
            self._counting = None
        self._warn()
        self.restore_button.setEnabled(True)
        if self.only is None:
            assert self.previewed is not None
            self._say(self.previewed.summary)
            return
        assert self._preview_of is not None
        self._say(self.tr("Working out what the ticked paths would change…"))
        counting = self._counting = self._follow(self._preview_of(self.only))
        counting.succeeded.connect(lambda preview: self._counted(counting, preview))
        counting.failed.connect(
            lambda message, error: (
                counting is self._counting and self._preview_failed(message, error)
            )
        )

    def _counted(self, counting: RunningOperation, preview: RestorePreview) -> None:
        if counting is not self._counting:
            return  # the ticks changed since
        self._counting = None
        if preview.changes is None:
            assert preview.refusal is not None
            self._refused(preview.refusal)
        elif not preview.unchosen:
            self._say(
                self.tr("{counts}: only the ticked paths change; the rest stays as it is.").format(
                    counts=preview.changes.summary
                )
            )
        else:
            named = ", ".join(shown(name_on_one_line(p)) for p in preview.unchosen[:_NAMED])
            if len(preview.unchosen) > _NAMED:
                named = self.tr("{named} and {count} more").format(
                    named=named, count=len(preview.unchosen) - _NAMED
                )
            text = (
                self.tr(
                    "{counts}: the ticked paths change, and {named}, not ticked, is linked "
                    "anew to a file brought back; the rest stays as it is."
                )
                if len(preview.unchosen) == 1
                else self.tr(
                    "{counts}: the ticked paths change, and {named}, not ticked, are linked "
                    "anew to files brought back; the rest stays as it is."
                )
            )
            self._say(text.format(counts=preview.changes.summary, named=named))

    def _say(self, text: str) -> None:
        """`text` as the counts, the dialog grown to hold it: sized for one line of them, it
        would cut a longer text to that line's height."""
        self.counts.setText(text)
        self.layout().activate()  # else the layout answers for the text it laid out last
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _open_changes(self) -> None:
        assert self.previewed is not None and self._contents is not None
        previewed = self.previewed
        when_listed(
            self._contents.controller,
            self.show_changes,
            lambda: previewed,
            self._changes_listed,
            self._say,
            self.only,
        )

    def _changes_listed(self, rows: ChangeRows | None) -> None:
        if rows is None:
            return
        dialog = ChangesDialog(rows, self._contents, True, self, self._save, self._settings)
        if dialog.exec():
            self.only = dialog.selection()
            self._show_counts()
