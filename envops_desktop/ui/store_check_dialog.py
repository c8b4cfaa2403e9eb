"""The Verify store report: what a check found missing or damaged, and the offer to repair."""

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.store_work import StoreCheck
from envops_desktop.ui.label_text import plain_label


class StoreCheckDialog(QDialog):
    """Lists each stored content a check found missing or damaged, with a backup and a file
    that need it, and each backup whose list of files is damaged. Repair (accept) forgets
    those contents and deletes those backups."""

    def __init__(self, check: StoreCheck, summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("storeCheckDialog")
        self.setWindowTitle(self.tr("Verify store"))
        heading = plain_label(summary, self)
        heading.setObjectName("storeCheckSummary")
        heading.setWordWrap(True)
        kinds = {
            "missing": self.tr("missing"),
            "damaged": self.tr("damaged"),
            "damaged manifest": self.tr("list of files damaged"),
        }
        problems = QPlainTextEdit(
            "\n".join(
                # What needs it first: the sha256 is for whoever digs further.
                f"{p.needed_by or self.tr('needed by no backup')}: {kinds[p.kind]} ({p.name[:12]})"
                for p in check.problems
            ),
            self,
        )
        problems.setObjectName("storeProblemsList")
        problems.setAccessibleName(self.tr("Missing or damaged stored files"))
        problems.setReadOnly(True)
        problems.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        said = []
        if check.report.missing or check.report.damaged:
            said.append(
                self.tr(
                    "Repair forgets each stored file that cannot be trusted. The next backup of "
                    "each environment then stores again what its folder still holds, and every "
                    "backup that needs it restores whole again. A file no longer in any folder "
                    "stays missing."
                )
            )
        if check.report.damaged_manifests:
            said.append(
                self.tr(
                    "A backup whose list of files is damaged cannot be restored, and while it "
                    "is kept nothing can be freed: Repair deletes it for good. One that is in "
                    "the team's store too is taken in again at the next sync."
                )
            )
        advice = QLabel(" ".join(said), self)
        advice.setObjectName("storeRepairAdvice")
        advice.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        repair = buttons.addButton(self.tr("&Repair"), QDialogButtonBox.ButtonRole.AcceptRole)
        repair.setObjectName("repairStoreButton")
        # The safe answer is the default: Enter closes.
        buttons.button(QDialogButtonBox.StandardButton.Close).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(problems, 1)
        layout.addWidget(advice)
        layout.addWidget(buttons)
        self.resize(720, 360)
