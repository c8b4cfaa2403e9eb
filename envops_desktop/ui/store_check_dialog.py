"""The Verify store report: what a check found missing or damaged, and the offer to repair."""

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import StoreCheck
from envops_desktop.ui.label_text import plain_label


class StoreCheckDialog(QDialog):
    """Lists each stored content a check found missing or damaged, with a backup and a file
    that need it. Repair (accept) forgets them; it is offered only when there is such a
    content, since a damaged list of files is not mended by it."""

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
        repairable = bool(check.report.missing or check.report.damaged)
        advice = QLabel(
            self.tr(
                "Repair forgets what cannot be trusted. The next backup of each environment "
                "then stores again what its folder still holds, and every backup that needs "
                "it restores whole again. A file no longer in any folder stays missing."
            )
            if repairable
            else self.tr(
                "A damaged list of files cannot be repaired: its backup cannot be restored. "
                "Delete that backup, then empty Deleted: what only it held is freed."
            ),
            self,
        )
        advice.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        if repairable:
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
