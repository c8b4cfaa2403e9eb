"""What the Import dialog asks of an archive another tool made: the version it holds, and,
when it holds a single folder, whether that folder or the archive's top level is the root."""

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.ui.label_text import literal, plain_label


class ArchiveAnswers(QWidget):
    """Nothing is chosen for the user: the version and the layout are picked, then Import."""

    changed = Signal()
    _ASK = QT_TRANSLATE_NOOP(
        "ArchiveAnswers", "This archive has no manifest: say which version it holds."
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("archiveAnswers")
        self.version = QComboBox(self)
        self.version.setObjectName("archiveVersionCombo")
        self.version.setEditable(True)
        self.version.setAccessibleName(self.tr("Version the archive holds"))
        # The field typed into is a control of its own to a screen reader.
        self.version.lineEdit().setAccessibleName(self.version.accessibleName())
        self.version.lineEdit().setPlaceholderText(self.tr("Which version does it hold?"))
        self.version.currentTextChanged.connect(lambda _text: self.changed.emit())
        self.folder_root = QRadioButton(self)
        self.folder_root.setObjectName("archiveFolderRootRadio")
        self.top_level_root = QRadioButton(self)
        self.top_level_root.setObjectName("archiveTopLevelRootRadio")
        self._layouts = QButtonGroup(self)
        for radio in (self.folder_root, self.top_level_root):
            self._layouts.addButton(radio)
            radio.toggled.connect(lambda _on: self.changed.emit())
        self._layout_label = plain_label(parent=self)
        self._layout_label.setWordWrap(True)
        self._texts: dict[QRadioButton, str] = {}
        self._top_folder: str | None = None
        self._note = plain_label(self.tr(self._ASK), self)
        self._note.setObjectName("archiveVersionNote")
        self._note.setWordWrap(True)
        self._filled_in = False  # the version shown was the archive's, not the user's
        versions = QFormLayout()
        versions.addRow(self.tr("&Version:"), self.version)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._note)
        layout.addLayout(versions)
        layout.addWidget(self._layout_label)
        layout.addWidget(self.folder_root)
        layout.addWidget(self.top_level_root)

    def ask(self, versions: list[str], top_folder: str | None, environment: str) -> None:
        """Ask afresh: `versions` offered (none chosen), and the two layouts when the
        archive holds only `top_folder`."""
        self.take_version_said(None, None)
        self.version.clear()
        self.version.addItems(versions)
        self.version.setCurrentIndex(-1)
        self._top_folder = top_folder
        self._layout_label.setText(
            self.tr("It holds a single folder. Which is {env}'s folder?").format(env=environment)
        )
        self._texts = {
            self.folder_root: self.tr("Its folder {folder}").format(folder=top_folder),
            self.top_level_root: self.tr("The archive's top level"),
        }
        self._layouts.setExclusive(False)  # so that both can be cleared
        for radio, text in self._texts.items():
            radio.setChecked(False)
            radio.setText(literal(text))
            radio.setAccessibleName(text)
            radio.setVisible(top_folder is not None)
        self._layouts.setExclusive(True)
        self._layout_label.setVisible(top_folder is not None)

    def choose(self, version: str, root_folder: str | None) -> None:
        """Answer as the user did before (asked afresh about the same archive)."""
        self.version.setCurrentText(version)
        if self._top_folder is not None:
            (self.folder_root if root_folder is not None else self.top_level_root).setChecked(True)

    def take_version_said(self, version: str | None, version_file: str | None) -> None:
        """The version the archive's own `version_file` says (for the layout chosen) is the
        answer, and no other can be given; with None the user says it again."""
        if version is not None:
            self._note.setText(
                self.tr("This archive has no manifest; its {file} says it holds {version}.").format(
                    file=version_file, version=version
                )
            )
        was_filled_in, self._filled_in = self._filled_in, version is not None
        self.version.setEnabled(version is None)
        if version is None and was_filled_in:
            self._note.setText(self.tr(self._ASK))
            self.version.setCurrentIndex(-1)
        if version is not None and self.version.currentText() != version:
            self.version.setCurrentText(version)

    def show_counts(self, root_folder: str | None, summary: str) -> None:
        """What the import would change with `root_folder` as the root, beside its choice."""
        radio = self.folder_root if root_folder is not None else self.top_level_root
        radio.setText(literal(f"{self._texts[radio]}: {summary}"))

    @property
    def layout_chosen(self) -> bool:
        return self._layouts.checkedButton() is not None

    @property
    def complete(self) -> bool:
        return bool(self.chosen_version) and (self._top_folder is None or self.layout_chosen)

    @property
    def chosen_version(self) -> str:
        return self.version.currentText().strip()

    @property
    def root_folder(self) -> str | None:
        """The archive's folder taken as the root, or None for its top level."""
        return self._top_folder if self.folder_root.isChecked() else None
