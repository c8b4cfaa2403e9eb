"""Import configuration: drag in (or choose) a configuration file, or an archive another
tool made, watch it upload, Import."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QKeySequence, QPaintEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.change_rows import ChangeRows
from envops_desktop.controller.dialog_work import ImportPreview
from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.controller.record_table_model import human_size, local_time
from envops_desktop.domain.changes import TreeChanges
from envops_desktop.domain.configuration import replacement_warning
from envops_desktop.domain.errors import (
    A_CONFIGURATION_FILE,
    PassphraseNeededError,
    PreviewOutOfDateError,
    VersionMismatchError,
    WrongPassphraseError,
)
from envops_desktop.domain.models import Environment
from envops_desktop.domain.paths import shown
from envops_desktop.domain.progress import Progress
from envops_desktop.service.configuration_files import (
    CheckedConfigurationFile,
    StagedConfiguration,
)
from envops_desktop.ui.archive_answers import ArchiveAnswers
from envops_desktop.ui.busy_bar import BusyBar
from envops_desktop.ui.changes_dialog import (
    ChangesDialog,
    file_saver,
    live_and_staged_contents,
    when_listed,
)
from envops_desktop.ui.dialog_buttons import cancel_or_erase
from envops_desktop.ui.drop_zone import ACCEPTED_SUFFIXES, DropZone
from envops_desktop.ui.file_chooser import FileChooser
from envops_desktop.ui.icons import icon
from envops_desktop.ui.label_text import plain_label, rich, rich_label
from envops_desktop.ui.passphrase_prompt import ask_passphrase
from envops_desktop.ui.tones import error_label
from envops_desktop.ui.version_mismatch_box import OPEN_FOLDER, UPDATE, show_version_mismatch

DROP_PAGE, UPLOADING_PAGE, UPLOADED_PAGE = range(3)


class _PreviewReceiver(QObject):
    """Takes one preview's result to the dialog, for one root folder, while the dialog
    lives."""

    def __init__(self, dialog: "ImportConfigurationDialog", root_folder: str | None) -> None:
        super().__init__(dialog)
        self._dialog, self._root_folder = dialog, root_folder

    @Slot(object)
    def succeeded(self, preview: ImportPreview) -> None:
        self._dialog._previewed(self._root_folder, preview)

    @Slot(str, object)
    def failed(self, message: str, _error: object) -> None:
        self._dialog.preview_counts.setText(message)


class ImportConfigurationDialog(QDialog):
    """One file at a time: uploaded (read, validated, staged) on a worker, then imported."""

    # The user chose Update environment… in the version box: the version to suggest.
    update_environment_requested = Signal(str)

    def __init__(
        self,
        controller: MainController,
        environment: Environment,
        files: FileChooser,
        parent: QWidget | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("importConfigurationDialog")
        self._settings = settings  # where the changes view keeps its size
        self.setWindowTitle(self.tr("Import configuration"))
        self.setAcceptDrops(True)
        self._controller = controller
        self._environment = environment
        self._files = files
        self._upload: RunningOperation | None = None
        # Set a moment after the dialog is first drawn: the reading of the file it opens
        # with waits for it (`upload`).
        self._drawn = threading.Event()
        self.staged: StagedConfiguration | None = None
        self._importing: StagedConfiguration | None = None  # Import was clicked with it
        self._passphrase: str | None = None  # of the file being uploaded, if it has one

        self.warning = rich_label(parent=self)
        self.warning.setObjectName("importWarning")
        self.warning.setWordWrap(True)
        self._warn(
            self.tr(
                "Importing a configuration file will erase the current configuration of {env}."
            ).format(env=environment.name)
        )
        self.drop_zone = DropZone(self)
        self.drop_zone.file_dropped.connect(self.upload)
        self.drop_zone.choose_requested.connect(self.choose_file)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.drop_zone)
        self.pages.addWidget(self._uploading_page())
        self.pages.addWidget(self._uploaded_page())
        self.pages.setMinimumHeight(self.drop_zone.sizeHint().height())
        self.error_label = error_label("uploadErrorLabel", self)
        self.error_label.hide()
        # What the import will not bring back exactly (owners it may not give away), read
        # before Import is pressed.
        self.caveats_label = plain_label(parent=self)
        self.caveats_label.setObjectName("importCaveats")
        self.caveats_label.setWordWrap(True)
        self.caveats_label.hide()
        # Asked of an archive with no manifest, before Import.
        self.answers = ArchiveAnswers(self)
        self.answers.changed.connect(self._answers_changed)
        self.answers.hide()
        self.backup_first = QCheckBox(self.tr("&Back up the current configuration first"), self)
        self.backup_first.setObjectName("backupFirstCheckBox")
        self.backup_first.setAccessibleName(self.backup_first.text().replace("&", ""))
        self.backup_first.setChecked(True)
        self.allow_links = QCheckBox(self.tr("Allow &links that point outside the environment"))
        self.allow_links.setObjectName("allowExternalLinksCheckBox")
        self.allow_links.setAccessibleName(self.allow_links.text().replace("&", ""))
        self.allow_links.toggled.connect(self._reupload)
        # An untrusted file's files belong to the importing user, with no setuid bits or
        # security attributes, unless the user says the file may set them.
        self.keep_privileges = QCheckBox(
            self.tr("Keep the file's &owners, setuid bits and security attributes")
        )
        self.keep_privileges.setObjectName("keepPrivilegesCheckBox")
        self.keep_privileges.setAccessibleName(self.keep_privileges.text().replace("&", ""))
        self.keep_privileges.toggled.connect(self._reupload)
        buttons, self.import_button = cancel_or_erase(self, self.tr("&Import"))
        self.import_button.setObjectName("importButton")
        self.import_button.setAccessibleName(self.tr("Import the configuration file"))
        self.import_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.pages)
        layout.addWidget(self.error_label)
        layout.addWidget(self.caveats_label)
        layout.addWidget(self.answers)
        layout.addWidget(self.backup_first)
        layout.addWidget(self.allow_links)
        layout.addWidget(self.keep_privileges)
        layout.addWidget(buttons)
        self._source: Path | None = None
        # What the import would change, by root folder (None: the file's own top level).
        # By root folder (an archive with no manifest is laid out both ways; else None).
        self._previews: dict[str | None, ImportPreview] = {}
        self.resize(520, self.sizeHint().height())

    def _uploading_page(self) -> QWidget:
        page = QWidget(self)
        self.uploading_label = plain_label(parent=page)
        self.uploading_label.setObjectName("uploadingLabel")
        self.progress_bar = QProgressBar(page)
        self.progress_bar.setObjectName("uploadProgressBar")
        self.progress_bar.setAccessibleName(self.tr("Upload progress"))
        cancel = QPushButton(icon("close"), self.tr("Cancel upload"), page)
        cancel.setObjectName("cancelUploadButton")
        cancel.setAccessibleName(self.tr("Cancel the upload"))
        cancel.clicked.connect(self.cancel_upload)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.uploading_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(cancel, 0, Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        return page

    def _uploaded_page(self) -> QWidget:
        page = QWidget(self)
        picture = QLabel(page)
        picture.setPixmap(icon("file").pixmap(32, 32))
        self.uploaded_label = rich_label(parent=page)
        self.uploaded_label.setObjectName("uploadedFileLabel")
        self.uploaded_label.setWordWrap(True)
        self.remove_button = QPushButton(icon("trash"), "", page)
        self.remove_button.setObjectName("removeFileButton")
        # Del, as a file manager's trash: the button is the one way to a wrong file's end.
        self.remove_button.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.remove_button.setToolTip(
            self.tr("Remove this file ({key})").format(
                key=self.remove_button.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            )
        )
        self.remove_button.setAccessibleName(self.tr("Remove the uploaded file"))
        self.remove_button.clicked.connect(self.remove_file)
        self.preview_counts = plain_label(parent=page)
        self.preview_counts.setObjectName("importPreviewCounts")
        self.preview_counts.setWordWrap(True)
        self.show_changes = QPushButton(self.tr("Show &changes…"), page)
        self.show_changes.setObjectName("showImportChangesButton")
        self.show_changes.setAccessibleName(self.tr("Show every path the import would change"))
        self.show_changes.clicked.connect(self._open_changes)
        details = QVBoxLayout()
        details.addWidget(self.uploaded_label)
        changes_row = QHBoxLayout()
        changes_row.addWidget(self.preview_counts, 1)
        changes_row.addWidget(self.show_changes)
        details.addLayout(changes_row)
        self.working = BusyBar(page)
        self.working.setObjectName("importPreviewBusyBar")
        self.working.setAccessibleName(self.tr("Working out what the import would change"))
        details.addWidget(self.working)
        layout = QHBoxLayout(page)
        layout.addWidget(picture, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(details, 1)
        layout.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        return page

    def _preview(self, staged: StagedConfiguration, root_folder: str | None) -> None:
        work = self._controller.dialog_work
        preview = work.preview_import(self._environment, staged, root_folder)
        # Through a child of the dialog, not a lambda: Qt disconnects a destroyed receiver,
        # and the dialog may be closed before its previews end.
        receiver = _PreviewReceiver(self, root_folder)
        preview.succeeded.connect(receiver.succeeded)
        preview.failed.connect(receiver.failed)
        self.working.follow(preview)
        self._controller.runner.launch(preview)

    def _previewed(self, root_folder: str | None, preview: ImportPreview) -> None:
        self._previews[root_folder] = preview
        plain = self.staged.plain if self.staged is not None else None
        if plain is not None and plain.top_folder is not None:
            self.answers.show_counts(root_folder, preview.changes.summary)
        self._answers_changed()

    def _chosen_preview(self) -> ImportPreview | None:
        plain = self.staged.plain if self.staged is not None else None
        if plain is not None and plain.top_folder is not None:
            if not self.answers.layout_chosen:
                return None  # no layout chosen yet: each one's counts are beside it
            return self._previews.get(self.answers.root_folder)
        return self._previews.get(None)

    def _chosen_changes(self) -> TreeChanges | None:
        preview = self._chosen_preview()
        return None if preview is None else preview.changes

    def _show_counts(self) -> None:
        preview = self._chosen_preview()
        if preview is not None and preview.refusal is not None:
            self.preview_counts.setText(preview.refusal)
        elif preview is not None:
            self.preview_counts.setText(
                self.tr("Changes: {summary}").format(summary=preview.changes.summary)
            )
        elif self.answers.layout_chosen:  # its preview not in yet, the other one's may be
            self.preview_counts.setText(self.tr("Working out what would change…"))
        elif self._previews:
            self.preview_counts.setText(self.tr("Choose the configuration folder below."))
        self.show_changes.setEnabled(preview is not None)

    def _answers_changed(self) -> None:
        if self.staged is None:
            return
        preview = self._chosen_preview()
        if self.staged.plain is not None:
            # An archive that holds the environment's version file, in the layout chosen,
            # says its version itself: that is the answer, checked against the environment.
            said = None if preview is None else preview.version_said
            self.answers.take_version_said(said, self._environment.version_file)
        refused = preview is not None and preview.refusal is not None
        answered = self.staged.plain is None or self.answers.complete
        self.import_button.setEnabled(answered and not refused)
        self._show_counts()

    def _open_changes(self) -> None:
        changes = self._chosen_changes()
        if changes is None or self.staged is None:
            return
        staged = self.staged
        root_folder = self.answers.root_folder if staged.plain is not None else None
        contents = live_and_staged_contents(
            self._controller, self._environment, staged, root_folder
        )
        save = file_saver(
            self,
            self._controller,
            self._files,
            staged.file_name,
            lambda path, destination: self._controller.service.save_staged_file(
                staged, path, destination, root_folder
            ),
        )

        def listed(rows: ChangeRows | None) -> None:
            if rows is not None:
                ChangesDialog(rows, contents, False, self, save, self._settings).exec()

        counts = self.preview_counts
        when_listed(self._controller, self.show_changes, lambda: changes, listed, counts.setText)

    # The upload --------------------------------------------------------------------------

    def choose_file(self) -> None:
        path = self._files.open_file(
            self,
            "chooseConfigurationFileDialog",
            self.tr("Choose a configuration file"),
            self.tr("Configuration files and archives ({patterns});;All files (*)").format(
                patterns=" ".join(f"*{suffix}" for suffix in ACCEPTED_SUFFIXES)
            ),
        )
        if path is not None:
            self.upload(path)

    def upload(self, path: Path, once_drawn: bool = False) -> None:
        """Read `path`'s manifest first, then validate and stage its files, all on workers.

        The manifest decides at once whether the file can go into this environment (its
        version) and says where it came from, before minutes of uploading. `once_drawn`:
        the dialog has just opened, and its reading waits until it has been drawn. Started
        with it, the reading of a 200,000-file archive's directory (Python, holding the GIL
        for 0.2 ms at a time) slowed the window's drawing of the dialog, and of itself
        behind it, to stalls of 20-60 ms on two cores; waiting, 10-18 ms.
        """
        self._discard()
        if path != self._source:
            self._passphrase = None
        self._source = path
        self.error_label.hide()
        self.import_button.setEnabled(False)
        self.uploading_label.setText(self.tr("Reading {name}…").format(name=shown(path.name)))
        self.progress_bar.setRange(0, 0)  # busy: the manifest's size is not known yet
        self.pages.setCurrentIndex(UPLOADING_PAGE)
        self._launch(
            self._controller.dialog_work.check_configuration(
                self._environment,
                path,
                self.allow_links.isChecked(),
                self.keep_privileges.isChecked(),
                self._passphrase,
            ),
            self._checked,
            self._check_failed,
            self._drawn if once_drawn else None,
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._drawn.is_set():
            # A timer, not a queued call, which would come before what the window system
            # sent with the dialog: the window's deactivation and the repaint behind it.
            QTimer.singleShot(1, self._drawn.set)

    def _check_failed(self, message: str, error: object) -> None:
        """A protected file (found so on the worker, which reads it): ask for its passphrase,
        again if it was wrong, and read it again; anything else refuses the file."""
        if not isinstance(error, PassphraseNeededError | WrongPassphraseError):
            self._refused(message)
            return
        self._upload = None
        # Asked once this operation's signal has been handled, not inside it.
        QTimer.singleShot(0, lambda: self._ask_passphrase(message, error))

    def _ask_passphrase(self, message: str, error: object) -> None:
        assert self._source is not None
        label = (
            self.tr("That passphrase does not open {name}. Passphrase:")
            if isinstance(error, WrongPassphraseError)
            else self.tr("{name} is protected by a passphrase. Passphrase:")
        )
        self._passphrase = ask_passphrase(
            self,
            "filePassphraseDialog",
            self.tr("Protected file"),
            label.format(name=shown(self._source.name)),
        )
        if self._passphrase is None:
            self._refused(message)
        else:
            self.upload(self._source)

    def _launch(
        self,
        running: RunningOperation,
        succeeded: Callable[[Any], None],
        failed: Callable[[str, object], None] | None = None,
        not_before: threading.Event | None = None,
    ) -> None:
        running.progressed.connect(self._progress)
        running.succeeded.connect(succeeded)
        running.failed.connect(failed or (lambda message, _error: self._refused(message)))
        running.cancelled.connect(self._upload_cancelled)
        self._upload = running
        self._controller.runner.launch(running, not_before)

    def _version_allowed(self, version: str, refuse: Callable[[str], None]) -> bool:
        """Whether the environment runs `version`, perhaps once the user has updated it from
        the version box; `refuse` says why not first."""
        try:
            self._controller.dialog_work.check_restorable_version(
                self._environment, version, A_CONFIGURATION_FILE
            )
        except VersionMismatchError as mismatch:
            refuse(str(mismatch))
            choice = show_version_mismatch(self, mismatch, self._environment.version_file)
            if choice == OPEN_FOLDER:
                QDesktopServices.openUrl(QUrl.fromLocalFile(self._environment.path))
            if choice != UPDATE:
                return False
            # The window runs Update environment… over this dialog; the file stays here and
            # goes on once the environment runs its version.
            self.update_environment_requested.emit(mismatch.backup_version)
            try:
                self._controller.dialog_work.check_restorable_version(
                    self._environment, version, A_CONFIGURATION_FILE
                )
            except VersionMismatchError:
                return False
            self.error_label.hide()
        return True

    def _checked(self, checked: CheckedConfigurationFile) -> None:
        self._upload = None
        manifest = checked.manifest
        # An archive with no manifest has its version confirmed by the user, once uploaded.
        if checked.plain is None:
            if not self._version_allowed(manifest.version, self._refused):
                return
            self.pages.setCurrentIndex(UPLOADING_PAGE)
        self._warn(
            replacement_warning(
                checked.file_name, manifest.environment_name, self._environment.name
            )
        )
        self.uploading_label.setText(self.tr("Uploading {name}…").format(name=checked.file_name))
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self._launch(self._controller.dialog_work.stage_configuration(checked), self._uploaded)

    def _warn(self, sentence: str) -> None:
        self.warning.setText(
            rich(
                self.tr("<b>{sentence}</b> Back it up first unless you are sure."),
                sentence=sentence,
            )
        )

    def _progress(self, progress: Progress) -> None:
        if self.progress_bar.maximum() == 0 and progress.total > 0:
            self.progress_bar.setRange(0, 100)  # an archive read whole: its size is known
        if self.progress_bar.maximum() > 0:
            self.progress_bar.setValue(progress.percent)
            timing = self._upload.timing if self._upload is not None else ""
            self.progress_bar.setFormat(f"%p% · {timing}" if timing else "%p%")

    def _uploaded(self, staged: StagedConfiguration) -> None:
        self._upload = None
        self.staged = staged
        manifest = staged.manifest
        self.progress_bar.setValue(100)
        count = (
            self.tr("1 file")
            if staged.file_count == 1
            else self.tr("{n} files").format(n=staged.file_count)
        )
        size = human_size(staged.total_bytes)
        if staged.plain is None:
            self.uploaded_label.setText(
                rich(
                    self.tr(
                        "<b>{file}</b><br>Environment {env}, version {version}<br>"
                        "Created {created} · {count} · {size}"
                    ),
                    file=staged.file_name,
                    env=manifest.environment_name,
                    version=manifest.version,
                    created=local_time(manifest.created_at),
                    count=count,
                    size=size,
                )
            )
        else:
            self.uploaded_label.setText(
                rich(
                    self.tr(
                        "<b>{file}</b><br>A {kind} archive with no manifest<br>{count} · {size}"
                    ),
                    file=staged.file_name,
                    kind=staged.plain.tree.kind,
                    count=count,
                    size=size,
                )
            )
        self.caveats_label.setText("\n".join(f"• {caveat}" for caveat in staged.caveats))
        self.caveats_label.setVisible(bool(staged.caveats))
        self.pages.setCurrentIndex(UPLOADED_PAGE)
        self._let_go_of_previews()
        self.preview_counts.setText(self.tr("Working out what would change…"))
        self.show_changes.setEnabled(False)
        if staged.plain is None:
            self.import_button.setEnabled(True)
            self._preview(staged, None)
            return
        self._ask(staged)

    def _ask(self, staged: StagedConfiguration) -> None:
        """An archive with no manifest: ask its version and, when it holds one folder, which
        level is the root, with what each would change."""
        assert staged.plain is not None
        env = self._environment
        known = self._controller.service.backup_versions(env.id)
        versions = list(dict.fromkeys([env.version, *known]))
        top = staged.plain.top_folder
        self.answers.ask(versions, top, env.name)
        self.answers.show()
        self.import_button.setEnabled(False)
        for root_folder in [top, None] if top is not None else [None]:
            self._preview(staged, root_folder)
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def _upload_cancelled(self) -> None:
        self._upload = None
        self.remove_file()

    def _refused(self, message: str) -> None:
        self._upload = None
        self.pages.setCurrentIndex(DROP_PAGE)
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def _reupload(self) -> None:
        if self._source is not None and self.pages.currentIndex() != UPLOADING_PAGE:
            self.upload(self._source)

    def cancel_upload(self) -> None:
        if self._upload is not None:
            self._upload.cancel()

    def remove_file(self) -> None:
        """The trash button: forget the uploaded file and bring the drop zone back."""
        self._discard()
        self._source = None
        self._passphrase = None
        self._warn(
            self.tr(
                "Importing a configuration file will erase the current configuration of {env}."
            ).format(env=self._environment.name)
        )
        self.error_label.hide()
        self.import_button.setEnabled(False)
        self.pages.setCurrentIndex(DROP_PAGE)

    def _discard(self) -> None:
        self.caveats_label.hide()
        self.answers.hide()
        self._let_go_of_previews()
        if self.staged is not None:
            self._controller.dialog_work.release_configuration(self.staged)
            self.staged = None

    def _let_go_of_previews(self) -> None:
        held = [preview.changes for preview in self._previews.values()]
        self._previews = {}
        self._controller.dialog_work.let_go_of(held)

    # Closing -----------------------------------------------------------------------------

    def accept(self) -> None:
        if self.staged is None:
            return
        answers = None
        if self.staged.plain is not None:
            answers = (self.answers.chosen_version, self.answers.root_folder)
            if not self.answers.complete or not self._version_allowed(answers[0], self._show_error):
                return
        previewed = self._chosen_changes()
        # The import takes the file over; it is back here only if the folder changed since
        # its preview.
        self._importing, self.staged = self.staged, None
        running = self._controller.import_configuration(
            self._environment, self._importing, self.backup_first.isChecked(), answers, previewed
        )
        running.succeeded.connect(self._imported)
        running.cancelled.connect(self._imported)
        running.failed.connect(self._import_failed)
        super().accept()

    @Slot()
    def _imported(self) -> None:
        self._let_go_of_previews()
        self.deleteLater()

    @Slot(str, object)
    def _import_failed(self, message: str, error: object) -> None:
        if not isinstance(error, PreviewOutOfDateError) or self._importing is None:
            self._imported()
            return
        # The folder changed after its preview and nothing was imported: the dialog again,
        # with the same file, the same answers and what it would change now.
        staged, self._importing = self._importing, None
        answered = (self.answers.chosen_version, self.answers.root_folder)
        self._uploaded(staged)
        if staged.plain is not None:
            self.answers.choose(*answered)
        self._show_error(message)
        self.open()

    def reject(self) -> None:
        if self._upload is not None:
            # Cancelled, not waited for: a file on a share that hangs would hold the window
            # for as long. What it makes if it ends anyway is let go of then.
            self._upload.cancel()
            self._upload.let_go(self._controller.dialog_work.release_configuration)
            self._upload = None
        self._discard()
        super().reject()
